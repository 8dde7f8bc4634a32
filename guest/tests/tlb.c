// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest: translations one call caches for the next, for tlb_test.
 *
 * stale_load() and stale_exec() point a 2 MiB page of the guest's own
 * page tables (PD entry 511, virtual WINDOW, unmapped in the snapshot) at
 * a guest-physical address, flush that one translation (INVLPG), read or
 * run through it so that the CPU caches it, and put the entry back
 * (not present) without a flush, as a call that wants its translation to
 * reach the next call would. The next call's load() or jump() at WINDOW
 * must then fault: the snapshot maps nothing there. On hardware without a
 * flush at restore it would read or run the page. steal() reads KVM's
 * steal-time record (lib/tlb.c), steal_poke() writes into it.
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

#define CR0_WP	   (1ULL << 16)
#define PDE_LARGE  0xe3ULL /* present, writable, accessed, dirty, 2 MiB */
#define WINDOW	   (511ULL << 21)
#define HUGE_MASK  ((1ULL << 21) - 1)
#define PD_ADDR	   (VMLET_PT_ADDR + 2 * VMLET_PAGE_SIZE)
#define STEAL_ADDR (VMLET_STUB_ADDR + VMLET_PAGE_SIZE - 64) /* lib/tlb.h */

extern char load_site[];

static uint64_t cr0_read(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static void pde_write(uint64_t v)
{
	uint64_t cr0 = cr0_read();

	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~CR0_WP) : "memory");
	((volatile uint64_t *)PD_ADDR)[511] = v;
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
}

static __attribute__((noinline)) uint64_t load(uint64_t addr)
{
	uint64_t v;

	__asm__ volatile(".globl load_site\nload_site: mov (%1), %0"
			 : "=r"(v)
			 : "r"(addr)
			 : "memory");
	return v;
}

static uint64_t pde(void)
{
	return ((volatile uint64_t *)PD_ADDR)[511];
}

/* Map gpa's 2 MiB page at WINDOW, cache it by a load, unmap it unflushed. */
static uint64_t stale_load(uint64_t gpa)
{
	uint64_t old = pde(), v;

	pde_write((gpa & ~HUGE_MASK) | PDE_LARGE);
	__asm__ volatile("invlpg (%0)" : : "r"(WINDOW) : "memory");
	v = load(WINDOW + (gpa & HUGE_MASK));
	pde_write(old);
	return v;
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

/* The same with an instruction fetch: add() run through WINDOW. */
static int32_t stale_exec(int32_t a, int32_t b)
{
	uint64_t gpa = (uint64_t)add, old = pde(); /* identity-mapped */
	int32_t (*at)(int32_t, int32_t) = (void *)(WINDOW + (gpa & HUGE_MASK));
	int32_t v;

	pde_write((gpa & ~HUGE_MASK) | PDE_LARGE);
	__asm__ volatile("invlpg (%0)" : : "r"(WINDOW + (gpa & HUGE_MASK)) : "memory");
	v = at(a, b);
	pde_write(old);
	return v;
}

/* Where stale_exec() runs add(): the address jump() must fault at. */
static uint64_t exec_addr(void)
{
	return WINDOW + ((uint64_t)add & HUGE_MASK);
}

static int32_t jump(uint64_t addr, int32_t a, int32_t b)
{
	return ((int32_t(*)(int32_t, int32_t))addr)(a, b);
}

static uint64_t site(void)
{
	return (uint64_t)load_site;
}

/* The steal-time record's bytes 0-23: steal, version and flags, preempted and pad. */
static struct vmlet_bytes steal(void)
{
	return (struct vmlet_bytes){.ptr = (const void *)STEAL_ADDR, .len = 24};
}

/* The stubs' page is read-only: past CR0.WP. */
static void steal_poke(uint64_t off, uint64_t v)
{
	uint64_t cr0 = cr0_read();

	if (off > 56)
		return;
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~CR0_WP) : "memory");
	*(volatile uint64_t *)(STEAL_ADDR + off) = v;
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
}

int main(void)
{
	VMLET_REGISTER(stale_load, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(stale_exec, VMLET_I32, VMLET_I32, VMLET_I32);
	VMLET_REGISTER(exec_addr, VMLET_U64);
	VMLET_REGISTER(load, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(jump, VMLET_I32, VMLET_U64, VMLET_I32, VMLET_I32);
	VMLET_REGISTER(pde, VMLET_U64);
	VMLET_REGISTER(site, VMLET_U64);
	VMLET_REGISTER(steal, VMLET_BYTES);
	VMLET_REGISTER(steal_poke, VMLET_VOID, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
