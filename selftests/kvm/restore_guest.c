// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for restore_test: reads and writes of the CPU state a call can
 * leave behind for the next one: MSRs, debug registers 6 and 7, FS_BASE,
 * XCR0, and the whole x87/SSE/AVX register file with MXCSR.
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

#define MSR_FS_BASE 0xc0000100

static uint64_t rdmsr_(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void wrmsr_(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint64_t dr_get(uint32_t n)
{
	uint64_t v = 0;

	if (n == 6)
		__asm__ volatile("mov %%dr6, %0" : "=r"(v));
	else if (n == 7)
		__asm__ volatile("mov %%dr7, %0" : "=r"(v));
	return v;
}

static void dr_set(uint32_t n, uint64_t v)
{
	if (n == 6)
		__asm__ volatile("mov %0, %%dr6" : : "r"(v));
	else if (n == 7)
		__asm__ volatile("mov %0, %%dr7" : : "r"(v));
}

/*
 * Move FS_BASE to a copy of what it points at (musl's thread descriptor,
 * whose first word points at the original; this guest has no TLS below
 * it), so that the runtime, which reaches its thread data through FS,
 * works on. The new FS_BASE.
 */
static uint8_t fs_copy[1024] __attribute__((aligned(64)));

static uint64_t fs_move(void)
{
	uint64_t old = rdmsr_(MSR_FS_BASE), new = (uint64_t)(uintptr_t)fs_copy;

	memcpy(fs_copy, (const void *)(uintptr_t)old, sizeof(fs_copy));
	wrmsr_(MSR_FS_BASE, new);
	return new;
}

static uint64_t fs_get(void)
{
	return rdmsr_(MSR_FS_BASE);
}

/*
 * The register file as bytes: the FXSAVE image (x87, MXCSR, XMM0-15;
 * 512 bytes), then with AVX the upper halves of YMM0-15 (256 bytes).
 * FXSAVE and VEXTRACTF128 read the registers as they are; XSAVE would
 * skip a component in its initial state.
 */
#define FX_SIZE	  512
#define YMMH_SIZE 256
static uint8_t fx[FX_SIZE + YMMH_SIZE] __attribute__((aligned(64)));

static int avx(void)
{
	uint32_t a, b, c, d, lo, hi;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1U << 27)) || !(c & (1U << 28))) /* OSXSAVE, AVX */
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6; /* XCR0: SSE and AVX state on */
}

#define YMMH(op, i) op " $1, %%ymm" #i ", " #i "*16(%0)\n"

static struct vmlet_bytes regs_get(void)
{
	int has_avx = avx();

	__asm__ volatile("fxsave64 (%0)" : : "r"(fx) : "memory");
	if (has_avx)
		__asm__ volatile(YMMH("vextractf128", 0) YMMH("vextractf128", 1)
				 YMMH("vextractf128", 2) YMMH("vextractf128", 3)
				 YMMH("vextractf128", 4) YMMH("vextractf128", 5)
				 YMMH("vextractf128", 6) YMMH("vextractf128", 7)
				 YMMH("vextractf128", 8) YMMH("vextractf128", 9)
				 YMMH("vextractf128", 10) YMMH("vextractf128", 11)
				 YMMH("vextractf128", 12) YMMH("vextractf128", 13)
				 YMMH("vextractf128", 14) YMMH("vextractf128", 15)
				 :
				 : "r"(fx + FX_SIZE)
				 : "memory");
	/* Bytes 464-511 are not FXSAVE's: keep them the same on every read. */
	for (int i = 464; i < FX_SIZE; i++)
		fx[i] = 0;
	return (struct vmlet_bytes){fx, has_avx ? FX_SIZE + YMMH_SIZE : FX_SIZE};
}

#define YMMH_IN(i) "vinsertf128 $1, " #i "*16(%0), %%ymm" #i ", %%ymm" #i "\n"

/*
 * Load a state the host can recognise: FCW 0x027f (double precision),
 * MXCSR 0xff80 (round toward zero, flush to zero) within MXCSR_MASK, all
 * eight x87 registers valid, and byte o of the image (ST0-7, XMM0-15,
 * YMM0-15's upper halves) set to seed + o.
 */
static void regs_put(uint32_t seed)
{
	uint32_t mask;
	int has_avx = avx();

	__asm__ volatile("fxsave64 (%0)" : : "r"(fx) : "memory");
	memcpy(&mask, fx + 28, 4);
	if (!mask)
		mask = 0xffbf;
	fx[0] = 0x7f; /* FCW */
	fx[1] = 0x02;
	fx[2] = fx[3] = 0; /* FSW: TOP 0 */
	fx[4] = 0xff;	   /* FTW: all valid */
	mask &= 0xff80;
	memcpy(fx + 24, &mask, 4); /* MXCSR */
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 10; j++)
			fx[32 + 16 * i + j] = (uint8_t)(seed + 32 + 16 * i + j);
	for (int o = 160; o < 416; o++)
		fx[o] = (uint8_t)(seed + o);
	for (int o = FX_SIZE; o < FX_SIZE + YMMH_SIZE; o++)
		fx[o] = (uint8_t)(seed + o);
	__asm__ volatile("fxrstor64 (%0)" : : "r"(fx) : "memory");
	if (has_avx)
		__asm__ volatile(YMMH_IN(0) YMMH_IN(1) YMMH_IN(2) YMMH_IN(3) YMMH_IN(4) YMMH_IN(5)
				 YMMH_IN(6) YMMH_IN(7) YMMH_IN(8) YMMH_IN(9) YMMH_IN(10) YMMH_IN(11)
				 YMMH_IN(12) YMMH_IN(13) YMMH_IN(14) YMMH_IN(15)
				 :
				 : "r"(fx + FX_SIZE)
				 : "memory");
}

static uint64_t xgetbv_(uint32_t xcr)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
	return (uint64_t)hi << 32 | lo;
}

/* XCR0 as the call leaves it (xsetbv faults on a value KVM refuses). */
static uint64_t xsetbv_(uint32_t xcr, uint64_t v)
{
	__asm__ volatile("xsetbv" : : "c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
	return xgetbv_(0);
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(rdmsr_, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(wrmsr_, VMLET_VOID, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(dr_get, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(dr_set, VMLET_VOID, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(fs_move, VMLET_U64);
	VMLET_REGISTER(fs_get, VMLET_U64);
	VMLET_REGISTER(regs_get, VMLET_BYTES);
	VMLET_REGISTER(regs_put, VMLET_VOID, VMLET_U32);
	VMLET_REGISTER(xgetbv_, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(xsetbv_, VMLET_U64, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
