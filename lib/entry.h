/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The entry stub: host-written guest code, kept in a snapshot's memory,
 * that a restored sandbox runs before the snapshot's first instruction to
 * put back vCPU state that restore would otherwise set with an ioctl per
 * call (lib/entry.c says which, and why that is as safe).
 */
#ifndef VMLET_ENTRY_H
#define VMLET_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "x86.h"

/* Where the stub starts: in the exception stubs' page, after them. */
#define VMLET_ENTRY_ADDR (VMLET_STUB_ADDR + 0x400)

/* What a stub puts back instead of restore's ioctls. */
#define VMLET_ENTRY_MSRS 1 /* KERNEL_GS_BASE, SYSENTER_CS, _ESP, _EIP */
#define VMLET_ENTRY_FPU	 2 /* XCR0, and x87, SSE, AVX state (KVM_SET_XCRS, KVM_SET_XSAVE) */

/*
 * Write the stub for st into the snapshot memory mem (guest address 0),
 * before it is sealed. Returns what it puts back (VMLET_ENTRY_*), or
 * -ENOTSUP where this host cannot use it (st then goes back with ioctls).
 */
int vmlet_entry_write(uint8_t *mem, const struct vmlet_x86_state *st);

/*
 * Whether a stub for st, in memory mem, would run as the one of base's
 * state bst, in memory bmem, runs: whether everything the stub's run
 * depends on and a guest can change is base's (lib/entry.c). Both
 * memories are size bytes; written, if not NULL, has a bit set for
 * every page of mem below VMLET_IMAGE_BASE that may differ from bmem's.
 */
bool vmlet_entry_same_ground(const uint8_t *mem, const struct vmlet_x86_state *st,
			     const uint8_t *bmem, const struct vmlet_x86_state *bst, uint64_t size,
			     const uint64_t *written);

/* Zero the stub's bytes in mem: no stub there, whatever a guest wrote. */
void vmlet_entry_erase(uint8_t *mem);

/* Whether guest address rip lies in the stub (its code or its data). */
bool vmlet_entry_contains(uint64_t rip);

/* What the stub in mem puts back if it is exactly the one vmlet_entry_write() writes, or 0. */
int vmlet_entry_present(const uint8_t *mem, const struct vmlet_x86_state *st);

#endif /* VMLET_ENTRY_H */
