/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host-call service (struct vmlet_host): threads, each with its own
 * io_uring, that run the embedder's host functions for guests, and the
 * request a host call hands them.
 */
#ifndef VMLET_SERVICE_H
#define VMLET_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <vmlet.h>

#include "ring.h"

/* One host call of an embedder function; its answer is written over out. */
struct vmlet_service_req {
	const struct vmlet_host_func *fn;
	struct vmlet_value args[VMLET_MAX_ARGS]; /* strings and bytes point into out */
	unsigned int nargs;
	uint8_t *out; /* the guest's output buffer */
	size_t out_size;
	int64_t size;			/* of the answer frame written, or -errno */
	int reply_fd;			/* the vCPU thread's ring */
	struct vmlet_service_req *next; /* among its service's answers not yet queued */
};

/* Run the function and write the answer frame: its size, or -errno. */
int64_t vmlet_service_run(struct vmlet_service_req *rq);

/*
 * The request a service call on this thread's ring uses: it lives as
 * long as the ring, so that a ring that breaks with it delivered keeps
 * it. NULL when out of memory.
 */
struct vmlet_service_req *vmlet_service_req(struct vmlet_ring *r);

/*
 * Run rq (from vmlet_service_req(r)) on one of h's threads and wait for
 * the answer: the answer's size, or -ESHUTDOWN once h is being
 * destroyed, or -errno when it could not be sent; -EIO when r broke after
 * it was delivered (rq and the buffer it points at stay in use).
 */
int64_t vmlet_service_call(struct vmlet_host *h, struct vmlet_ring *r,
			   struct vmlet_service_req *rq);

/* References to a service, held by sandboxes and snapshots. */
void vmlet_service_get(struct vmlet_host *h);
void vmlet_service_put(struct vmlet_host *h);

#endif /* VMLET_SERVICE_H */
