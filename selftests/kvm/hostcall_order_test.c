// SPDX-License-Identifier: BSD-2-Clause
/*
 * The host-call service answers in arrival order, and a sandbox has at
 * most one host call in flight: checked exactly, not statistically. One
 * service thread is held in a host function (the gate) while other
 * sandboxes make their host calls one after another; each is let go only
 * once the previous one's thread sleeps waiting for its answer, which it
 * does right after its request reached the service (lib/hostcall.c
 * submits the request and waits in one io_uring_enter()). Then the gate
 * opens: the service must run the queued calls in exactly that order,
 * one per sandbox, and no sandbox gets a second call in before every
 * queued one was answered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

#define QUEUED 4  /* sandboxes queued behind the gate */
#define CHAIN  20 /* host calls each of them makes */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t opened = PTHREAD_COND_INITIALIZER;
static bool open_;
static atomic_bool in_gate;

static int served[QUEUED * CHAIN]; /* which sandbox each "record" call was for */
static atomic_uint nserved;

/* Hold the (only) service thread until the test opens the gate. */
static int gate(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	atomic_store(&in_gate, true);
	pthread_mutex_lock(&lock);
	while (!open_)
		pthread_cond_wait(&opened, &lock);
	pthread_mutex_unlock(&lock);
	r->u64 = a[0].u64 + 1;
	return 0;
}

/* ctx: the sandbox's number. */
static int record(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	unsigned int i = atomic_fetch_add(&nserved, 1);

	(void)n;
	if (i < QUEUED * CHAIN)
		served[i] = (int)(intptr_t)ctx;
	r->u64 = a[0].u64 + 1;
	return 0;
}

struct caller {
	struct vmlet_sandbox *sb;
	const char *fn;
	atomic_int tid;
	int err;
	uint64_t v;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	struct vmlet_value args[3] = {vmlet_str(c->fn), vmlet_u32(c->fn[0] == 'g' ? 1 : CHAIN),
				      vmlet_u64(0)},
			   r = {0};

	atomic_store(&c->tid, (int)gettid());
	c->err = vmlet_sandbox_call(c->sb, "chain", args, 3, &r);
	c->v = r.u64;
	return NULL;
}

/*
 * Whether thread tid sleeps in io_uring_enter(): the syscall file of a
 * thread blocked in a system call starts with its number ("running"
 * otherwise).
 */
static bool waits_in_io_uring(int tid)
{
	char path[64], buf[128];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr == SYS_io_uring_enter;
}

TEST(queued_host_calls_are_answered_in_arrival_order_one_per_sandbox)
{
	struct vmlet_host_func funcs[QUEUED + 1][2];
	struct vmlet_config cfg[QUEUED + 1];
	struct caller c[QUEUED + 1] = {0};
	pthread_t t[QUEUED + 1];
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_host *host;
	unsigned int started = 0;
	int bad = 0;

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_host_create(1, &host));
	for (int i = 0; i <= QUEUED; i++) {
		funcs[i][0] = (struct vmlet_host_func){
			.name = "gate", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64},
			.fn = gate};
		funcs[i][1] = (struct vmlet_host_func){
			.name = "record", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64},
			.fn = record, .ctx = (void *)(intptr_t)i};
		cfg[i] = (struct vmlet_config){
			.sz = sizeof(cfg[i]), .host_funcs = funcs[i], .nhost_funcs = 2, .host = host};
		c[i].sb = test_sandbox(img, &cfg[i]);
		c[i].fn = i ? "record" : "gate";
		ASSERT_TRUE(c[i].sb);
	}

	/* Sandbox 0 holds the one service thread in the gate. */
	ASSERT_EQ(pthread_create(&t[0], NULL, caller_main, &c[0]), 0);
	started++;
	while (!atomic_load(&in_gate))
		sched_yield();
	/* Sandboxes 1..QUEUED queue up behind it, one after another. */
	for (int i = 1; i <= QUEUED; i++) {
		if (pthread_create(&t[i], NULL, caller_main, &c[i])) {
			ksft_fail_at("pthread_create failed");
			break;
		}
		started++;
		while (!atomic_load(&c[i].tid))
			sched_yield();
		while (!waits_in_io_uring(atomic_load(&c[i].tid)))
			sched_yield();
	}
	/* Nothing behind the gate has run. */
	EXPECT_EQ(atomic_load(&nserved), 0);

	pthread_mutex_lock(&lock);
	open_ = true;
	pthread_cond_broadcast(&opened);
	pthread_mutex_unlock(&lock);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(t[i], NULL);

	EXPECT_EQ(c[0].err, 0);
	EXPECT_EQ(c[0].v, 1);
	for (int i = 1; i <= QUEUED; i++) {
		EXPECT_EQ(c[i].err, 0);
		EXPECT_EQ(c[i].v, CHAIN);
	}
	ASSERT_EQ(atomic_load(&nserved), QUEUED * CHAIN);
	printf("# served first:");
	for (int i = 0; i < QUEUED; i++)
		printf(" %d", served[i]);
	printf("\n");
	/* The queued calls, in the order they arrived. */
	for (int i = 0; i < QUEUED; i++)
		EXPECT_EQ(served[i], i + 1);
	/* Every sandbox made exactly CHAIN calls, each after its last was answered. */
	for (int s = 1; s <= QUEUED; s++) {
		int n = 0;

		for (int i = 0; i < QUEUED * CHAIN; i++)
			n += served[i] == s;
		bad += n != CHAIN;
	}
	EXPECT_EQ(bad, 0);

	for (int i = 0; i <= QUEUED; i++)
		vmlet_sandbox_destroy(c[i].sb);
	vmlet_host_destroy(host);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
