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

/* The guest instructions of add(1, 2) on sb, or 0 with the test failed. */
static uint64_t add_insns(struct vmlet_sandbox *sb)
{
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	int err = vmlet_sandbox_call(sb, "add", a, 2, &r);

	if (err || r.i32 != 3) {
		ksft_fail_at("add(1, 2): %d (%s), %d", err, vmlet_strerror(err), r.i32);
		return 0;
	}
	return vmlet_sandbox_insns(sb);
}

/*
 * A sandbox from a pool counted 0 instructions: KVM took the trap flag away
 * when the snapshot's registers, pending since the restore, reached it.
 * Every call from the snapshot's state runs the same instructions, so the
 * count is the same after every restore, after a successful call too:
 * which also says that restore leaves rip exactly at the snapshot's (KVM
 * drops the last call's pending `out` instead of stepping past it).
 */
TEST(count_insns_counts_calls_on_sandboxes_from_a_snapshot)
{
	struct vmlet_image *img = test_image(DEMO_ELF);
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_sandbox *cold, *sb;
	uint64_t first, warm, fresh;

	if (!pool)
		return;
	cold = test_sandbox(img, NULL);
	ASSERT_TRUE(cold);
	ASSERT_OK(vmlet_sandbox_count_insns(cold, true));
	first = add_insns(cold);
	warm = add_insns(cold);
	vmlet_sandbox_destroy(cold);

	ASSERT_OK(vmlet_pool_acquire(pool, 0, &sb));
	ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
	fresh = add_insns(sb);
	printf("# add: %llu instructions fresh from the snapshot; cold: %llu first, %llu warm\n",
	       (unsigned long long)fresh, (unsigned long long)first, (unsigned long long)warm);
	EXPECT_NE(fresh, 0);
	/*
	 * A cold sandbox's first call starts on the ready point's `out`, which
	 * KVM steps past as one step; a sandbox at the snapshot starts right
	 * after it, where the snapshot was taken.
	 */
	EXPECT_EQ(fresh, first - 1);
	EXPECT_EQ(add_insns(sb), warm);
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(vmlet_sandbox_restore(sb));
		EXPECT_EQ(add_insns(sb), fresh);
	}
	ASSERT_OK(vmlet_pool_release(pool, sb));
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

/* The next user of a pooled sandbox ran single-stepped, and counted. */
TEST(pool_release_turns_instruction_counting_off)
{
	struct vmlet_image *img = test_image(DEMO_ELF);
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_sandbox *sb, *again;

	if (!pool)
		return;
	ASSERT_OK(vmlet_pool_acquire(pool, 0, &sb));
	ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
	ASSERT_NE(add_insns(sb), 0);
	ASSERT_OK(vmlet_pool_release(pool, sb));
	ASSERT_OK(vmlet_pool_acquire(pool, 0, &again));
	ASSERT_TRUE(again == sb); /* a pool of one */
	EXPECT_EQ(add_insns(again), 0);
	ASSERT_OK(vmlet_pool_release(pool, again));
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
