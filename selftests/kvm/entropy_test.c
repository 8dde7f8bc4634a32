// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-call entropy: VMs made from one snapshot start identical, and yet
 * each call draws fresh bytes (vmlet_random, AT_RANDOM, the stack
 * canary) and reads the host's wall clock.
 */
#include <errno.h>
#include <time.h>
#include <vmlet.h>

#include "util.h"

static uint64_t u64_of(struct vmlet_sandbox *sb, const char *fn)
{
	struct vmlet_value r;
	int err = vmlet_sandbox_call(sb, fn, NULL, 0, &r);

	if (err)
		ksft_fail_at("%s: %s", fn, vmlet_strerror(err));
	return err ? 0 : r.u64;
}

static int64_t host_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Two fresh VMs of one snapshot, each restored to it: every draw differs. */
TEST(fresh_calls_from_one_snapshot_draw_different_values)
{
	static const char *const fns[] = {"draw", "at_random", "canary"};
	struct vmlet_image *img = test_image(GUEST("entropy"));
	struct vmlet_snapshot *snap = test_snapshot(img, VMLET_RESTORE_AUTO);
	struct vmlet_sandbox *a = NULL, *b = NULL;

	if (!snap)
		return;
	ASSERT_OK(vmlet_sandbox_create_from(snap, &a));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &b));
	for (unsigned int i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		uint64_t va = u64_of(a, fns[i]), vb = u64_of(b, fns[i]), va2;

		ASSERT_OK(vmlet_sandbox_restore(a));
		va2 = u64_of(a, fns[i]);
		printf("# %s: %016llx %016llx, again fresh %016llx\n", fns[i],
		       (unsigned long long)va, (unsigned long long)vb, (unsigned long long)va2);
		EXPECT_NE(va, vb);
		EXPECT_NE(va, va2);
		EXPECT_NE(va, 0);
		ASSERT_OK(vmlet_sandbox_restore(a));
		ASSERT_OK(vmlet_sandbox_restore(b));
	}
	vmlet_sandbox_destroy(a);
	vmlet_sandbox_destroy(b);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

/* Warm calls on one sandbox draw fresh values too, and so do two draws in one call. */
TEST(warm_calls_and_draws_within_a_call_differ)
{
	struct vmlet_image *img = test_image(GUEST("entropy"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct vmlet_value r;
	uint8_t twice[64];

	if (!sb)
		return;
	EXPECT_NE(u64_of(sb, "draw"), u64_of(sb, "draw"));
	EXPECT_NE(u64_of(sb, "canary"), u64_of(sb, "canary"));
	ASSERT_OK(vmlet_sandbox_call(sb, "draw_twice", NULL, 0, &r));
	ASSERT_EQ(r.buf.len, sizeof(twice));
	memcpy(twice, r.buf.ptr, sizeof(twice));
	EXPECT_NE(memcmp(twice, twice + 32, 32), 0);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/*
 * Sandboxes of one image that boot (rather than start from the image's
 * boot snapshot, whose bytes they share until their first call) get
 * different AT_RANDOM bytes.
 */
TEST(booted_sandboxes_get_different_at_random)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .flags = VMLET_CONFIG_BOOT};
	struct vmlet_image *img = test_image(GUEST("entropy"));
	struct vmlet_sandbox *a = test_sandbox(img, &cfg), *b = test_sandbox(img, &cfg);
	size_t size;
	const struct vmlet_boot *ba, *bb;

	if (!a || !b)
		return;
	ba = (const struct vmlet_boot *)((const uint8_t *)vmlet_sandbox_memory(a, &size) +
					 VMLET_BOOT_ADDR);
	bb = (const struct vmlet_boot *)((const uint8_t *)vmlet_sandbox_memory(b, &size) +
					 VMLET_BOOT_ADDR);
	EXPECT_NE(memcmp(ba->random, bb->random, sizeof(ba->random)), 0);
	vmlet_sandbox_destroy(a);
	vmlet_sandbox_destroy(b);
	vmlet_image_close(img);
}

/*
 * The guest's CLOCK_REALTIME, gettimeofday and time are the host's wall
 * clock, also on a VM made from a snapshot (whose TSC started anew): not
 * earlier than the host's reading before the call. Not a timing bound:
 * the upper check allows a minute for a slow emulated TSC.
 */
TEST(guest_wall_clock_is_the_hosts)
{
	struct vmlet_image *img = test_image(GUEST("entropy"));
	struct vmlet_snapshot *snap = test_snapshot(img, VMLET_RESTORE_AUTO);
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_value r;
	int64_t before, after;

	if (!snap)
		return;
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	before = host_realtime();
	ASSERT_OK(vmlet_sandbox_call(sb, "realtime", NULL, 0, &r));
	after = host_realtime();
	printf("# guest %lld, host %lld..%lld\n", (long long)r.i64, (long long)before,
	       (long long)after);
	EXPECT_GE(r.i64, before);
	EXPECT_LT(r.i64, after + 60000000000LL);
	ASSERT_OK(vmlet_sandbox_call(sb, "unixtime", NULL, 0, &r));
	EXPECT_GE(r.i64, before / 1000000000);
	EXPECT_LT(r.i64, after / 1000000000 + 60);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
