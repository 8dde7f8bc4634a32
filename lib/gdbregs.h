/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The x86-64 register block of gdb's 'g' and 'G' packets, to and from
 * KVM's vCPU state, for lib/gdbstub.c. The layout is gdb's default for
 * i386:x86-64 without a target description: rax, rbx, rcx, rdx, rsi,
 * rdi, rbp, rsp, r8-r15, rip (8 bytes each), eflags, cs, ss, ds, es, fs,
 * gs (4 each), st0-st7 (10 each), fctrl, fstat, ftag, fiseg, fioff,
 * foseg, fooff, fop (4 each), xmm0-xmm15 (16 each), mxcsr (4): registers
 * 0 to 56, VMLET_GDB_REGS_SIZE bytes, little-endian. Pure code.
 */
#ifndef VMLET_GDBREGS_H
#define VMLET_GDBREGS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMLET_GDB_REGS_SIZE 536
#define VMLET_GDB_NREGS	    57
/* Registers 0 to VMLET_GDB_WRITABLE - 1 (general, rip, eflags) can be written. */
#define VMLET_GDB_WRITABLE 18

/* The block b from KVM's registers, special registers (selectors) and FPU state. */
void vmlet_gdb_regs_encode(uint8_t *b, const struct kvm_regs *r, const struct kvm_sregs *s,
			   const struct kvm_fpu *fpu);

/* The writable registers that the first len bytes of block b hold, into r. */
void vmlet_gdb_regs_decode(struct kvm_regs *r, const uint8_t *b, size_t len);

/* Register n's offset and size in the block; false past the last. */
bool vmlet_gdb_reg_span(unsigned int n, unsigned int *off, unsigned int *size);

#endif /* VMLET_GDBREGS_H */
