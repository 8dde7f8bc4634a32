// SPDX-License-Identifier: BSD-2-Clause
/*
 * The public API given NULL for its object or its out parameter: every
 * function that returns an error returns -EINVAL, every accessor 0, NULL
 * or the neutral enum, every destructor nothing; none crashes. No VM is
 * made: the checks come before any.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <vmlet.h>
#include "unit.h"

START_TEST(null_sandbox_everywhere)
{
	struct vmlet_value v = vmlet_u64(1), r;
	struct vmlet_host_func fn = {.name = "f", .ret = VMLET_VOID};
	size_t size = 123;

	ck_assert_int_eq(vmlet_sandbox_call(NULL, "f", &v, 1, &r), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_call_index(NULL, 0, &v, 1, &r), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_func(NULL, "f"), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_nfuncs(NULL), -EINVAL);
	ck_assert_ptr_null(vmlet_sandbox_func_at(NULL, 0));
	ck_assert_uint_eq(vmlet_sandbox_id(NULL), 0);
	ck_assert_ptr_null(vmlet_sandbox_memory(NULL, &size));
	ck_assert_uint_eq(size, 0);
	ck_assert_ptr_null(vmlet_sandbox_fault(NULL));
	ck_assert_int_eq(vmlet_sandbox_backing(NULL), VMLET_BACKING_AUTO);
	ck_assert_int_eq(vmlet_sandbox_count_insns(NULL, true), -EINVAL);
	ck_assert_uint_eq(vmlet_sandbox_insns(NULL), 0);
	ck_assert_int_eq(vmlet_sandbox_interrupt(NULL), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_set_timeout(NULL, 1), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_restore(NULL), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_add_host_func(NULL, &fn), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_grant_fd(NULL, 3, 0, VMLET_GRANT_READ, NULL), -EINVAL);
	vmlet_sandbox_destroy(NULL);
}
END_TEST

START_TEST(null_constructors_and_objects)
{
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_image *img = NULL;
	struct vmlet_host *h = NULL;
	size_t size = 123;

	ck_assert_int_eq(vmlet_image_open(NULL, &img), -EINVAL);
	ck_assert_int_eq(vmlet_image_open("x", NULL), -EINVAL);
	ck_assert_int_eq(vmlet_image_from_memory(NULL, 16, &img), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_create(NULL, NULL, &sb), -EINVAL);
	ck_assert_int_eq(vmlet_snapshot_create(NULL, NULL, &snap), -EINVAL);
	ck_assert_int_eq(vmlet_sandbox_create_from(NULL, &sb), -EINVAL);
	ck_assert_int_eq(vmlet_pool_create(NULL, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmlet_host_create(1, NULL), -EINVAL);
	ck_assert_int_eq(vmlet_platform_query(NULL), -EINVAL);
	ck_assert_ptr_null(sb);
	ck_assert_ptr_null(snap);
	ck_assert_ptr_null(img);
	ck_assert_ptr_null(h);
	ck_assert_ptr_null(vmlet_snapshot_memory(NULL, &size));
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(vmlet_snapshot_backing(NULL), VMLET_BACKING_AUTO);
	ck_assert_int_eq(vmlet_snapshot_restore_method(NULL), VMLET_RESTORE_AUTO);
	vmlet_snapshot_destroy(NULL);
	vmlet_image_close(NULL);
	vmlet_host_destroy(NULL);
}
END_TEST

START_TEST(null_pool_everywhere)
{
	struct vmlet_pool_stats st = {.live = 7};
	struct vmlet_sandbox *sb = NULL;

	ck_assert_int_eq(vmlet_pool_acquire(NULL, 0, &sb), -EINVAL);
	ck_assert_ptr_null(sb);
	ck_assert_int_eq(vmlet_pool_release(NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmlet_pool_call(NULL, "f", NULL, 0, NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(vmlet_pool_call_opts(NULL, "f", NULL, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmlet_pool_destroy(NULL), 0); /* a destructor: NULL is a no-op */
	ck_assert_ptr_null(vmlet_pool_snapshot(NULL));
	vmlet_pool_stats(NULL, &st);
	ck_assert_uint_eq(st.live, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("null");

	tcase_add_test(tc, null_sandbox_everywhere);
	tcase_add_test(tc, null_constructors_and_objects);
	tcase_add_test(tc, null_pool_everywhere);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
