// SPDX-License-Identifier: BSD-2-Clause
/*
 * The host-call service where io_uring fails as the kernel seldom makes
 * it: linked with -Wl,--wrap= vmlet_ring_send, io_uring_submit and
 * io_uring_submit_and_wait (Makefile).
 * - The service thread's queueing of an answer fails as on a full
 *   submission queue, and each such failure makes one later
 *   io_uring_submit() on that thread fail (-EAGAIN), as the one the
 *   service once made right after, giving the answer up: the answer must
 *   still arrive, since its caller waits for it with no deadline.
 * - The caller's ring fails for good right after it delivered a request
 *   (the call is lost, -EIO): the sandbox may be destroyed while the
 *   service still runs the function, which must find what it reads (its
 *   entry among the sandbox's added functions, the guest's buffer) still
 *   there. The sanitized build (make check SAN=...) sees a read of freed
 *   memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <vmlet.h>

#include "util.h"

int __real_vmlet_ring_send(struct io_uring *ring, int fd, uint64_t data);
int __real_io_uring_submit(struct io_uring *ring);
int __real_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);

static atomic_uint sends_to_fail; /* armed by the test */
static atomic_uint sends_failed;
static __thread unsigned int submits_to_fail;

int __wrap_vmlet_ring_send(struct io_uring *ring, int fd, uint64_t data)
{
	unsigned int n = atomic_load(&sends_to_fail);

	while (n && !atomic_compare_exchange_weak(&sends_to_fail, &n, n - 1))
		;
	if (!n)
		return __real_vmlet_ring_send(ring, fd, data);
	atomic_fetch_add(&sends_failed, 1);
	submits_to_fail++;
	return -EBUSY;
}

int __wrap_io_uring_submit(struct io_uring *ring)
{
	if (submits_to_fail) {
		submits_to_fail--;
		return -EAGAIN;
	}
	return __real_io_uring_submit(ring);
}

/* Armed on the calling thread: its next wait submits, then fails for good. */
static __thread bool break_next_wait;

int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr)
{
	int err;

	if (!break_next_wait)
		return __real_io_uring_submit_and_wait(ring, wait_nr);
	break_next_wait = false;
	err = __real_io_uring_submit(ring);
	return err < 0 ? err : -EBADF;
}

static const struct vmlet_host_func funcs[] = {
	{.name = "add1", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1},
};

TEST(an_answer_the_ring_has_no_room_for_still_arrives)
{
	struct vmlet_host *host = NULL;
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_value args[2] = {vmlet_str("add1"), vmlet_u64(41)}, r = {0};
	struct vmlet_config cfg = {
		.sz = sizeof(cfg),
		.host_funcs = funcs,
		.nhost_funcs = 1,
	};

	ASSERT_TRUE(img != NULL);
	ASSERT_OK(vmlet_host_create(1, &host));
	cfg.host = host;
	sb = test_sandbox(img, &cfg);
	ASSERT_TRUE(sb != NULL);
	ASSERT_OK(vmlet_sandbox_call(sb, "relay_u64", args, 2, &r));
	ASSERT_EQ(r.u64, 42);
	/* Once, then twice in a row: the answer's first queueing and the next try. */
	for (unsigned int fails = 1; fails <= 2; fails++) {
		atomic_store(&sends_failed, 0);
		atomic_store(&sends_to_fail, fails);
		args[1] = vmlet_u64(100 * fails);
		r.u64 = 0;
		ASSERT_OK(vmlet_sandbox_call(sb, "relay_u64", args, 2, &r));
		ASSERT_EQ(r.u64, 100 * fails + 1);
		ASSERT_EQ(atomic_load(&sends_failed), fails);
	}
	vmlet_sandbox_destroy(sb);
	vmlet_host_destroy(host);
	vmlet_image_close(img);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool entered, released, returned;

/* Signals that it runs, waits to be released, then adds one. */
static int held_add1(void *ctx, const struct vmlet_value *a, unsigned int n,
		     struct vmlet_value *r)
{
	pthread_mutex_lock(&lock);
	entered = true;
	pthread_cond_broadcast(&cond);
	while (!released)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	test_add1(ctx, a, n, r);
	pthread_mutex_lock(&lock);
	returned = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

TEST(a_lost_call_outlives_its_sandbox)
{
	static const struct vmlet_host_func held = {
		.name = "held", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = held_add1};
	struct vmlet_host *host = NULL;
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_value args[2] = {vmlet_str("held"), vmlet_u64(41)}, r = {0};
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	int err;

	ASSERT_TRUE(img != NULL);
	ASSERT_OK(vmlet_host_create(1, &host));
	cfg.host = host;
	sb = test_sandbox(img, &cfg);
	ASSERT_TRUE(sb != NULL);
	ASSERT_OK(vmlet_sandbox_add_host_func(sb, &held));
	break_next_wait = true;
	err = vmlet_sandbox_call(sb, "relay_u64", args, 2, &r);
	printf("# the call: %d (%s), fault error %d\n", err, vmlet_strerror(err),
	       vmlet_sandbox_fault(sb)->error);
	ASSERT_EQ(err, -EIO); /* delivered, then the ring failed: lost */
	/* The service runs the function: destroy the sandbox under it. */
	pthread_mutex_lock(&lock);
	while (!entered)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	vmlet_sandbox_destroy(sb);
	pthread_mutex_lock(&lock);
	released = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	/* Its thread stops after the function and its answer: it read its entry then. */
	vmlet_host_destroy(host);
	ASSERT_TRUE(returned);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
