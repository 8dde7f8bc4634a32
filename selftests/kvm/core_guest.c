// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for core_test: core_fault(seed) faults two calls deep, in poke(),
 * with a known local in its caller crunch() (answer = 0x4242 + seed) and
 * a known value in xmm7 (the same), at address seed * 16 + 8 in page 0.
 * Nothing is inlined, so gdb finds each function in the core.
 * xmm12_put(v) leaves v in xmm12 (not one the runtime uses between calls)
 * and returns.
 */
#include <stdint.h>
#include <vmlet/guest.h>

#define NOINLINE __attribute__((noinline, noclone))

static volatile uint64_t sink;

NOINLINE static uint64_t poke(uint64_t *p, uint64_t value)
{
	__asm__ volatile("movq %0, %%xmm7" : : "r"(value) : "xmm7");
	*(volatile uint64_t *)p = value;
	return value;
}

NOINLINE static uint64_t crunch(uint32_t seed)
{
	volatile uint64_t answer = 0x4242 + seed;
	uint64_t r = poke((uint64_t *)(uintptr_t)(seed * 16 + 8), answer);

	sink = r;
	return r + answer;
}

static uint64_t core_fault(uint32_t seed)
{
	return crunch(seed) + 1;
}

static uint64_t core_abort(uint32_t code)
{
	vmlet_abort((int)code, "core_abort gave up");
	return 0;
}

static uint64_t xmm12_put(uint64_t v)
{
	__asm__ volatile("movq %0, %%xmm12" : : "r"(v) : "xmm12");
	return v;
}

static uint64_t add(uint64_t a, uint64_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(core_fault, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(core_abort, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(add, VMLET_U64, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(xmm12_put, VMLET_U64, VMLET_U64);
	vmlet_ready();
}
