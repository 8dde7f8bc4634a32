// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for livesnap_test: calls that load state (a counter, a table of
 * pages, a secret) and calls that read it back, so the host can snapshot
 * a sandbox after loading and check what its sandboxes see. Integer-only
 * but for hostcall(): the tests without host calls also run natively.
 */
#include <stdint.h>
#include <vmlet/guest.h>

#define PAGE   4096
#define NPAGES 128

static uint64_t counter;
static uint64_t secret;
static uint32_t nloaded;
static uint8_t table[NPAGES * PAGE] __attribute__((aligned(PAGE)));

static uint64_t count(void)
{
	return ++counter;
}

/* Write one word into each of pages [first, first + n) of the table: n dirty pages. */
static uint32_t load(uint32_t first, uint32_t n, uint64_t seed)
{
	uint32_t i;

	for (i = 0; i < n && first + i < NPAGES; i++)
		*(volatile uint64_t *)&table[(first + i) * PAGE] = seed + first + i;
	if (first + i > nloaded)
		nloaded = first + i;
	return i;
}

/* The sum of the words load() wrote, and the counter: what was loaded. */
static uint64_t sum(void)
{
	uint64_t s = counter;

	for (uint32_t i = 0; i < nloaded; i++)
		s += *(volatile uint64_t *)&table[i * PAGE];
	return s;
}

static void stash(uint64_t v)
{
	secret = v;
}

static uint64_t peek(void)
{
	return secret;
}

static uint64_t crash(void)
{
	static volatile uint64_t *volatile null; /* page 0 is never mapped */

	return *null;
}

/* Call the host function fn (no arguments, an i64 result): its result or the error. */
static int64_t hostcall(const char *fn)
{
	struct vmlet_value r;
	int err = vmlet_host_call(fn, NULL, 0, &r);

	return err ? err : r.i64;
}

int main(void)
{
	VMLET_REGISTER(count, VMLET_U64);
	VMLET_REGISTER(load, VMLET_U32, VMLET_U32, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(sum, VMLET_U64);
	VMLET_REGISTER(stash, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(peek, VMLET_U64);
	VMLET_REGISTER(crash, VMLET_U64);
	VMLET_REGISTER(hostcall, VMLET_I64, VMLET_STRING);
	vmlet_ready();
}
