/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-thread io_uring rings for host calls: the vCPU thread's own ring,
 * made on its first host call, the restricted ring a confined thread gets
 * instead, and the two waits a vCPU thread does on it during a run.
 */
#ifndef VMLET_RING_H
#define VMLET_RING_H

#include <errno.h>
#include <liburing.h>
#include <stdint.h>

#include "vm.h"

/*
 * user_data of the messages and requests on these rings. A service
 * request is the address of its struct (8-byte aligned: low bits 0); a
 * send that failed comes back with bit 0 set (only failures post).
 */
#define RING_TAG_SEND 1ULL
#define RING_STOP     2ULL /* stops a service thread */
#define RING_IO	      4ULL /* a guest's I/O request: | (sequence << 3) */
#define RING_CANCEL   6ULL /* its cancellation (only failures post) */

/*
 * A thread's ring. broken: an error of io_uring_enter(2) that a retry
 * cannot get past left something in flight; the ring is then left open
 * and alive for good (its requests may still write where they point), and
 * the thread gets a new one at its next host call.
 */
struct vmlet_ring {
	struct io_uring uring;
	uint64_t seq; /* I/O requests issued: a stale completion never matches */
	int broken;
	void *call; /* lib/service.c's request, kept (and lost) with the ring */
};

/* io_uring_queue_init_params() with SINGLE_ISSUER and DEFER_TASKRUN where the kernel has them. */
int vmlet_ring_init(struct io_uring *ring, unsigned int entries, unsigned int flags);

/* This thread's ring, made on first use: 0 or -errno. */
int vmlet_ring_get(struct vmlet_ring **out);

/* This thread's ring if it has one, else NULL. */
struct vmlet_ring *vmlet_ring_peek(void);

/*
 * Prepare this thread for seccomp (lib/confine.c): its ring is made anew,
 * restricted to the operations host calls issue, since seccomp never sees
 * io_uring operations.
 */
int vmlet_ring_confine(void);

/* An SQE, submitting what is queued to make room if needed; NULL if there is none. */
struct io_uring_sqe *vmlet_ring_sqe(struct io_uring *ring);

/* Queue a MSG_RING of data to the ring fd (only a failure posts): 0 or -EBUSY. */
int vmlet_ring_send(struct io_uring *ring, int fd, uint64_t data);

/* Whether an io_uring error is one a retry gets past (a signal, a moment short of room). */
static inline int vmlet_ring_transient(int err)
{
	return err == -EINTR || err == -EAGAIN || err == -EBUSY || err == -ETIME;
}

/*
 * Send data (a service request) to the ring fd and wait for its answer, a
 * completion with the same user_data. Returns 0 once it came; the send's
 * error when it failed for good (nothing arrived: the request is the
 * caller's again); -EIO when the ring broke with the request delivered.
 */
int vmlet_ring_call(struct vmlet_ring *r, int fd, uint64_t data);

/*
 * Submit the guest I/O request prepared in sqe (the ring's last) and wait
 * for it, unless a kick stops vm's run first: then cancel it and wait for
 * it to end. Returns 0 with *res set, -VMLET_EINTR or -VMLET_ETIMEDOUT,
 * an error when it could not be submitted (it never left), or -EIO when
 * the ring broke while it was in flight (its buffer must stay mapped).
 */
int vmlet_ring_wait_io(struct vmlet_ring *r, struct vmlet_vm *vm, struct io_uring_sqe *sqe,
		       int *res);

#endif /* VMLET_RING_H */
