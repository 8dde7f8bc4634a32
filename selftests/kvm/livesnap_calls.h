/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Calls of the livesnap guest (selftests/kvm/livesnap_guest.c) shared by
 * the tests of snapshots that loaded state: livesnap_test, snapfile_test.
 */
#ifndef VMLET_TEST_LIVESNAP_CALLS_H
#define VMLET_TEST_LIVESNAP_CALLS_H

#include <errno.h>
#include <string.h>
#include <vmlet.h>

#include "kselftest.h"
#include "util.h"

static inline uint64_t call0(struct vmlet_sandbox *sb, const char *fn)
{
	struct vmlet_value r = {0};
	int err = vmlet_sandbox_call(sb, fn, NULL, 0, &r);

	return err ? (uint64_t)(int64_t)err : r.u64;
}

static inline int call1(struct vmlet_sandbox *sb, const char *fn, uint64_t v)
{
	struct vmlet_value a = vmlet_u64(v);

	return vmlet_sandbox_call(sb, fn, &a, 1, NULL);
}

static inline uint32_t load(struct vmlet_sandbox *sb, uint32_t first, uint32_t n, uint64_t seed)
{
	struct vmlet_value a[3] = {vmlet_u32(first), vmlet_u32(n), vmlet_u64(seed)}, r = {0};
	int err = vmlet_sandbox_call(sb, "load", a, 3, &r);

	return err ? 0 : r.u32;
}

static inline struct vmlet_sandbox *from(struct vmlet_snapshot *snap)
{
	struct vmlet_sandbox *sb = NULL;
	int err = snap ? vmlet_sandbox_create_from(snap, &sb) : -EINVAL;

	if (err)
		ksft_fail_at("vmlet_sandbox_create_from: %s", vmlet_strerror(err));
	return sb;
}

/* Whether two sandboxes' (or snapshots') memories hold the same bytes. */
static inline bool same_bytes(const void *a, const void *b, size_t size)
{
	return a && b && !memcmp(a, b, size);
}

/* KVM's steal-time record, which it writes at every entry (lib/tlb.h). */
#define STEAL_RECORD (VMLET_STUB_ADDR + VMLET_PAGE_SIZE - 64)

/*
 * Whether two sandboxes that made the same calls hold the same bytes but
 * for what each call's entry hands over, which differs by design (abi.h,
 * "Call entry"): AT_RANDOM's 16 bytes, the wall clock and TSC at entry
 * (guest/call.h) and musl's stack canary, five 8-byte words at most; and
 * but for KVM's steal-time record (the host thread's run-queue delay and
 * KVM's count of its updates).
 */
static inline bool same_bytes_but_entry(const void *a, const void *b, size_t size)
{
	const uint64_t *x = a, *y = b;
	unsigned int n = 0;

	if (!a || !b)
		return false;
	for (size_t i = 0; i < size / 8; i++)
		if (i * 8 - STEAL_RECORD >= 64)
			n += x[i] != y[i];
	if (n > 5)
		printf("# %u words differ\n", n);
	return n <= 5;
}

/* Load state into sb: three counts, 40 table pages, a secret. */
static inline void load_state(struct vmlet_sandbox *sb)
{
	EXPECT_EQ(call0(sb, "count"), 1);
	EXPECT_EQ(call0(sb, "count"), 2);
	EXPECT_EQ(call0(sb, "count"), 3);
	EXPECT_EQ(load(sb, 0, 40, 1000), 40);
	EXPECT_EQ(call1(sb, "stash", 0x5ec7e7), 0);
}

#define LOADED_SUM (3 + 40 * 1000 + 40 * 39 / 2)

/*
 * A live snapshot of a cold sandbox of img (4 KiB pages, restore m) after
 * load_state(), or NULL (the test failed); the sandbox goes to *source,
 * or is destroyed when source is NULL.
 */
static inline struct vmlet_snapshot *loaded_live(struct vmlet_image *img, enum vmlet_restore m,
						 struct vmlet_sandbox **source)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = m, .backing = VMLET_BACKING_4K};
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg);
	int err;

	if (!sb)
		return NULL;
	load_state(sb);
	err = vmlet_sandbox_snapshot(sb, &snap);
	if (err)
		ksft_fail_at("vmlet_sandbox_snapshot: %s", vmlet_strerror(err));
	if (source)
		*source = sb;
	else
		vmlet_sandbox_destroy(sb);
	return snap;
}

#endif /* VMLET_TEST_LIVESNAP_CALLS_H */
