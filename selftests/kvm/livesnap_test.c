// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshots of live sandboxes (vmlet_sandbox_snapshot()): a sandbox made
 * from one gives the same results and holds the same bytes as the
 * sandbox it was taken from; nothing written after the snapshot reaches
 * the next call after restore; chains of them share unchanged pages (a
 * layer's memfd holds exactly the pages that differ); pools, threads and
 * the sandboxes that cannot be snapshotted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <vmlet.h>

#include "../hugepages.h"
#include "livesnap_calls.h"
#include "util.h"

#define PAGE 4096

static const enum vmlet_restore methods[] = {VMLET_RESTORE_DROP, VMLET_RESTORE_COPY};

static struct vmlet_snapshot *live_snapshot(struct vmlet_sandbox *sb)
{
	struct vmlet_snapshot *snap = NULL;
	int err = vmlet_sandbox_snapshot(sb, &snap);

	if (err)
		ksft_fail_at("vmlet_sandbox_snapshot: %s", vmlet_strerror(err));
	return snap;
}

/* Pages in which the two memories differ. */
static uint64_t pages_differing(const uint8_t *a, const uint8_t *b, size_t size)
{
	uint64_t n = 0;

	for (size_t off = 0; off < size; off += PAGE)
		n += memcmp(a + off, b + off, PAGE) != 0;
	return n;
}

/*
 * The source of a live snapshot: a cold sandbox (cfg->restore choosing
 * the snapshot's method), or one made from a ready-point snapshot.
 */
struct source {
	struct vmlet_snapshot *parent;
	struct vmlet_sandbox *sb;
};

static bool source_make(struct source *s, struct vmlet_image *img, bool cold, enum vmlet_restore m)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = m, .backing = VMLET_BACKING_4K};

	s->parent = cold ? NULL : test_snapshot(img, m);
	s->sb = cold ? test_sandbox(img, &cfg) : from(s->parent);
	return s->sb && (cold || s->parent);
}

static void source_free(struct source *s)
{
	vmlet_sandbox_destroy(s->sb);
	vmlet_snapshot_destroy(s->parent);
}

/* What sum() gives after n layers of the chain test: 16 pages and a count each. */
static uint64_t chain_sum(uint64_t n)
{
	return n * 16 * 2000 + n * 16 * (n ? n * 16 - 1 : 0) / 2 + n;
}

TEST(sandbox_from_live_snapshot_gives_same_results_and_bytes)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int i = 0; img && i < 4; i++) {
		enum vmlet_restore m = methods[i % 2];
		struct source s;
		struct vmlet_snapshot *snap;
		struct vmlet_sandbox *t;
		size_t size, tsize;
		const void *smem, *tmem;

		if (!source_make(&s, img, i < 2, m))
			return;
		load_state(s.sb);
		snap = live_snapshot(s.sb);
		t = from(snap);
		if (!t)
			return;
		EXPECT_EQ(vmlet_snapshot_restore_method(snap), m);
		smem = vmlet_sandbox_memory(s.sb, &size);
		tmem = vmlet_sandbox_memory(t, &tsize);
		ASSERT_EQ(tsize, size);
		EXPECT_TRUE(same_bytes(vmlet_snapshot_memory(snap, NULL), smem, size));
		EXPECT_TRUE(same_bytes(tmem, smem, size));
		/* The same calls on both give the same results and leave the same bytes. */
		for (struct vmlet_sandbox *sb = s.sb; sb; sb = sb == s.sb ? t : NULL) {
			EXPECT_EQ(call0(sb, "sum"), LOADED_SUM);
			EXPECT_EQ(call0(sb, "peek"), 0x5ec7e7);
			EXPECT_EQ(call0(sb, "count"), 4);
			EXPECT_EQ(load(sb, 40, 8, 7), 8);
		}
		EXPECT_TRUE(same_bytes_but_entry(tmem, smem, size));
		vmlet_sandbox_destroy(t);
		vmlet_snapshot_destroy(snap);
		source_free(&s);
	}
	vmlet_image_close(img);
}

TEST(nothing_written_after_the_snapshot_reaches_the_next_call)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int i = 0; img && i < 4; i++) {
		struct source s;
		struct vmlet_snapshot *snap;
		struct vmlet_sandbox *t;
		const void *view;
		size_t size;

		if (!source_make(&s, img, i < 2, methods[i % 2]))
			return;
		load_state(s.sb);
		snap = live_snapshot(s.sb);
		/* The source goes on, and what it writes now stays its own. */
		EXPECT_EQ(call1(s.sb, "stash", 0xbad1), 0);
		EXPECT_EQ(load(s.sb, 0, 100, 77), 100);
		t = from(snap);
		if (!t)
			return;
		view = vmlet_snapshot_memory(snap, &size);
		EXPECT_EQ(call0(t, "peek"), 0x5ec7e7);
		EXPECT_EQ(call0(t, "sum"), LOADED_SUM);
		for (int round = 0; round < 3; round++) {
			EXPECT_EQ(call1(t, "stash", 0xbad2), 0);
			EXPECT_EQ(load(t, 20, 100, 99), 100);
			EXPECT_EQ(call0(t, "count"), 4);
			EXPECT_EQ(call0(t, "count"), 5);
			ASSERT_OK(vmlet_sandbox_restore(t));
			EXPECT_TRUE(same_bytes(vmlet_sandbox_memory(t, NULL), view, size));
			EXPECT_EQ(call0(t, "peek"), 0x5ec7e7);
			EXPECT_EQ(call0(t, "sum"), LOADED_SUM);
			ASSERT_OK(vmlet_sandbox_restore(t));
		}
		EXPECT_EQ(call0(s.sb, "peek"), 0xbad1);
		vmlet_sandbox_destroy(t);
		vmlet_snapshot_destroy(snap);
		source_free(&s);
	}
	vmlet_image_close(img);
}

/*
 * Each layer's memfd holds exactly the pages in which it differs from its
 * parent (counted here byte by byte), the parents may go first, and the
 * last layer still gives everything loaded below it.
 */
TEST(a_chain_of_snapshots_stores_only_the_pages_that_differ)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_snapshot *snap[4] = {test_snapshot(img, methods[m])};
		struct vmlet_sandbox *sb;
		size_t size;

		for (unsigned int k = 1; k < 4; k++) {
			const uint8_t *mem, *pmem;
			uint64_t differ;

			sb = from(snap[k - 1]);
			if (!sb)
				return;
			EXPECT_EQ(call0(sb, "sum"), chain_sum(k - 1));
			EXPECT_EQ(call0(sb, "count"), k);
			EXPECT_EQ(load(sb, (k - 1) * 16, 16, 2000), 16);
			snap[k] = live_snapshot(sb);
			if (!snap[k])
				return;
			mem = vmlet_snapshot_memory(snap[k], &size);
			pmem = vmlet_snapshot_memory(snap[k - 1], NULL);
			EXPECT_TRUE(same_bytes(mem, vmlet_sandbox_memory(sb, NULL), size));
			differ = pages_differing(mem, pmem, size);
			printf("# %s layer %u: %" PRIu64 " pages differ from its parent, own memory "
			       "%" PRIu64 " KiB of %zu KiB\n", m ? "copy" : "drop", k, differ,
			       vmlet_snapshot_own_size(snap[k]) / 1024, size / 1024);
			EXPECT_GE(differ, 16);
			EXPECT_LT(differ, 16 + 8); /* the table pages, the counter, stack, buffers */
			EXPECT_EQ(vmlet_snapshot_own_size(snap[k]), differ * PAGE);
			vmlet_sandbox_destroy(sb);
		}
		/* Parents go first: their children hold references. */
		for (unsigned int k = 0; k < 3; k++)
			vmlet_snapshot_destroy(snap[k]);
		sb = from(snap[3]);
		if (!sb)
			return;
		EXPECT_TRUE(same_bytes(vmlet_sandbox_memory(sb, NULL),
				       vmlet_snapshot_memory(snap[3], NULL), size));
		EXPECT_EQ(call0(sb, "sum"), chain_sum(3));
		EXPECT_EQ(load(sb, 0, 128, 5), 128);
		ASSERT_OK(vmlet_sandbox_restore(sb));
		EXPECT_EQ(call0(sb, "sum"), chain_sum(3));
		EXPECT_EQ(call0(sb, "count"), 4);
		vmlet_sandbox_destroy(sb);
		vmlet_snapshot_destroy(snap[3]);
	}
	vmlet_image_close(img);
}

/*
 * A sandbox fresh from a snapshot (its registers loaded, not yet run)
 * differs from it in no page: its snapshot holds nothing of its own. A
 * second snapshot of one sandbox is the same as the first.
 */
TEST(snapshot_of_an_unused_sandbox_holds_no_page_of_its_own)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_snapshot *root = test_snapshot(img, methods[m]), *a, *b;
		struct vmlet_sandbox *sb = from(root), *t;
		size_t size;

		if (!sb)
			return;
		a = live_snapshot(sb);
		b = live_snapshot(sb);
		if (!a || !b)
			return;
		vmlet_snapshot_memory(root, &size);
		EXPECT_EQ(vmlet_snapshot_own_size(a), 0);
		EXPECT_EQ(vmlet_snapshot_own_size(b), 0);
		EXPECT_TRUE(same_bytes(vmlet_snapshot_memory(a, NULL),
				       vmlet_snapshot_memory(root, NULL), size));
		t = from(b);
		EXPECT_EQ(call0(t, "count"), 1);
		EXPECT_EQ(call0(sb, "count"), 1);
		EXPECT_TRUE(same_bytes_but_entry(vmlet_sandbox_memory(t, NULL),
						 vmlet_sandbox_memory(sb, NULL), size));
		vmlet_sandbox_destroy(t);
		vmlet_snapshot_destroy(b);
		vmlet_snapshot_destroy(a);
		vmlet_sandbox_destroy(sb);
		vmlet_snapshot_destroy(root);
	}
	vmlet_image_close(img);
}

/* A cold sandbox's snapshot is a root: its memfd holds its pages that are not zero. */
TEST(snapshot_of_a_cold_sandbox_stores_its_nonzero_pages)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_config cfg = {.sz = sizeof(cfg), .backing = VMLET_BACKING_4K};
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg), *t;
	struct vmlet_snapshot *snap;
	static const uint8_t zero[PAGE];
	const uint8_t *mem;
	uint64_t nonzero = 0, own;
	size_t size;

	if (!sb)
		return;
	load_state(sb);
	snap = live_snapshot(sb);
	if (!snap)
		return;
	EXPECT_EQ(vmlet_snapshot_restore_method(snap), VMLET_RESTORE_COPY);
	EXPECT_EQ(vmlet_snapshot_backing(snap), VMLET_BACKING_4K);
	/* Taken before reading the view: a read of a hole of a root's memfd fills it. */
	own = vmlet_snapshot_own_size(snap);
	mem = vmlet_snapshot_memory(snap, &size);
	for (size_t off = 0; off < size; off += PAGE)
		nonzero += memcmp(mem + off, zero, PAGE) != 0;
	printf("# cold root: %" PRIu64 " pages not zero of %zu, own memory %" PRIu64 " KiB\n",
	       nonzero, size / PAGE, own / 1024);
	EXPECT_EQ(own, nonzero * PAGE);
	EXPECT_LT(nonzero, size / PAGE);
	t = from(snap);
	EXPECT_EQ(call0(t, "sum"), LOADED_SUM);
	vmlet_sandbox_destroy(t);
	vmlet_snapshot_destroy(snap);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(pool_from_live_snapshot_starts_each_call_from_it)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
		struct source s;
		struct vmlet_snapshot *snap;
		struct vmlet_pool *pool = NULL;
		struct vmlet_value r;

		if (!source_make(&s, img, m == 0, methods[m]))
			return;
		load_state(s.sb);
		snap = live_snapshot(s.sb);
		source_free(&s);
		ASSERT_OK(vmlet_pool_create_from(snap, &pc, &pool));
		EXPECT_TRUE(vmlet_pool_snapshot(pool) == snap);
		/* The pool holds its own reference: the caller's may go first. */
		vmlet_snapshot_destroy(snap);
		for (int i = 0; i < 10; i++) {
			ASSERT_OK(vmlet_pool_call(pool, "count", NULL, 0, &r, NULL, 0));
			EXPECT_EQ(r.u64, 4);
			ASSERT_OK(vmlet_pool_call(pool, "sum", NULL, 0, &r, NULL, 0));
			EXPECT_EQ(r.u64, LOADED_SUM);
		}
		ASSERT_OK(vmlet_pool_destroy(pool));
	}
	vmlet_image_close(img);
}

TEST(pool_from_snapshot_checks_its_arguments)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *snap = img ? test_snapshot(img, VMLET_RESTORE_COPY) : NULL;
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 1, .min_ready = 2};
	struct vmlet_pool *pool = NULL;
	struct vmlet_sandbox *sb;

	if (!snap)
		return;
	EXPECT_EQ(vmlet_pool_create_from(NULL, NULL, &pool), -EINVAL);
	EXPECT_EQ(vmlet_pool_create_from(snap, NULL, NULL), -EINVAL);
	EXPECT_EQ(vmlet_pool_create_from(snap, &pc, &pool), -EINVAL);
	EXPECT_TRUE(pool == NULL);
	/* The snapshot is still whole after the failures. */
	sb = from(snap);
	EXPECT_EQ(call0(sb, "count"), 1);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

TEST(dead_and_null_sandboxes_cannot_be_snapshotted_acquired_ones_can)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 1};
	struct vmlet_sandbox *sb = test_sandbox(img, NULL), *psb;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_pool *pool = NULL;

	if (!sb)
		return;
	EXPECT_EQ(vmlet_sandbox_snapshot(NULL, &snap), -EINVAL);
	EXPECT_EQ(vmlet_sandbox_snapshot(sb, NULL), -EINVAL);
	EXPECT_EQ(call0(sb, "crash"), (uint64_t)-VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_snapshot(sb, &snap), -VMLET_EDEAD);
	EXPECT_TRUE(snap == NULL);
	vmlet_sandbox_destroy(sb);

	ASSERT_OK(vmlet_pool_create(img, NULL, &pc, &pool));
	ASSERT_OK(vmlet_pool_acquire(pool, -1, &psb));
	/* Acquired, it is the caller's; a fault kills it until restored. */
	snap = live_snapshot(psb);
	vmlet_snapshot_destroy(snap);
	snap = NULL;
	EXPECT_EQ(call0(psb, "crash"), (uint64_t)-VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_snapshot(psb, &snap), -VMLET_EDEAD);
	ASSERT_OK(vmlet_sandbox_restore(psb));
	EXPECT_EQ(call0(psb, "count"), 1);
	snap = live_snapshot(psb);
	ASSERT_OK(vmlet_pool_release(pool, psb));
	ASSERT_OK(vmlet_pool_destroy(pool));
	/* The pool and its snapshot are gone; the live snapshot holds its parent. */
	sb = from(snap);
	EXPECT_EQ(call0(sb, "count"), 2);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

#define NTHREADS 4
#define NROUNDS	 10

static void *maker(void *arg)
{
	struct vmlet_snapshot *snap = arg;
	uintptr_t bad = 0;

	for (int i = 0; i < NROUNDS; i++) {
		struct vmlet_sandbox *sb = NULL;
		size_t size;

		if (vmlet_sandbox_create_from(snap, &sb)) {
			bad++;
			continue;
		}
		vmlet_snapshot_memory(snap, &size);
		bad += !same_bytes(vmlet_sandbox_memory(sb, NULL), vmlet_snapshot_memory(snap, NULL),
				   size);
		bad += call0(sb, "sum") != LOADED_SUM;
		bad += call0(sb, "count") != 4;
		bad += load(sb, 0, 128, (uint64_t)i) != 128;
		bad += vmlet_sandbox_restore(sb) != 0;
		bad += call0(sb, "sum") != LOADED_SUM;
		vmlet_sandbox_destroy(sb);
	}
	return (void *)bad;
}

TEST(threads_make_sandboxes_from_one_live_snapshot)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct source s;
		struct vmlet_snapshot *snap;
		pthread_t t[NTHREADS];

		if (!source_make(&s, img, false, methods[m]))
			return;
		load_state(s.sb);
		snap = live_snapshot(s.sb);
		source_free(&s); /* its parent stays, held by snap */
		if (!snap)
			return;
		for (int i = 0; i < NTHREADS; i++)
			ASSERT_EQ(pthread_create(&t[i], NULL, maker, snap), 0);
		for (int i = 0; i < NTHREADS; i++) {
			void *bad;

			pthread_join(t[i], &bad);
			EXPECT_EQ((uintptr_t)bad, 0);
		}
		vmlet_snapshot_destroy(snap);
	}
	vmlet_image_close(img);
}

/*
 * On 2 MiB hugetlb pages a live snapshot is a full copy, on hugetlb pages
 * too (scripts/vmtest.sh reserves some).
 */
TEST(live_snapshot_on_hugetlb_pages_is_a_full_copy)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = methods[m]};
		struct vmlet_snapshot *snap;
		struct vmlet_sandbox *sb = NULL, *t;
		size_t size;

		cfg.backing = VMLET_BACKING_HUGETLB;
		if (vmlet_sandbox_create(img, &cfg, &sb) == -ENOMEM)
			SKIP("no free 2 MiB hugetlb pages");
		if (!sb)
			return;
		load_state(sb);
		snap = live_snapshot(sb);
		vmlet_sandbox_destroy(sb);
		if (!snap)
			return;
		EXPECT_EQ(vmlet_snapshot_backing(snap), VMLET_BACKING_HUGETLB);
		t = from(snap);
		if (!t)
			return;
		vmlet_snapshot_memory(snap, &size);
		EXPECT_EQ(vmlet_snapshot_own_size(snap), size);
		EXPECT_TRUE(same_bytes(vmlet_sandbox_memory(t, NULL),
				       vmlet_snapshot_memory(snap, NULL), size));
		EXPECT_EQ(load(t, 0, 128, 3), 128);
		ASSERT_OK(vmlet_sandbox_restore(t));
		EXPECT_EQ(call0(t, "sum"), LOADED_SUM);
		vmlet_sandbox_destroy(t);
		vmlet_snapshot_destroy(snap);
	}
	vmlet_image_close(img);
}

/*
 * Hugetlb pages run out. The test makes exactly as many free as one
 * sandbox's memory takes (HUGE_MEM), so that a cold sandbox with AUTO
 * takes them all; everything after it must then do without.
 */
#define HUGE_MEM   (8ULL << 20)
#define HUGE_PAGES ((long)(HUGE_MEM >> 21))

/*
 * AUTO: the snapshot of a hugetlb sandbox is on 4 KiB pages and says so,
 * and it and its sandboxes take no huge page (a hugetlb copy would need
 * HUGE_PAGES more, and each sandbox of it HUGE_PAGES for its private
 * mapping).
 */
static void auto_snapshot_takes_no_huge_page(struct vmlet_image *img)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .mem_size = HUGE_MEM};
	struct vmlet_sandbox *sb, *t[2] = {NULL, NULL};
	struct vmlet_snapshot *snap;
	struct vmlet_platform p;

	ASSERT_EQ(set_free_hugepages(HUGE_PAGES), 0);
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	EXPECT_EQ(vmlet_sandbox_backing(sb), VMLET_BACKING_HUGETLB);
	EXPECT_EQ(hugepages_available(), 0);
	/* Its pages are reserved, if not all touched: none is left for AUTO. */
	ASSERT_OK(vmlet_platform_query(&p));
	EXPECT_EQ(p.hugepages_free, 0);
	EXPECT_NE(p.backing, VMLET_BACKING_HUGETLB);
	load_state(sb);
	snap = live_snapshot(sb);
	if (snap) {
		EXPECT_EQ(vmlet_snapshot_backing(snap), VMLET_BACKING_4K);
		for (unsigned int i = 0; i < 2; i++) {
			t[i] = from(snap);
			if (!t[i])
				break;
			EXPECT_EQ(vmlet_sandbox_backing(t[i]), VMLET_BACKING_4K);
			EXPECT_EQ(call0(t[i], "sum"), LOADED_SUM);
			EXPECT_EQ(load(t[i], 0, 8, 7), 8);
			ASSERT_OK(vmlet_sandbox_restore(t[i]));
			EXPECT_EQ(call0(t[i], "sum"), LOADED_SUM);
		}
		EXPECT_EQ(hugepages_available(), 0);
	}
	vmlet_sandbox_destroy(t[1]);
	vmlet_sandbox_destroy(t[0]);
	vmlet_snapshot_destroy(snap);
	vmlet_sandbox_destroy(sb);
	EXPECT_EQ(hugepages_available(), HUGE_PAGES);
}

/*
 * VMLET_BACKING_HUGETLB: the snapshot is a hugetlb copy or -ENOMEM without
 * the pages for it; a sandbox of it reserves its whole memory at once
 * (MAP_PRIVATE), and is -ENOMEM without that.
 */
static void forced_hugetlb_fails_without_pages(struct vmlet_image *img)
{
	struct vmlet_config cfg = {
		.sz = sizeof(cfg), .mem_size = HUGE_MEM, .backing = VMLET_BACKING_HUGETLB};
	struct vmlet_sandbox *sb, *t = NULL;
	struct vmlet_snapshot *snap = NULL;

	ASSERT_EQ(set_free_hugepages(HUGE_PAGES), 0);
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	EXPECT_EQ(vmlet_sandbox_snapshot(sb, &snap), -ENOMEM);
	EXPECT_TRUE(snap == NULL);
	vmlet_sandbox_destroy(sb);

	ASSERT_EQ(set_free_hugepages(2 * HUGE_PAGES), 0);
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	snap = live_snapshot(sb);
	if (snap) {
		EXPECT_EQ(vmlet_snapshot_backing(snap), VMLET_BACKING_HUGETLB);
		EXPECT_EQ(hugepages_available(), 0);
		EXPECT_EQ(vmlet_sandbox_create_from(snap, &t), -ENOMEM);
		EXPECT_TRUE(t == NULL);
	}
	vmlet_sandbox_destroy(sb);
	/* The cold sandbox's pages back: now the sandbox's reservation fits. */
	t = snap ? from(snap) : NULL;
	if (t) {
		EXPECT_EQ(vmlet_sandbox_backing(t), VMLET_BACKING_HUGETLB);
		EXPECT_EQ(call0(t, "count"), 1);
	}
	vmlet_sandbox_destroy(t);
	vmlet_snapshot_destroy(snap);
}

TEST(out_of_huge_pages_auto_snapshots_on_4k_and_forced_hugetlb_is_enomem)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	long old = meminfo_kib("HugePages_Total");

	if (!img)
		return;
	if (getuid() != 0 || old < 0 || access(nr_hugepages, W_OK))
		SKIP("needs root and hugetlb to set the free 2 MiB pages");
	auto_snapshot_takes_no_huge_page(img);
	forced_hugetlb_fails_without_pages(img);
	EXPECT_EQ(write_long(nr_hugepages, old), 0);
	vmlet_image_close(img);
}

/* Host functions (inline, on the vCPU thread); ctx is the sandbox. */
static int snap_self(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	struct vmlet_snapshot *snap = NULL;

	(void)a;
	(void)n;
	r->i64 = vmlet_sandbox_snapshot(ctx, &snap);
	vmlet_snapshot_destroy(snap);
	return 0;
}

static int answer(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)a;
	(void)n;
	r->i64 = 42;
	return 0;
}

static int64_t hostcall(struct vmlet_sandbox *sb, const char *fn)
{
	struct vmlet_value a = vmlet_str(fn), r = {0};
	int err = vmlet_sandbox_call(sb, "hostcall", &a, 1, &r);

	return err ? err : r.i64;
}

/*
 * A sandbox cannot be snapshotted by a host function of its own call
 * (-EBUSY); the config's host functions belong to the snapshot, those
 * added to the sandbox do not.
 */
TEST(host_functions_of_the_config_carry_over_added_ones_do_not)
{
	struct vmlet_host_func cfg_fn = {.name = "answer", .ret = VMLET_I64, .fn = answer,
					 .flags = VMLET_HOST_INLINE};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = &cfg_fn, .nhost_funcs = 1};
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg), *t;
	struct vmlet_host_func self = {.name = "snap", .ret = VMLET_I64, .fn = snap_self,
				       .flags = VMLET_HOST_INLINE};
	struct vmlet_snapshot *snap;

	if (!sb)
		return;
	self.ctx = sb;
	ASSERT_OK(vmlet_sandbox_add_host_func(sb, &self));
	EXPECT_EQ(hostcall(sb, "snap"), -EBUSY);
	EXPECT_EQ(hostcall(sb, "answer"), 42);
	snap = live_snapshot(sb);
	t = from(snap);
	if (!t)
		return;
	EXPECT_EQ(hostcall(t, "answer"), 42);
	EXPECT_EQ(hostcall(t, "snap"), -ENOENT);
	vmlet_sandbox_destroy(t);
	vmlet_snapshot_destroy(snap);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/*
 * A sandbox of snap (what) maps a handful of mappings and reads back the
 * 400 words scatter() wrote, also after a restore.
 */
static void few_mappings_same_words(struct vmlet_snapshot *snap, const char *what)
{
	struct vmlet_value n = vmlet_u32(400), r;
	struct vmlet_sandbox *sb = NULL;
	int before = count_maps();
	uint64_t want = 0;

	for (uint64_t i = 0; i < 400; i++)
		want += 1000 + i;
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	printf("# a sandbox of %s: %d mappings\n", what, count_maps() - before);
	EXPECT_LT(count_maps() - before, 16);
	for (int restored = 0; restored < 2; restored++) {
		ASSERT_OK(vmlet_sandbox_call(sb, "gather", &n, 1, &r));
		EXPECT_EQ(r.u64, want);
		ASSERT_OK(vmlet_sandbox_restore(sb));
	}
	vmlet_sandbox_destroy(sb);
}

/*
 * A guest that wrote every other page of 2 MiB: its live snapshot differs
 * from its parent in 400 runs of one page, and a file of it holds as
 * many. Each run would be a mapping in every sandbox (vm.max_map_count);
 * past VMLET_MEM_MAX_RUNS the snapshot holds its pages itself, and a
 * sandbox of it, or of the file, maps a handful, with the same contents.
 */
TEST(scattered_pages_cost_a_sandbox_few_mappings)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .mem_size = 16 << 20, .backing = VMLET_BACKING_4K};
	struct vmlet_image *img = test_image(GUEST("scatter"));
	struct vmlet_snapshot *snap = NULL, *layer, *file = NULL;
	struct vmlet_value args[2] = {vmlet_u32(400), vmlet_u64(1000)}, r;
	struct vmlet_sandbox *sb;
	int fd;

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
	sb = from(snap);
	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_call(sb, "scatter", args, 2, &r));
	ASSERT_EQ(r.u32, 400);
	layer = live_snapshot(sb);
	ASSERT_TRUE(layer);
	few_mappings_same_words(layer, "the live snapshot");
	fd = test_snapshot_saved(layer, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_OK(vmlet_snapshot_load(fd, NULL, &file));
	few_mappings_same_words(file, "its file");

	vmlet_snapshot_destroy(file);
	close(fd);
	vmlet_snapshot_destroy(layer);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
