/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The guest TLB at restore: restore puts memory and registers back, and
 * this makes sure no translation a call cached survives into the next
 * one (lib/tlb.c says why one is needed and how it is done).
 */
#ifndef VMLET_TLB_H
#define VMLET_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

/*
 * KVM's steal-time record for the vCPU (struct kvm_steal_time, 64 bytes,
 * 64-byte aligned): the last 64 bytes of the exception stubs' page, which
 * no guest code or data uses.
 */
#define VMLET_TLB_STEAL_ADDR (VMLET_STUB_ADDR + VMLET_PAGE_SIZE - 64)

/*
 * For a vCPU of a sandbox that restore reuses, after the MSR filter
 * (vmlet_x86_msr_filter()) and the CPUID (vmlet_x86_cpuid()): turn on
 * the flush restore asks for at no cost where KVM has one (vm->tlb_pv).
 */
int vmlet_tlb_init(struct vmlet_vm *vm);

/* Whether the vCPUs of sandboxes with the MSR filter get KVM's PV flush. */
bool vmlet_tlb_pv_offered(void);

/* Boot memory's record: empty, with the flag set (vmlet_tlb_flag()). */
void vmlet_tlb_write(uint8_t *mem);

/*
 * Set the record's flag that has KVM flush the guest TLB at the next
 * entry, in guest memory mem, if it is not set: 1 when it wrote, else 0.
 * Snapshots hold it set, so restore finds it so and writes nothing.
 */
int vmlet_tlb_flag(uint8_t *mem);

/*
 * At restore, once memory is the snapshot's again and run->s.regs.sregs
 * holds sregs, the state the next run starts in: have the guest TLB
 * flushed before the next run's first instruction. Free where vm->tlb_pv
 * (vmlet_tlb_flag(): 1 when it wrote guest memory, which restore must
 * then put back next time); else one KVM_SET_SREGS and a reset of KVM's
 * MMU context (0). Or a negative error.
 */
int vmlet_tlb_flush(struct vmlet_vm *vm);

#endif /* VMLET_TLB_H */
