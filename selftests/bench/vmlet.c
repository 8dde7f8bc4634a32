// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet's own figures, each with its ratio to the floor of this run:
 *
 * - cold-boot, cold, cold-4k, cold-first: vmlet_sandbox_create() of the
 *   demo image, to the guest's ready point (against floor.create): booting
 *   (VMLET_CONFIG_BOOT), from the image's boot snapshot (AUTO and 4 KiB
 *   backing), and the first create of a freshly opened image;
 * - snapshot: vmlet_sandbox_snapshot() of a live sandbox;
 * - warm: a call of add(1, 2) on one sandbox (against floor.out), with
 *   its guest instructions counted by single-stepping too;
 * - acquire: vmlet_pool_acquire() from a pool with idle sandboxes;
 * - fresh: vmlet_pool_call() of add(1, 2), that is acquire, call,
 *   restore, release, under each restore method;
 * - restore: vmlet_sandbox_restore() after a call of the state guest's
 *   touch(n) dirtied n pages, per method and backing, against
 *   floor.reentry (a KVM_RUN that enters no guest: what a restore folded
 *   into the next KVM_RUN would cost at best). 2 MiB hugetlb
 *   pages are reserved for it (bench runs as root) and the old
 *   vm.nr_hugepages put back; where none can be had it says so.
 *
 * Host calls and the cost of tracing are in hostcall.c and tracing.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define CREATES	    50
#define MIN_CREATES 10
#define BUDGET_NS   15000000000ULL
#define CALLS	    5000
#define FRESH	    2000
#define ACQUIRES    64
#define RESTORES    300
#define COUNTED	    500
#define HUGEPAGES   16

/*
 * vmlet_sandbox_create() of img with cfg against floor.create, or with
 * first, of a freshly opened image each time (opening it not timed).
 */
static void creates(struct bench *b, struct vmlet_image *img, const char *key, const char *label,
		    const struct vmlet_config *cfg, bool first)
{
	struct fig *f = fig_new(key, CREATES, "%s", label);
	struct vmlet_image *fresh = img;
	struct vmlet_sandbox *sb;
	struct counters c;
	uint64_t t0 = now_ns();
	int err = 0;

	for (int i = 0; !err && more(i, MIN_CREATES, CREATES, t0, BUDGET_NS); i++) {
		uint64_t t;

		if (first)
			err = vmlet_image_open(DEMO_ELF, &fresh);
		t = now_ns();
		err = err ? err : vmlet_sandbox_create(fresh, cfg, &sb);
		fig_add(f, (double)(now_ns() - t));
		if (!err)
			vmlet_sandbox_destroy(sb);
		if (first)
			vmlet_image_close(fresh);
	}
	if (first)
		err = err ? err : vmlet_image_open(DEMO_ELF, &fresh);
	ctr_open(&c, true);
	ctr_start(&c);
	err = err ? err : vmlet_sandbox_create(fresh, cfg, &sb);
	ctr_stop(&c, f->counts, 1);
	ctr_close(&c);
	if (err)
		fig_fail(f, "vmlet_sandbox_create: %s", vmlet_strerror(err));
	else
		vmlet_sandbox_destroy(sb);
	if (first && fresh != img)
		vmlet_image_close(fresh);
	fig_ratio(f, b->floor_create, "floor.create");
	fig_emit(b->j, f);
	fig_free(f);
}

/*
 * Cold create, before and after the boot snapshot (lib/bootsnap.c): a
 * boot every time (VMLET_CONFIG_BOOT, the old vmlet_sandbox_create());
 * from the boot snapshot with AUTO's backing and with 4 KiB pages; and
 * the first create of an image, which boots and makes the snapshot.
 */
static void cold(struct bench *b, struct vmlet_image *img)
{
	struct vmlet_config boot = {.sz = sizeof(boot), .flags = VMLET_CONFIG_BOOT};
	struct vmlet_config k4 = {.sz = sizeof(k4), .backing = VMLET_BACKING_4K};

	creates(b, img, "cold-boot", "vmlet: create sandbox, booting", &boot, false);
	creates(b, img, "cold", "vmlet: create sandbox (boot snapshot)", NULL, false);
	creates(b, img, "cold-4k", "vmlet: create sandbox (snapshot, 4K)", &k4, false);
	creates(b, img, "cold-first", "vmlet: first create of an image", NULL, true);
}

/*
 * vmlet_sandbox_snapshot() of a sandbox made from a snapshot, after a call
 * (a layer: the pages that differ), against floor.create.
 */
static void live_snapshot(struct bench *b, struct vmlet_image *img)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct fig *f = fig_new("snapshot", CREATES, "vmlet: snapshot a live sandbox");
	struct vmlet_snapshot *snap = NULL, *live;
	struct vmlet_sandbox *sb = NULL;
	struct counters c;
	uint64_t t0 = now_ns();
	int err;

	err = vmlet_snapshot_create(img, NULL, &snap);
	err = err ? err : vmlet_sandbox_create_from(snap, &sb);
	err = err ? err : vmlet_sandbox_call(sb, "add", args, 2, &r);
	for (int i = 0; !err && more(i, MIN_CREATES, CREATES, t0, BUDGET_NS); i++) {
		uint64_t t = now_ns();

		err = vmlet_sandbox_snapshot(sb, &live);
		fig_add(f, (double)(now_ns() - t));
		if (!err)
			vmlet_snapshot_destroy(live);
	}
	ctr_open(&c, true);
	ctr_start(&c);
	err = err ? err : vmlet_sandbox_snapshot(sb, &live);
	ctr_stop(&c, f->counts, 1);
	ctr_close(&c);
	if (err)
		fig_fail(f, "vmlet_sandbox_snapshot: %s", vmlet_strerror(err));
	else
		vmlet_snapshot_destroy(live);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	fig_ratio(f, b->floor_create, "floor.create");
	fig_emit(b->j, f);
	fig_free(f);
}

static void warm(struct bench *b, struct vmlet_image *img)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct fig *f = fig_new("warm", CALLS, "vmlet: warm call add(1, 2)");
	struct vmlet_sandbox *sb;
	struct counters c;
	int err, add = -1;

	err = vmlet_sandbox_create(img, NULL, &sb);
	if (err) {
		fig_fail(f, "vmlet_sandbox_create: %s", vmlet_strerror(err));
		goto out;
	}
	add_calls(f, sb, NULL, CALLS);
	if (!fig_ok(f))
		goto out_sb;
	add = vmlet_sandbox_func(sb, "add");
	ctr_open(&c, false);
	ctr_start(&c);
	for (int i = 0; i < COUNTED; i++)
		vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r);
	ctr_stop(&c, f->counts, COUNTED);
	ctr_close(&c);
	if (!vmlet_sandbox_count_insns(sb, true)) {
		if (!vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r))
			f->insns_ss = (double)vmlet_sandbox_insns(sb);
		vmlet_sandbox_count_insns(sb, false);
	}
out_sb:
	vmlet_sandbox_destroy(sb);
out:
	fig_ratio(f, b->floor_out, "floor.out");
	fig_emit(b->j, f);
	fig_free(f);
}

static void acquire(struct bench *b, struct vmlet_image *img)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = ACQUIRES, .timeout_ms = -1};
	struct fig *f = fig_new("acquire", FRESH, "vmlet: pool acquire");
	struct vmlet_sandbox *sb[ACQUIRES];
	struct vmlet_pool *pool;
	struct counters c;
	int err, n = 0;

	err = vmlet_pool_create(img, NULL, &pc, &pool);
	if (err) {
		fig_fail(f, "vmlet_pool_create: %s", vmlet_strerror(err));
		goto out;
	}
	for (int i = 0; i < FRESH && !err; i++) {
		uint64_t t = now_ns();

		err = vmlet_pool_acquire(pool, 0, &sb[0]);
		fig_add(f, (double)(now_ns() - t));
		if (!err)
			err = vmlet_pool_release(pool, sb[0]);
	}
	/* Count the acquires alone: take every idle sandbox, then give them back. */
	ctr_open(&c, false);
	ctr_start(&c);
	for (; n < ACQUIRES && !err; n++)
		err = vmlet_pool_acquire(pool, 0, &sb[n]);
	ctr_stop(&c, f->counts, n);
	ctr_close(&c);
	if (err)
		fig_fail(f, "acquire or release: %s", vmlet_strerror(err));
	while (n-- > 0)
		vmlet_pool_release(pool, sb[n]);
	vmlet_pool_destroy(pool);
out:
	fig_ratio(f, b->floor_out, "floor.out");
	fig_emit(b->j, f);
	fig_free(f);
}

static const char *method_name(enum vmlet_restore m)
{
	return m == VMLET_RESTORE_COPY ? "copy" : "drop";
}

static void fresh(struct bench *b, struct vmlet_image *img, enum vmlet_restore method)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = method};
	struct fig *f = fig_new(method_name(method), FRESH, "vmlet: fresh-VM call add, %s",
				method_name(method));
	struct vmlet_pool *pool;
	struct counters c;
	int err;

	err = vmlet_pool_create(img, &cfg, &pc, &pool);
	if (err) {
		fig_fail(f, "vmlet_pool_create: %s", vmlet_strerror(err));
		goto out;
	}
	add_calls(f, NULL, pool, FRESH);
	ctr_open(&c, false);
	ctr_start(&c);
	for (int i = 0; i < COUNTED; i++)
		vmlet_pool_call(pool, "add", args, 2, &r, NULL, 0);
	ctr_stop(&c, f->counts, COUNTED);
	ctr_close(&c);
	vmlet_pool_destroy(pool);
out:
	fig_ratio(f, b->floor_out, "floor.out");
	fig_emit(b->j, f);
	fig_free(f);
}

/*
 * Restore after touch(n), n = 1, 16, 256, on one sandbox of snap; or the
 * figures say why they were not run here (skip) or could not be (fail).
 */
static void restores(struct bench *b, struct vmlet_snapshot *snap, const char *skip,
		     const char *fail, enum vmlet_backing backing, enum vmlet_restore method)
{
	static const uint32_t dirty[] = {1, 16, 256};
	static const char *const keys[2][2][3] = {
		{{"drop-4k-1", "drop-4k-16", "drop-4k-256"},
		 {"drop-2m-1", "drop-2m-16", "drop-2m-256"}},
		{{"copy-4k-1", "copy-4k-16", "copy-4k-256"},
		 {"copy-2m-1", "copy-2m-16", "copy-2m-256"}},
	};
	bool huge = backing == VMLET_BACKING_HUGETLB, copy = method == VMLET_RESTORE_COPY;
	struct vmlet_sandbox *sb = NULL;
	int err = skip || fail ? 0 : vmlet_sandbox_create_from(snap, &sb);

	for (unsigned int d = 0; d < 3; d++) {
		struct fig *f = fig_new(keys[copy][huge][d], RESTORES,
					"vmlet: restore %s %s, %u page%s", method_name(method),
					huge ? "2M" : "4K", dirty[d], dirty[d] > 1 ? "s" : "");
		struct vmlet_value a = vmlet_u32(dirty[d]);
		struct counters c;

		if (skip)
			fig_skip(f, "%s", skip);
		else if (fail)
			fig_fail(f, "%s", fail);
		else if (err)
			fig_fail(f, "vmlet_sandbox_create_from: %s", vmlet_strerror(err));
		for (int i = 0; i < RESTORES && !skip && !fail && !err; i++) {
			uint64_t t;

			err = vmlet_sandbox_call(sb, "touch", &a, 1, NULL);
			t = now_ns();
			err = err ? err : vmlet_sandbox_restore(sb);
			fig_add(f, (double)(now_ns() - t));
			if (err)
				fig_fail(f, "touch(%u) and restore: %s", dirty[d],
					 vmlet_strerror(err));
		}
		if (fig_ok(f)) {
			ctr_open(&c, false);
			ctr_start(&c);
			for (int i = 0; i < COUNTED / 10; i++) {
				ctr_pause(&c);
				vmlet_sandbox_call(sb, "touch", &a, 1, NULL);
				ctr_resume(&c);
				vmlet_sandbox_restore(sb);
			}
			ctr_stop(&c, f->counts, COUNTED / 10);
			ctr_close(&c);
		}
		fig_ratio(f, b->floor_reentry, "floor.reentry");
		fig_emit(b->j, f);
		fig_free(f);
	}
	if (sb)
		vmlet_sandbox_destroy(sb);
}

static void restore_all(struct bench *b, const char *path)
{
	static const enum vmlet_backing backings[] = {VMLET_BACKING_4K, VMLET_BACKING_HUGETLB};
	static const enum vmlet_restore methods[] = {VMLET_RESTORE_COPY, VMLET_RESTORE_DROP};
	struct vmlet_image *img;
	char huge_why[200];
	const char *why;
	long old;
	int err;

	err = vmlet_image_open(path, &img);
	if (err) {
		fprintf(stderr, "bench: %s: %s\n", path, vmlet_strerror(err));
		img = NULL;
	}
	why = reserve_hugepages(HUGEPAGES, &old, huge_why, sizeof(huge_why));
	for (unsigned int k = 0; k < 2; k++) {
		for (unsigned int m = 0; m < 2; m++) {
			struct vmlet_config cfg = {
				.sz = sizeof(cfg), .backing = backings[k], .restore = methods[m]};
			const char *skip = k ? why : NULL, *fail = NULL;
			struct vmlet_snapshot *snap = NULL;
			char msg[200];

			if (!img) {
				snprintf(msg, sizeof(msg), "cannot open %s: %s", path,
					 vmlet_strerror(err));
				fail = msg;
			} else if (!skip) {
				err = vmlet_snapshot_create(img, &cfg, &snap);
				if (err) {
					snprintf(msg, sizeof(msg), "vmlet_snapshot_create: %s",
						 vmlet_strerror(err));
					fail = msg;
				}
			}
			restores(b, snap, skip, fail, backings[k], methods[m]);
			if (snap)
				vmlet_snapshot_destroy(snap);
		}
	}
	if (old >= 0 && write_long(nr_hugepages, old))
		fprintf(stderr, "bench: could not put %ld back into %s\n", old, nr_hugepages);
	if (img)
		vmlet_image_close(img);
}

void add_calls(struct fig *f, struct vmlet_sandbox *sb, struct vmlet_pool *pool, int n)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	int add = sb ? vmlet_sandbox_func(sb, "add") : 0;

	if (add < 0) {
		fig_fail(f, "the image has no add()");
		return;
	}
	for (int i = 0; i < (sb ? 100 : 0); i++)
		vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r);
	for (int i = 0; i < n; i++) {
		uint64_t t = now_ns();
		int err = sb ? vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r)
			     : vmlet_pool_call(pool, "add", args, 2, &r, NULL, 0);

		fig_add(f, (double)(now_ns() - t));
		if (err || r.i32 != 3) {
			fig_fail(f, "add(1, 2): %s, %d", vmlet_strerror(err), err ? 0 : r.i32);
			return;
		}
	}
}

void bench_vmlet(struct bench *b)
{
	struct vmlet_image *img;
	int err;

	err = vmlet_image_open(DEMO_ELF, &img);
	if (err) {
		fprintf(stderr, "bench: %s: %s\n", DEMO_ELF, vmlet_strerror(err));
		return;
	}
	section("vmlet (us)");
	cold(b, img);
	live_snapshot(b, img);
	warm(b, img);
	acquire(b, img);
	json_obj(b->j, "fresh");
	fresh(b, img, VMLET_RESTORE_COPY);
	fresh(b, img, VMLET_RESTORE_DROP);
	json_end(b->j);
	vmlet_image_close(img);

	section("vmlet: restore after a call (us)");
	json_obj(b->j, "restore");
	restore_all(b, STATE_ELF);
	json_end(b->j);
}
