// SPDX-License-Identifier: BSD-2-Clause
/*
 * hello: a guest built with nothing but the installed guest toolchain:
 *
 *	vmlet-guest-cc -O2 -o hello.elf hello.c
 *
 * Its functions are plain C; embed.c calls them from the host.
 */
#include <stdint.h>
#include <stdio.h>
#include <vmlet/guest.h>

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

/* Build the result in place in the output buffer: no copy, no malloc. */
static const char *greet(const char *name)
{
	size_t cap;
	char *buf = vmlet_result_buf(&cap);

	printf("greeting %s\n", name); /* reaches the host's print callback */
	snprintf(buf, cap, "hello, %s", name);
	return buf;
}

/* Read any guest address: peek(0) faults, and the host gets the details. */
static uint64_t peek(uint64_t addr)
{
	return *(volatile const uint64_t *)addr;
}

int main(void)
{
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	VMLET_REGISTER(greet, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(peek, VMLET_U64, VMLET_U64);
	vmlet_ready();
}
