// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-thread io_uring rings for host calls.
 *
 * Each thread that runs vCPUs gets its ring on its first host call
 * (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN where the
 * kernel has them, plain otherwise); it is closed when the thread exits.
 * A confined thread gets a ring restricted to the operations host calls
 * issue, made before its seccomp filter forbids io_uring_setup(2).
 *
 * The waits never return while something they started can still write
 * into memory the caller will reuse: a service's answer (into the
 * caller's request and the guest's buffer) or a guest's read. Errors of
 * io_uring_enter(2) that a retry gets past are retried; any other leaves
 * the ring broken and alive for good (struct vmlet_ring), and the caller
 * keeps the memory the request points at mapped (-EIO): lost, never reused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define RING_ENTRIES 8

static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static int ring_key_err;

static void ring_free(void *p)
{
	struct vmlet_ring *r = p;

	if (r->broken)
		return; /* its requests may still write where they point */
	io_uring_queue_exit(&r->uring);
	free(r->call);
	free(r);
}

static void key_init(void)
{
	ring_key_err = -pthread_key_create(&ring_key, ring_free);
}

static int key_get(void)
{
	pthread_once(&ring_once, key_init);
	return ring_key_err;
}

int vmlet_ring_init(struct io_uring *ring, unsigned int entries, unsigned int flags)
{
	struct io_uring_params p = {
		.flags = flags | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int err = io_uring_queue_init_params(entries, ring, &p);

	if (err == -EINVAL) /* before 6.1: neither flag */
		err = io_uring_queue_init(entries, ring, flags);
	return err;
}

/* Make r this thread's ring, in place of the one it had. */
static int install(struct vmlet_ring *r)
{
	struct vmlet_ring *old = pthread_getspecific(ring_key);
	int err = -pthread_setspecific(ring_key, r);

	if (!err && old)
		ring_free(old);
	return err;
}

struct vmlet_ring *vmlet_ring_peek(void)
{
	return key_get() ? NULL : pthread_getspecific(ring_key);
}

/*
 * The operations host calls issue, and all a confined thread's ring may
 * carry: seccomp never sees io_uring operations, so a thread that can no
 * longer call openat(2) could otherwise still queue IORING_OP_OPENAT.
 */
static const uint8_t ring_ops[] = {
	IORING_OP_READ,	    IORING_OP_WRITE,	    IORING_OP_TIMEOUT,
	IORING_OP_MSG_RING, IORING_OP_ASYNC_CANCEL,
};

/* Restrict a ring made disabled (which then cannot lose them) to ring_ops, and enable it. */
static int restrict_ops(struct io_uring *ring)
{
	struct io_uring_restriction res[sizeof(ring_ops) + 1];
	unsigned int n = 0;
	int err;

	memset(res, 0, sizeof(res));
	for (; n < sizeof(ring_ops); n++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n].sqe_op = ring_ops[n];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_CQE_SKIP_SUCCESS;
	/*
	 * The raw register call: Debian's liburing 2.3 declares
	 * io_uring_register_restrictions() but does not export it.
	 */
	err = io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
	if (!err)
		err = io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS,
					NULL, 0);
	return err;
}

/* Give this thread a new ring in place of the one it had; restricted when confined. */
static int replace(bool confined, struct vmlet_ring **out)
{
	struct vmlet_ring *r;
	int err = key_get();

	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = vmlet_ring_init(&r->uring, RING_ENTRIES, confined ? IORING_SETUP_R_DISABLED : 0);
	if (err)
		goto err_free;
	if (confined)
		err = restrict_ops(&r->uring);
	if (!err)
		err = install(r);
	if (err)
		goto err_ring;
	*out = r;
	return 0;

err_ring:
	io_uring_queue_exit(&r->uring);
err_free:
	free(r);
	return err;
}

int vmlet_ring_get(struct vmlet_ring **out)
{
	struct vmlet_ring *r = vmlet_ring_peek();

	if (r && !r->broken) {
		*out = r;
		return 0;
	}
	return replace(false, out);
}

/* Nothing is in flight on the thread while it is being confined. */
int vmlet_ring_confine(void)
{
	struct vmlet_ring *r;

	return replace(true, &r);
}

struct io_uring_sqe *vmlet_ring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe && io_uring_submit(ring) >= 0)
		sqe = io_uring_get_sqe(ring);
	return sqe;
}

static struct io_uring_sqe *queue_send(struct io_uring *ring, int fd, uint64_t data)
{
	struct io_uring_sqe *sqe = vmlet_ring_sqe(ring);

	if (sqe) {
		io_uring_prep_msg_ring(sqe, fd, 0, data, 0);
		io_uring_sqe_set_data64(sqe, data | RING_TAG_SEND);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	return sqe;
}

int vmlet_ring_send(struct io_uring *ring, int fd, uint64_t data)
{
	return queue_send(ring, fd, data) ? 0 : -EBUSY;
}

/*
 * Make sure a queued SQE never goes: when the kernel did not take it (it
 * is in the ring all the same, and goes with the next submission), it
 * becomes the cancellation of user_data 0, which no request has: an
 * operation a confined ring allows, whose -ENOENT every wait here passes
 * over. True if it was still queued.
 */
static bool withdraw(struct io_uring *ring, struct io_uring_sqe *sqe)
{
	if (!io_uring_sq_ready(ring))
		return false;
	io_uring_prep_cancel64(sqe, 0, 0);
	io_uring_sqe_set_data64(sqe, 0);
	return true;
}

/*
 * A kick (interrupt, deadline) does not end this wait: the service runs
 * the embedder's function to its end, and the run stops right after it.
 */
int vmlet_ring_call(struct vmlet_ring *r, int fd, uint64_t data)
{
	struct io_uring *ring = &r->uring;
	struct io_uring_sqe *sqe = queue_send(ring, fd, data);
	struct io_uring_cqe *cqe;
	int err;

	if (!sqe)
		return -EBUSY;
	for (;;) {
		err = io_uring_submit_and_wait(ring, 1);
		if (err < 0 && !vmlet_ring_transient(err)) {
			if (withdraw(ring, sqe))
				return err; /* the request never left */
			r->broken = 1;
			return -EIO;
		}
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			uint64_t d = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(ring, cqe);
			if (d == data)
				return 0;
			if (d != (data | RING_TAG_SEND))
				continue; /* a stale completion of an earlier wait */
			/* Not delivered: again if the target's queue was full, else for good. */
			if (!vmlet_ring_transient(res) && res != -EOVERFLOW)
				return res;
			sqe = queue_send(ring, fd, data);
			if (!sqe)
				return -EBUSY;
		}
	}
}

/* The completion of data, if it is there: 1 with *res set, else 0. */
static int io_done(struct io_uring *ring, uint64_t data, int *res)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		uint64_t d = io_uring_cqe_get_data64(cqe);
		int r = cqe->res;

		io_uring_cqe_seen(ring, cqe);
		if (d == data) {
			*res = r;
			return 1;
		}
	}
	return 0;
}

static int cancel(struct io_uring *ring, uint64_t data)
{
	struct io_uring_sqe *sqe = vmlet_ring_sqe(ring);
	int err;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, data, 0);
	io_uring_sqe_set_data64(sqe, (data & ~7ULL) | RING_CANCEL);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	err = io_uring_submit(ring);
	if (err < 0 && withdraw(ring, sqe))
		return err;
	return 0;
}

/*
 * Most requests (a read from the page cache, a write) complete while they
 * are submitted: that costs one io_uring_enter() and nothing else. One
 * that has to wait does so as ppoll() does (vmlet_vm_wait_begin()), so a
 * kick that lands between the check and the wait is not lost, for two
 * sigprocmask calls around a wait that blocks anyway. A cancellation
 * that cannot be submitted now is tried again at the next round.
 */
int vmlet_ring_wait_io(struct vmlet_ring *r, struct vmlet_vm *vm, struct io_uring_sqe *sqe,
		       int *res)
{
	struct io_uring *ring = &r->uring;
	uint64_t data = RING_IO | ++r->seq << 3;
	struct vmlet_vm_wait w;
	bool cancelled = false;
	int err, stop = 0;

	io_uring_sqe_set_data64(sqe, data);
	err = io_uring_submit_and_get_events(ring);
	if (err < 0 && withdraw(ring, sqe))
		return err; /* it never left */
	if (io_done(ring, data, res))
		return 0;
	vmlet_vm_wait_begin(&w);
	while (!io_done(ring, data, res)) {
		if (!stop)
			stop = vmlet_vm_stopped(vm);
		if (stop && !cancelled)
			cancelled = !cancel(ring, data);
		err = io_uring_enter((unsigned int)ring->ring_fd, 0, 1, IORING_ENTER_GETEVENTS,
				     &w.mask);
		if (err < 0 && !vmlet_ring_transient(err)) {
			r->broken = 1;
			stop = -EIO;
			break;
		}
	}
	vmlet_vm_wait_end(&w);
	return stop;
}
