// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/gdbregs.c: KVM's vCPU state lands at the offsets
 * of gdb's x86-64 'g' block (rbp before rsp, rip at 128, eflags and the
 * selectors in 4 bytes, x87 in 10, the full tag word from the abridged
 * one, xmm, mxcsr last), register numbers map to those places, and
 * writing the block back sets exactly the general registers, rip and
 * eflags.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gdbregs.h"
#include "unit.h"

static uint64_t get64(const uint8_t *b, unsigned int off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	return v;
}

static uint32_t get32(const uint8_t *b, unsigned int off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	return v;
}

static void state(struct kvm_regs *r, struct kvm_sregs *s, struct kvm_fpu *f)
{
	memset(r, 0, sizeof(*r));
	memset(s, 0, sizeof(*s));
	memset(f, 0, sizeof(*f));
	r->rax = 1, r->rbx = 2, r->rcx = 3, r->rdx = 4, r->rsi = 5, r->rdi = 6;
	r->rsp = 7, r->rbp = 8, r->r8 = 9, r->r15 = 16, r->rip = 0x101340, r->rflags = 0x246;
	s->cs.selector = 0x8, s->ss.selector = 0x10, s->gs.selector = 0x18;
	f->fpr[1][0] = 0xaa, f->fpr[1][9] = 0xbb, f->fpr[1][10] = 0xcc; /* byte 10: padding */
	f->fcw = 0x37f, f->ftwx = 0x02, f->last_opcode = 0x123;
	f->xmm[15][15] = 0xee, f->mxcsr = 0x1f80;
}

START_TEST(block_has_gdbs_layout)
{
	uint8_t b[VMLET_GDB_REGS_SIZE + 1];
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu f;

	state(&r, &s, &f);
	b[VMLET_GDB_REGS_SIZE] = 0x5a;
	vmlet_gdb_regs_encode(b, &r, &s, &f);
	ck_assert_int_eq(b[VMLET_GDB_REGS_SIZE], 0x5a);
	ck_assert_uint_eq(get64(b, 0), 1);
	ck_assert_uint_eq(get64(b, 5 * 8), 6);	/* rdi */
	ck_assert_uint_eq(get64(b, 6 * 8), 8);	/* rbp */
	ck_assert_uint_eq(get64(b, 7 * 8), 7);	/* rsp */
	ck_assert_uint_eq(get64(b, 8 * 8), 9);	/* r8 */
	ck_assert_uint_eq(get64(b, 15 * 8), 16); /* r15 */
	ck_assert_uint_eq(get64(b, 128), 0x101340);
	ck_assert_uint_eq(get32(b, 136), 0x246);
	ck_assert_uint_eq(get32(b, 140), 0x8);
	ck_assert_uint_eq(get32(b, 144), 0x10);
	ck_assert_uint_eq(get32(b, 160), 0x18);
	ck_assert_int_eq(b[164 + 10], 0xaa); /* st1 */
	ck_assert_int_eq(b[164 + 19], 0xbb);
	ck_assert_int_eq(b[164 + 20], 0);
	ck_assert_uint_eq(get32(b, 244), 0x37f);
	ck_assert_uint_eq(get32(b, 252), 0xfff3); /* only st1 valid */
	ck_assert_uint_eq(get32(b, 272), 0x123);
	ck_assert_int_eq(b[276 + 16 * 16 - 1], 0xee);
	ck_assert_uint_eq(get32(b, 532), 0x1f80);
}
END_TEST

START_TEST(register_numbers_map_to_the_block)
{
	static const unsigned int want[][3] = {
		{0, 0, 8},    {7, 56, 8},   {16, 128, 8},  {17, 136, 4},	{23, 160, 4},
		{24, 164, 10}, {31, 234, 10}, {32, 244, 4}, {39, 272, 4},	{40, 276, 16},
		{55, 516, 16}, {56, 532, 4},
	};
	unsigned int off, size;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert(vmlet_gdb_reg_span(want[i][0], &off, &size));
		ck_assert_uint_eq(off, want[i][1]);
		ck_assert_uint_eq(size, want[i][2]);
	}
	ck_assert(!vmlet_gdb_reg_span(VMLET_GDB_NREGS, &off, &size));
	ck_assert(!vmlet_gdb_reg_span(~0U, &off, &size));
}
END_TEST

START_TEST(decode_writes_general_registers_rip_and_eflags)
{
	uint8_t b[VMLET_GDB_REGS_SIZE];
	struct kvm_regs r, back;
	struct kvm_sregs s;
	struct kvm_fpu f;

	state(&r, &s, &f);
	vmlet_gdb_regs_encode(b, &r, &s, &f);
	memset(&back, 0xff, sizeof(back));
	vmlet_gdb_regs_decode(&back, b, sizeof(b));
	ck_assert_mem_eq(&back, &r, sizeof(r));
	/* A short block: only the registers it holds whole. */
	memset(&back, 0, sizeof(back));
	vmlet_gdb_regs_decode(&back, b, 8 * 7 + 4);
	ck_assert_uint_eq(back.rdi, 6);
	ck_assert_uint_eq(back.rbp, 8);
	ck_assert_uint_eq(back.rsp, 0);
	ck_assert_uint_eq(back.rflags, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gdbregs");
	TCase *tc = tcase_create("gdbregs");

	tcase_add_test(tc, block_has_gdbs_layout);
	tcase_add_test(tc, register_numbers_map_to_the_block);
	tcase_add_test(tc, decode_writes_general_registers_rip_and_eflags);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
