// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host calls: every type through the service and the inline path, the
 * checks (unknown name, arity, types, host errors), granted descriptors
 * with hostile buffers, exits per call, many threads at once, shutdown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

static atomic_ulong invocations;

static int echo(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	atomic_fetch_add(&invocations, 1);
	*r = a[0];
	return 0;
}

static int add1(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	atomic_fetch_add(&invocations, 1);
	r->u64 = a[0].u64 + 1;
	return 0;
}

static int slow_add1(void *ctx, const struct vmlet_value *a, unsigned int n,
		     struct vmlet_value *r)
{
	struct timespec t = {0, 20 * 1000000};

	nanosleep(&t, NULL);
	return add1(ctx, a, n, r);
}

static int liar(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)a;
	(void)n;
	*r = vmlet_str("not a u32"); /* breaks its own signature */
	return 0;
}

#define FN(nm, t, f, fl) {.name = nm, .ret = t, .nargs = 1, .args = {t}, .fn = f, .flags = fl}
static const struct vmlet_host_func funcs[] = {
	FN("bool", VMLET_BOOL, echo, 0),
	FN("i32", VMLET_I32, echo, 0),
	FN("u32", VMLET_U32, echo, 0),
	FN("i64", VMLET_I64, echo, 0),
	FN("u64", VMLET_U64, echo, 0),
	FN("f32", VMLET_F32, echo, 0),
	FN("f64", VMLET_F64, echo, 0),
	FN("str", VMLET_STRING, echo, 0),
	FN("bytes", VMLET_BYTES, echo, 0),
	FN("bool_in", VMLET_BOOL, echo, VMLET_HOST_INLINE),
	FN("i32_in", VMLET_I32, echo, VMLET_HOST_INLINE),
	FN("u32_in", VMLET_U32, echo, VMLET_HOST_INLINE),
	FN("i64_in", VMLET_I64, echo, VMLET_HOST_INLINE),
	FN("u64_in", VMLET_U64, echo, VMLET_HOST_INLINE),
	FN("f32_in", VMLET_F32, echo, VMLET_HOST_INLINE),
	FN("f64_in", VMLET_F64, echo, VMLET_HOST_INLINE),
	FN("str_in", VMLET_STRING, echo, VMLET_HOST_INLINE),
	FN("bytes_in", VMLET_BYTES, echo, VMLET_HOST_INLINE),
	FN("add1", VMLET_U64, add1, 0),
	FN("add1_in", VMLET_U64, add1, VMLET_HOST_INLINE),
	FN("slow_add1", VMLET_U64, slow_add1, 0),
	FN("eperm", VMLET_U32, test_eperm, 0),
	FN("liar", VMLET_U32, liar, VMLET_HOST_INLINE),
};

static struct vmlet_host *host;
static struct vmlet_image *img;

static struct vmlet_config config(void)
{
	return (struct vmlet_config){
		.sz = sizeof(struct vmlet_config),
		.host_funcs = funcs,
		.nhost_funcs = sizeof(funcs) / sizeof(funcs[0]),
		.host = host,
	};
}

static int setup(void)
{
	int err = vmlet_host_create(4, &host);

	if (err) {
		ksft_fail_at("vmlet_host_create: %s", vmlet_strerror(err));
		return -1;
	}
	img = test_image(GUEST("hostcall"));
	return img ? 0 : -1;
}

static void teardown(void)
{
	vmlet_image_close(img);
	vmlet_host_destroy(host);
}

static struct vmlet_sandbox *sandbox(void)
{
	struct vmlet_config cfg = config();

	return test_sandbox(img, &cfg);
}

/* Call fn(name, v) and expect v back. */
static int relay(struct vmlet_sandbox *sb, const char *fn, const char *name, struct vmlet_value v,
		 struct vmlet_value *r)
{
	struct vmlet_value args[2] = {vmlet_str(name), v};

	return vmlet_sandbox_call(sb, fn, args, 2, r);
}

TEST(every_type_through_the_service_and_inline)
{
	static const uint8_t blob[] = {0, 1, 2, 0xff, 0, 7};
	struct vmlet_sandbox *sb;
	struct vmlet_value r;

	if (setup())
		return;
	sb = sandbox();
	for (int in = 0; sb && in < 2; in++) {
		char n[16];

#define NAME(t) (snprintf(n, sizeof(n), "%s%s", t, in ? "_in" : ""), n)
		ASSERT_OK(relay(sb, "relay_bool", NAME("bool"), vmlet_bool(true), &r));
		EXPECT_EQ(r.b, true);
		ASSERT_OK(relay(sb, "relay_i32", NAME("i32"), vmlet_i32(-123456), &r));
		EXPECT_EQ(r.i32, -123456);
		ASSERT_OK(relay(sb, "relay_u32", NAME("u32"), vmlet_u32(0xfedcba98), &r));
		EXPECT_EQ(r.u32, 0xfedcba98);
		ASSERT_OK(relay(sb, "relay_i64", NAME("i64"), vmlet_i64(-(1LL << 60)), &r));
		EXPECT_EQ(r.i64, -(1LL << 60));
		ASSERT_OK(relay(sb, "relay_u64", NAME("u64"), vmlet_u64(~0ULL - 5), &r));
		EXPECT_EQ(r.u64, ~0ULL - 5);
		ASSERT_OK(relay(sb, "relay_f32", NAME("f32"), vmlet_f32(-2.5f), &r));
		EXPECT_TRUE(r.f32 == -2.5f);
		ASSERT_OK(relay(sb, "relay_f64", NAME("f64"), vmlet_f64(1e300), &r));
		EXPECT_TRUE(r.f64 == 1e300);
		ASSERT_OK(relay(sb, "relay_str", NAME("str"), vmlet_str("host and back"), &r));
		EXPECT_STREQ((const char *)r.buf.ptr, "host and back");
		ASSERT_OK(relay(sb, "relay_bytes", NAME("bytes"), vmlet_bytes(blob, sizeof(blob)),
				&r));
		ASSERT_EQ(r.buf.len, sizeof(blob));
		EXPECT_TRUE(!memcmp(r.buf.ptr, blob, sizeof(blob)));
#undef NAME
	}
	vmlet_sandbox_destroy(sb);
	teardown();
}

TEST(unknown_names_bad_arguments_and_host_errors_reach_the_guest)
{
	struct vmlet_value args[2], r;
	struct vmlet_sandbox *sb, *bare;
	struct vmlet_config cfg;
	static const struct {
		const char *fn;
		uint32_t nargs;
		int32_t err;
	} cases[] = {
		{"nosuch", 1, -ENOENT},	 /* not registered */
		{"print", 1, -ENOENT},	 /* nothing but what was registered */
		{"add1", 0, -EINVAL},	 /* too few */
		{"add1", 2, -EINVAL},	 /* too many */
		{"add1", 1, -EINVAL},	 /* u32, not u64 */
		{"add1", 100, -EINVAL},	 /* a string */
		{"eperm", 1, -EPERM},	 /* the host function's own error */
		{"liar", 1, -EINVAL},	 /* a result of the wrong type */
		{"", 1, -ENOENT},
	};

	if (setup())
		return;
	sb = sandbox();
	for (unsigned int i = 0; sb && i < sizeof(cases) / sizeof(cases[0]); i++) {
		args[0] = vmlet_str(cases[i].fn);
		args[1] = vmlet_u32(cases[i].nargs);
		ASSERT_OK(vmlet_sandbox_call(sb, "try_call", args, 2, &r));
		EXPECT_EQ(r.i32, cases[i].err);
	}
	/* The sandbox is fine afterwards. */
	ASSERT_OK(relay(sb, "relay_u64", "add1", vmlet_u64(41), &r));
	EXPECT_EQ(r.u64, 42);
	vmlet_sandbox_destroy(sb);

	/* With no config, nothing is callable. */
	bare = test_sandbox(img, NULL);
	if (bare) {
		args[0] = vmlet_str("add1");
		args[1] = vmlet_u32(1);
		ASSERT_OK(vmlet_sandbox_call(bare, "try_call", args, 2, &r));
		EXPECT_EQ(r.i32, -ENOENT);
		vmlet_sandbox_destroy(bare);
	}
	/*
	 * A probe answers what the call would get: a function that is not
	 * inline, on a config with no service to run it, is -ENOENT for both.
	 */
	cfg = config();
	for (unsigned int with = 0; with < 2; with++) {
		cfg.host = with ? host : NULL;
		sb = test_sandbox(img, &cfg);
		if (!sb)
			break;
		args[0] = vmlet_str("add1");
		ASSERT_OK(vmlet_sandbox_call(sb, "probe_u64", args, 1, &r));
		EXPECT_EQ(r.i32, with ? 0 : -ENOENT);
		args[0] = vmlet_str("add1_in");
		ASSERT_OK(vmlet_sandbox_call(sb, "probe_u64", args, 1, &r));
		EXPECT_EQ(r.i32, 0);
		vmlet_sandbox_destroy(sb);
	}
	teardown();
}

/* A service function that calls another sandbox, whose guest calls add1 on the same host. */
struct nest {
	struct vmlet_sandbox *inner;
	int err;
};

static int nest(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	struct nest *x = ctx;
	struct vmlet_value args[2] = {vmlet_str("add1"), a[0]}, rr = {0};

	(void)n;
	x->err = vmlet_sandbox_call(x->inner, "relay_u64", args, 2, &rr);
	r->u64 = rr.u64 + 1;
	return x->err;
}

/*
 * That inner host call must not go to the service thread that waits for
 * it (with one thread, the only one): that thread runs it itself.
 */
TEST(a_service_function_may_run_a_sandbox_that_calls_the_host_again)
{
	struct nest x = {0};
	struct vmlet_host_func fs[] = {FN("add1", VMLET_U64, add1, 0),
				       FN("nest", VMLET_U64, nest, 0)};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = fs, .nhost_funcs = 2};
	struct vmlet_image *im = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *outer = NULL;
	struct vmlet_value r;

	fs[1].ctx = &x;
	for (unsigned int nthreads = 1; im && nthreads <= 2; nthreads++) {
		ASSERT_OK(vmlet_host_create(nthreads, &cfg.host));
		outer = test_sandbox(im, &cfg);
		x.inner = test_sandbox(im, &cfg);
		if (!outer || !x.inner)
			return;
		for (uint64_t v = 0; v < 8; v++) {
			ASSERT_OK(relay(outer, "relay_u64", "nest", vmlet_u64(v), &r));
			EXPECT_EQ(x.err, 0);
			EXPECT_EQ(r.u64, v + 2);
		}
		vmlet_sandbox_destroy(x.inner);
		vmlet_sandbox_destroy(outer);
		vmlet_host_destroy(cfg.host);
	}
	vmlet_image_close(im);
}

TEST(added_functions_and_grants_last_until_restore)
{
	struct vmlet_host_func f = FN("late", VMLET_U64, add1, VMLET_HOST_INLINE);
	struct vmlet_config cfg;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_value args[2], r;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (setup())
		return;
	cfg = config();
	ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	ASSERT_OK(vmlet_sandbox_add_host_func(sb, &f));
	EXPECT_EQ(vmlet_sandbox_add_host_func(sb, &f), -EEXIST);
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 5, fd, VMLET_GRANT_READ, "/stat"));
	EXPECT_EQ(vmlet_sandbox_grant_fd(sb, 5, fd, VMLET_GRANT_READ, NULL), -EEXIST);
	EXPECT_EQ(vmlet_sandbox_grant_fd(sb, 2, fd, VMLET_GRANT_READ, NULL), -EINVAL);
	ASSERT_OK(relay(sb, "relay_u64", "late", vmlet_u64(1), &r));
	EXPECT_EQ(r.u64, 2);
	args[0] = vmlet_str("/stat");
	ASSERT_OK(vmlet_sandbox_call(sb, "open_", args, 1, &r));
	EXPECT_EQ(r.i32, 5);
	ASSERT_OK(vmlet_sandbox_restore(sb));
	args[0] = vmlet_str("late");
	args[1] = vmlet_u32(1);
	ASSERT_OK(vmlet_sandbox_call(sb, "try_call", args, 2, &r));
	EXPECT_EQ(r.i32, -ENOENT);
	args[0] = vmlet_str("/stat");
	ASSERT_OK(vmlet_sandbox_call(sb, "open_", args, 1, &r));
	EXPECT_EQ(r.i32, -ENOENT);
	/* The config's functions stay. */
	ASSERT_OK(relay(sb, "relay_u64", "add1", vmlet_u64(1), &r));
	EXPECT_EQ(r.u64, 2);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	close(fd);
	teardown();
}

TEST(granted_descriptors_and_hostile_buffers)
{
	char path[] = "/tmp/vmlet-hostcall-XXXXXX";
	static uint8_t data[48 * 1024];
	struct vmlet_value args[3], r;
	struct vmlet_sandbox *sb;
	uint64_t big, mem;
	int fd, wfd;

	if (setup())
		return;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	lseek(fd, 0, SEEK_SET);
	wfd = open(path, O_WRONLY | O_CLOEXEC);
	sb = sandbox();
	if (!sb)
		return;
	vmlet_sandbox_memory(sb, (size_t *)&mem);
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 3, fd, VMLET_GRANT_READ, path));
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 4, wfd, VMLET_GRANT_WRITE, NULL));
	ASSERT_OK(vmlet_sandbox_call(sb, "big_addr", NULL, 0, &r));
	big = r.u64;

	/* A file read end to end into guest memory, and back out. */
	args[0] = vmlet_i32(3);
	args[1] = vmlet_u64(sizeof(data) + 4096); /* more than the file has */
	args[2] = vmlet_u64(0);
	ASSERT_OK(vmlet_sandbox_call(sb, "pread_big", args, 3, &r));
	EXPECT_EQ(r.i64, sizeof(data));
	args[0] = vmlet_u32(sizeof(data));
	ASSERT_OK(vmlet_sandbox_call(sb, "big_bytes", args, 1, &r));
	ASSERT_EQ(r.buf.len, sizeof(data));
	EXPECT_TRUE(!memcmp(r.buf.ptr, data, sizeof(data)));

	/* read() follows the file position; zero length reads nothing. */
	args[0] = vmlet_i32(3);
	args[1] = vmlet_u64(big);
	args[2] = vmlet_u64(100);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, 100);
	args[2] = vmlet_u64(0);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, 0);

	/* Not granted, or granted the other way: -EBADF. */
	args[0] = vmlet_i32(7);
	args[2] = vmlet_u64(10);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, -EBADF);
	args[0] = vmlet_i32(4);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, -EBADF);
	args[0] = vmlet_i32(3);
	args[1] = vmlet_str("no");
	ASSERT_OK(vmlet_sandbox_call(sb, "write_str", args, 2, &r));
	EXPECT_EQ(r.i64, -EBADF);

	/* Outside guest memory, or wrapping around: -EFAULT. */
	args[0] = vmlet_i32(3);
	args[1] = vmlet_u64(mem - 8);
	args[2] = vmlet_u64(16);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, -EFAULT);
	args[1] = vmlet_u64(1ULL << 40);
	args[2] = vmlet_u64(1);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, -EFAULT);
	args[1] = vmlet_u64(big);
	args[2] = vmlet_u64(~0ULL - big + 2);
	ASSERT_OK(vmlet_sandbox_call(sb, "read_at", args, 3, &r));
	EXPECT_EQ(r.i64, -EFAULT);

	/* Writes land in the file. */
	args[0] = vmlet_i32(4);
	args[1] = vmlet_str("WRITTEN");
	args[2] = vmlet_u64(10);
	ASSERT_OK(vmlet_sandbox_call(sb, "pwrite_str", args, 3, &r));
	EXPECT_EQ(r.i64, 7);
	{
		char buf[8] = {0};

		ASSERT_EQ(pread(fd, buf, 7, 10), 7);
		EXPECT_STREQ(buf, "WRITTEN");
	}

	/* open() finds granted paths only. */
	args[0] = vmlet_str(path);
	ASSERT_OK(vmlet_sandbox_call(sb, "open_", args, 1, &r));
	EXPECT_EQ(r.i32, 3);
	args[0] = vmlet_str("/etc/passwd");
	ASSERT_OK(vmlet_sandbox_call(sb, "open_", args, 1, &r));
	EXPECT_EQ(r.i32, -ENOENT);

	/* sleep: an io_uring timeout. */
	args[0] = vmlet_u64(20 * 1000000);
	ASSERT_OK(vmlet_sandbox_call(sb, "nap", args, 1, &r));
	EXPECT_GE(r.i64, 19 * 1000000);

	vmlet_sandbox_destroy(sb);
	close(wfd);
	close(fd);
	unlink(path);
	teardown();
}

static int tracepoint_counter(const char *event)
{
	struct perf_event_attr attr = {.size = sizeof(attr), .type = PERF_TYPE_TRACEPOINT};
	char path[256];
	long id;
	FILE *f;

	mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/id", event);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &id) != 1)
		id = -1;
	fclose(f);
	if (id < 0)
		return -1;
	attr.config = (uint64_t)id;
	attr.disabled = 1;
	return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

TEST(one_host_call_costs_two_exits)
{
	int pfd = tracepoint_counter("kvm/kvm_userspace_exit");
	struct vmlet_sandbox *sb;
	struct vmlet_value r;
	uint64_t n = 0;
	int ok = 0;

	if (pfd < 0) {
		SKIP("kvm:kvm_userspace_exit is not available (not root, no tracefs)");
		return;
	}
	if (setup())
		return;
	sb = sandbox();
	for (int in = 0; sb && in < 2; in++) {
		const char *fn = in ? "add1_in" : "add1";

		ASSERT_OK(relay(sb, "relay_u64", fn, vmlet_u64(1), &r)); /* warm */
		ioctl(pfd, PERF_EVENT_IOC_RESET, 0);
		ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0);
		for (int i = 0; i < 100; i++) {
			r.u64 = 0;
			ok += relay(sb, "relay_u64", fn, vmlet_u64(i), &r) == 0 && r.u64 == i + 1ULL;
		}
		ioctl(pfd, PERF_EVENT_IOC_DISABLE, 0);
		EXPECT_EQ(ok, 100); /* 100 calls that each made their host call */
		ok = 0;
		ASSERT_EQ(read(pfd, &n, sizeof(n)), (ssize_t)sizeof(n));
		printf("# %s: %llu exits for 100 calls\n", fn, (unsigned long long)n);
		EXPECT_EQ(n, 200);
	}
	vmlet_sandbox_destroy(sb);
	close(pfd);
	teardown();
}

#define THREADS 8
#define PER_THREAD 16
#define CALLS 500

struct worker {
	int bad;
	int done;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct vmlet_sandbox *sbs[PER_THREAD] = {0};
	struct vmlet_config cfg = config();
	struct vmlet_value args[3], r;
	int n = 0;

	for (n = 0; n < PER_THREAD; n++)
		if (vmlet_sandbox_create(img, &cfg, &sbs[n]))
			break;
	if (n < PER_THREAD)
		w->bad++;
	/* Each sandbox makes CALLS host calls, each fed the last answer. */
	for (int i = 0; i < n; i++) {
		args[0] = vmlet_str("add1");
		args[1] = vmlet_u32(CALLS);
		args[2] = vmlet_u64((uint64_t)i << 32);
		if (vmlet_sandbox_call(sbs[i], "chain", args, 3, &r) ||
		    r.u64 != ((uint64_t)i << 32) + CALLS)
			w->bad++;
		else
			w->done++;
	}
	for (int i = 0; i < n; i++)
		vmlet_sandbox_destroy(sbs[i]);
	return NULL;
}

TEST(eight_threads_sixteen_sandboxes_500_calls_each)
{
	struct worker w[THREADS] = {0};
	pthread_t t[THREADS];
	int done = 0;

	if (setup())
		return;
	atomic_store(&invocations, 0);
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(w[i].bad, 0);
		done += w[i].done;
	}
	EXPECT_EQ(done, THREADS * PER_THREAD);
	/* Exactly one run per call: none lost, none twice. */
	EXPECT_EQ(atomic_load(&invocations), (unsigned long)THREADS * PER_THREAD * CALLS);
	teardown();
}

struct inflight {
	struct vmlet_sandbox *sb;
	atomic_int ok;
	int shut, other;
	atomic_bool finished;
};

static void *inflight_main(void *arg)
{
	struct inflight *f = arg;
	struct vmlet_value args[2], r;

	/*
	 * Until the shutdown refuses a call: a bounded number of calls could
	 * all be answered before the main thread shuts down (sandboxes made
	 * from the image's boot snapshot are ready at once).
	 */
	for (;;) {
		args[0] = vmlet_str("slow_add1");
		args[1] = vmlet_u64(7);
		if (vmlet_sandbox_call(f->sb, "relay_u64", args, 2, &r) == 0 && r.u64 == 8)
			atomic_fetch_add(&f->ok, 1);
		else if (vmlet_sandbox_fault(f->sb)->code == ESHUTDOWN)
			f->shut++;
		else
			f->other++;
		if (f->shut || f->other)
			break;
	}
	atomic_store(&f->finished, true);
	return NULL;
}

TEST(shutdown_with_calls_in_flight_completes_or_fails_each)
{
	struct inflight f[4] = {0};
	pthread_t t[4];
	struct vmlet_config cfg;
	int answered;

	if (setup())
		return;
	cfg = config();
	for (int i = 0; i < 4; i++) {
		ASSERT_OK(vmlet_sandbox_create(img, &cfg, &f[i].sb));
		ASSERT_EQ(pthread_create(&t[i], NULL, inflight_main, &f[i]), 0);
	}
	/* Shut down once every thread has had a host call answered. */
	for (int i = 0; i < 4; i++)
		while (!atomic_load(&f[i].ok) && !atomic_load(&f[i].finished))
			sched_yield();
	vmlet_host_destroy(host); /* waits for the calls in flight */
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		answered = atomic_load(&f[i].ok);
		printf("# thread %d: %d answered, %d refused after shutdown\n", i, answered,
		       f[i].shut);
		EXPECT_GE(answered, 1);
		EXPECT_EQ(f[i].shut, 1);
		EXPECT_EQ(f[i].other, 0);
		vmlet_sandbox_destroy(f[i].sb);
	}
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
