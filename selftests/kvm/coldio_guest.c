// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for coldboot_test whose boot does host I/O (a write to fd 3,
 * which no sandbox has granted yet at boot: -EBADF): I/O belongs to each
 * sandbox's grants, so its boot is never snapshotted. It prints nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <vmlet/guest.h>

static int64_t wrote;

/* What the boot's write(3, ...) returned, or -errno. */
static int64_t boot_write(void)
{
	return wrote;
}

int main(void)
{
	wrote = write(3, "x", 1);
	if (wrote < 0)
		wrote = -errno;
	VMLET_REGISTER(boot_write, VMLET_I64);
	vmlet_ready();
}
