// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest: fails before its ready point, for hostile_test.
 *
 * A guest gets no arguments before it is ready, so the host picks the
 * failure with the memory size it configures (struct vmlet_boot):
 *
 *   4 MiB   exit(5)                      6 MiB   vmlet_abort(9, ...)
 *   8 MiB   reads page 0                 10 MiB  VMLET_PORT_RETURN
 *   12 MiB  READY with a garbage table   14 MiB  hlt
 *   16 MiB  triple fault
 *   other   registers add() and is ready, as a well-behaved guest
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet/guest.h>

#define MIB (1ULL << 20)

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	const struct vmlet_boot *boot = (const void *)VMLET_BOOT_ADDR;
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = {0, 0};

	switch (boot->mem_size / MIB) {
	case 4:
		exit(5);
	case 6:
		vmlet_abort(9, "gave up before ready");
	case 8:
		return (int)*(volatile uint64_t *)0;
	case 10:
		__asm__ volatile("out %%al, %0" : : "i"(VMLET_PORT_RETURN));
		break;
	case 12:
		memset((void *)boot->out_addr, 0xff, 64);
		__asm__ volatile("out %%al, %0" : : "i"(VMLET_PORT_READY));
		break;
	case 14:
		__asm__ volatile("hlt");
		break;
	case 16:
		__asm__ volatile("lidt %0; ud2" : : "m"(no_idt));
		break;
	}
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
