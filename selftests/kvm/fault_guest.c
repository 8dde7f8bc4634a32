// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for fault_test: each function fails in one way. site() tells the
 * host the exact addresses the faults must report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet/guest.h>

#include "guest_util.h"

extern char ud_site[], div_site[], null_site[];
static const uint64_t rodata_word = 42;

static uint64_t null_read(void)
{
	uint64_t v;

	__asm__ volatile(".globl null_site\n"
			 "null_site: movq 0, %0\n"
			 : "=r"(v)
			 :
			 : "memory");
	return v;
}

static void ro_write(void)
{
	*(volatile uint64_t *)&rodata_word = 1;
}

static void ud(void)
{
	__asm__ volatile(".globl ud_site\nud_site: ud2");
}

static uint32_t div0(uint32_t d)
{
	uint32_t q;

	__asm__ volatile(".globl div_site\n"
			 "xor %%edx, %%edx\n"
			 "mov $1, %%eax\n"
			 "div_site: div %1\n"
			 : "=&a"(q)
			 : "r"(d)
			 : "rdx");
	return q;
}

static uint64_t recurse(uint64_t n)
{
	volatile uint8_t pad[512];

	pad[0] = (uint8_t)n;
	if (n == UINT64_MAX) /* never: only to tell the compiler it ends */
		return 0;
	return recurse(n + 1) + pad[0];
}

static void overflow(void)
{
	recurse(0);
}

static void die(void)
{
	vmlet_abort(42, "boom: the guest gave up");
}

static void libc_abort(void)
{
	abort();
}

static void quit(void)
{
	exit(3);
}

static void port(void)
{
	__asm__ volatile("out %%al, $0x80" : : "a"(0));
}

static void halt(void)
{
	__asm__ volatile("hlt");
}

static uint64_t site(const char *name)
{
	const struct vmlet_boot *b = (const void *)VMLET_BOOT_ADDR;

	if (!strcmp(name, "ud"))
		return (uint64_t)ud_site;
	if (!strcmp(name, "div"))
		return (uint64_t)div_site;
	if (!strcmp(name, "null"))
		return (uint64_t)null_site;
	if (!strcmp(name, "rodata"))
		return (uint64_t)&rodata_word;
	if (!strcmp(name, "guard"))
		return b->stack_lo - VMLET_PAGE_SIZE;
	return 0;
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(null_read, VMLET_U64);
	VMLET_REGISTER(ro_write, VMLET_VOID);
	VMLET_REGISTER(ud, VMLET_VOID);
	VMLET_REGISTER(div0, VMLET_U32, VMLET_U32);
	VMLET_REGISTER(overflow, VMLET_VOID);
	VMLET_REGISTER(die, VMLET_VOID);
	VMLET_REGISTER(libc_abort, VMLET_VOID);
	VMLET_REGISTER(quit, VMLET_VOID);
	VMLET_REGISTER(triple, VMLET_VOID);
	VMLET_REGISTER(port, VMLET_VOID);
	VMLET_REGISTER(halt, VMLET_VOID);
	VMLET_REGISTER(site, VMLET_U64, VMLET_STRING);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
