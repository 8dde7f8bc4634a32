// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest for review_test: ret_at() writes `out %al, $RETURN`,
 * after prefixes that make it up to 15 bytes long, at a rip restore
 * loads (the entry stub's, or the snapshot's: resume_rip()) and returns
 * through it. KVM leaves such an exit a step to take at the next
 * KVM_RUN: past the instruction, if rip is then the one it exited at.
 * After restore the next call would start that many bytes into the stub
 * (skipping what it puts back: xmm8() shows it) or into the resume code.
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

static const struct vmlet_boot *const boot = (const void *)VMLET_BOOT_ADDR;

/* The rip a restored sandbox resumes at without a stub: past the ready `out`. */
static uint64_t resume_rip(void)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)vmlet_ready;

	for (int i = 0; i < 4096; i++)
		if (p[i] == 0xe6 && p[i + 1] == VMLET_PORT_READY)
			return (uint64_t)(uintptr_t)(p + i + 2);
	return 0;
}

static uint64_t xmm8(void)
{
	uint64_t v;

	__asm__ volatile("movq %%xmm8, %0" : "=r"(v));
	return v;
}

/* Return the host's frame through an `out` of len bytes written at rip. */
static uint32_t ret_at(uint64_t rip, uint32_t len, const void *frame, size_t flen)
{
	uint8_t *at = (uint8_t *)(uintptr_t)rip;
	uint64_t cr0, mark = 0x6c616e64696e6721ULL;

	if (len < 2 || len > 15 || flen > boot->out_size)
		return 1;
	memcpy((void *)boot->out_addr, frame, flen);
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ULL << 16)) : "memory"); /* WP off */
	memset(at, 0x2e, len - 2);						   /* cs prefixes */
	at[len - 2] = 0xe6;
	at[len - 1] = VMLET_PORT_RETURN;
	__asm__ volatile("movq %0, %%xmm8\n\tjmp *%1" : : "r"(mark), "r"(at) : "xmm8", "memory");
	__builtin_unreachable();
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(resume_rip, VMLET_U64);
	VMLET_REGISTER(xmm8, VMLET_U64);
	VMLET_REGISTER(ret_at, VMLET_U32, VMLET_U64, VMLET_U32, VMLET_BYTES);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
