// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for backtrace_test: faults and aborts two and three calls deep,
 * and a fault with a frame-pointer chain that loops. Nothing is inlined
 * or tail-called, so each function keeps its frame; addr() tells the host
 * where each function starts.
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

#define NOINLINE __attribute__((noinline, noclone))

static volatile uint64_t sink;

/* A leaf: GCC gives it no frame; the host finds its caller from rsp. */
NOINLINE static uint64_t leaf_fault(uint64_t *p)
{
	return *(volatile uint64_t *)p;
}

NOINLINE static uint64_t middle(uint64_t *p)
{
	uint64_t v = leaf_fault(p);

	sink = v;
	return v + 1;
}

NOINLINE static uint64_t outer(uint64_t *p)
{
	uint64_t v = middle(p);

	sink = v;
	return v + 2;
}

static uint64_t nested_fault(void)
{
	return outer(NULL) + 3;
}

NOINLINE static void abort_inner(int code)
{
	vmlet_abort(code, "abort_inner gave up");
}

NOINLINE static void abort_outer(int code)
{
	abort_inner(code + 1);
	sink = 1;
}

static void nested_abort(void)
{
	abort_outer(6);
	sink = 2;
}

/* rbp points at itself: a walk that trusted it would never end. */
NOINLINE static void loop_fault(void)
{
	uint64_t slot;

	__asm__ volatile("lea %0, %%rbp\n"
			 "mov %%rbp, (%%rbp)\n"
			 "movq 0, %%rax"
			 : "=m"(slot)
			 :
			 : "rax", "memory");
}

/* rbp outside guest memory. */
NOINLINE static void wild_fault(void)
{
	__asm__ volatile("movabs $0x7ffffffff000, %%rbp\n"
			 "movq 0, %%rax"
			 :
			 :
			 : "rax", "memory");
}

static uint64_t addr(const char *name)
{
	if (!strcmp(name, "leaf_fault"))
		return (uint64_t)leaf_fault;
	if (!strcmp(name, "middle"))
		return (uint64_t)middle;
	if (!strcmp(name, "outer"))
		return (uint64_t)outer;
	if (!strcmp(name, "abort_inner"))
		return (uint64_t)abort_inner;
	return 0;
}

int main(void)
{
	VMLET_REGISTER(nested_fault, VMLET_U64);
	VMLET_REGISTER(nested_abort, VMLET_VOID);
	VMLET_REGISTER(loop_fault, VMLET_VOID);
	VMLET_REGISTER(wild_fault, VMLET_VOID);
	VMLET_REGISTER(addr, VMLET_U64, VMLET_STRING);
	vmlet_ready();
}
