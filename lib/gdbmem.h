/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Guest memory as the gdb stub (lib/gdbstub.c) shows it, and the
 * breakpoints it keeps there: guest virtual addresses go through the
 * guest's page tables (KVM_TRANSLATE), so gdb sees what the guest sees
 * and an unmapped page is -EFAULT; a software breakpoint is an int3
 * written at the guest-physical address its virtual address led to
 * when gdb set it, and the original byte goes back there, whatever the
 * guest mapped at the virtual address since; hardware breakpoints are
 * DR0-3 values for KVM_SET_GUEST_DEBUG. Every byte the host writes is
 * recorded (vmlet_hoststate_wrote()), so a COPY restore puts it back.
 */
#ifndef VMLET_GDBMEM_H
#define VMLET_GDBMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "hoststate.h"
#include "vm.h"

#define VMLET_GDB_SW_MAX 64

struct vmlet_gdb_mem {
	struct vmlet_vm *vm;	    /* borrowed */
	struct vmlet_hoststate *hs; /* borrowed: where host writes are recorded */
	struct {
		uint64_t addr; /* guest virtual, as gdb named it */
		uint64_t gpa;  /* where the int3 went */
		uint8_t orig;
	} sw[VMLET_GDB_SW_MAX];
	unsigned int nsw;
	uint64_t dr[4], dr7; /* execution breakpoints: global enable, type and length 0 */
};

/*
 * Copy len bytes from (to_guest false) or to guest memory at guest
 * virtual addr: 0, or -EFAULT. Our int3s read as the bytes they cover,
 * and a write over one changes the byte it will put back.
 */
int vmlet_gdb_mem_copy(struct vmlet_gdb_mem *m, uint64_t addr, uint8_t *buf, uint64_t len,
		       bool to_guest);

/* The software breakpoint at guest virtual addr: its index, or -1. */
int vmlet_gdb_sw_find(const struct vmlet_gdb_mem *m, uint64_t addr);

/* An int3 at addr (again: nothing): 0, -ENOSPC or -EFAULT. */
int vmlet_gdb_sw_insert(struct vmlet_gdb_mem *m, uint64_t addr);

/* Put back the byte under the int3 gdb set at addr, if any. */
void vmlet_gdb_sw_remove(struct vmlet_gdb_mem *m, uint64_t addr);

/* A debug register for addr (again: nothing): 0 or -ENOSPC. */
int vmlet_gdb_hw_insert(struct vmlet_gdb_mem *m, uint64_t addr);

void vmlet_gdb_hw_remove(struct vmlet_gdb_mem *m, uint64_t addr);

/* Every breakpoint out: the call ends, or gdb let go. */
void vmlet_gdb_remove_all(struct vmlet_gdb_mem *m);

#endif /* VMLET_GDBMEM_H */
