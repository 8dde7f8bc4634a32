/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A vCPU's state (struct vmlet_x86_state, lib/x86.h) saved from the vCPU
 * and loaded back into it: by ioctls, or partly by the entry stub where
 * the snapshot has one (lib/entry.c).
 */
#ifndef VMLET_CPUSTATE_H
#define VMLET_CPUSTATE_H

#include <stdbool.h>

#include "vm.h"
#include "x86.h"

/* Read the vCPU's state into st. */
int vmlet_cpustate_save(struct vmlet_vm *vm, struct vmlet_x86_state *st);

/*
 * Load st into the vCPU. Unless full, sregs and events are compared with
 * what KVM synced out at the last exit and written only when they differ
 * (needs KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS in kvm_valid_regs), and
 * what vm->entry_ok allows is left to st's entry stub, which the next run
 * starts in (vm->entry).
 */
int vmlet_cpustate_load(struct vmlet_vm *vm, const struct vmlet_x86_state *st, bool full);

/*
 * Put back with ioctls what the entry stub of vm->entry would have at the
 * next run, and the registers at the snapshot's rip.
 */
int vmlet_cpustate_entry_settle(struct vmlet_vm *vm);

/*
 * After a run that started in the entry stub of st and stopped still in
 * it (killed by its deadline or an interrupt before the snapshot's first
 * instruction), put back with ioctls what the stub had not yet: the vCPU
 * then holds the snapshot's FPU and MSRs, as that instruction would have
 * seen them, not what the previous call left (a core file reads them).
 * Otherwise nothing.
 */
int vmlet_cpustate_entry_unfinished(struct vmlet_vm *vm, const struct vmlet_x86_state *st);

#endif /* VMLET_CPUSTATE_H */
