// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest for review_test: ret_outs() returns through a string
 * `outsb` to VMLET_PORT_RETURN instead of the runtime's `out`. Both exit
 * alike (one byte out to the port), but KVM runs `outs` in its emulator,
 * whose completion at the next KVM_RUN writes back the emulator's rip and
 * rsi, whatever the host loaded meanwhile: after a restore, the next call
 * would resume here, after the `outsb`, instead of at the snapshot.
 * What it then returns says so.
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

static const struct vmlet_boot *const boot = (const void *)VMLET_BOOT_ADDR;

/* The host's bytes as this call's return frame, left through `outsb`. */
static uint32_t ret_outs(const void *frame, size_t len)
{
	const void *src = frame;

	if (len > boot->out_size)
		return 1;
	memcpy((void *)boot->out_addr, frame, len);
	__asm__ volatile("outsb" : "+S"(src) : "d"(VMLET_PORT_RETURN) : "memory");
	return 0xbad;
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(ret_outs, VMLET_U32, VMLET_BYTES);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
