// SPDX-License-Identifier: BSD-2-Clause
/*
 * The host-call service: threads that run the embedder's host functions.
 *
 * A vCPU thread sends a request (struct vmlet_service_req, its address as
 * user_data) from its own ring to a service thread's ring with
 * IORING_OP_MSG_RING and waits on its ring for the answer, which the
 * service sends back the same way after it ran the function and wrote the
 * return frame over the request. The vCPU is stopped meanwhile, so
 * nothing else touches the buffer. Sends that fail because the target's
 * completion queue is full are sent again; a send that fails for good
 * ends the call with its error, since the request never arrived. Answers
 * wait in a list until the service's submission queue has room for them,
 * and the thread submits without waiting for a completion until then.
 *
 * Destroy waits for the calls in flight (counted with atomics: a host
 * call takes no lock), then stops each thread with a message whose
 * delivery it checks: a thread that cannot be told to stop is left
 * running, idle, with the object, rather than joined for ever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "service.h"

#define SERVICE_ENTRIES 64
#define MAX_THREADS	64

struct service {
	pthread_t thread;
	struct io_uring ring;
	struct vmlet_host *host;
	atomic_int err;			  /* 0 starting, 1 running, -errno when its ring failed */
	atomic_bool nested;		  /* it waits on a host call its function's sandbox made */
	struct vmlet_service_req *unsent; /* answers not queued yet */
};

/* The service whose thread this is, if it is one. */
static __thread struct service *self;

struct vmlet_host {
	atomic_uint refs; /* the creator's and one per sandbox or snapshot */
	unsigned int n;
	struct service *svc;
	atomic_uint next;
	pthread_mutex_t lock;
	pthread_cond_t drained;
	/*
	 * Calls in flight, and whether destroy began: atomics, so a host
	 * call takes no lock; the lock and drained only wake destroy.
	 */
	atomic_uint inflight;
	atomic_bool stopping;
	bool abandoned; /* a thread could not be stopped: the memory stays */
};

int64_t vmlet_service_run(struct vmlet_service_req *rq)
{
	struct vmlet_frame f = {.func = VMLET_HOSTCALL_FUNC};
	struct vmlet_value ret = {.type = rq->fn->ret};
	int64_t n = 0;
	int err;

	err = rq->fn->fn(rq->fn->ctx, rq->args, rq->nargs, &ret);
	if (!err && ret.type != rq->fn->ret)
		err = -EINVAL; /* the embedder's function broke its own signature */
	if (!err && ret.type != VMLET_VOID) {
		n = vmlet_rec_encode(rq->out + sizeof(f), rq->out_size - sizeof(f), &ret);
		if (n < 0)
			err = (int)n;
	}
	if (err || ret.type == VMLET_VOID)
		n = 0;
	f.status = err;
	f.nargs = n ? 1 : 0;
	f.size = (uint32_t)(sizeof(f) + (uint64_t)n);
	memcpy(rq->out, &f, sizeof(f));
	return f.size;
}

/*
 * Queue the messages that carry the answers in s->unsent (each the
 * request's address), as many as the ring has room for.
 */
static void answer(struct service *s)
{
	while (s->unsent && !vmlet_ring_send(&s->ring, s->unsent->reply_fd, (uintptr_t)s->unsent))
		s->unsent = s->unsent->next;
}

static void *service_main(void *arg)
{
	struct service *s = arg;
	struct io_uring_cqe *cqe;
	bool stop = false;
	int err;

	self = s;
	while (!stop) {
		/*
		 * An answer that waits for room must not wait for a completion:
		 * its caller sends nothing more until it has it.
		 */
		answer(s);
		if (s->unsent)
			err = io_uring_submit(&s->ring);
		else
			err = io_uring_submit_and_wait(&s->ring, 1);
		if (err < 0 && !vmlet_ring_transient(err)) {
			/* Nothing can reach or leave this thread any more. */
			atomic_store(&s->err, err);
			break;
		}
		while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
			uint64_t data = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;
			struct vmlet_service_req *rq = (void *)(uintptr_t)(data & ~RING_TAG_SEND);

			io_uring_cqe_seen(&s->ring, cqe);
			if (data == RING_STOP)
				stop = true;
			else if (!(data & RING_TAG_SEND))
				rq->size = vmlet_service_run(rq);
			else if (!vmlet_ring_transient(res) && res != -EOVERFLOW)
				continue; /* the caller's ring is gone: nobody waits */
			if (data != RING_STOP) {
				rq->next = s->unsent; /* answered at the top of the loop */
				s->unsent = rq;
			}
		}
	}
	answer(s);
	io_uring_submit(&s->ring);
	return NULL;
}

/* Each service thread sets its ring up itself: SINGLE_ISSUER binds to it. */
static void *service_start(void *arg)
{
	struct service *s = arg;
	struct vmlet_host *h = s->host;
	int err = vmlet_ring_init(&s->ring, SERVICE_ENTRIES, 0);

	pthread_mutex_lock(&h->lock);
	atomic_store(&s->err, err ? err : 1);
	pthread_cond_broadcast(&h->drained);
	pthread_mutex_unlock(&h->lock);
	return err ? NULL : service_main(s);
}

VMLET_API int vmlet_host_create(unsigned int nthreads, struct vmlet_host **out)
{
	struct vmlet_host *h;
	unsigned int i;
	int err = 0;

	if (!out || nthreads > MAX_THREADS)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	atomic_init(&h->refs, 1);
	atomic_init(&h->inflight, 0);
	atomic_init(&h->stopping, false);
	h->n = nthreads ? nthreads : 2;
	h->svc = calloc(h->n, sizeof(*h->svc));
	if (!h->svc) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->drained, NULL);
	for (i = 0; i < h->n; i++) {
		struct service *s = &h->svc[i];

		s->host = h;
		atomic_init(&s->nested, false);
		err = -pthread_create(&s->thread, NULL, service_start, s);
		if (err)
			break;
		pthread_mutex_lock(&h->lock);
		while (!atomic_load(&s->err))
			pthread_cond_wait(&h->drained, &h->lock);
		pthread_mutex_unlock(&h->lock);
		if (atomic_load(&s->err) < 0) {
			err = atomic_load(&s->err);
			pthread_join(s->thread, NULL);
			break;
		}
	}
	if (err) {
		h->n = i; /* the ones running */
		vmlet_host_destroy(h);
		return err;
	}
	*out = h;
	return 0;
}

void vmlet_service_get(struct vmlet_host *h)
{
	if (h)
		atomic_fetch_add(&h->refs, 1);
}

void vmlet_service_put(struct vmlet_host *h)
{
	if (!h || atomic_fetch_sub(&h->refs, 1) != 1 || h->abandoned)
		return;
	pthread_cond_destroy(&h->drained);
	pthread_mutex_destroy(&h->lock);
	free(h->svc);
	free(h);
}

/*
 * Tell each thread to stop, from ring, and wait for each message's
 * delivery (a success posts here: no CQE_SKIP_SUCCESS). Returns the
 * number of threads that got it, marked with err = 0.
 */
static unsigned int send_stops(struct vmlet_host *h, struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	unsigned int sent = 0, done = 0, got = 0;
	int err;

	for (unsigned int i = 0; i < h->n; i++) {
		struct io_uring_sqe *sqe = vmlet_ring_sqe(ring);

		if (!sqe)
			break;
		io_uring_prep_msg_ring(sqe, h->svc[i].ring.ring_fd, 0, RING_STOP, 0);
		io_uring_sqe_set_data64(sqe, RING_STOP | RING_TAG_SEND | (uint64_t)i << 8);
		sent++;
	}
	while (done < sent) {
		err = io_uring_submit_and_wait(ring, 1);
		if (err < 0 && !vmlet_ring_transient(err))
			break;
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			uint64_t data = io_uring_cqe_get_data64(cqe);

			if ((data & 0xff) == (RING_STOP | RING_TAG_SEND) && (data >> 8) < h->n) {
				done++;
				if (cqe->res >= 0) {
					atomic_store(&h->svc[data >> 8].err, 0);
					got++;
				}
			}
			io_uring_cqe_seen(ring, cqe);
		}
	}
	return got;
}

/*
 * Stop the service: wait for the calls in flight, stop the threads. The
 * object lives on while sandboxes refer to it; their host calls then fail
 * with -ESHUTDOWN.
 */
VMLET_API void vmlet_host_destroy(struct vmlet_host *h)
{
	struct vmlet_ring *r;
	struct io_uring tmp, *ring;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	atomic_store(&h->stopping, true);
	while (atomic_load(&h->inflight))
		pthread_cond_wait(&h->drained, &h->lock);
	pthread_mutex_unlock(&h->lock);
	/*
	 * The stop messages go from this thread's ring when it has one (a
	 * confined thread may not set up another), else from a ring of
	 * their own.
	 */
	r = vmlet_ring_peek();
	ring = r && !r->broken ? &r->uring : NULL;
	if (h->n && !ring && !io_uring_queue_init(4, &tmp, 0))
		ring = &tmp;
	if (h->n && (!ring || send_stops(h, ring) != h->n))
		h->abandoned = true; /* threads that did not hear it use h: keep it */
	for (unsigned int i = 0; i < h->n; i++) {
		if (atomic_load(&h->svc[i].err) != 0 && h->abandoned)
			continue;
		pthread_join(h->svc[i].thread, NULL);
		io_uring_queue_exit(&h->svc[i].ring);
	}
	if (ring == &tmp)
		io_uring_queue_exit(&tmp);
	vmlet_service_put(h);
}

static void leave(struct vmlet_host *h)
{
	/* Seen stopping: destroy holds the lock until it waits, so no lost wake-up. */
	if (atomic_fetch_sub(&h->inflight, 1) == 1 && atomic_load(&h->stopping)) {
		pthread_mutex_lock(&h->lock);
		pthread_cond_broadcast(&h->drained);
		pthread_mutex_unlock(&h->lock);
	}
}

/*
 * Count a call in, unless destroy began. Both sides store, then load
 * (sequentially consistent): a call that destroy does not see counted
 * sees it stopping.
 */
static int enter(struct vmlet_host *h)
{
	atomic_fetch_add(&h->inflight, 1);
	if (atomic_load(&h->stopping)) {
		leave(h);
		return -ESHUTDOWN;
	}
	return 0;
}

struct vmlet_service_req *vmlet_service_req(struct vmlet_ring *r)
{
	if (!r->call)
		r->call = malloc(sizeof(struct vmlet_service_req));
	return r->call;
}

/* The next thread round the ring whose ring still works (and, unless any, that is not nested). */
static struct service *pick(struct vmlet_host *h, bool any)
{
	for (unsigned int i = 0; i < h->n; i++) {
		struct service *s =
			&h->svc[atomic_fetch_add_explicit(&h->next, 1, memory_order_relaxed) %
				h->n];

		if (atomic_load_explicit(&s->err, memory_order_relaxed) >= 0 &&
		    (any || !atomic_load(&s->nested)))
			return s;
	}
	return NULL;
}

/*
 * A function on a service thread may run a sandbox whose guest calls a
 * host again, and the thread serves nothing until that call ends: a
 * request sent to it would wait for ever, on itself or in a cycle
 * through other threads and hosts. Such a thread marks itself nested
 * first, so that callers pass it over; when every thread of h is nested,
 * a service thread runs the request itself (it runs host functions
 * anyway, and waits for this one). A vCPU thread of the embedder's never
 * does: it may be confined (vmlet_thread_confine()), and a nested thread
 * is no cycle of its own, so it gets one of them, which answers once its
 * call is over.
 */
int64_t vmlet_service_call(struct vmlet_host *h, struct vmlet_ring *r, struct vmlet_service_req *rq)
{
	bool was = self ? atomic_exchange(&self->nested, true) : false;
	struct service *s;
	int err;

	err = enter(h);
	if (err)
		goto out;
	s = pick(h, false);
	if (!s && self) {
		rq->size = vmlet_service_run(rq);
	} else {
		s = s ? s : pick(h, true);
		rq->reply_fd = r->uring.ring_fd;
		err = s ? vmlet_ring_call(r, s->ring.ring_fd, (uintptr_t)rq) : -EPIPE;
	}
	leave(h);
out:
	if (self)
		atomic_store(&self->nested, was);
	return err ? err : rq->size;
}
