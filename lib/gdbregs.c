// SPDX-License-Identifier: BSD-2-Clause
/*
 * gdb's x86-64 register block from and to KVM's vCPU state (see
 * gdbregs.h for the layout). x87 registers come from FXSAVE's image
 * (struct kvm_fpu), whose tag word is abridged: a register is valid or
 * empty, and gdb gets 00 or 11 for it in the full tag word.
 */
#include <string.h>

#include "gdbregs.h"

#define G_GPRS	 17 /* rax..r15 in gdb's order, rip */
#define G_EFLAGS (G_GPRS * 8)
#define G_SEGS	 (G_EFLAGS + 4)
#define G_ST	 (G_SEGS + 6 * 4)
#define G_FCTRL	 (G_ST + 8 * 10)
#define G_XMM	 (G_FCTRL + 8 * 4)
#define G_MXCSR	 (G_XMM + 16 * 16)

_Static_assert(G_MXCSR + 4 == VMLET_GDB_REGS_SIZE, "gdb's x86-64 block is 536 bytes");

/* kvm_regs in gdb's order: rbp before rsp. */
static __u64 *gpr(struct kvm_regs *r, unsigned int i)
{
	__u64 *const order[G_GPRS] = {
		&r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rbp, &r->rsp, &r->r8,
		&r->r9,	 &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15, &r->rip,
	};

	return order[i];
}

static void put32(uint8_t *b, uint64_t v)
{
	uint32_t w = (uint32_t)v;

	memcpy(b, &w, 4);
}

void vmlet_gdb_regs_encode(uint8_t *b, const struct kvm_regs *r, const struct kvm_sregs *s,
			   const struct kvm_fpu *fpu)
{
	struct kvm_regs copy = *r;
	uint32_t tag = 0;

	memset(b, 0, VMLET_GDB_REGS_SIZE);
	for (unsigned int i = 0; i < G_GPRS; i++)
		memcpy(b + 8 * i, gpr(&copy, i), 8);
	put32(b + G_EFLAGS, r->rflags);
	put32(b + G_SEGS, s->cs.selector);
	put32(b + G_SEGS + 4, s->ss.selector);
	put32(b + G_SEGS + 8, s->ds.selector);
	put32(b + G_SEGS + 12, s->es.selector);
	put32(b + G_SEGS + 16, s->fs.selector);
	put32(b + G_SEGS + 20, s->gs.selector);
	for (unsigned int i = 0; i < 8; i++) {
		memcpy(b + G_ST + 10 * i, fpu->fpr[i], 10);
		if (!(fpu->ftwx & (1 << i)))
			tag |= 3U << (2 * i);
	}
	put32(b + G_FCTRL, fpu->fcw);
	put32(b + G_FCTRL + 4, fpu->fsw);
	put32(b + G_FCTRL + 8, tag);
	put32(b + G_FCTRL + 16, fpu->last_ip);
	put32(b + G_FCTRL + 24, fpu->last_dp);
	put32(b + G_FCTRL + 28, fpu->last_opcode);
	memcpy(b + G_XMM, fpu->xmm, 16 * 16);
	put32(b + G_MXCSR, fpu->mxcsr);
}

void vmlet_gdb_regs_decode(struct kvm_regs *r, const uint8_t *b, size_t len)
{
	uint32_t flags;

	for (unsigned int i = 0; i < G_GPRS && 8 * i + 8 <= len; i++)
		memcpy(gpr(r, i), b + 8 * i, 8);
	if (len >= G_EFLAGS + 4) {
		memcpy(&flags, b + G_EFLAGS, 4);
		r->rflags = flags;
	}
}

bool vmlet_gdb_reg_span(unsigned int n, unsigned int *off, unsigned int *size)
{
	if (n < G_GPRS) {
		*off = 8 * n;
		*size = 8;
	} else if (n < 24) {
		*off = G_EFLAGS + 4 * (n - G_GPRS);
		*size = 4;
	} else if (n < 32) {
		*off = G_ST + 10 * (n - 24);
		*size = 10;
	} else if (n < 40) {
		*off = G_FCTRL + 4 * (n - 32);
		*size = 4;
	} else if (n < 56) {
		*off = G_XMM + 16 * (n - 40);
		*size = 16;
	} else if (n == 56) {
		*off = G_MXCSR;
		*size = 4;
	} else {
		return false;
	}
	return true;
}
