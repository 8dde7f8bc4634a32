// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cold create without booting (lib/bootsnap.c): vmlet_sandbox_create()
 * boots an image once per layout and makes later sandboxes from that
 * boot's snapshot. A cold sandbox made so must be the one a boot makes:
 * same memory, same results, same instruction counts, calls that share
 * state, nothing shared with its siblings. Boots are counted with the
 * image's boot counter (__vmlet_image_boots()), not timed: a layout boots
 * once, also when threads race to its first use; another layout boots
 * again; a failed boot is retried; a boot that prints or calls the host
 * is run for every sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <vmlet.h>

#include "../hugepages.h"
#include "image.h"
#include "util.h"

#define THREADS 8

/*
 * 4 KiB pages: what AUTO picks depends on the free hugetlb pages of the
 * moment, and hugetlb sandboxes always boot (auto_backing_shares_or_boots
 * covers AUTO).
 */
static const struct vmlet_config cfg4k = {.sz = sizeof(cfg4k), .backing = VMLET_BACKING_4K};

static uint64_t call0(struct vmlet_sandbox *sb, const char *fn)
{
	struct vmlet_value r = {0};
	int err = vmlet_sandbox_call(sb, fn, NULL, 0, &r);

	return err ? (uint64_t)(int64_t)err : r.u64;
}

static int call1(struct vmlet_sandbox *sb, const char *fn, uint64_t v)
{
	struct vmlet_value a = vmlet_u64(v);

	return vmlet_sandbox_call(sb, fn, &a, 1, NULL);
}

static struct vmlet_sandbox *booted(struct vmlet_image *img, struct vmlet_config cfg)
{
	cfg.sz = sizeof(cfg);
	cfg.flags |= VMLET_CONFIG_BOOT;
	return test_sandbox(img, &cfg);
}

/*
 * Whether two sandboxes hold the same memory but for the entropy and wall
 * clock that each boot and each call get (abi.h, "Call entry"): the boot
 * page's random and realtime_ns, AT_RANDOM's bytes, musl's canary and its
 * __stack_chk_guard, and the call state's clock and TSC: ten 8-byte
 * words at most.
 */
static bool same_memory(const struct vmlet_sandbox *a, const struct vmlet_sandbox *b)
{
	size_t na, nb;
	const uint64_t *ma = vmlet_sandbox_memory(a, &na), *mb = vmlet_sandbox_memory(b, &nb);
	unsigned int n = 0;

	if (!ma || !mb || na != nb)
		return false;
	for (size_t i = 0; i < na / 8; i++)
		n += ma[i] != mb[i];
	if (n > 10)
		printf("# %u words differ\n", n);
	return n <= 10;
}

/* Instructions of one call of fn, counted by single-stepping. */
static uint64_t insns_of(struct vmlet_sandbox *sb, const char *fn)
{
	uint64_t n;

	if (vmlet_sandbox_count_insns(sb, true) || vmlet_sandbox_call(sb, fn, NULL, 0, NULL))
		return 0;
	n = vmlet_sandbox_insns(sb);
	vmlet_sandbox_count_insns(sb, false);
	return n;
}

TEST(cold_sandbox_is_the_booted_one)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *cold, *boot;
	unsigned long boots;

	if (!img)
		return;
	boots = __vmlet_image_boots(img);
	cold = test_sandbox(img, &cfg4k);
	boot = booted(img, cfg4k);
	ASSERT_TRUE(cold && boot);
	EXPECT_EQ(__vmlet_image_boots(img), boots + 2); /* the snapshot's boot, the booted one */
	EXPECT_TRUE(same_memory(cold, boot));
	ASSERT_EQ(vmlet_sandbox_nfuncs(cold), vmlet_sandbox_nfuncs(boot));
	for (int i = 0; i < vmlet_sandbox_nfuncs(cold); i++)
		EXPECT_STREQ(vmlet_sandbox_func_at(cold, (unsigned int)i)->name,
			     vmlet_sandbox_func_at(boot, (unsigned int)i)->name);
	EXPECT_EQ(vmlet_sandbox_backing(cold), vmlet_sandbox_backing(boot));
	EXPECT_EQ(call0(cold, "count"), 1);
	EXPECT_EQ(call0(boot, "count"), 1);
	/*
	 * Counted from the second call: the first call of a booted sandbox
	 * also counts KVM finishing the ready point's OUT, which the boot
	 * snapshot did already (71 against 72 instructions for count()).
	 */
	EXPECT_EQ(insns_of(cold, "count"), insns_of(boot, "count"));
	EXPECT_NE(vmlet_sandbox_insns(cold), 0);
	EXPECT_EQ(call1(cold, "stash", 99), 0);
	EXPECT_EQ(call1(boot, "stash", 99), 0);
	EXPECT_TRUE(same_memory(cold, boot));
	EXPECT_EQ(call0(cold, "crash"), (uint64_t)-VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_fault(cold)->address, 0);
	EXPECT_EQ(call0(cold, "count"), (uint64_t)-VMLET_EDEAD);
	EXPECT_EQ(call0(boot, "count"), 3);
	vmlet_sandbox_destroy(cold);
	vmlet_sandbox_destroy(boot);
	vmlet_image_close(img);
}

TEST(later_cold_creates_do_not_boot)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *sb;
	unsigned long boots;

	if (!img)
		return;
	sb = test_sandbox(img, &cfg4k);
	ASSERT_TRUE(sb);
	vmlet_sandbox_destroy(sb);
	boots = __vmlet_image_boots(img);
	EXPECT_EQ(boots, 1);
	for (int i = 0; i < 5; i++) {
		sb = test_sandbox(img, &cfg4k);
		ASSERT_TRUE(sb);
		EXPECT_EQ(call0(sb, "count"), 1);
		vmlet_sandbox_destroy(sb);
	}
	EXPECT_EQ(__vmlet_image_boots(img), boots);
	vmlet_image_close(img);
}

TEST(cold_sandbox_calls_share_state)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg4k);
	struct vmlet_value a[3] = {vmlet_u32(0), vmlet_u32(4), vmlet_u64(1000)}, r;

	ASSERT_TRUE(sb);
	for (uint64_t i = 1; i <= 3; i++)
		EXPECT_EQ(call0(sb, "count"), i);
	EXPECT_EQ(call1(sb, "stash", 42), 0);
	EXPECT_EQ(call0(sb, "peek"), 42);
	ASSERT_OK(vmlet_sandbox_call(sb, "load", a, 3, &r));
	EXPECT_EQ(r.u32, 4);
	/* counter 3, then 1000 + 0 ... 1000 + 3 */
	EXPECT_EQ(call0(sb, "sum"), 3 + 4 * 1000 + 6);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(cold_sandboxes_are_isolated)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *a = test_sandbox(img, &cfg4k), *b = test_sandbox(img, &cfg4k), *c;
	struct vmlet_value args[3] = {vmlet_u32(0), vmlet_u32(128), vmlet_u64(7)}, r;

	ASSERT_TRUE(a && b);
	EXPECT_EQ(call1(a, "stash", 0xfeed), 0);
	ASSERT_OK(vmlet_sandbox_call(a, "load", args, 3, &r));
	EXPECT_EQ(call0(a, "count"), 1);
	EXPECT_EQ(call0(b, "peek"), 0);
	EXPECT_EQ(call0(b, "sum"), 0);
	EXPECT_EQ(call0(b, "count"), 1);
	/* Nothing a sandbox wrote reached the boot snapshot either. */
	c = test_sandbox(img, &cfg4k);
	ASSERT_TRUE(c);
	EXPECT_EQ(call0(c, "peek"), 0);
	EXPECT_EQ(call0(c, "sum"), 0);
	EXPECT_EQ(__vmlet_image_boots(img), 1);
	vmlet_sandbox_destroy(c);
	vmlet_sandbox_destroy(b);
	vmlet_sandbox_destroy(a);
	vmlet_image_close(img);
}

/* Create a cold sandbox with cfg (4 KiB pages), check it; the image's boots since `before`. */
static unsigned long boots_for(struct vmlet_image *img, struct vmlet_config cfg,
			       unsigned long before)
{
	struct vmlet_sandbox *sb;
	size_t size;

	cfg.sz = sizeof(cfg);
	cfg.backing = VMLET_BACKING_4K;
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return ~0UL;
	vmlet_sandbox_memory(sb, &size);
	EXPECT_EQ(size, cfg.mem_size ? cfg.mem_size : 4ULL << 20);
	EXPECT_EQ(call0(sb, "count"), 1);
	vmlet_sandbox_destroy(sb);
	return __vmlet_image_boots(img) - before;
}

TEST(each_layout_boots_once)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	unsigned long b = 0;

	if (!img)
		return;
	EXPECT_EQ(boots_for(img, (struct vmlet_config){0}, b), 1);
	b++;
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.mem_size = 8 << 20}, b), 1);
	b++;
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.mem_size = 8 << 20}, b), 0);
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.stack_size = 128 << 10}, b), 1);
	b++;
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.in_size = 128 << 10}, b), 1);
	b++;
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.out_size = 128 << 10}, b), 1);
	b++;
	/* Not the layout: the same snapshot. */
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.heap_size = 1 << 20}, b), 0);
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.timeout_us = 1000000}, b), 0);
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.print_limit = 10}, b), 0);
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.restore = VMLET_RESTORE_DROP}, b), 0);
	/* Asked for. */
	EXPECT_EQ(boots_for(img, (struct vmlet_config){.flags = VMLET_CONFIG_BOOT}, b), 1);
	vmlet_image_close(img);
}

TEST(unknown_config_flags_are_einval)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_config cfg = {.sz = sizeof(cfg), .flags = 2};
	struct vmlet_sandbox *sb = UNTOUCHED;

	if (!img)
		return;
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -EINVAL);
	EXPECT_TRUE(sb == UNTOUCHED);
	EXPECT_EQ(__vmlet_image_boots(img), 0);
	vmlet_image_close(img);
}

/*
 * AUTO takes the backing the system offers now, and shares the snapshot
 * of an explicit config of the same (hugetlb: of 4 KiB pages, copied).
 */
TEST(auto_backing_shares_or_boots)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *sb;
	struct vmlet_config cfg;
	struct vmlet_platform p;
	enum vmlet_backing b;

	if (!img)
		return;
	ASSERT_OK(vmlet_platform_query(&p));
	sb = test_sandbox(img, NULL);
	ASSERT_TRUE(sb);
	b = vmlet_sandbox_backing(sb);
	vmlet_sandbox_destroy(sb);
	printf("# AUTO chose %s (platform: %s)\n", vmlet_backing_name(b),
	       vmlet_backing_name(p.backing));
	EXPECT_EQ(__vmlet_image_boots(img), 1);
	cfg = (struct vmlet_config){.sz = sizeof(cfg), .backing = b};
	sb = test_sandbox(img, &cfg);
	ASSERT_TRUE(sb);
	EXPECT_EQ(vmlet_sandbox_backing(sb), b);
	EXPECT_EQ(call0(sb, "count"), 1);
	vmlet_sandbox_destroy(sb);
	EXPECT_EQ(__vmlet_image_boots(img), 1);
	vmlet_image_close(img);
}

/*
 * A hugetlb cold sandbox has memory of its own, into which the pages of
 * the 4 KiB boot snapshot that are not zero were copied: the booted one's
 * bytes, no boot of its own, nothing shared with its siblings.
 */
TEST(hugetlb_cold_sandbox_copies_the_boot)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_config huge = {.sz = sizeof(huge), .backing = VMLET_BACKING_HUGETLB};
	struct vmlet_sandbox *a, *b, *c;
	const char *why;
	char buf[160];
	long old;

	if (!img)
		return;
	why = reserve_hugepages(4, &old, buf, sizeof(buf));
	if (why)
		SKIP("%s", why);
	a = test_sandbox(img, &huge);
	b = booted(img, huge);
	ASSERT_TRUE(a && b);
	EXPECT_EQ(__vmlet_image_boots(img), 2); /* the 4 KiB snapshot's, the booted one */
	EXPECT_EQ(vmlet_sandbox_backing(a), VMLET_BACKING_HUGETLB);
	EXPECT_TRUE(same_memory(a, b));
	EXPECT_EQ(call0(a, "count"), 1);
	EXPECT_EQ(call0(b, "count"), 1);
	EXPECT_EQ(insns_of(a, "count"), insns_of(b, "count"));
	EXPECT_EQ(call1(a, "stash", 3), 0);
	EXPECT_EQ(call1(b, "stash", 3), 0);
	EXPECT_TRUE(same_memory(a, b));
	vmlet_sandbox_destroy(b);
	c = test_sandbox(img, &huge);
	ASSERT_TRUE(c);
	EXPECT_EQ(call0(c, "peek"), 0);
	EXPECT_EQ(call0(a, "peek"), 3);
	vmlet_sandbox_destroy(c);
	c = test_sandbox(img, &cfg4k); /* the same snapshot, mapped */
	ASSERT_TRUE(c);
	EXPECT_EQ(vmlet_sandbox_backing(c), VMLET_BACKING_4K);
	EXPECT_EQ(call0(c, "peek"), 0);
	EXPECT_EQ(__vmlet_image_boots(img), 2);
	vmlet_sandbox_destroy(c);
	vmlet_sandbox_destroy(a);
	vmlet_image_close(img);
	if (old >= 0)
		EXPECT_EQ(write_long(nr_hugepages, old), 0);
}

struct racer {
	struct vmlet_image *img;
	pthread_barrier_t *go;
	int err;
	uint64_t count;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct vmlet_sandbox *sb;

	pthread_barrier_wait(r->go);
	r->err = vmlet_sandbox_create(r->img, &cfg4k, &sb);
	if (!r->err) {
		r->count = call0(sb, "count");
		vmlet_sandbox_destroy(sb);
	}
	return NULL;
}

TEST(threads_racing_to_first_use_boot_once)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct racer r[THREADS];
	pthread_barrier_t go;
	pthread_t t[THREADS];

	if (!img)
		return;
	ASSERT_EQ(pthread_barrier_init(&go, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct racer){.img = img, .go = &go};
		ASSERT_EQ(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(r[i].err, 0);
		EXPECT_EQ(r[i].count, 1);
	}
	EXPECT_EQ(__vmlet_image_boots(img), 1);
	pthread_barrier_destroy(&go);
	vmlet_image_close(img);
}

TEST(failed_boot_is_reported_and_retried)
{
	struct vmlet_image *img = test_image(GUEST("noready"));
	struct vmlet_config cfg = {
		.sz = sizeof(cfg), .backing = VMLET_BACKING_4K, .timeout_us = 20000};
	struct vmlet_sandbox *sb = UNTOUCHED;

	if (!img)
		return;
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -VMLET_ETIMEDOUT);
	EXPECT_EQ(__vmlet_image_boots(img), 1);
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -VMLET_ETIMEDOUT);
	EXPECT_EQ(__vmlet_image_boots(img), 2);
	EXPECT_TRUE(sb == UNTOUCHED);
	vmlet_image_close(img);
}

struct heard {
	char buf[64];
	size_t len;
};

static void hear(void *ctx, const char *buf, size_t len)
{
	struct heard *h = ctx;

	if (len > sizeof(h->buf) - 1 - h->len)
		len = sizeof(h->buf) - 1 - h->len;
	memcpy(h->buf + h->len, buf, len);
	h->len += len;
	h->buf[h->len] = '\0';
}

TEST(boot_that_prints_runs_for_each_sandbox)
{
	struct vmlet_image *img = test_image(GUEST("coldloud"));
	struct heard h[3] = {0};
	struct vmlet_sandbox *sb[3];

	if (!img)
		return;
	for (int i = 0; i < 3; i++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg),
					   .backing = VMLET_BACKING_4K,
					   .print = hear,
					   .print_ctx = &h[i]};

		sb[i] = test_sandbox(img, &cfg);
		ASSERT_TRUE(sb[i]);
		EXPECT_STREQ(h[i].buf, "booting\n");
		EXPECT_EQ(call0(sb[i], "boots"), 1);
	}
	/* The snapshot's boot, which printed, then one boot per sandbox. */
	EXPECT_EQ(__vmlet_image_boots(img), 4);
	for (int i = 0; i < 3; i++)
		vmlet_sandbox_destroy(sb[i]);
	vmlet_image_close(img);
}

TEST(boot_that_does_io_runs_for_each_sandbox)
{
	struct vmlet_image *img = test_image(GUEST("coldio"));
	struct vmlet_sandbox *sb;

	if (!img)
		return;
	for (int i = 0; i < 3; i++) {
		sb = test_sandbox(img, &cfg4k);
		ASSERT_TRUE(sb);
		EXPECT_EQ((int64_t)call0(sb, "boot_write"), -EBADF);
		vmlet_sandbox_destroy(sb);
	}
	EXPECT_EQ(__vmlet_image_boots(img), 4); /* the snapshot's try, then three */
	vmlet_image_close(img);
}

TEST(cold_sandbox_prints_to_its_own_callback)
{
	struct vmlet_image *img = test_image(GUEST("types"));
	struct heard h[2] = {0};
	struct vmlet_sandbox *sb[2];
	struct vmlet_value s = vmlet_str("hi");

	if (!img)
		return;
	for (int i = 0; i < 2; i++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg),
					   .backing = VMLET_BACKING_4K,
					   .print = hear,
					   .print_ctx = &h[i]};

		sb[i] = test_sandbox(img, &cfg);
		ASSERT_TRUE(sb[i]);
	}
	EXPECT_EQ(__vmlet_image_boots(img), 1);
	ASSERT_OK(vmlet_sandbox_call(sb[1], "say", &s, 1, NULL));
	EXPECT_STREQ(h[0].buf, "");
	EXPECT_STREQ(h[1].buf, "hi\nerr:hi\n");
	for (int i = 0; i < 2; i++)
		vmlet_sandbox_destroy(sb[i]);
	vmlet_image_close(img);
}

TEST(cold_sandbox_snapshots_but_does_not_restore)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg4k), *from = NULL;
	struct vmlet_snapshot *snap = NULL;

	ASSERT_TRUE(sb);
	EXPECT_EQ(vmlet_sandbox_restore(sb), -EOPNOTSUPP);
	EXPECT_EQ(call1(sb, "stash", 5), 0);
	ASSERT_OK(vmlet_sandbox_snapshot(sb, &snap));
	EXPECT_EQ(call1(sb, "stash", 6), 0);
	ASSERT_OK(vmlet_sandbox_create_from(snap, &from));
	EXPECT_EQ(call0(from, "peek"), 5);
	EXPECT_EQ(call1(from, "stash", 8), 0);
	ASSERT_OK(vmlet_sandbox_restore(from));
	EXPECT_EQ(call0(from, "peek"), 5);
	EXPECT_EQ(call0(sb, "peek"), 6);
	vmlet_sandbox_destroy(sb); /* before the sandbox made from its snapshot */
	EXPECT_EQ(call0(from, "count"), 1);
	vmlet_sandbox_destroy(from);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

TEST(image_close_frees_boot_snapshots_in_any_destroy_order)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_config big = cfg4k;
	struct vmlet_sandbox *a, *b;
	int fds;

	/* A booted sandbox first: the library's own descriptors (/dev/kvm) stay open. */
	a = booted(img, cfg4k);
	ASSERT_TRUE(a);
	vmlet_sandbox_destroy(a);
	fds = count_fds();
	big.mem_size = 8 << 20;
	a = test_sandbox(img, &cfg4k);
	b = test_sandbox(img, &big);
	ASSERT_TRUE(a && b);
	vmlet_sandbox_destroy(a);
	EXPECT_EQ(call0(b, "count"), 1);
	a = test_sandbox(img, &cfg4k);
	ASSERT_TRUE(a);
	vmlet_sandbox_destroy(b);
	EXPECT_EQ(call0(a, "count"), 1);
	vmlet_sandbox_destroy(a);
	EXPECT_EQ(__vmlet_image_boots(img), 3);
	EXPECT_EQ(count_fds(), fds + 2); /* the image keeps the two snapshots' memfds */
	vmlet_image_close(img);
	EXPECT_EQ(count_fds(), fds);
}

int main(void)
{
	return ksft_run();
}
