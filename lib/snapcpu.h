/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The CPU section of the snapshot file format (lib/snapcpu.c): what a
 * saved vCPU state needs of a host, and its validation against what the
 * rest of the file claims and what this host offers. The bottom of the
 * format: lib/snapfmt.h (the container) builds on it.
 */
#ifndef VMLET_SNAPCPU_H
#define VMLET_SNAPCPU_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "x86.h"

/* CPUID words the header names features in (struct vmlet_snapfmt_header.cpuid). */
enum vmlet_snapfmt_cpuid {
	VMLET_CPUID_1_ECX,
	VMLET_CPUID_1_EDX,
	VMLET_CPUID_7_EBX,
	VMLET_CPUID_7_ECX,
	VMLET_CPUID_81_EDX, /* leaf 0x80000001 */
	VMLET_CPUID_NWORDS,
};

/* What this host offers, against which a file is checked. */
struct vmlet_snapfmt_host {
	char vendor[12];
	uint64_t xcr0;			    /* what guests get (lib/kvm.c) */
	uint32_t cpuid[VMLET_CPUID_NWORDS]; /* KVM_GET_SUPPORTED_CPUID */
	uint64_t xfeatures;		    /* XSAVE components KVM takes: CPUID 0xd.0 EDX:EAX */
	bool xcrs;			    /* KVM_CAP_XCRS */
	unsigned int phys_bits;		    /* guests' MAXPHYADDR: CPUID 0x80000008 EAX[7:0] */
	uint32_t nmsrs;
	uint32_t msrs[VMLET_X86_NMSRS]; /* the state MSRs KVM takes: vmlet_x86_msr_supported() */
};

/*
 * CPUID features the CPU state needs (long mode, the CR4 and EFER bits it
 * sets, x2APIC mode), in the words of struct vmlet_snapfmt_header.cpuid. XSAVE state
 * is checked against XCR0, KVM_CAP_XCRS and KVM's XSAVE components
 * instead: vmlet gives guests XCR0 (and CR4.OSXSAVE) wherever KVM has
 * XCRs, whether or not KVM's CPUID names XSAVE and AVX.
 */
void vmlet_snapfmt_needs(const struct vmlet_x86_state *cpu, uint32_t cpuid[VMLET_CPUID_NWORDS]);

/*
 * The XCR0 the state runs with: its saved XCR0, else x87 and SSE (saved
 * where KVM has no XCRs).
 */
uint64_t vmlet_snapfmt_xcr0(const struct vmlet_x86_state *cpu);

/*
 * The first CPUID feature bit of need that have lacks: 1, with its word's
 * name ("1:ECX") in *word and the bit in *bit; else 0.
 */
int vmlet_snapfmt_missing(const uint32_t need[VMLET_CPUID_NWORDS],
			  const uint32_t have[VMLET_CPUID_NWORDS], const char **word,
			  unsigned int *bit);

/* What the rest of a file says of its CPU state, which the state must fit. */
struct vmlet_snapfmt_claims {
	uint64_t xcr0;		     /* the header's */
	const uint32_t *cpuid;	     /* the header's VMLET_CPUID_NWORDS words */
	uint64_t mem_size;	     /* guest memory */
	uint64_t image_lo, image_hi; /* the image's span, where RIP must lie */
};

/*
 * The last step of vmlet_snapfmt_parse(): the CPU section cpu of a file
 * whose header and layout passed, against what they claim and against
 * host. 0, or -EBADMSG or -EOPNOTSUPP as vmlet_snapfmt_parse() with its
 * message in err.
 */
int vmlet_snapfmt_check_cpu(const struct vmlet_x86_state *cpu,
			    const struct vmlet_snapfmt_claims *claims,
			    const struct vmlet_snapfmt_host *host, char *err, size_t errlen);

/*
 * The format parser's errors (lib/snapfmt.c, lib/snapcpu.c): the message
 * into err (errlen bytes, may be 0), and code returned.
 */
__attribute__((format(printf, 4, 5))) static inline int
vmlet_snapfmt_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

#endif /* VMLET_SNAPCPU_H */
