// SPDX-License-Identifier: BSD-2-Clause
/*
 * The CPU section of a snapshot file: what a saved vCPU state needs of a
 * host (the CPUID features a file's header names), and its validation,
 * the last step of vmlet_snapfmt_parse() (lib/snapfmt.c, which owns the
 * rest of the format).
 *
 * Every register a later KVM_SET_* takes is checked against what a
 * long-mode guest at CPL 0 of this ABI can hold, and what of it depends
 * on the host against what this host's KVM takes (XCRs, XSAVE components,
 * each MSR, MTRR addresses against its physical address width, the CPUID
 * features behind CR4, EFER and x2APIC mode), so that a bad file, or one
 * this host cannot run, fails with a message naming the register rather
 * than in KVM with an errno when a sandbox is made of it. In order, so
 * that the message names the first thing wrong: RIP, RSP, RFLAGS, XCRs
 * and XCR0, segments and descriptor tables, CR0, CR4, EFER, CR3, CR8,
 * APIC base, pending events, MXCSR and the XSAVE header; then what this
 * host's KVM must take (XCRs, XSAVE components), the debug registers,
 * each MSR (known, once, a valid value, taken by this host), and last
 * the CPUID features the state needs against those the header names.
 *
 * Pure code like the rest of the format: unit-tested (snapfmt_test) and
 * fuzzed (snapfile_fuzz) through vmlet_snapfmt_parse().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "snapcpu.h"

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
#define CR0_OK                                                                                     \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | \
	 CR0_PG)
#define CR4_VME	       (1ULL << 0)
#define CR4_PVI	       (1ULL << 1)
#define CR4_TSD	       (1ULL << 2)
#define CR4_DE	       (1ULL << 3)
#define CR4_PSE	       (1ULL << 4)
#define CR4_PAE	       (1ULL << 5)
#define CR4_MCE	       (1ULL << 6)
#define CR4_PGE	       (1ULL << 7)
#define CR4_PCE	       (1ULL << 8)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_UMIP       (1ULL << 11)
#define CR4_FSGSBASE   (1ULL << 16)
#define CR4_PCIDE      (1ULL << 17)
#define CR4_OSXSAVE    (1ULL << 18)
#define CR4_SMEP       (1ULL << 20)
#define CR4_SMAP       (1ULL << 21)
#define CR4_OK                                                                                     \
	(CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE |  \
	 CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP | CR4_FSGSBASE | CR4_PCIDE | CR4_OSXSAVE |         \
	 CR4_SMEP | CR4_SMAP)
#define EFER_SCE     (1ULL << 0)
#define EFER_LME     (1ULL << 8)
#define EFER_LMA     (1ULL << 10)
#define EFER_NXE     (1ULL << 11)
#define EFER_OK	     (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)
#define RFLAGS_FIXED (1ULL << 1)
#define RFLAGS_VM    (1ULL << 17)
/* Bits 3, 5, 15 and 22-63 are reserved; VM has no place in long mode. */
#define RFLAGS_BAD (~0x3fffffULL | (1ULL << 3) | (1ULL << 5) | (1ULL << 15) | RFLAGS_VM)

#define XFEATURE_X87 (1ULL << 0)
#define XFEATURE_SSE (1ULL << 1)
#define XFEATURE_AVX (1ULL << 2)
/*
 * KVM_GET_XSAVE names PKRU in XSTATE_BV wherever the host has protection
 * keys, whatever the guest's XCR0: it is the one component beyond XCR0
 * the area may hold (and the loading host's KVM must take it).
 */
#define XFEATURE_PKRU (1ULL << 9)

#define APIC_BASE     0xfee00000ULL
#define APIC_EXTD     (1ULL << 10) /* x2APIC mode */
#define APIC_EN	      (1ULL << 11)
#define APIC_FLAGS_OK ((1ULL << 8) | APIC_EXTD | APIC_EN) /* and BSP */
#define PAGE_MASK     (VMLET_PAGE_SIZE - 1)
#define XSAVE_MXCSR   6	  /* in 32-bit words */
#define XSAVE_HDR     512 /* bytes: XSTATE_BV, XCOMP_BV, reserved */
#define XSAVE_HDR_END 576
/*
 * KVM_VCPUEVENT_VALID_*: NMI_PENDING, SIPI_VECTOR, SHADOW, SMM. KVM
 * refuses PAYLOAD and TRIPLE_FAULT in a VM without the capabilities that
 * enable them, which vmlet does not (and its snapshots never hold them).
 */
#define VCPUEVENT_FLAGS_OK 0xf

#define BAD(...) vmlet_snapfmt_fail(err, errlen, -EBADMSG, __VA_ARGS__)

static const char *const cpuid_names[VMLET_CPUID_NWORDS] = {"1:ECX", "1:EDX", "7:EBX", "7:ECX",
							    "80000001:EDX"};

static inline bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v; /* bits 63-47 all equal */
}

static const struct kvm_msrs *msrs_of(const struct vmlet_x86_state *cpu)
{
	return (const struct kvm_msrs *)cpu->msrs;
}

void vmlet_snapfmt_needs(const struct vmlet_x86_state *cpu, uint32_t need[VMLET_CPUID_NWORDS])
{
	uint64_t cr4 = cpu->sregs.cr4, efer = cpu->sregs.efer;

	memset(need, 0, VMLET_CPUID_NWORDS * sizeof(*need));
	/* FPU, TSC, MSR, PAE, CX8, FXSR, SSE, SSE2: what every vmlet guest runs with. */
	need[VMLET_CPUID_1_EDX] =
		1U << 0 | 1U << 4 | 1U << 5 | 1U << 6 | 1U << 8 | 1U << 24 | 1U << 25 | 1U << 26;
	need[VMLET_CPUID_81_EDX] = 1U << 29; /* LM */
	if (cr4 & CR4_VME)
		need[VMLET_CPUID_1_EDX] |= 1U << 1;
	if (cr4 & CR4_DE)
		need[VMLET_CPUID_1_EDX] |= 1U << 2;
	if (cr4 & CR4_PSE)
		need[VMLET_CPUID_1_EDX] |= 1U << 3;
	if (cr4 & CR4_MCE)
		need[VMLET_CPUID_1_EDX] |= 1U << 7;
	if (cr4 & CR4_PGE)
		need[VMLET_CPUID_1_EDX] |= 1U << 13;
	if (cr4 & CR4_PCIDE)
		need[VMLET_CPUID_1_ECX] |= 1U << 17;
	if (cr4 & CR4_FSGSBASE)
		need[VMLET_CPUID_7_EBX] |= 1U << 0;
	if (cr4 & CR4_SMEP)
		need[VMLET_CPUID_7_EBX] |= 1U << 7;
	if (cr4 & CR4_SMAP)
		need[VMLET_CPUID_7_EBX] |= 1U << 20;
	if (cr4 & CR4_UMIP)
		need[VMLET_CPUID_7_ECX] |= 1U << 2;
	if (efer & EFER_SCE)
		need[VMLET_CPUID_81_EDX] |= 1U << 11;
	if (efer & EFER_NXE)
		need[VMLET_CPUID_81_EDX] |= 1U << 20;
	/* KVM_SET_SREGS takes x2APIC mode only where the vCPU's CPUID has it. */
	if (cpu->sregs.apic_base & APIC_EXTD)
		need[VMLET_CPUID_1_ECX] |= 1U << 21;
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

int vmlet_snapfmt_missing(const uint32_t need[VMLET_CPUID_NWORDS],
			  const uint32_t have[VMLET_CPUID_NWORDS], const char **word,
			  unsigned int *bit)
{
	for (unsigned int w = 0; w < VMLET_CPUID_NWORDS; w++) {
		uint32_t miss = need[w] & ~have[w];

		if (miss) {
			*word = cpuid_names[w];
			*bit = (unsigned int)__builtin_ctz(miss);
			return 1;
		}
	}
	return 0;
}

/* Whether [base, base + limit] lies inside memory. */
static bool in_mem(uint64_t base, uint64_t limit, uint64_t mem_size)
{
	return base < mem_size && limit < mem_size - base;
}

static int check_segments(const struct kvm_sregs *s, uint64_t mem, char *err, size_t errlen)
{
	const struct kvm_segment *data[] = {&s->ds, &s->es, &s->fs, &s->gs, &s->ss};
	const char *names[] = {"DS", "ES", "FS", "GS", "SS"};
	const struct kvm_segment *cs = &s->cs, *tr = &s->tr, *ldt = &s->ldt;

	if (!cs->present || !cs->s || !(cs->type & 8) || !cs->l || cs->db || cs->dpl ||
	    cs->unusable || cs->padding)
		return BAD("CPU: CS (selector %#x, type %u) is not a present 64-bit ring-0 code "
			   "segment",
			   cs->selector, cs->type);
	for (unsigned int i = 0; i < 5; i++) {
		const struct kvm_segment *d = data[i];

		if (d->padding || (!d->unusable && d->present && (!d->s || (d->type & 8))) ||
		    !canonical(d->base))
			return BAD(
				"CPU: %s (selector %#x, type %u, base %#llx) is not a data segment",
				names[i], d->selector, d->type, (unsigned long long)d->base);
	}
	if (s->ss.dpl)
		return BAD("CPU: SS has DPL %u, the guest runs at CPL 0", s->ss.dpl);
	if (!tr->present || tr->s || tr->type != 11 || tr->unusable || tr->padding ||
	    !in_mem(tr->base, tr->limit, mem))
		return BAD("CPU: TR (base %#llx, limit %#x, type %u) is not a busy 64-bit TSS in "
			   "memory",
			   (unsigned long long)tr->base, tr->limit, tr->type);
	if (ldt->padding || (!ldt->unusable && !in_mem(ldt->base, ldt->limit, mem)))
		return BAD("CPU: LDT (base %#llx, limit %#x) lies outside memory",
			   (unsigned long long)ldt->base, ldt->limit);
	if (!in_mem(s->gdt.base, s->gdt.limit, mem) ||
	    !all_zero(s->gdt.padding, sizeof(s->gdt.padding)))
		return BAD("CPU: GDT (base %#llx, limit %#x) lies outside memory",
			   (unsigned long long)s->gdt.base, s->gdt.limit);
	if (!in_mem(s->idt.base, s->idt.limit, mem) ||
	    !all_zero(s->idt.padding, sizeof(s->idt.padding)))
		return BAD("CPU: IDT (base %#llx, limit %#x) lies outside memory",
			   (unsigned long long)s->idt.base, s->idt.limit);
	return 0;
}

static int check_sregs(const struct kvm_sregs *s, bool xcrs, uint64_t mem, char *err, size_t errlen)
{
	int ret = check_segments(s, mem, err, errlen);

	if (ret)
		return ret;
	if ((s->cr0 & ~CR0_OK) || !(s->cr0 & CR0_PE) || !(s->cr0 & CR0_PG) ||
	    ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD)))
		return BAD("CPU: CR0 %#llx is not a long-mode value (PE and PG set, no reserved "
			   "bits)",
			   (unsigned long long)s->cr0);
	if ((s->cr4 & ~CR4_OK) || !(s->cr4 & CR4_PAE) || !(s->cr4 & CR4_OSXSAVE) != !xcrs)
		return BAD("CPU: CR4 %#llx is not a long-mode value (PAE set, OSXSAVE as XCR0 is "
			   "saved, no reserved or unsupported bits)",
			   (unsigned long long)s->cr4);
	if ((s->efer & ~EFER_OK) || !(s->efer & EFER_LME) || !(s->efer & EFER_LMA))
		return BAD("CPU: EFER %#llx is not a long-mode value (LME and LMA set, no reserved "
			   "bits)",
			   (unsigned long long)s->efer);
	if ((s->cr3 >> 52) || (s->cr3 & ~PAGE_MASK) >= mem)
		return BAD("CPU: CR3 %#llx: page tables outside memory",
			   (unsigned long long)s->cr3);
	if (s->cr8 > 15)
		return BAD("CPU: CR8 %#llx is not a task priority", (unsigned long long)s->cr8);
	if ((s->apic_base & ~(VMLET_PAGE_SIZE - 1)) != APIC_BASE ||
	    (s->apic_base & PAGE_MASK & ~APIC_FLAGS_OK))
		return BAD("CPU: APIC base %#llx is not the default one",
			   (unsigned long long)s->apic_base);
	if ((s->apic_base & (APIC_EXTD | APIC_EN)) == APIC_EXTD)
		return BAD("CPU: APIC base %#llx: x2APIC mode with the APIC disabled",
			   (unsigned long long)s->apic_base);
	if (!all_zero(s->interrupt_bitmap, sizeof(s->interrupt_bitmap)))
		return BAD("CPU: an interrupt is pending");
	return 0;
}

static int check_events(const struct kvm_vcpu_events *e, char *err, size_t errlen)
{
	if (!vmlet_x86_events_quiet(e))
		return BAD("CPU: an exception, interrupt, NMI or SMI is pending or injected");
	if ((e->flags & ~VCPUEVENT_FLAGS_OK) || e->interrupt.shadow > 3 || e->nmi.masked > 1 ||
	    e->nmi.pad || !all_zero(e->reserved, sizeof(e->reserved)))
		return BAD("CPU: events: flags %#x, shadow %u, or reserved fields not zero",
			   e->flags, e->interrupt.shadow);
	return 0;
}

static int check_fpu(const struct vmlet_x86_state *cpu, uint64_t xcr0, char *err, size_t errlen)
{
	const uint8_t *x = (const uint8_t *)cpu->xsave;
	uint64_t bv, comp;

	if (cpu->xsave[XSAVE_MXCSR] >> 16)
		return BAD("CPU: MXCSR %#x has reserved bits", cpu->xsave[XSAVE_MXCSR]);
	memcpy(&bv, x + XSAVE_HDR, 8);
	memcpy(&comp, x + XSAVE_HDR + 8, 8);
	if (bv & ~(xcr0 | XFEATURE_PKRU) || comp ||
	    !all_zero(x + XSAVE_HDR + 16, XSAVE_HDR_END - XSAVE_HDR - 16))
		return BAD("CPU: XSAVE header (XSTATE_BV %#llx, XCOMP_BV %#llx) does not fit XCR0 "
			   "%#llx",
			   (unsigned long long)bv, (unsigned long long)comp,
			   (unsigned long long)xcr0);
	return 0;
}

static bool msr_known(uint32_t index)
{
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		if (index >= r->first && index - r->first < r->n)
			return true;
	}
	return false;
}

/* MTRR memory types KVM takes: UC, WC, WT, WP, WB. */
static bool mtrr_type_ok(uint64_t t)
{
	return t < 8 && ((1U << t) & 0x73);
}

static bool mtrr_fixed(uint32_t index)
{
	return index == MSR_MTRR_FIX64K || index - MSR_MTRR_FIX16K < 2 ||
	       index - MSR_MTRR_FIX4K < 8;
}

/* Bits 52-63 are reserved everywhere; bits from the host's MAXPHYADDR up, check_msrs(). */
#define MTRR_VAR_RESERVED(index) (~0ULL << 52 | ((index)&1 ? 0x7ffULL : 0xf00ULL))

static bool msr_value_ok(uint32_t index, uint64_t v)
{
	if (mtrr_fixed(index)) {
		for (int i = 0; i < 8; i++)
			if (!mtrr_type_ok((v >> (8 * i)) & 0xff))
				return false;
		return true;
	}
	if (index - MSR_MTRR_BASE0 < 16) /* even: PHYSBASE, odd: PHYSMASK */
		return !(v & MTRR_VAR_RESERVED(index)) && (index & 1 || mtrr_type_ok(v & 0xff));
	switch (index) {
	case MSR_MTRR_DEFTYPE:
		return !(v & ~0xcffULL) && mtrr_type_ok(v & 0xff);
	case MSR_TSC_AUX:
		return !(v >> 32); /* KVM refuses bits 63-32 on Intel; AMD has none */
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		return canonical(v);
	case MSR_PAT:
		for (int i = 0; i < 8; i++) {
			uint8_t t = (uint8_t)(v >> (8 * i));

			if (t > 7 || t == 2 || t == 3)
				return false;
		}
		return true;
	default:
		return true; /* any value KVM_SET_MSRS takes */
	}
}

/* A state MSR's name (lib/x86.h), as the SDM spells it. */
static const char *msr_name(uint32_t index, char *buf, size_t len)
{
	static const struct {
		uint32_t index;
		const char *name;
	} names[] = {
		{MSR_STAR, "STAR"},
		{MSR_LSTAR, "LSTAR"},
		{MSR_CSTAR, "CSTAR"},
		{MSR_SFMASK, "FMASK"},
		{MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE"},
		{MSR_PAT, "IA32_PAT"},
		{MSR_IA32_TSC, "IA32_TIME_STAMP_COUNTER"},
		{MSR_SYSENTER_CS, "IA32_SYSENTER_CS"},
		{MSR_SYSENTER_ESP, "IA32_SYSENTER_ESP"},
		{MSR_SYSENTER_EIP, "IA32_SYSENTER_EIP"},
		{MSR_TSC_AUX, "IA32_TSC_AUX"},
		{MSR_TSC_ADJUST, "IA32_TSC_ADJUST"},
		{MSR_SPEC_CTRL, "IA32_SPEC_CTRL"},
		{MSR_MISC_ENABLE, "IA32_MISC_ENABLE"},
		{MSR_DEBUGCTL, "IA32_DEBUGCTL"},
		{MSR_MTRR_DEFTYPE, "IA32_MTRR_DEF_TYPE"},
		{MSR_MTRR_FIX64K, "IA32_MTRR_FIX64K_00000"},
		{MSR_MTRR_FIX16K, "IA32_MTRR_FIX16K_80000"},
		{MSR_MTRR_FIX16K + 1, "IA32_MTRR_FIX16K_A0000"},
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].index == index)
			return names[i].name;
	if (index - MSR_MTRR_FIX4K < 8)
		snprintf(buf, len, "IA32_MTRR_FIX4K_%c%c000", "CCDDEEFF"[index - MSR_MTRR_FIX4K],
			 index & 1 ? '8' : '0');
	else if (index - MSR_MTRR_BASE0 < 16)
		snprintf(buf, len, "IA32_MTRR_PHYS%s%u", index & 1 ? "MASK" : "BASE",
			 (index - MSR_MTRR_BASE0) / 2);
	else
		snprintf(buf, len, "unknown");
	return buf;
}

static bool host_has_msr(const struct vmlet_snapfmt_host *host, uint32_t index)
{
	for (uint32_t i = 0; i < host->nmsrs && i < VMLET_X86_NMSRS; i++)
		if (host->msrs[i] == index)
			return true;
	return false;
}

static int check_msrs(const struct vmlet_x86_state *cpu, const struct vmlet_snapfmt_host *host,
		      char *err, size_t errlen)
{
	const struct kvm_msrs *m = msrs_of(cpu);
	uint32_t n = m->nmsrs;
	char name[32];

	if (n > VMLET_X86_NMSRS || m->pad)
		return BAD("CPU: %u MSRs, at most %u", n, VMLET_X86_NMSRS);
	for (uint32_t i = 0; i < VMLET_X86_NMSRS; i++) {
		const struct kvm_msr_entry *e = &m->entries[i];

		if (i >= n) {
			if (!all_zero(e, sizeof(*e)))
				return BAD("CPU: MSR slot %u past the %u used is not zero", i, n);
			continue;
		}
		if (!msr_known(e->index) || e->reserved)
			return BAD("CPU: MSR %#x is not one a snapshot keeps", e->index);
		for (uint32_t j = 0; j < i; j++)
			if (m->entries[j].index == e->index)
				return BAD("CPU: MSR %#x appears twice", e->index);
		if (!msr_value_ok(e->index, e->data))
			return BAD("CPU: MSR %#x holds an invalid value %#llx", e->index,
				   (unsigned long long)e->data);
		if (!host_has_msr(host, e->index))
			return vmlet_snapfmt_fail(
				err, errlen, -EOPNOTSUPP,
				"MSR %#x (%s) in the file is not supported by this host's KVM",
				e->index, msr_name(e->index, name, sizeof(name)));
		/* KVM takes no MTRR address at or above the vCPU's MAXPHYADDR. */
		if (e->index - MSR_MTRR_BASE0 < 16 && host->phys_bits < 52 &&
		    e->data >> host->phys_bits)
			return vmlet_snapfmt_fail(
				err, errlen, -EOPNOTSUPP,
				"MSR %#x (%s) holds %#llx, beyond this host's %u physical "
				"address bits",
				e->index, msr_name(e->index, name, sizeof(name)),
				(unsigned long long)e->data, host->phys_bits);
	}
	return 0;
}

uint64_t vmlet_snapfmt_xcr0(const struct vmlet_x86_state *cpu)
{
	return cpu->xcrs.nr_xcrs ? cpu->xcrs.xcrs[0].value : XFEATURE_X87 | XFEATURE_SSE;
}

int vmlet_snapfmt_check_cpu(const struct vmlet_x86_state *cpu,
			    const struct vmlet_snapfmt_claims *claims,
			    const struct vmlet_snapfmt_host *host, char *err, size_t errlen)
{
	const struct kvm_regs *r = &cpu->regs;
	const struct kvm_xcrs *x = &cpu->xcrs;
	const struct kvm_debugregs *d = &cpu->debugregs;
	uint32_t need[VMLET_CPUID_NWORDS];
	const char *word;
	unsigned int bit;
	uint64_t xcr0, bv;
	int ret;

	if (r->rip < claims->image_lo || r->rip >= claims->image_hi)
		return BAD("CPU: RIP %#llx outside the image [%#llx, %#llx)",
			   (unsigned long long)r->rip, (unsigned long long)claims->image_lo,
			   (unsigned long long)claims->image_hi);
	if (!r->rsp || r->rsp > claims->mem_size)
		return BAD("CPU: RSP %#llx outside memory", (unsigned long long)r->rsp);
	if ((r->rflags & RFLAGS_BAD) || !(r->rflags & RFLAGS_FIXED))
		return BAD("CPU: RFLAGS %#llx has reserved bits or VM set",
			   (unsigned long long)r->rflags);
	if (x->nr_xcrs > 1 || x->flags || !all_zero(x->padding, sizeof(x->padding)) ||
	    !all_zero(&x->xcrs[x->nr_xcrs], sizeof(x->xcrs) - x->nr_xcrs * sizeof(x->xcrs[0])) ||
	    (x->nr_xcrs && (x->xcrs[0].xcr || x->xcrs[0].reserved)))
		return BAD("CPU: %u XCRs or reserved fields set: only XCR0 is kept", x->nr_xcrs);
	xcr0 = vmlet_snapfmt_xcr0(cpu);
	if (xcr0 != claims->xcr0 || !(xcr0 & XFEATURE_X87) ||
	    (xcr0 & ~(XFEATURE_X87 | XFEATURE_SSE | XFEATURE_AVX)) ||
	    ((xcr0 & XFEATURE_AVX) && !(xcr0 & XFEATURE_SSE)))
		return BAD("CPU: XCR0 %#llx is invalid or not the header's %#llx",
			   (unsigned long long)xcr0, (unsigned long long)claims->xcr0);
	ret = check_sregs(&cpu->sregs, x->nr_xcrs, claims->mem_size, err, errlen);
	if (!ret)
		ret = check_events(&cpu->events, err, errlen);
	if (!ret)
		ret = check_fpu(cpu, xcr0, err, errlen);
	if (ret)
		return ret;
	if (x->nr_xcrs && !host->xcrs)
		return vmlet_snapfmt_fail(
			err, errlen, -EOPNOTSUPP,
			"the state keeps XCR0 and this host's KVM has no XCRs (KVM_CAP_XCRS)");
	memcpy(&bv, (const uint8_t *)cpu->xsave + XSAVE_HDR, sizeof(bv));
	if (bv & ~host->xfeatures)
		return vmlet_snapfmt_fail(
			err, errlen, -EOPNOTSUPP,
			"XSAVE state %#llx has components this host's KVM lacks (%#llx)",
			(unsigned long long)bv, (unsigned long long)host->xfeatures);
	if (d->dr6 >> 32 || d->dr7 >> 32 || d->flags || !all_zero(d->reserved, sizeof(d->reserved)))
		return BAD("CPU: DR6 %#llx or DR7 %#llx has reserved bits set",
			   (unsigned long long)d->dr6, (unsigned long long)d->dr7);
	ret = check_msrs(cpu, host, err, errlen);
	if (ret)
		return ret;
	vmlet_snapfmt_needs(cpu, need);
	if (vmlet_snapfmt_missing(need, claims->cpuid, &word, &bit))
		return BAD("CPU: the state needs CPUID %s bit %u, which the header does not name",
			   word, bit);
	return 0;
}
