// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/corepath.c: the core_path template expands %i
 * to the sandbox id, %p to the process id and %% to %, exactly; any other
 * % (or a trailing one, or an empty template) is -EINVAL, with or without
 * a buffer; a name that does not fit (with its NUL) is -ENAMETOOLONG; and
 * vmlet_config_normalize() refuses a bad template and keeps a good one.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "layout.h"
#include "unit.h"

START_TEST(template_expands_id_pid_and_percent)
{
	char buf[64], want[64];

	ck_assert_int_eq(vmlet_core_path("/tmp/core.%i", 42, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/tmp/core.42");
	ck_assert_int_eq(vmlet_core_path("c%p-%i-%%i", 18446744073709551615ULL, buf, sizeof(buf)),
			 0);
	snprintf(want, sizeof(want), "c%d-18446744073709551615-%%i", (int)getpid());
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(vmlet_core_path("plain", 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "plain");
}
END_TEST

START_TEST(bad_templates_are_einval)
{
	static const char *const bad[] = {"", "core.%", "core.%x", "%d", "a%%%"};
	char buf[64];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(vmlet_core_path(bad[i], 1, buf, sizeof(buf)), -EINVAL);
		ck_assert_int_eq(vmlet_core_path(bad[i], 1, NULL, 0), -EINVAL);
	}
	ck_assert_int_eq(vmlet_core_path(NULL, 1, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(a_name_that_does_not_fit_is_enametoolong)
{
	char buf[8];

	ck_assert_int_eq(vmlet_core_path("core.%i", 12, buf, sizeof(buf)), 0); /* 7 + NUL */
	ck_assert_str_eq(buf, "core.12");
	ck_assert_int_eq(vmlet_core_path("core.%i", 123, buf, sizeof(buf)), -ENAMETOOLONG);
	ck_assert_int_eq(vmlet_core_path("core.%i", 123, NULL, 0), 0); /* only checked */
}
END_TEST

START_TEST(normalize_checks_the_template)
{
	struct vmlet_config in = {.sz = sizeof(in), .core_path = "core.%q"}, c;

	ck_assert_int_eq(vmlet_config_normalize(&in, &c), -EINVAL);
	in.core_path = "core.%i";
	in.core_limit = 4096;
	ck_assert_int_eq(vmlet_config_normalize(&in, &c), 0);
	ck_assert_str_eq(c.core_path, "core.%i");
	ck_assert_uint_eq(c.core_limit, 4096);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("corepath");
	TCase *tc = tcase_create("corepath");

	tcase_add_test(tc, template_expands_id_pid_and_percent);
	tcase_add_test(tc, bad_templates_are_einval);
	tcase_add_test(tc, a_name_that_does_not_fit_is_enametoolong);
	tcase_add_test(tc, normalize_checks_the_template);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
