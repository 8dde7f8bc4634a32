// SPDX-License-Identifier: BSD-2-Clause
/*
 * The host-call service when its ring has no room for an answer: linked
 * with -Wl,--wrap=vmlet_ring_send,--wrap=io_uring_submit (Makefile), so
 * that the service thread's queueing of an answer can be made to fail as
 * on a full submission queue, and the submission that follows on that
 * thread to fail as the kernel may (-EAGAIN). The answer must still
 * arrive: its caller waits for it with no deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <vmlet.h>

#include "util.h"

int __real_vmlet_ring_send(struct io_uring *ring, int fd, uint64_t data);
int __real_io_uring_submit(struct io_uring *ring);

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

static int add1(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	r->u64 = a[0].u64 + 1;
	return 0;
}

static const struct vmlet_host_func funcs[] = {
	{.name = "add1", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = add1},
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
	/*
	 * Twice in a row: the answer's first queueing and the next try, each
	 * followed by a failed submission on the service thread.
	 */
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

int main(void)
{
	return ksft_run();
}
