// SPDX-License-Identifier: BSD-2-Clause
/* libcheck suite for lib/layout.c: config defaults and the memory layout. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "layout.h"
#include "unit.h"

START_TEST(defaults_fill_zero_fields)
{
	struct vmlet_config c;

	ck_assert_int_eq(vmlet_config_normalize(NULL, &c), 0);
	ck_assert_uint_eq(c.mem_size, 4 << 20);
	ck_assert_uint_eq(c.stack_size, 64 << 10);
	ck_assert_uint_eq(c.in_size, 64 << 10);
	ck_assert_uint_eq(c.out_size, 64 << 10);
	ck_assert_uint_eq(c.heap_size, 0);
	ck_assert_int_eq(c.backing, VMLET_BACKING_AUTO);
	ck_assert_uint_eq(c.sz, sizeof(c));
}
END_TEST

START_TEST(bad_configs_are_einval)
{
	struct vmlet_config c, in = { .sz = sizeof(in) };

	in.mem_size = 3 << 20; /* not a 2 MiB multiple */
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.mem_size = 32ULL << 30; /* above VMLET_MAX_MEM */
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.mem_size = 0;
	in.stack_size = 1000; /* not page aligned */
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.stack_size = 0;
	in.in_size = 8 << 20; /* larger than memory */
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.in_size = 0;
	in.backing = 7;
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.backing = 0;
	in.sz = 8; /* older than any config we know */
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.sz = sizeof(in) + 8; /* newer than this library */
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
}
END_TEST

START_TEST(layout_stacks_regions_above_the_image)
{
	struct vmlet_config c;
	struct vmlet_layout l;

	ck_assert_int_eq(vmlet_config_normalize(NULL, &c), 0);
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, 0x10b000, &l), 0);
	ck_assert_uint_eq(l.in_addr, 0x10b000);
	ck_assert_uint_eq(l.out_addr, 0x10b000 + 0x10000);
	ck_assert_uint_eq(l.guard_addr, 0x10b000 + 0x20000);
	ck_assert_uint_eq(l.stack_lo, l.guard_addr + 0x1000);
	ck_assert_uint_eq(l.stack_hi, l.stack_lo + 0x10000);
	ck_assert_uint_eq(l.heap_lo, l.stack_hi);
	ck_assert_uint_eq(l.heap_hi, 4 << 20);
	ck_assert_uint_eq(l.mem_size, 4 << 20);
}
END_TEST

START_TEST(layout_rejects_what_does_not_fit)
{
	struct vmlet_config c, in = { .sz = sizeof(in), .mem_size = 2 << 20 };
	struct vmlet_layout l;

	ck_assert_int_eq(vmlet_config_normalize(NULL, &c), 0);
	/* Image spans that are unaligned, empty, or below the image base. */
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100001, 0x10b000, &l), -EINVAL);
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, 0x100000, &l), -EINVAL);
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x1000, 0x10b000, &l), -EINVAL);
	/* An image larger than memory. */
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, 8 << 20, &l), -E2BIG);
	/* A heap that cannot get its minimum. */
	in.heap_size = 1 << 20;
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), 0);
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, 0x180000, &l), -E2BIG);
	/* The same with enough memory fits, and the heap gets the rest. */
	in.mem_size = 4 << 20;
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), 0);
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, 0x180000, &l), 0);
	ck_assert_uint_ge(l.heap_hi - l.heap_lo, 1 << 20);
	/* Exactly the minimum heap fits; one page less does not. */
	in = (struct vmlet_config){ .sz = sizeof(in), .mem_size = 2 << 20 };
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), 0);
	{
		uint64_t hi = (2 << 20) - VMLET_MIN_HEAP - 0x10000 - 0x1000 - 0x20000;

		ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, hi, &l), 0);
		ck_assert_uint_eq(l.heap_hi - l.heap_lo, VMLET_MIN_HEAP);
		ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, hi + 0x1000, &l), -E2BIG);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, defaults_fill_zero_fields);
	tcase_add_test(tc, bad_configs_are_einval);
	tcase_add_test(tc, layout_stacks_regions_above_the_image);
	tcase_add_test(tc, layout_rejects_what_does_not_fit);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
