/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The 64-bit environment a guest starts in, built by the host before the
 * first instruction: GDT, TSS, IDT and exception stubs, the boot page, the
 * initial stack musl's _start expects, and the vCPU's registers.
 */
#ifndef VMLET_X86_H
#define VMLET_X86_H

#include <stdbool.h>
#include <stdint.h>

#include "elf.h"
#include "layout.h"
#include "vm.h"

struct vmlet_kvm;

/*
 * Write the system structures into guest memory and load the vCPU state
 * (sregs with CR3 = cr3, regs at the image entry, FPU, XCR0, syscall MSRs,
 * CPUID). Returns 0 or a negative errno from KVM.
 */
int vmlet_x86_boot(struct vmlet_vm *vm, const struct vmlet_layout *l, const struct vmlet_elf *elf,
		   uint64_t cr3);

/*
 * The vCPU state a snapshot keeps: everything a guest running at CPL 0 can
 * change and a later call could observe. regs, sregs and the pending
 * events go back through kvm_run's synced registers (no ioctl); XSAVE
 * (x87, SSE, AVX registers), XCR0, the MSRs below and the debug registers
 * take one ioctl each.
 */
#define VMLET_X86_NMSRS 44 /* at most: those this KVM can save (lib/cpustate.c) */
struct vmlet_x86_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	/*
	 * struct kvm_xsave and struct kvm_msrs end in flexible arrays, so
	 * they are kept as their bytes: the 4 KiB legacy XSAVE area, and the
	 * kvm_msrs header followed by up to VMLET_X86_NMSRS entries.
	 */
	uint32_t xsave[1024];
	uint64_t msrs[(sizeof(struct kvm_msrs) + VMLET_X86_NMSRS * sizeof(struct kvm_msr_entry)) /
		      sizeof(uint64_t)];
};

#define MSR_STAR	   0xc0000081
#define MSR_LSTAR	   0xc0000082
#define MSR_CSTAR	   0xc0000083
#define MSR_SFMASK	   0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_PAT		   0x00000277
#define MSR_SYSENTER_CS	   0x00000174
#define MSR_SYSENTER_ESP   0x00000175
#define MSR_SYSENTER_EIP   0x00000176
#define MSR_TSC_AUX	   0xc0000103
#define MSR_IA32_TSC	   0x00000010
#define MSR_TSC_ADJUST	   0x0000003b
#define MSR_SPEC_CTRL	   0x00000048
#define MSR_MISC_ENABLE	   0x000001a0
#define MSR_DEBUGCTL	   0x000001d9
#define MSR_MTRR_BASE0	   0x00000200 /* 8 base/mask pairs: 0x200-0x20f */
#define MSR_MTRR_FIX64K	   0x00000250
#define MSR_MTRR_FIX16K	   0x00000258 /* and 0x259 */
#define MSR_MTRR_FIX4K	   0x00000268 /* 0x268-0x26f */
#define MSR_MTRR_DEFTYPE   0x000002ff

/*
 * The MSRs a guest can write and a later call read back: each is a
 * channel from one call to the next unless restore puts it back. The
 * first ones every KVM has; the others only where this vCPU reads them
 * (TSC_AUX needs RDTSCP or RDPID on the host, SPEC_CTRL the host's
 * support, ...), found by reading each once when the snapshot is taken:
 * KVM_SET_MSRS stops at the first one it lacks.
 *
 * Restore writes them all back only after a guest wrote one: where KVM
 * has the MSR filter, a sandbox of a snapshot has guest writes of the
 * filtered ones leave to user space (vmlet_x86_msr_filter(); the filter
 * also takes away the pass-through KVM gives some, like the syscall MSRs),
 * where vm.c makes the write with KVM_SET_MSRS and notes it (as the host's
 * write: the few a host may set further than a guest, such as MISC_ENABLE's
 * bits or TSC_ADJUST without moving the TSC, change only this VM, and go
 * back at the next restore like the rest). A guest changes none of them
 * otherwise: only WRMSR writes them (the TSC just runs), and the vCPU
 * reset after a triple fault, which fails the call (restore of a failed
 * call sets them all). The unfiltered ones go back at every restore, in the
 * entry stub where the snapshot has one (lib/entry.c), else by ioctl:
 * KERNEL_GS_BASE, which SWAPGS exchanges with GS.base with no exit, and
 * the SYSENTER MSRs, which a guest writes in full only through the
 * pass-through (KVM keeps 32 bits of them on AMD, so filtered, a guest
 * would see them shrink). Setting all of them costs more than the other
 * restore ioctls together in the nested VM (the TSC's write makes KVM
 * resynchronize it). DEBUGCTL is one more: the CPU clears its LBR and BTF
 * bits at a #DB, so a snapshot with a DEBUGCTL other than 0 gets no filter
 * and every restore sets them all.
 *
 * The TSC: a guest can write it (and TSC_ADJUST), and the next call would
 * read what it wrote. Restore writes the snapshot's value back; KVM may
 * take a host write that close to its last one as a resynchronization
 * and keep the TSC running from there instead, which drops the guest's
 * write just the same. No call's TSC depends on another's: untouched, it
 * runs on from the last call's, as time does.
 */
struct vmlet_x86_msr_range {
	uint32_t first, n;
	bool always;	 /* every KVM has them; the others only some vCPUs */
	bool emulated;	 /* every KVM emulates them, unlisted (KVM_GET_MSR_INDEX_LIST) */
	bool unfiltered; /* a guest changes them without an exit: every restore */
};

#define VMLET_X86_NRANGES 15

/* The MSRs a snapshot keeps, by range (lib/snapfmt.c checks a file's against them too). */
static inline const struct vmlet_x86_msr_range *vmlet_x86_state_msrs(void)
{
	static const struct vmlet_x86_msr_range r[VMLET_X86_NRANGES] = {
		{.first = MSR_STAR, .n = 4, .always = true}, /* STAR, LSTAR, CSTAR, SFMASK */
		{.first = MSR_KERNEL_GS_BASE, .n = 1, .always = true, .unfiltered = true},
		{.first = MSR_PAT, .n = 1, .always = true},
		{.first = MSR_IA32_TSC, .n = 1, .always = true},
		{.first = MSR_SYSENTER_CS, .n = 3, .unfiltered = true}, /* CS, ESP, EIP */
		{.first = MSR_TSC_AUX, .n = 1},
		{.first = MSR_TSC_ADJUST, .n = 1},
		{.first = MSR_SPEC_CTRL, .n = 1},
		{.first = MSR_MISC_ENABLE, .n = 1},
		{.first = MSR_DEBUGCTL, .n = 1, .emulated = true},
		{.first = MSR_MTRR_DEFTYPE, .n = 1, .emulated = true},
		{.first = MSR_MTRR_FIX64K, .n = 1, .emulated = true},
		{.first = MSR_MTRR_FIX16K, .n = 2, .emulated = true},
		{.first = MSR_MTRR_FIX4K, .n = 8, .emulated = true},
		{.first = MSR_MTRR_BASE0, .n = 16, .emulated = true},
	};

	return r;
}

/*
 * Whether this host's KVM takes state MSR index (one of the ranges above):
 * the ones every KVM has or emulates, and the others where KVM lists them
 * in KVM_GET_MSR_INDEX_LIST. KVM lists an optional MSR where it offers
 * guests the feature behind it (TSC_AUX with RDTSCP or RDPID, SPEC_CTRL
 * where the host has it, ...) and a guest can write it only then, so a
 * snapshot keeps exactly these (those a vCPU also reads), as QEMU's
 * migration does, and a snapshot file may hold no other (lib/snapfmt.c).
 * DEBUGCTL and the MTRRs, which x86 KVM emulates for every vCPU, it lists
 * on some kernels only (DEBUGCTL in Linux 6.18, not 6.1) or never.
 */
bool vmlet_x86_msr_supported(const struct vmlet_kvm *kvm, uint32_t index);

/* Whether restore sets MSR index at every restore (no filter; unknown ones too). */
bool vmlet_x86_msr_unfiltered(uint32_t index);

/*
 * Send the guest's writes of most of st's MSRs to user space
 * where KVM can (KVM_CAP_X86_MSR_FILTER, Linux 5.10), so that restore sets
 * them only after one (vm->msr_filter says whether it did). For sandboxes
 * of a snapshot; the comment above says why that is safe.
 */
int vmlet_x86_msr_filter(struct vmlet_vm *vm, const struct vmlet_x86_state *st);

/* Set the CPUID a new vCPU needs before its first run (from a snapshot). */
int vmlet_x86_cpuid(struct vmlet_vm *vm);

/* Whether no exception, interrupt, NMI or SMI is pending or injected in e. */
static inline bool vmlet_x86_events_quiet(const struct kvm_vcpu_events *e)
{
	return !(e->exception.injected || e->exception.pending || e->exception_has_payload ||
		 e->interrupt.injected || e->nmi.injected || e->nmi.pending || e->smi.smm ||
		 e->smi.pending || e->smi.latched_init || e->triple_fault.pending);
}

/* Read CR2, the address of the last page fault. */
int vmlet_x86_fault_address(struct vmlet_vm *vm, uint64_t *cr2);

#endif /* VMLET_X86_H */
