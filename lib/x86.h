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
#define VMLET_X86_NMSRS 44 /* at most: those this KVM can save (lib/x86.c) */
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
 * KVM_SET_MSRS stops at the first one it lacks. All go back with the one
 * KVM_SET_MSRS restore makes anyway.
 *
 * The TSC: a guest can write it (and TSC_ADJUST), and the next call would
 * read what it wrote. Restore writes the snapshot's value back; KVM may
 * take a host write that close to its last one as a resynchronization
 * and keep the TSC running from there instead, which drops the guest's
 * write just the same. Either way guest time starts about where the
 * snapshot was, and no call's TSC depends on another's.
 */
struct vmlet_x86_msr_range {
	uint32_t first, n;
	bool always; /* every KVM has them; the others only some vCPUs */
};

#define VMLET_X86_NRANGES 15

/* The MSRs a snapshot keeps, by range (lib/snapfmt.c checks a file's against them too). */
static inline const struct vmlet_x86_msr_range *vmlet_x86_state_msrs(void)
{
	static const struct vmlet_x86_msr_range r[VMLET_X86_NRANGES] = {
		{MSR_STAR, 4, true}, /* STAR, LSTAR, CSTAR, SFMASK */
		{MSR_KERNEL_GS_BASE, 1, true}, {MSR_PAT, 1, true},
		{MSR_IA32_TSC, 1, true},       {MSR_SYSENTER_CS, 3, false}, /* CS, ESP, EIP */
		{MSR_TSC_AUX, 1, false},       {MSR_TSC_ADJUST, 1, false},
		{MSR_SPEC_CTRL, 1, false},     {MSR_MISC_ENABLE, 1, false},
		{MSR_DEBUGCTL, 1, false},      {MSR_MTRR_DEFTYPE, 1, false},
		{MSR_MTRR_FIX64K, 1, false},   {MSR_MTRR_FIX16K, 2, false},
		{MSR_MTRR_FIX4K, 8, false},    {MSR_MTRR_BASE0, 16, false},
	};

	return r;
}

/* Set the CPUID a new vCPU needs before its first run (from a snapshot). */
int vmlet_x86_cpuid(struct vmlet_vm *vm);
int vmlet_x86_state_save(struct vmlet_vm *vm, struct vmlet_x86_state *st);
/*
 * Load st into the vCPU. Unless full, sregs and events are compared with
 * what KVM synced out at the last exit and written only when they differ
 * (needs KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS in kvm_valid_regs).
 */
int vmlet_x86_state_load(struct vmlet_vm *vm, const struct vmlet_x86_state *st, bool full);

/* Read CR2, the address of the last page fault. */
int vmlet_x86_fault_address(struct vmlet_vm *vm, uint64_t *cr2);

#endif /* VMLET_X86_H */
