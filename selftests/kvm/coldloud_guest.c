// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for coldboot_test whose boot prints: every sandbox's print
 * callback must get the boot's output, so its boot is never snapshotted.
 */
#include <stdint.h>
#include <vmlet/guest.h>

static uint64_t booted;

static uint64_t boots(void)
{
	return booted;
}

int main(void)
{
	booted++;
	vmlet_print("booting\n", 8);
	VMLET_REGISTER(boots, VMLET_U64);
	vmlet_ready();
}
