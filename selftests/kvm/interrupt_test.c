// SPDX-License-Identifier: BSD-2-Clause
/*
 * Stopping guests that do not stop: vmlet_sandbox_interrupt() from
 * another thread and from a host function, and deadlines (the config's
 * timeout_us, vmlet_sandbox_set_timeout()) on endless loops, on guest
 * sleeps and blocked reads, and on a boot that never reaches its ready
 * point. Each ends in its own error with the sandbox dead until restored;
 * a pooled one goes back to its pool clean; later calls are not hit by
 * a signal meant for an earlier one.
 *
 * Times are asserted only where they cannot be noise: a deadline never
 * fires early, and a 60 s guest sleep cut at 100 ms ends long before 60 s.
 * Where a config's deadline also bounds a boot, a slow boot doubles the
 * deadline instead of failing the test (with_boot_room()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <vmlet.h>

#include "util.h"

#define MS 1000ULL /* in timeout_us units */

static int turns(struct vmlet_sandbox *sb, uint64_t n, uint64_t *out)
{
	struct vmlet_value a = vmlet_u64(n), r;
	int err = vmlet_sandbox_call(sb, "turns", &a, 1, &r);

	*out = err ? 0 : r.u64;
	return err;
}

/*
 * A config's deadline bounds the boot as well as each call. Where a test
 * asserts the config's deadline on a call, a boot slower than it is not
 * what the test is about: make(cfg) is retried with the deadline doubled
 * until a boot fits (up to 64 s), and the test asserts the deadline it
 * got. So a slow machine costs time, never a false failure.
 */
#define BOOT_DEADLINE_CAP (64000 * MS)

static int with_boot_room(struct vmlet_config *cfg, int (*make)(struct vmlet_config *, void *),
			  void *out)
{
	int err;

	while ((err = make(cfg, out)) == -VMLET_ETIMEDOUT && cfg->timeout_us < BOOT_DEADLINE_CAP) {
		printf("# the boot took longer than the %llu us deadline: doubling it\n",
		       (unsigned long long)cfg->timeout_us);
		cfg->timeout_us *= 2;
	}
	if (err)
		ksft_fail_at("creating with a %llu us deadline: %d (%s)",
			     (unsigned long long)cfg->timeout_us, err, vmlet_strerror(err));
	return err;
}

static struct vmlet_image *boot_img;
static struct vmlet_pool_config *boot_pc;

static int make_sandbox(struct vmlet_config *cfg, void *out)
{
	return vmlet_sandbox_create(boot_img, cfg, out);
}

static int make_snapshot(struct vmlet_config *cfg, void *out)
{
	return vmlet_snapshot_create(boot_img, cfg, out);
}

static int make_pool(struct vmlet_config *cfg, void *out)
{
	return vmlet_pool_create(boot_img, cfg, boot_pc, out);
}

/* "deadline of N us passed" is in the fault's message. */
static void expect_deadline_message(struct vmlet_sandbox *sb, uint64_t us)
{
	char want[64];

	snprintf(want, sizeof(want), "deadline of %llu us passed", (unsigned long long)us);
	if (!strstr(vmlet_sandbox_fault(sb)->message, want))
		ksft_fail_at("fault message \"%s\" lacks \"%s\"", vmlet_sandbox_fault(sb)->message,
			     want);
}

struct spinner {
	struct vmlet_sandbox *sb;
	int err;
};

static void *spin_main(void *arg)
{
	struct spinner *s = arg;

	s->err = vmlet_sandbox_call(s->sb, "spin", NULL, 0, NULL);
	return NULL;
}

TEST(interrupt_ends_an_endless_call_from_another_thread)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL), *sb2;
	struct spinner s = {.sb = sb};
	pthread_t t;
	uint64_t v;
	int err, tries = 0;

	ASSERT_TRUE(sb);
	ASSERT_EQ(pthread_create(&t, NULL, spin_main, &s), 0);
	/* -ESRCH until the call is under way. */
	while ((err = vmlet_sandbox_interrupt(sb)) == -ESRCH && tries++ < 30000)
		usleep(1000);
	EXPECT_EQ(err, 0);
	pthread_join(t, NULL);
	ASSERT_EQ(s.err, -VMLET_EINTR);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->error, -VMLET_EINTR);
	EXPECT_TRUE(strstr(vmlet_sandbox_fault(sb)->message, "interrupted at rip"));
	EXPECT_EQ(turns(sb, 3, &v), -VMLET_EDEAD);
	vmlet_sandbox_destroy(sb);

	sb2 = test_sandbox(img, NULL);
	ASSERT_TRUE(sb2);
	ASSERT_OK(turns(sb2, 5, &v));
	EXPECT_EQ(v, 5);
	vmlet_sandbox_destroy(sb2);
	vmlet_image_close(img);
}

static void *interrupt_main(void *arg)
{
	struct spinner *s = arg;
	int tries = 0;

	/* -ESRCH until the call is under way. */
	while ((s->err = vmlet_sandbox_interrupt(s->sb)) == -ESRCH && tries++ < 30000)
		usleep(1000);
	return NULL;
}

/*
 * In a forked child, whose one thread has another tid and no timer of its
 * parent's: deadlines and interrupts of its own sandboxes' calls work.
 * The parent's thread used both first. Exit codes say what failed.
 */
static int forked_child(struct vmlet_image *img)
{
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct spinner s = {.sb = sb};
	pthread_t t;
	int err;

	if (!sb)
		return 10;
	if (vmlet_sandbox_set_timeout(sb, 50 * MS))
		return 11;
	err = vmlet_sandbox_call(sb, "spin", NULL, 0, NULL);
	if (err != -VMLET_ETIMEDOUT) {
		printf("# child: deadline: %s\n", vmlet_strerror(err));
		return 12;
	}
	/* A deadline far off, so that a lost interrupt cannot hang the test. */
	vmlet_sandbox_destroy(sb);
	s.sb = sb = test_sandbox(img, NULL);
	if (!sb || vmlet_sandbox_set_timeout(sb, 60000 * MS) ||
	    pthread_create(&t, NULL, interrupt_main, &s))
		return 13;
	err = vmlet_sandbox_call(sb, "spin", NULL, 0, NULL);
	pthread_join(t, NULL);
	if (err != -VMLET_EINTR || s.err) {
		printf("# child: interrupt: %s, call: %s\n", vmlet_strerror(s.err),
		       vmlet_strerror(err));
		return 14;
	}
	vmlet_sandbox_destroy(sb);
	return 0;
}

TEST(a_forked_child_has_deadlines_and_interrupts_of_its_own)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 500 * MS};
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = NULL;
	int status = 0;
	uint64_t v;
	pid_t pid;

	ASSERT_TRUE(img);
	boot_img = img;
	ASSERT_OK(with_boot_room(&cfg, make_sandbox, &sb));
	ASSERT_OK(turns(sb, 3, &v));
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(forked_child(img));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/*
 * A signal the thread blocks after its mask was read (on its first call)
 * and that is pending: KVM_RUN, with the old mask, lets it in and returns
 * -EINTR, and the signal stays pending. The run reads the mask again
 * instead of trying for ever.
 */
TEST(a_signal_blocked_after_the_first_call_stays_pending)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct timespec zero = {0};
	sigset_t usr1, old;
	uint64_t v;

	ASSERT_TRUE(sb);
	ASSERT_OK(turns(sb, 3, &v));
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
	ASSERT_EQ(raise(SIGUSR1), 0);
	ASSERT_OK(turns(sb, 1000, &v));
	EXPECT_EQ(v, 1000);
	/* Still pending, for the thread to take. */
	EXPECT_EQ(sigtimedwait(&usr1, NULL, &zero), SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(interrupt_without_a_call_is_esrch_and_stays_harmless)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	uint64_t v;

	ASSERT_TRUE(sb);
	EXPECT_EQ(vmlet_sandbox_interrupt(sb), -ESRCH);
	EXPECT_EQ(vmlet_sandbox_interrupt(NULL), -EINVAL);
	for (int i = 0; i < 100; i++) {
		ASSERT_OK(turns(sb, 10, &v));
		ASSERT_EQ(v, 10);
	}
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(interrupt_from_a_host_function_ends_the_call_that_made_it)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_snapshot *snap;
	struct vmlet_sandbox *sb;
	struct vmlet_host_func fn = {
		.name = "stop", .ret = VMLET_VOID, .fn = test_interrupt, .flags = VMLET_HOST_INLINE,
	};
	struct vmlet_value r;
	uint64_t v;

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_snapshot_create(img, NULL, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	fn.ctx = sb;
	ASSERT_OK(vmlet_sandbox_add_host_func(sb, &fn));
	/* The host call itself succeeds; the guest never gets to return 7. */
	EXPECT_EQ(vmlet_sandbox_call(sb, "ask", NULL, 0, &r), -VMLET_EINTR);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->error, -VMLET_EINTR);
	/* Restored, it works, and the kick is spent. */
	ASSERT_OK(vmlet_sandbox_restore(sb));
	for (int i = 0; i < 50; i++) {
		ASSERT_OK(turns(sb, 4, &v));
		ASSERT_EQ(v, 4);
	}
	/* The restore dropped the host function: now the guest gets -ENOENT. */
	ASSERT_OK(vmlet_sandbox_call(sb, "ask", NULL, 0, &r));
	EXPECT_EQ(r.i32, -ENOENT);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

TEST(deadline_ends_an_endless_call)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 500 * MS};
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = NULL;
	uint64_t t;

	ASSERT_TRUE(img);
	boot_img = img;
	ASSERT_OK(with_boot_room(&cfg, make_sandbox, &sb));
	t = now_ms();
	EXPECT_EQ(vmlet_sandbox_call(sb, "spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	EXPECT_GE(now_ms() - t, cfg.timeout_us / MS); /* never early */
	EXPECT_EQ(vmlet_sandbox_fault(sb)->error, -VMLET_ETIMEDOUT);
	expect_deadline_message(sb, cfg.timeout_us);
	EXPECT_EQ(vmlet_sandbox_call(sb, "spin", NULL, 0, NULL), -VMLET_EDEAD);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/*
 * A deadline that has passed before the run's first instruction still
 * ends it: one of 1 us (its timer fires while the run is being set up),
 * and an outer run's, passed in the inline host function that runs this
 * one. A signal that came before the run bound its kvm_run must not be
 * lost (the test's alarm catches a run that goes on for ever).
 */
struct past_deadline {
	struct vmlet_sandbox *outer, *inner;
	uint64_t outer_ms;
	int inner_err;
};

static int run_inner_late(void *ctx, const struct vmlet_value *a, unsigned int n,
			  struct vmlet_value *r)
{
	struct past_deadline *p = ctx;
	uint64_t t = now_ms();

	(void)a, (void)n, (void)r;
	while (now_ms() - t <= p->outer_ms) /* past the outer call's deadline */
		;
	p->inner_err = vmlet_sandbox_call(p->inner, "spin", NULL, 0, NULL);
	return 0;
}

TEST(deadlines_already_past_at_the_first_instruction_end_the_run)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct past_deadline p = {.outer_ms = 20, .inner_err = 1};
	struct vmlet_host_func fn = {.name = "stop", .ret = VMLET_VOID, .fn = run_inner_late,
				     .ctx = &p, .flags = VMLET_HOST_INLINE};
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_value r;

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_snapshot_create(img, NULL, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &p.outer));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &p.inner));
	for (int i = 0; i < 50; i++) {
		ASSERT_OK(vmlet_sandbox_set_timeout(p.inner, 1));
		EXPECT_EQ(vmlet_sandbox_call(p.inner, "spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
		ASSERT_OK(vmlet_sandbox_restore(p.inner));
	}
	/* The inner run has no deadline of its own: the outer one's bounds it. */
	ASSERT_OK(vmlet_sandbox_add_host_func(p.outer, &fn));
	ASSERT_OK(vmlet_sandbox_set_timeout(p.outer, p.outer_ms * MS));
	EXPECT_EQ(vmlet_sandbox_call(p.outer, "ask", NULL, 0, &r), -VMLET_ETIMEDOUT);
	EXPECT_EQ(p.inner_err, -VMLET_ETIMEDOUT);
	vmlet_sandbox_destroy(p.inner);
	vmlet_sandbox_destroy(p.outer);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

TEST(deadline_spares_calls_that_finish)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 10000 * MS};
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, &cfg), *bad = NULL;
	uint64_t v;

	ASSERT_TRUE(sb);
	for (int i = 0; i < 200; i++) {
		ASSERT_OK(turns(sb, 100, &v));
		ASSERT_EQ(v, 100);
	}
	EXPECT_EQ(vmlet_sandbox_set_timeout(sb, UINT64_MAX), -EINVAL);
	EXPECT_EQ(vmlet_sandbox_set_timeout(NULL, 1), -EINVAL);
	cfg.timeout_us = UINT64_MAX;
	bad = UNTOUCHED;
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &bad), -EINVAL);
	EXPECT_TRUE(bad == UNTOUCHED);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(set_timeout_lasts_until_restore)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 500 * MS};
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb;

	ASSERT_TRUE(img);
	boot_img = img;
	ASSERT_OK(with_boot_room(&cfg, make_snapshot, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	ASSERT_OK(vmlet_sandbox_set_timeout(sb, 20 * MS));
	EXPECT_EQ(vmlet_sandbox_call(sb, "spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	expect_deadline_message(sb, 20 * MS);
	ASSERT_OK(vmlet_sandbox_restore(sb));
	EXPECT_EQ(vmlet_sandbox_call(sb, "spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	expect_deadline_message(sb, cfg.timeout_us);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

TEST(deadline_cuts_a_guest_sleep_short)
{
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct vmlet_value a = vmlet_u64(60000000000ULL), r;
	uint64_t t;

	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_set_timeout(sb, 100 * MS));
	t = now_ms();
	EXPECT_EQ(vmlet_sandbox_call(sb, "nap", &a, 1, &r), -VMLET_ETIMEDOUT);
	t = now_ms() - t;
	EXPECT_GE(t, 100);
	EXPECT_LT(t, 30000); /* the 60 s sleep did not run out */
	EXPECT_EQ(vmlet_sandbox_fault(sb)->error, -VMLET_ETIMEDOUT);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(deadline_cuts_a_blocked_read_short)
{
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct vmlet_value a[3], r;
	uint64_t t;
	int p[2];

	ASSERT_TRUE(sb);
	ASSERT_EQ(pipe(p), 0);
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 3, p[0], VMLET_GRANT_READ, NULL));
	ASSERT_OK(vmlet_sandbox_call(sb, "big_addr", NULL, 0, &r));
	a[0] = vmlet_i32(3);
	a[1] = vmlet_u64(r.u64);
	a[2] = vmlet_u64(16);
	ASSERT_OK(vmlet_sandbox_set_timeout(sb, 100 * MS));
	t = now_ms();
	/* Nothing is ever written to the pipe: the read waits for ever. */
	EXPECT_EQ(vmlet_sandbox_call(sb, "read_at", a, 3, &r), -VMLET_ETIMEDOUT);
	EXPECT_LT(now_ms() - t, 30000);
	/*
	 * The read was cancelled: what is written now stays in the pipe (a
	 * read left pending would take it, and ours fail with EAGAIN).
	 */
	ASSERT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_EQ(read(p[0], &r, 1), 1);
	close(p[0]);
	close(p[1]);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(boot_that_never_gets_ready_times_out)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 100 * MS};
	struct vmlet_image *img = test_image(GUEST("noready"));
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_snapshot *snap = NULL;
	int fds = -1;

	ASSERT_TRUE(img);
	/* The first round opens what the library keeps open (/dev/kvm, pagemap). */
	for (int i = 0; i < 3; i++) {
		sb = UNTOUCHED;
		snap = UNTOUCHED;
		EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -VMLET_ETIMEDOUT);
		EXPECT_EQ(vmlet_snapshot_create(img, &cfg, &snap), -VMLET_ETIMEDOUT);
		EXPECT_TRUE(sb == UNTOUCHED && snap == UNTOUCHED);
		if (i)
			EXPECT_EQ(count_fds(), fds);
		fds = count_fds();
	}
	vmlet_image_close(img);
}

TEST(pooled_call_past_its_deadline_leaves_the_pool_whole)
{
	/* The deadline bounds the pool's boot too (its one sandbox is restored, not remade). */
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 1000 * MS};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 1, .timeout_ms = -1};
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_value a = vmlet_u64(3), r;
	struct vmlet_pool_stats st;
	struct vmlet_pool *pool = NULL;

	ASSERT_TRUE(img);
	boot_img = img;
	boot_pc = &pc;
	ASSERT_OK(with_boot_room(&cfg, make_pool, &pool));
	EXPECT_EQ(vmlet_pool_call(pool, "spin", NULL, 0, NULL, NULL, 0), -VMLET_ETIMEDOUT);
	ASSERT_OK(vmlet_pool_call(pool, "turns", &a, 1, &r, NULL, 0));
	EXPECT_EQ(r.u64, 3);
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.live, 1);
	EXPECT_EQ(st.idle, 1);
	EXPECT_EQ(st.created, 1);
	EXPECT_EQ(st.restored, 2);
	EXPECT_EQ(st.discarded, 0);
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

static void other_handler(int sig)
{
	(void)sig;
}

TEST(a_taken_signal_is_ebusy_not_stolen)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 100 * MS};
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct sigaction sa;
	struct vmlet_sandbox *sb;

	ASSERT_TRUE(img);
	signal(SIGRTMAX - 2, other_handler);
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -EBUSY);
	ASSERT_EQ(sigaction(SIGRTMAX - 2, NULL, &sa), 0);
	EXPECT_TRUE(sa.sa_handler == other_handler);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
