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
