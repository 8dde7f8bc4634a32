// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for livesnap_test: writes one word into every other page of an
 * area, so that a snapshot taken after it differs from its parent in as
 * many runs of one page, and reads the words back.
 */
#include <stdint.h>
#include <vmlet/guest.h>

#define PAGE   4096
#define NPAGES 1024

static uint8_t area[NPAGES * PAGE] __attribute__((aligned(PAGE)));

/* seed + i into page 2i, for i < n: n pages, none next to another. */
static uint32_t scatter(uint32_t n, uint64_t seed)
{
	uint32_t i;

	for (i = 0; i < n && 2 * i < NPAGES; i++)
		*(volatile uint64_t *)&area[2 * i * PAGE] = seed + i;
	return i;
}

/* The sum of the words in pages 2i, i < n. */
static uint64_t gather(uint32_t n)
{
	uint64_t s = 0;

	for (uint32_t i = 0; i < n && 2 * i < NPAGES; i++)
		s += *(volatile uint64_t *)&area[2 * i * PAGE];
	return s;
}

int main(void)
{
	VMLET_REGISTER(scatter, VMLET_U32, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(gather, VMLET_U64, VMLET_U32);
	vmlet_ready();
}
