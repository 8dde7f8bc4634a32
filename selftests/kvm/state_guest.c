// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for pool_test and the restore benchmark: functions that leave
 * state behind (globals, heap, stack, registers, MSRs) and functions that
 * fail, so the host can check that restore undoes all of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet/guest.h>

#include "guest_util.h"

#define PAGE 4096

static uint64_t counter;
static char stash_buf[64];
static char pages[256 * PAGE];

static uint64_t count(void)
{
	return ++counter;
}

static void stash(const char *s)
{
	strncpy(stash_buf, s, sizeof(stash_buf) - 1);
}

static const char *peek(void)
{
	return stash_buf;
}

/* Write n KiB of heap and a stack frame of n KiB; returns the heap pointer. */
static uint64_t scribble(uint32_t kib)
{
	volatile char frame[16384];
	char *p = malloc((size_t)kib * 1024 + 1);

	if (!p)
		return 0;
	memset(p, 0xa5, (size_t)kib * 1024);
	for (uint32_t i = 0; i < kib * 1024 && i < sizeof(frame); i += 64)
		frame[i] = (char)i;
	return (uint64_t)(uintptr_t)p + frame[0];
}

/* Dirty exactly n pages of a static array (at most 256). */
static uint32_t touch(uint32_t n)
{
	for (uint32_t i = 0; i < n && i < 256; i++)
		pages[i * PAGE]++;
	return n;
}

/* xmm7 is not an argument register of these calls: it keeps its value. */
static void xmm_put(uint64_t v)
{
	__asm__ volatile("movq %0, %%xmm7" : : "r"(v) : "xmm7");
}

static uint64_t xmm_get(void)
{
	uint64_t v;

	__asm__ volatile("movq %%xmm7, %0" : "=r"(v));
	return v;
}

#define MSR_KERNEL_GS_BASE 0xc0000102

static void msr_put(uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(MSR_KERNEL_GS_BASE), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)));
}

static uint64_t msr_get(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_KERNEL_GS_BASE));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t crash(void)
{
	return *(volatile uint64_t *)0;
}

static void die(void)
{
	vmlet_abort(7, "state_guest gives up");
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(count, VMLET_U64);
	VMLET_REGISTER(stash, VMLET_VOID, VMLET_STRING);
	VMLET_REGISTER(peek, VMLET_STRING);
	VMLET_REGISTER(scribble, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(touch, VMLET_U32, VMLET_U32);
	VMLET_REGISTER(xmm_put, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(xmm_get, VMLET_U64);
	VMLET_REGISTER(msr_put, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(msr_get, VMLET_U64);
	VMLET_REGISTER(crash, VMLET_U64);
	VMLET_REGISTER(die, VMLET_VOID);
	VMLET_REGISTER(triple, VMLET_VOID);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
