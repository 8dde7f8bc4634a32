/* SPDX-License-Identifier: BSD-2-Clause */
/* The end of every unit test's main(): run its suite, say how it went. */
#ifndef VMLET_UNIT_H
#define VMLET_UNIT_H

#include <check.h>
#include <stdlib.h>

/*
 * Run every test of s, forked as fork says (CK_FORK_GETENV: as check's
 * CK_FORK asks, forked by default), and return main()'s exit status.
 */
static inline int unit_run(Suite *s, enum fork_status fork)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_fork_status(sr, fork);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* VMLET_UNIT_H */
