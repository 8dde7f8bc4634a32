/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A host function for the tests and the benchmark that call the host:
 * test_add1(u64) -> u64, the argument plus one.
 */
#ifndef VMLET_SELFTESTS_HOSTFN_H
#define VMLET_SELFTESTS_HOSTFN_H

#include <vmlet.h>

static inline int test_add1(void *ctx, const struct vmlet_value *a, unsigned int n,
			    struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	r->u64 = a[0].u64 + 1;
	return 0;
}

#endif /* VMLET_SELFTESTS_HOSTFN_H */
