// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest: memory the guest must not reach, for hostile_test.
 *
 * load() and store() touch any address the host names (page 0, past the
 * end of guest memory, the page tables, the input buffer, a guard page,
 * a non-canonical address); jump() executes one. recurse() runs into the
 * stack guard. The guest runs in ring 0, so read-only pages only stop
 * accidents: wp_store() clears CR0.WP and writes where it likes, and
 * map_load()/map_store() point a 2 MiB page of the guest's own page
 * tables (PD entry 511, virtual 0x3fe00000) at any guest-physical
 * address and touch it: outside the memslot that is MMIO to KVM.
 * site() names the instructions that fault, for exact rip checks, and
 * the end of the store (KVM finishes an MMIO write before it exits).
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

#define CR0_WP	   (1ULL << 16)
#define PDE_LARGE  0xe3ULL /* present, writable, accessed, dirty, 2 MiB */
#define WINDOW	   (511ULL << 21)
#define HUGE_MASK  ((1ULL << 21) - 1)

extern char load_site[], store_site[], store_end[];

static __attribute__((noinline)) uint64_t load(uint64_t addr)
{
	uint64_t v;

	__asm__ volatile(".globl load_site\nload_site: mov (%1), %0"
			 : "=r"(v)
			 : "r"(addr)
			 : "memory");
	return v;
}

static __attribute__((noinline)) void store(uint64_t addr, uint64_t v)
{
	__asm__ volatile(".globl store_site, store_end\n"
			 "store_site: mov %1, (%0)\n"
			 "store_end:"
			 :
			 : "r"(addr), "r"(v)
			 : "memory");
}

static void jump(uint64_t addr)
{
	((void (*)(void))addr)();
}

static uint64_t recurse(uint64_t n)
{
	volatile uint8_t pad[512];

	pad[0] = (uint8_t)n;
	if (n == UINT64_MAX) /* never: tells the compiler it ends */
		return 0;
	return recurse(n + 1) + pad[0];
}

static void overflow(void)
{
	recurse(0);
}

static void cr0_write(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static uint64_t cr0_read(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

/* Write past read-only protection, then flush the TLB so the write counts. */
static void wp_store(uint64_t addr, uint64_t v)
{
	uint64_t cr0 = cr0_read(), cr3;

	cr0_write(cr0 & ~CR0_WP);
	*(volatile uint64_t *)addr = v;
	cr0_write(cr0);
	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* Map the 2 MiB guest-physical page holding gpa at WINDOW; its address there. */
static uint64_t window(uint64_t gpa)
{
	uint64_t pd = VMLET_PT_ADDR + 2 * VMLET_PAGE_SIZE, cr0 = cr0_read();

	cr0_write(cr0 & ~CR0_WP);
	((volatile uint64_t *)pd)[511] = (gpa & ~HUGE_MASK) | PDE_LARGE;
	cr0_write(cr0);
	__asm__ volatile("invlpg (%0)" : : "r"(WINDOW) : "memory");
	return WINDOW + (gpa & HUGE_MASK);
}

static uint64_t map_load(uint64_t gpa)
{
	return load(window(gpa));
}

static void map_store(uint64_t gpa, uint64_t v)
{
	store(window(gpa), v);
}

static void map_jump(uint64_t gpa)
{
	jump(window(gpa));
}

static uint64_t site(const char *name)
{
	if (!strcmp(name, "load"))
		return (uint64_t)load_site;
	if (!strcmp(name, "store"))
		return (uint64_t)store_site;
	if (!strcmp(name, "store_end"))
		return (uint64_t)store_end;
	return 0;
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(load, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(store, VMLET_VOID, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(jump, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(overflow, VMLET_VOID);
	VMLET_REGISTER(wp_store, VMLET_VOID, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(map_load, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(map_store, VMLET_VOID, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(map_jump, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(site, VMLET_U64, VMLET_STRING);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
