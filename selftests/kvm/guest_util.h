/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the test guests (built with the guest toolchain). */
#ifndef VMLET_TEST_GUEST_UTIL_H
#define VMLET_TEST_GUEST_UTIL_H

#include <stdint.h>

/* Load an empty IDT, then fault: no handler, so the CPU triple-faults. */
static void triple(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) none = { 0, 0 };

	__asm__ volatile("lidt %0; ud2" : : "m"(none));
}

#endif /* VMLET_TEST_GUEST_UTIL_H */
