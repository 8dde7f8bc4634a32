// SPDX-License-Identifier: BSD-2-Clause
/*
 * The kick (lib/kick.c, lib/vm.c) where the embedder makes it hard: a
 * thread that blocks the kick signal still gets its deadline and its
 * interrupt; a kick that lands after a call does not fail the
 * embedder's own system calls; a run nested in another (an inline host
 * function that calls a sandbox) keeps the outer run's deadline and
 * kicks, and a sandbox cannot be run from inside itself. And the
 * io_uring waits (lib/ring.c, lib/service.c) when io_uring_enter(2)
 * fails for good, made to with a seccomp filter: a guest read still in
 * flight is never given back to the guest or reused, and a service that
 * cannot be told to stop is left running rather than joined for ever.
 *
 * Nothing here waits on time: a test that hangs fails by its time limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

#define MS   1000ULL /* in timeout_us units */
#define KICK (SIGRTMAX - 2)

/* Run fn(arg) on a new thread that blocks every signal it can, and wait for it. */
static int on_blocking_thread(void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	pthread_t t;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		err = pthread_join(t, NULL);
	return err;
}

struct job {
	struct vmlet_sandbox *sb;
	const char *func;
	struct vmlet_value arg;
	unsigned int nargs;
	int err;
	int kick_pending; /* after the call, in the thread's pending set */
	int mask_kept;	  /* the thread's mask is what it was */
};

/*
 * Whether two masks block the same signals. Not memcmp(): the kernel has
 * 64 of glibc's 1024 bits, and what lies past them is not a mask (ASan's
 * interceptor leaves a pointer there).
 */
static int same_signals(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return 0;
	return 1;
}

static void *call_main(void *arg)
{
	struct job *j = arg;
	struct vmlet_value r;
	sigset_t before, after, pending;

	pthread_sigmask(SIG_BLOCK, NULL, &before);
	j->err = vmlet_sandbox_call(j->sb, j->func, &j->arg, j->nargs, &r);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	sigpending(&pending);
	j->kick_pending = sigismember(&pending, KICK);
	j->mask_kept = same_signals(&before, &after);
	return NULL;
}

TEST(deadline_ends_a_call_on_a_thread_that_blocks_the_kick)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct job j = {.sb = sb, .func = "spin"};
	uint64_t t;

	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_set_timeout(sb, 100 * MS));
	t = now_ms();
	ASSERT_OK(on_blocking_thread(call_main, &j));
	EXPECT_EQ(j.err, -VMLET_ETIMEDOUT);
	EXPECT_GE(now_ms() - t, 100);
	/* The kick was taken, not left to end the thread's next KVM_RUN. */
	EXPECT_EQ(j.kick_pending, 0);
	EXPECT_EQ(j.mask_kept, 1);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(interrupt_ends_a_call_on_a_thread_that_blocks_the_kick)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct job j = {.sb = sb, .func = "spin"};
	sigset_t all, old;
	pthread_t t;
	int err;

	ASSERT_TRUE(sb);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, NULL, call_main, &j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ASSERT_EQ(err, 0);
	/* -ESRCH until the call is under way. */
	while ((err = vmlet_sandbox_interrupt(sb)) == -ESRCH)
		sched_yield();
	EXPECT_EQ(err, 0);
	pthread_join(t, NULL);
	EXPECT_EQ(j.err, -VMLET_EINTR);
	EXPECT_EQ(j.kick_pending, 0);
	EXPECT_EQ(j.mask_kept, 1);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(deadline_cuts_a_guest_sleep_on_a_thread_that_blocks_the_kick)
{
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct job j = {.sb = sb, .func = "nap", .arg = vmlet_u64(60000000000ULL), .nargs = 1};

	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_set_timeout(sb, 100 * MS));
	ASSERT_OK(on_blocking_thread(call_main, &j));
	/* Not the 60 s sleep's end: the wait took the kick. */
	EXPECT_EQ(j.err, -VMLET_ETIMEDOUT);
	EXPECT_EQ(j.kick_pending, 0);
	EXPECT_EQ(j.mask_kept, 1);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

struct reader {
	int fd;
	pid_t tid;
	ssize_t n;
	int err;
};

static void *read_main(void *arg)
{
	struct reader *r = arg;
	char c;

	__atomic_store_n(&r->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	r->n = read(r->fd, &c, 1);
	r->err = r->n < 0 ? errno : 0;
	return NULL;
}

/* The first field of /proc/self/task/TID/syscall: the call it is in, or -1. */
static long in_syscall(pid_t tid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	return nr;
}

/* Whether sig is pending for thread tid (its SigPnd line). */
static int pending_for(pid_t tid, int sig)
{
	char path[64], line[128];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigPnd: %llx", &mask) == 1)
			break;
	fclose(f);
	return !!(mask & (1ULL << (sig - 1)));
}

TEST(late_kick_does_not_fail_the_embedders_read)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL); /* installs the handler */
	struct reader r = {0};
	pthread_t t;
	int p[2];

	ASSERT_TRUE(sb);
	ASSERT_EQ(pipe(p), 0);
	r.fd = p[0];
	ASSERT_EQ(pthread_create(&t, NULL, read_main, &r), 0);
	while (!__atomic_load_n(&r.tid, __ATOMIC_ACQUIRE) || in_syscall(r.tid) != SYS_read)
		sched_yield();
	/* A kick meant for a call that has ended, as a late deadline sends it. */
	ASSERT_EQ(syscall(SYS_tgkill, getpid(), r.tid, KICK), 0);
	/* Taken: the handler ran, and read(2) was restarted or failed by now. */
	while (pending_for(r.tid, KICK) == 1)
		sched_yield();
	ASSERT_EQ(write(p[1], "x", 1), 1);
	pthread_join(t, NULL);
	EXPECT_EQ(r.err, 0);
	EXPECT_EQ(r.n, 1);
	close(p[0]);
	close(p[1]);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* The inline host function "stop" (for interrupt_guest's ask, ask_spin): runs inner's func. */
struct nest {
	struct vmlet_sandbox *outer, *inner;
	const char *func;
	uint64_t n;
	int err;
	uint64_t ret;
	volatile int entered;
};

static int nest_fn(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	struct nest *x = ctx;
	struct vmlet_value arg = vmlet_u64(x->n), ret = {0};

	(void)a;
	(void)n;
	(void)r;
	__atomic_store_n(&x->entered, 1, __ATOMIC_RELEASE);
	x->err = vmlet_sandbox_call(x->inner, x->func, &arg, x->n ? 1 : 0, &ret);
	x->ret = ret.u64;
	return 0;
}

static struct vmlet_host_func nest_func(struct nest *x)
{
	return (struct vmlet_host_func){
		.name = "stop",
		.ret = VMLET_VOID,
		.fn = nest_fn,
		.ctx = x,
		.flags = VMLET_HOST_INLINE,
	};
}

TEST(nested_run_keeps_the_outer_deadline)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *outer = test_sandbox(img, NULL);
	struct vmlet_sandbox *inner = test_sandbox(img, NULL);
	struct nest x = {.inner = inner, .func = "turns", .n = 10};
	struct vmlet_host_func fn = nest_func(&x);

	ASSERT_TRUE(outer && inner);
	ASSERT_OK(vmlet_sandbox_add_host_func(outer, &fn));
	ASSERT_OK(vmlet_sandbox_set_timeout(outer, 200 * MS));
	/* A later deadline of its own, which the thread's one timer must not keep. */
	ASSERT_OK(vmlet_sandbox_set_timeout(inner, 600000 * MS));
	/* The inner call ends at once; then the outer spins. */
	EXPECT_EQ(vmlet_sandbox_call(outer, "ask_spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	EXPECT_EQ(x.err, 0);
	EXPECT_EQ(x.ret, 10);
	vmlet_sandbox_destroy(inner);
	vmlet_sandbox_destroy(outer);
	vmlet_image_close(img);
}

TEST(nested_run_ends_at_the_outer_deadline)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *outer = test_sandbox(img, NULL);
	struct vmlet_sandbox *inner = test_sandbox(img, NULL);
	struct nest x = {.inner = inner, .func = "spin"};
	struct vmlet_host_func fn = nest_func(&x);

	ASSERT_TRUE(outer && inner);
	ASSERT_OK(vmlet_sandbox_add_host_func(outer, &fn));
	ASSERT_OK(vmlet_sandbox_set_timeout(outer, 200 * MS));
	EXPECT_EQ(vmlet_sandbox_call(outer, "ask_spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	EXPECT_EQ(x.err, -VMLET_ETIMEDOUT);
	vmlet_sandbox_destroy(inner);
	vmlet_sandbox_destroy(outer);
	vmlet_image_close(img);
}

static void *interrupt_when_nested(void *arg)
{
	struct nest *x = arg;
	int err;

	while (!__atomic_load_n(&x->entered, __ATOMIC_ACQUIRE))
		sched_yield();
	err = vmlet_sandbox_interrupt(x->outer);
	return (void *)(intptr_t)err;
}

TEST(interrupting_the_outer_run_ends_the_nested_one)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *outer = test_sandbox(img, NULL);
	struct vmlet_sandbox *inner = test_sandbox(img, NULL);
	struct nest x = {.outer = outer, .inner = inner, .func = "spin"};
	struct vmlet_host_func fn = nest_func(&x);
	void *ret;
	pthread_t t;

	ASSERT_TRUE(outer && inner);
	ASSERT_OK(vmlet_sandbox_add_host_func(outer, &fn));
	ASSERT_EQ(pthread_create(&t, NULL, interrupt_when_nested, &x), 0);
	EXPECT_EQ(vmlet_sandbox_call(outer, "ask_spin", NULL, 0, NULL), -VMLET_EINTR);
	pthread_join(t, &ret);
	EXPECT_EQ((intptr_t)ret, 0);
	EXPECT_EQ(x.err, -VMLET_EINTR);
	vmlet_sandbox_destroy(inner);
	vmlet_sandbox_destroy(outer);
	vmlet_image_close(img);
}

TEST(a_host_function_cannot_run_its_own_sandbox)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct nest x = {.func = "turns", .n = 3};
	struct vmlet_host_func fn = nest_func(&x);
	struct vmlet_value five = vmlet_u64(5), r;

	ASSERT_TRUE(sb);
	x.inner = sb;
	ASSERT_OK(vmlet_sandbox_add_host_func(sb, &fn));
	ASSERT_OK(vmlet_sandbox_call(sb, "ask", NULL, 0, &r));
	EXPECT_EQ(r.i32, 7);
	EXPECT_EQ(x.err, -EBUSY);
	/* Refused before it touched anything: the sandbox still works. */
	x.inner = NULL;
	ASSERT_OK(vmlet_sandbox_call(sb, "turns", &five, 1, &r));
	EXPECT_EQ(r.u64, 5);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* From now on io_uring_enter(2) fails with EBADF on this thread: when it waits only, or always. */
static int break_io_uring_enter(bool waits_only)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int err;

	if (!ctx)
		return -ENOMEM;
	if (waits_only)
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EBADF), SCMP_SYS(io_uring_enter), 1,
				       SCMP_A1(SCMP_CMP_EQ, 0));
	else
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EBADF), SCMP_SYS(io_uring_enter), 0);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

TEST(guest_read_whose_wait_fails_is_never_reused)
{
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_snapshot *snap;
	struct vmlet_sandbox *sb;
	struct vmlet_value a[3], r;
	int p[2];

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_snapshot_create(img, NULL, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	ASSERT_EQ(pipe(p), 0);
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 3, p[0], VMLET_GRANT_READ, NULL));
	ASSERT_OK(vmlet_sandbox_call(sb, "big_addr", NULL, 0, &r));
	a[0] = vmlet_i32(3);
	a[1] = vmlet_u64(r.u64);
	a[2] = vmlet_u64(16);
	/* The read is submitted; waiting for it fails for good. */
	ASSERT_OK(break_io_uring_enter(true));
	EXPECT_EQ(vmlet_sandbox_call(sb, "read_at", a, 3, &r), -EIO);
	/* Still in flight: the guest never saw a result, and its memory is never reused. */
	EXPECT_EQ(vmlet_sandbox_call(sb, "nothing", NULL, 0, &r), -VMLET_EDEAD);
	EXPECT_EQ(vmlet_sandbox_restore(sb), -EIO);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	close(p[0]);
	close(p[1]);
	vmlet_image_close(img);
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

TEST(host_destroy_that_cannot_stop_its_threads_returns)
{
	struct vmlet_host *h;
	int before;

	ASSERT_OK(vmlet_host_create(2, &h));
	before = count_threads();
	ASSERT_EQ(before, 3);
	ASSERT_OK(break_io_uring_enter(false));
	/* The stop messages cannot be sent: destroy returns, the threads live on. */
	vmlet_host_destroy(h);
	EXPECT_EQ(count_threads(), before);
}

int main(void)
{
	return ksft_run();
}
