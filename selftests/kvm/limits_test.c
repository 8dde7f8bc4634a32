// SPDX-License-Identifier: BSD-2-Clause
/*
 * Limits a guest cannot push past: its memory (fixed at creation; the
 * heap it allocates from is a fixed part of it), its output per call
 * (struct vmlet_config's print_limit: exactly that many bytes reach the
 * print callback, then -VMLET_EOUTPUT), host-call frames (-E2BIG for a
 * request or an answer that does not fit the output buffer, or a header
 * that claims more), and its share of the host-call service (a storm of
 * host calls from other sandboxes does not keep one sandbox's calls from
 * being answered).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

/* --- output ---------------------------------------------------------------- */

static uint64_t printed;
static int printed_bad; /* a byte that was not the guest's 'x' */

static void count_print(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	for (size_t i = 0; i < len; i++)
		printed_bad |= buf[i] != 'x';
	printed += len;
}

static int flood(struct vmlet_sandbox *sb, uint64_t n, uint32_t chunk, uint64_t *wrote)
{
	struct vmlet_value args[2] = {vmlet_u64(n), vmlet_u32(chunk)}, r = {0};
	int err;

	printed = 0;
	err = vmlet_sandbox_call(sb, "flood", args, 2, &r);
	*wrote = r.u64;
	return err;
}

TEST(output_past_the_print_limit_fails_the_call_after_exactly_the_limit)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .print = count_print, .print_limit = 10000};
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_sandbox *sb;
	uint64_t wrote;

	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	/* Up to the limit, in every call: the budget is per call. */
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(flood(sb, 10000, 4096, &wrote));
		EXPECT_EQ(wrote, 10000);
		EXPECT_EQ(printed, 10000);
	}
	/* One byte more: exactly the limit is delivered, then the call fails. */
	EXPECT_EQ(flood(sb, 10001, 4096, &wrote), -VMLET_EOUTPUT);
	EXPECT_EQ(printed, 10000);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->error, -VMLET_EOUTPUT);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->code, 10000);
	EXPECT_EQ(vmlet_sandbox_call(sb, "add", args, 2, &r), -VMLET_EDEAD);
	vmlet_sandbox_destroy(sb);

	/* The default limit, VMLET_PRINT_LIMIT, and no limit. */
	cfg.print_limit = 0;
	sb = test_sandbox(img, &cfg);
	if (sb) {
		EXPECT_EQ(flood(sb, VMLET_PRINT_LIMIT + 4096, 4096, &wrote), -VMLET_EOUTPUT);
		EXPECT_EQ(printed, VMLET_PRINT_LIMIT);
		vmlet_sandbox_destroy(sb);
	}
	cfg.print_limit = VMLET_PRINT_UNLIMITED;
	sb = test_sandbox(img, &cfg);
	if (sb) {
		ASSERT_OK(flood(sb, 2 * VMLET_PRINT_LIMIT, 4096, &wrote));
		EXPECT_EQ(printed, 2 * VMLET_PRINT_LIMIT);
		vmlet_sandbox_destroy(sb);
	}
	EXPECT_EQ(printed_bad, 0);
	vmlet_image_close(img);
}

TEST(a_pooled_sandbox_over_its_print_limit_comes_back_clean)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .print = count_print, .print_limit = 4096};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 1, .timeout_ms = -1};
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_value args[2] = {vmlet_u64(1 << 20), vmlet_u32(1)}, r;
	struct vmlet_pool_stats st;
	struct vmlet_pool *pool;

	if (!img)
		return;
	ASSERT_OK(vmlet_pool_create(img, &cfg, &pc, &pool));
	/* A byte per write: the 4097th write is where it stops. */
	printed = 0;
	EXPECT_EQ(vmlet_pool_call(pool, "flood", args, 2, &r, NULL, 0), -VMLET_EOUTPUT);
	EXPECT_EQ(printed, 4096);
	args[0] = vmlet_u64(4096);
	printed = 0;
	ASSERT_OK(vmlet_pool_call(pool, "flood", args, 2, &r, NULL, 0));
	EXPECT_EQ(r.u64, 4096);
	EXPECT_EQ(printed, 4096);
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.created, 1);
	EXPECT_EQ(st.discarded, 0);
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

/* --- memory ---------------------------------------------------------------- */

TEST(guest_memory_is_fixed_at_creation)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .mem_size = 4 << 20};
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_value args[2] = {vmlet_i32(40), vmlet_i32(2)}, r;
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg);
	uint64_t heap, got;
	size_t size;

	if (!sb)
		return;
	vmlet_sandbox_memory(sb, &size);
	EXPECT_EQ(size, 4 << 20);
	ASSERT_OK(vmlet_sandbox_call(sb, "heap_size", NULL, 0, &r));
	heap = r.u64;
	EXPECT_LT(heap, 4 << 20);
	/* brk and mmap past it fail in the guest, malloc runs dry: no fault. */
	ASSERT_OK(vmlet_sandbox_call(sb, "grow", NULL, 0, &r));
	got = r.u64;
	printf("# the guest's mallocs got %llu of its %llu heap bytes\n", (unsigned long long)got,
	       (unsigned long long)heap);
	EXPECT_GE(got, 64 * 1024);
	EXPECT_LT(got, heap + 1);
	vmlet_sandbox_memory(sb, &size);
	EXPECT_EQ(size, 4 << 20);
	/* Again: nothing more to be had, and the sandbox works on. */
	ASSERT_OK(vmlet_sandbox_call(sb, "grow", NULL, 0, &r));
	EXPECT_EQ(r.u64, 0);
	ASSERT_OK(vmlet_sandbox_call(sb, "add", args, 2, &r));
	EXPECT_EQ(r.i32, 42);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/*
 * README: brk, mmap and malloc fail with ENOMEM when the heap is used up,
 * with no fault. Checked for each errno, then the sandbox works on.
 */
TEST(guest_brk_mmap_and_malloc_fail_with_enomem_when_the_heap_is_used_up)
{
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_value args[2] = {vmlet_i32(40), vmlet_i32(2)}, r;
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	uint64_t e;

	if (!sb)
		return;
	ASSERT_OK(vmlet_sandbox_call(sb, "enomem", NULL, 0, &r));
	e = r.u64;
	printf("# errno: malloc %llu, mmap %llu, huge malloc %llu; brk moved: %s\n",
	       (unsigned long long)(e & 0xff), (unsigned long long)(e >> 8 & 0xff),
	       (unsigned long long)(e >> 16 & 0xff), e >> 24 & 0xff ? "yes" : "no");
	EXPECT_EQ(e & 0xff, ENOMEM);
	EXPECT_EQ(e >> 8 & 0xff, ENOMEM);
	EXPECT_EQ(e >> 16 & 0xff, ENOMEM);
	EXPECT_EQ(e >> 24 & 0xff, 0);
	EXPECT_EQ(e >> 32 & 0xff, ENOMEM); /* 2 TiB: as Linux says it, not EINVAL */
	ASSERT_OK(vmlet_sandbox_call(sb, "add", args, 2, &r));
	EXPECT_EQ(r.i32, 42);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* --- host-call frames ------------------------------------------------------ */

static atomic_ulong sunk;
static uint8_t bigbuf[256 * 1024];

static int sink(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)a;
	(void)n;
	(void)r;
	atomic_fetch_add(&sunk, 1);
	return 0;
}

static int big(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	*r = vmlet_bytes(bigbuf, a[0].u64 < sizeof(bigbuf) ? a[0].u64 : sizeof(bigbuf));
	return 0;
}

TEST(host_call_frames_past_the_output_buffer_get_e2big)
{
	static const struct vmlet_host_func funcs[] = {
		{.name = "sink", .ret = VMLET_VOID, .nargs = 1, .args = {VMLET_BYTES}, .fn = sink},
		{.name = "big", .ret = VMLET_BYTES, .nargs = 1, .args = {VMLET_U64}, .fn = big},
	};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = funcs, .nhost_funcs = 2};
	struct vmlet_image *img = test_image(GUEST("limits"));
	const uint64_t out = 64 * 1024; /* the default out_size */
	struct vmlet_value a, r;
	struct vmlet_sandbox *sb;
	struct vmlet_host *host;

	ASSERT_OK(vmlet_host_create(1, &host));
	cfg.host = host;
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	/* A request larger than the buffer: the guest runtime refuses it. */
	a = vmlet_u64(out);
	ASSERT_OK(vmlet_sandbox_call(sb, "big_arg", &a, 1, &r));
	EXPECT_EQ(r.i32, -E2BIG);
	a = vmlet_u64(1000);
	ASSERT_OK(vmlet_sandbox_call(sb, "big_arg", &a, 1, &r));
	EXPECT_EQ(r.i32, 0);
	EXPECT_EQ(atomic_load(&sunk), 1);
	/* A header that claims more than the buffer: the host refuses it. */
	a = vmlet_u32((uint32_t)out + 8);
	ASSERT_OK(vmlet_sandbox_call(sb, "lying_frame", &a, 1, &r));
	EXPECT_EQ(r.i32, -E2BIG);
	a = vmlet_u32(UINT32_MAX);
	ASSERT_OK(vmlet_sandbox_call(sb, "lying_frame", &a, 1, &r));
	EXPECT_EQ(r.i32, -E2BIG);
	a = vmlet_u32(8); /* less than its own header: malformed */
	ASSERT_OK(vmlet_sandbox_call(sb, "lying_frame", &a, 1, &r));
	EXPECT_EQ(r.i32, -EINVAL);
	EXPECT_EQ(atomic_load(&sunk), 1);
	/* An answer larger than the buffer: the guest gets -E2BIG instead. */
	a = vmlet_u64(out);
	ASSERT_OK(vmlet_sandbox_call(sb, "big_answer", &a, 1, &r));
	EXPECT_EQ(r.i64, -E2BIG);
	a = vmlet_u64(out - 64);
	ASSERT_OK(vmlet_sandbox_call(sb, "big_answer", &a, 1, &r));
	EXPECT_EQ(r.i64, (int64_t)(out - 64));
	vmlet_sandbox_destroy(sb);
	vmlet_host_destroy(host);
	vmlet_image_close(img);
}

/* --- the host-call service under a storm ----------------------------------- */

#define STORMS	    3
#define STORM_CHAIN 50
#define PROBES	    300

static atomic_ulong storm_calls, probe_calls;
static atomic_bool stop;
static uint64_t gaps[PROBES]; /* storm calls served between two probe calls */
static uint64_t last_storm;

static int storm_fn(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	atomic_fetch_add(&storm_calls, 1);
	r->u64 = a[0].u64 + 1;
	return 0;
}

static int probe_fn(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	uint64_t i = atomic_fetch_add(&probe_calls, 1), s = atomic_load(&storm_calls);

	(void)ctx;
	(void)n;
	if (i < PROBES)
		gaps[i] = s - last_storm;
	last_storm = s;
	r->u64 = a[0].u64 + 1;
	return 0;
}

struct storm {
	struct vmlet_sandbox *sb;
	uint64_t chains, wrong;
	int err;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;
	struct vmlet_value args[3] = {vmlet_str("storm"), vmlet_u32(STORM_CHAIN), vmlet_u64(0)}, r;

	while (!atomic_load(&stop)) {
		s->err = vmlet_sandbox_call(s->sb, "chain", args, 3, &r);
		if (s->err)
			break;
		s->wrong += r.u64 != STORM_CHAIN;
		s->chains++;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One service thread, STORMS sandboxes on their own threads making host
 * calls back to back, and one more sandbox making PROBES calls: every
 * probe is answered while the storm goes on. Each sandbox has at most
 * one host call in flight (its vCPU waits for the answer) and the
 * service answers in arrival order, so a probe waits behind at most one
 * call per storming sandbox. The storm calls served between two probes
 * also count what the storms did while the probing thread was not
 * scheduled, so they depend on the scheduler: they are printed (a median
 * of about one per storming sandbox), not asserted.
 */
static void storm_against(unsigned int nservice)
{
	static const struct vmlet_host_func funcs[] = {
		{.name = "storm", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = storm_fn},
		{.name = "probe", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = probe_fn},
	};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = funcs, .nhost_funcs = 2};
	struct vmlet_value args[3] = {vmlet_str("probe"), vmlet_u32(PROBES), vmlet_u64(0)}, r;
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct storm storms[STORMS] = {0};
	pthread_t threads[STORMS];
	struct vmlet_sandbox *prober;
	struct vmlet_host *host;
	uint64_t before, during, sum = 0;
	int err;

	atomic_store(&stop, false);
	atomic_store(&storm_calls, 0);
	atomic_store(&probe_calls, 0);
	last_storm = 0;
	ASSERT_OK(vmlet_host_create(nservice, &host));
	cfg.host = host;
	prober = test_sandbox(img, &cfg);
	for (int i = 0; i < STORMS; i++)
		storms[i].sb = test_sandbox(img, &cfg);
	for (int i = 0; i < STORMS; i++)
		ASSERT_EQ(pthread_create(&threads[i], NULL, storm_main, &storms[i]), 0);
	for (int i = 0; atomic_load(&storm_calls) < 10 * STORMS; i++) { /* under way */
		if (i == 60000) {
			atomic_store(&stop, true);
			ksft_fail_at("the storm never got going");
			break;
		}
		usleep(1000);
	}
	before = atomic_load(&storm_calls);
	last_storm = before;
	err = prober ? vmlet_sandbox_call(prober, "chain", args, 3, &r) : -EINVAL;
	during = atomic_load(&storm_calls) - before;
	atomic_store(&stop, true);
	for (int i = 0; i < STORMS; i++)
		pthread_join(threads[i], NULL);

	EXPECT_EQ(err, 0);
	EXPECT_EQ(r.u64, PROBES);
	EXPECT_EQ(atomic_load(&probe_calls), PROBES);
	EXPECT_GE(during, 1); /* the storm went on all along */
	for (int i = 0; i < STORMS; i++) {
		EXPECT_EQ(storms[i].err, 0);
		EXPECT_EQ(storms[i].wrong, 0);
		EXPECT_GE(storms[i].chains, 1);
	}
	/*
	 * The gaps are printed, not bounded: how many storm calls land between
	 * two probes depends on how the scheduler runs the threads.
	 * hostcall_order_test checks arrival order and one call in flight per
	 * sandbox exactly.
	 */
	qsort(gaps, PROBES, sizeof(gaps[0]), cmp_u64);
	for (int i = 0; i < PROBES; i++)
		sum += gaps[i];
	printf("# %u service thread(s): %d probe calls answered during %llu storm calls; storm "
	       "calls between probes: median %llu, max %llu, mean %.1f\n",
	       nservice, PROBES, (unsigned long long)during, (unsigned long long)gaps[PROBES / 2],
	       (unsigned long long)gaps[PROBES - 1], (double)sum / PROBES);
	vmlet_sandbox_destroy(prober);
	for (int i = 0; i < STORMS; i++)
		vmlet_sandbox_destroy(storms[i].sb);
	vmlet_host_destroy(host);
	vmlet_image_close(img);
}

TEST(a_host_call_storm_does_not_starve_another_sandbox_one_service_thread)
{
	storm_against(1);
}

TEST(a_host_call_storm_does_not_starve_another_sandbox_two_service_threads)
{
	storm_against(2);
}

int main(void)
{
	return ksft_run();
}
