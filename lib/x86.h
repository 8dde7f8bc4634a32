/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The 64-bit environment a guest starts in, built by the host before the
 * first instruction: GDT, TSS, IDT and exception stubs, the boot page, the
 * initial stack musl's _start expects, and the vCPU's registers.
 */
#ifndef VMLET_X86_H
#define VMLET_X86_H

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

/* Read CR2, the address of the last page fault. */
int vmlet_x86_fault_address(struct vmlet_vm *vm, uint64_t *cr2);

#endif /* VMLET_X86_H */
