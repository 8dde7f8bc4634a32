/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A guest's call stack by frame pointers, read from its memory after it
 * failed, and named with the image's symbols (lib/symtab.h).
 */
#ifndef VMLET_BACKTRACE_H
#define VMLET_BACKTRACE_H

#include <stdint.h>
#include <vmlet.h>

#include "mem.h"
#include "symtab.h"

/*
 * Walk the frame-pointer chain from (rip, rbp) in guest memory mem:
 * pcs[0] = rip, then the return address of each frame, at most max. Every
 * frame pointer is checked before it is read (8-byte aligned, inside
 * mem, above the previous one, so a loop or a corrupt chain just ends the
 * walk). Returns how many pcs it stored.
 */
unsigned int vmlet_backtrace(const struct vmlet_mem *mem, uint64_t rip, uint64_t rbp, uint64_t *pcs,
			     unsigned int max);

/*
 * Fill f's backtrace from the registers of the failed guest: frames[],
 * nframes and their names from st (NULL or empty: addresses only, and
 * f->symbols false). With symbols, a faulting function that has no frame
 * (leaf, or stopped in its prologue) gets its caller from rsp.
 */
void vmlet_backtrace_fault(const struct vmlet_mem *mem, const struct vmlet_symtab *st, uint64_t rip,
			   uint64_t rsp, uint64_t rbp, struct vmlet_fault *f);

#endif /* VMLET_BACKTRACE_H */
