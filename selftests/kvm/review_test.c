// SPDX-License-Identifier: BSD-2-Clause
/*
 * The defects of the review in issue 14, one test each: each of these
 * failed before its fix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <vmlet.h>

#include "util.h"

static struct vmlet_pool *review_pool(struct vmlet_image *img, unsigned int size,
				      enum vmlet_restore m)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = m};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = size, .timeout_ms = -1};
	struct vmlet_pool *pool = NULL;
	int err = vmlet_pool_create(img, &cfg, &pc, &pool);

	if (err)
		ksft_fail_at("vmlet_pool_create: %s", vmlet_strerror(err));
	return pool;
}

/*
 * A sandbox made from the pool's own snapshot was taken in as if the pool
 * had lent it: idle 2 of a pool of 1, live 1, and -EBUSY from destroy for
 * ever after.
 */
TEST(pool_release_refuses_a_sandbox_it_never_lent)
{
	struct vmlet_image *img = test_image(GUEST("state"));
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_pool *other = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_sandbox *own = NULL, *stray = NULL, *theirs = NULL;
	struct vmlet_pool_stats st;

	if (!pool || !other)
		return;
	ASSERT_OK(vmlet_sandbox_create_from((struct vmlet_snapshot *)vmlet_pool_snapshot(pool),
					    &stray));
	EXPECT_EQ(vmlet_pool_release(pool, stray), -EINVAL);
	ASSERT_OK(vmlet_pool_acquire(other, 0, &theirs));
	EXPECT_EQ(vmlet_pool_release(pool, theirs), -EINVAL);
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.idle, 1);
	EXPECT_EQ(st.live, 1);
	EXPECT_EQ(st.restored, 0);

	/* Its own sandbox, once, and then not again. */
	ASSERT_OK(vmlet_pool_acquire(pool, 0, &own));
	EXPECT_EQ(vmlet_pool_release(pool, stray), -EINVAL);
	ASSERT_OK(vmlet_pool_release(pool, own));
	EXPECT_EQ(vmlet_pool_release(pool, own), -EALREADY);
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.idle, 1);
	EXPECT_EQ(st.live, 1);
	EXPECT_EQ(st.restored, 1);

	vmlet_sandbox_destroy(stray);
	EXPECT_EQ(vmlet_pool_destroy(pool), 0);
	ASSERT_OK(vmlet_pool_release(other, theirs));
	EXPECT_EQ(vmlet_pool_destroy(other), 0);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
