// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host calls: guests calling the host, through io_uring.
 *
 * Two hypercalls reach here from the run loop. VMLET_PORT_HOSTCALL: the
 * guest put a host-call frame (function name, arguments) in its output
 * buffer. The name must be one the embedder registered (on the config or
 * the sandbox) and the arguments must match its signature, or the guest
 * gets -ENOENT or -EINVAL; a malformed frame is -EINVAL too. An inline
 * function runs right here on the vCPU thread. Any other goes to the
 * host-call service: this thread's io_uring sends the request to a
 * service thread's ring with IORING_OP_MSG_RING and waits on its own ring
 * for the answer, which the service sends back the same way after it ran
 * the function and wrote the return frame over the request. The vCPU is
 * stopped meanwhile, so nothing else touches the buffer.
 *
 * VMLET_PORT_IO: read, write, pread, pwrite on descriptors the embedder
 * granted, and sleep, issued as io_uring operations on this thread's ring
 * with the guest's own memory as the buffer (after a bounds check: no
 * copy). Not granted: -EBADF; outside guest memory or overflowing: -EFAULT.
 * The decoding and checking of both requests is lib/hostreq.c's.
 *
 * Each thread that runs vCPUs gets its ring on its first host call
 * (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN where the
 * kernel has them, plain otherwise); it is closed when the thread exits.
 * Pages the host writes into guest memory are recorded for COPY restore,
 * since KVM's dirty log sees only the guest's own writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "hostreq.h"
#include "kick.h"
#include "probes.h"
#include "sandbox.h"

#define RING_ENTRIES   8
#define MAX_HOST_FUNCS 64
#define TAG_SEND       1ULL /* low bit of user_data: a send that failed */
#define STOP_REQ       2ULL /* user_data of the message that stops a service thread */
#define IO_REQ	       4ULL /* user_data of a guest's I/O request */
#define TAG_CANCEL     6ULL /* user_data of its cancellation (only failures post) */

struct service {
	pthread_t thread;
	struct io_uring ring;
	struct vmlet_host *host;
	int err; /* 0 starting, 1 running, -errno when the ring failed */
};

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
};

/* One request to the service; lives on the vCPU thread's stack. */
struct request {
	const struct vmlet_host_func *fn;
	struct vmlet_value args[VMLET_MAX_ARGS];
	unsigned int nargs;
	uint8_t *out; /* the guest's output buffer */
	size_t out_size;
	int64_t size; /* of the answer frame written, or -errno */
	int reply_fd; /* the vCPU thread's ring */
};

/* --- per-thread rings ------------------------------------------------------ */

static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;

static void ring_free(void *p)
{
	io_uring_queue_exit(p);
	free(p);
}

static void ring_key_init(void)
{
	pthread_key_create(&ring_key, ring_free);
}

static int ring_init(struct io_uring *ring, unsigned int entries, unsigned int flags)
{
	struct io_uring_params p = {
		.flags = flags | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int err = io_uring_queue_init_params(entries, ring, &p);

	if (err == -EINVAL) /* before 6.1: neither flag */
		err = io_uring_queue_init(entries, ring, flags);
	return err;
}

static int thread_ring(struct io_uring **out)
{
	struct io_uring *ring;
	int err;

	pthread_once(&ring_once, ring_key_init);
	ring = pthread_getspecific(ring_key);
	if (!ring) {
		ring = calloc(1, sizeof(*ring));
		if (!ring)
			return -ENOMEM;
		err = ring_init(ring, RING_ENTRIES, 0);
		if (err) {
			free(ring);
			return err;
		}
		pthread_setspecific(ring_key, ring);
	}
	*out = ring;
	return 0;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static void send_msg(struct io_uring *ring, int fd, uint64_t data)
{
	struct io_uring_sqe *sqe = get_sqe(ring);

	io_uring_prep_msg_ring(sqe, fd, 0, data, 0);
	io_uring_sqe_set_data64(sqe, data | TAG_SEND);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/*
 * Submit what is queued and wait for the completion whose user_data is
 * want; a failed send (TAG_SEND, only failures post) is sent again. A
 * kick (interrupt, deadline) does not end this wait: the service runs the
 * embedder's function to its end, and the run stops right after it.
 */
static int wait_for(struct io_uring *ring, int fd, uint64_t want, int *res)
{
	struct io_uring_cqe *cqe;
	int err;

	for (;;) {
		err = io_uring_submit_and_wait(ring, 1);
		if (err < 0 && err != -EINTR)
			return err;
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			uint64_t data = io_uring_cqe_get_data64(cqe);
			int r = cqe->res;

			io_uring_cqe_seen(ring, cqe);
			if (data == want) {
				*res = r;
				return 0;
			}
			if (data == (want | TAG_SEND) && fd >= 0)
				send_msg(ring, fd, want);
		}
	}
}

/* IO_REQ's completion, if it is there: 1 with *res set, else 0. */
static int io_done(struct io_uring *ring, int *res)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		uint64_t data = io_uring_cqe_get_data64(cqe);

		*res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (data == IO_REQ)
			return 1;
	}
	return 0;
}

/*
 * Submit the guest's I/O request (IO_REQ) and wait for it, unless a kick
 * (interrupt, deadline) stops the run first: then cancel it, wait for it
 * to end and return -VMLET_EINTR or -VMLET_ETIMEDOUT.
 *
 * Most requests (a read from the page cache, a write) complete while they
 * are submitted: that costs one io_uring_enter() and nothing else. One
 * that has to wait does so as ppoll() does: the kick signal stays blocked
 * except inside io_uring_enter(), so a kick that lands between the check
 * and the wait is not lost (the wait returns -EINTR at once), for two
 * sigprocmask calls around a wait that blocks anyway.
 */
static int wait_io(struct io_uring *ring, struct vmlet_vm *vm, int *res)
{
	struct io_uring_sqe *sqe;
	sigset_t kick, old;
	int err, stop = 0;

	err = io_uring_submit_and_get_events(ring);
	if (err < 0)
		return err;
	if (io_done(ring, res))
		return 0;
	sigemptyset(&kick);
	sigaddset(&kick, VMLET_KICK);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	err = 0;
	while (err >= 0) {
		if (io_done(ring, res))
			break;
		if (!stop && (stop = vmlet_vm_stopped(vm))) {
			sqe = get_sqe(ring);
			io_uring_prep_cancel64(sqe, IO_REQ, 0);
			io_uring_sqe_set_data64(sqe, TAG_CANCEL);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			err = io_uring_submit(ring);
			continue;
		}
		err = io_uring_enter((unsigned int)ring->ring_fd, 0, 1, IORING_ENTER_GETEVENTS,
				     &old);
		if (err == -EINTR)
			err = 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err < 0 ? err : stop;
}

/*
 * The operations this file issues, and all a confined thread's ring may
 * carry: seccomp never sees io_uring operations, so a thread that can no
 * longer call openat(2) could otherwise still queue IORING_OP_OPENAT.
 */
static const uint8_t ring_ops[] = {
	IORING_OP_READ,	    IORING_OP_WRITE,	    IORING_OP_TIMEOUT,
	IORING_OP_MSG_RING, IORING_OP_ASYNC_CANCEL,
};

int vmlet_thread_ring_restrict(void)
{
	struct io_uring_restriction res[sizeof(ring_ops) + 1];
	struct io_uring *ring, *old;
	unsigned int n = 0;
	int err;

	pthread_once(&ring_once, ring_key_init);
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	/* Restrictions go on a disabled ring, which then cannot lose them. */
	err = ring_init(ring, RING_ENTRIES, IORING_SETUP_R_DISABLED);
	if (err)
		goto err_free;
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
	if (err)
		goto err_ring;
	/* Nothing is in flight on this thread while it calls us. */
	old = pthread_getspecific(ring_key);
	if (old)
		ring_free(old);
	pthread_setspecific(ring_key, ring);
	return 0;

err_ring:
	io_uring_queue_exit(ring);
err_free:
	free(ring);
	return err;
}

/* --- the service ----------------------------------------------------------- */

/* Run the function and write the answer frame; returns its size or -errno. */
static int64_t run_request(struct request *rq)
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

static void *service_main(void *arg)
{
	struct service *s = arg;
	struct io_uring_cqe *cqe;
	bool stop = false;

	while (!stop) {
		if (io_uring_submit_and_wait(&s->ring, 1) < 0)
			continue;
		while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
			uint64_t data = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(&s->ring, cqe);
			if (data == STOP_REQ) {
				stop = true;
			} else if (data & TAG_SEND) {
				struct request *rq = (void *)(uintptr_t)(data & ~TAG_SEND);

				(void)res; /* the answer did not go: send it again */
				send_msg(&s->ring, rq->reply_fd, data & ~TAG_SEND);
			} else {
				struct request *rq = (void *)(uintptr_t)data;

				rq->size = run_request(rq);
				send_msg(&s->ring, rq->reply_fd, data);
			}
		}
	}
	io_uring_submit(&s->ring);
	return NULL;
}

/* Each service thread sets its ring up itself: SINGLE_ISSUER binds to it. */
static void *service_start(void *arg)
{
	struct service *s = arg;
	struct vmlet_host *h = s->host;
	int err = ring_init(&s->ring, 64, 0);

	pthread_mutex_lock(&h->lock);
	s->err = err ? err : 1;
	pthread_cond_broadcast(&h->drained);
	pthread_mutex_unlock(&h->lock);
	return err ? NULL : service_main(s);
}

VMLET_API int vmlet_host_create(unsigned int nthreads, struct vmlet_host **out)
{
	struct vmlet_host *h;
	unsigned int i;
	int err = 0;

	if (!out || nthreads > 64)
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
		err = -pthread_create(&s->thread, NULL, service_start, s);
		if (err)
			break;
		pthread_mutex_lock(&h->lock);
		while (!s->err)
			pthread_cond_wait(&h->drained, &h->lock);
		pthread_mutex_unlock(&h->lock);
		if (s->err < 0) {
			err = s->err;
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

void vmlet_host_get(struct vmlet_host *h)
{
	if (h)
		atomic_fetch_add(&h->refs, 1);
}

void vmlet_host_put(struct vmlet_host *h)
{
	if (!h || atomic_fetch_sub(&h->refs, 1) != 1)
		return;
	pthread_cond_destroy(&h->drained);
	pthread_mutex_destroy(&h->lock);
	free(h->svc);
	free(h);
}

/*
 * Stop the service: wait for the calls in flight, stop the threads. The
 * object lives on while sandboxes refer to it; their host calls then fail
 * with -ESHUTDOWN.
 */
VMLET_API void vmlet_host_destroy(struct vmlet_host *h)
{
	struct io_uring tmp, *ring;
	int err;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	atomic_store(&h->stopping, true);
	while (atomic_load(&h->inflight))
		pthread_cond_wait(&h->drained, &h->lock);
	pthread_mutex_unlock(&h->lock);
	if (!h->n) {
		vmlet_host_put(h);
		return;
	}
	/*
	 * The stop messages go from this thread's ring when it has one (a
	 * confined thread may not set up another), else from a ring of
	 * their own. Without either (out of memory or of io_uring
	 * instances), the threads cannot be told to stop: leave them, idle,
	 * with the object, rather than hang joining them.
	 */
	pthread_once(&ring_once, ring_key_init);
	ring = pthread_getspecific(ring_key);
	if (!ring) {
		err = io_uring_queue_init(4, &tmp, 0);
		if (err)
			return;
		ring = &tmp;
	}
	for (unsigned int i = 0; i < h->n; i++) {
		send_msg(ring, h->svc[i].ring.ring_fd, STOP_REQ);
		io_uring_submit(ring);
	}
	for (unsigned int i = 0; i < h->n; i++) {
		pthread_join(h->svc[i].thread, NULL);
		io_uring_queue_exit(&h->svc[i].ring);
	}
	if (ring == &tmp)
		io_uring_queue_exit(&tmp);
	vmlet_host_put(h);
}

static void host_leave(struct vmlet_host *h)
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
static int host_enter(struct vmlet_host *h)
{
	atomic_fetch_add(&h->inflight, 1);
	if (atomic_load(&h->stopping)) {
		host_leave(h);
		return -ESHUTDOWN;
	}
	return 0;
}

static int64_t call_service(struct vmlet_host *h, struct request *rq)
{
	struct io_uring *ring;
	struct service *s;
	int err, res;

	err = thread_ring(&ring);
	if (err)
		return err;
	err = host_enter(h);
	if (err)
		return err;
	s = &h->svc[atomic_fetch_add_explicit(&h->next, 1, memory_order_relaxed) % h->n];
	rq->reply_fd = ring->ring_fd;
	send_msg(ring, s->ring.ring_fd, (uintptr_t)rq);
	/* rq is on this stack and the service will answer: wait for it. */
	while (wait_for(ring, s->ring.ring_fd, (uintptr_t)rq, &res))
		;
	host_leave(h);
	return rq->size;
}

/* --- the host-call hypercall ----------------------------------------------- */

static const struct vmlet_host_func *lookup(const struct vmlet_sandbox *sb, const char *name)
{
	for (unsigned int i = 0; i < sb->cfg.nhost_funcs; i++)
		if (!strcmp(sb->cfg.host_funcs[i].name, name))
			return &sb->cfg.host_funcs[i];
	for (unsigned int i = 0; i < sb->nxfuncs; i++)
		if (!strcmp(sb->xfuncs[i].name, name))
			return &sb->xfuncs[i];
	return NULL;
}

static void host_wrote(struct vmlet_sandbox *sb, uint64_t addr, uint64_t len)
{
	if (!sb->hdirty || !len)
		return;
	for (uint64_t pg = addr / VMLET_PAGE_SIZE; pg <= (addr + len - 1) / VMLET_PAGE_SIZE; pg++)
		sb->hdirty[pg / 64] |= 1ULL << (pg % 64);
}

/* The function's index for the trace probes: config's first; ~0 if unknown. */
static uint32_t func_index(const struct vmlet_sandbox *sb, const struct vmlet_host_func *fn)
{
	const struct vmlet_host_func *cf = sb->cfg.host_funcs;

	if (!fn)
		return UINT32_MAX;
	if (cf && fn >= cf && fn < cf + sb->cfg.nhost_funcs)
		return (uint32_t)(fn - cf);
	return sb->cfg.nhost_funcs + (uint32_t)(fn - sb->xfuncs);
}

static int hostcall(struct vmlet_sandbox *sb)
{
	uint32_t func;
	struct request rq = {.out = sb->out, .out_size = sb->layout.out_size, .fn = NULL};
	struct vmlet_frame f = {.func = VMLET_HOSTCALL_FUNC};
	const char *name;
	int64_t size;
	int err;

	err = vmlet_hostreq_decode(sb->out, sb->layout.out_size, &name, rq.args, &rq.nargs);
	if (!err) {
		rq.fn = lookup(sb, name);
		if (!rq.fn)
			err = -ENOENT;
		else if (!vmlet_hostreq_types_match(rq.fn, rq.args, rq.nargs))
			err = -EINVAL;
	}
	func = func_index(sb, rq.fn);
	vmlet_probe_hostcall_begin(sb->id, func);
	if (!err && (rq.fn->flags & VMLET_HOST_INLINE))
		size = run_request(&rq);
	else if (!err && sb->cfg.host)
		size = call_service(sb->cfg.host, &rq);
	else
		size = err ? err : -ENOENT; /* no service to run it */
	if (size < 0) {
		f.status = (int32_t)size;
		f.size = sizeof(f);
		memcpy(sb->out, &f, sizeof(f));
		size = sizeof(f);
	}
	vmlet_probe_hostcall_end(sb->id, func, ((struct vmlet_frame *)sb->out)->status);
	host_wrote(sb, sb->layout.out_addr, (uint64_t)size);
	return 0;
}

/* --- the I/O hypercall ----------------------------------------------------- */

static int64_t io_op(struct vmlet_sandbox *sb, const struct kvm_regs *r)
{
	struct vmlet_ioreq rq = {
		.op = r->rdi, .fd = r->rsi, .addr = r->rdx, .len = r->rcx, .off = r->r8};
	struct __kernel_timespec ts;
	struct io_uring_sqe *sqe;
	struct io_uring *ring;
	int err, res;

	if (rq.op == VMLET_IO_OPEN)
		return vmlet_ioreq_open(&rq, sb->grants, sb->ngrants, sb->mem.host, sb->mem.size);
	/* Every check before an SQE is taken: a taken SQE is always submitted. */
	err = vmlet_ioreq_check(&rq, sb->grants, sb->ngrants, sb->mem.size);
	if (err)
		return err;
	err = thread_ring(&ring);
	if (err)
		return err;
	sqe = get_sqe(ring);
	if (rq.op == VMLET_IO_SLEEP) {
		ts.tv_sec = (long long)(rq.off / 1000000000);
		ts.tv_nsec = (long long)(rq.off % 1000000000);
		io_uring_prep_timeout(sqe, &ts, 0, 0);
	} else if (rq.op == VMLET_IO_READ || rq.op == VMLET_IO_PREAD) {
		io_uring_prep_read(sqe, rq.grant->host_fd, sb->mem.host + rq.addr,
				   (unsigned int)rq.len, rq.off);
		host_wrote(sb, rq.addr, rq.len);
	} else {
		io_uring_prep_write(sqe, rq.grant->host_fd, sb->mem.host + rq.addr,
				    (unsigned int)rq.len, rq.off);
	}
	io_uring_sqe_set_data64(sqe, IO_REQ);
	err = wait_io(ring, &sb->vm, &res);
	if (err)
		return err;
	if (rq.op == VMLET_IO_SLEEP && res == -ETIME)
		res = 0;
	return res;
}

int vmlet_hypercall(struct vmlet_vm *vm, void *ctx, unsigned int port)
{
	struct vmlet_sandbox *sb = ctx;
	struct kvm_regs *r = &vm->run->s.regs.regs;
	int64_t res;

	if (port == VMLET_PORT_HOSTCALL)
		return hostcall(sb);
	res = io_op(sb, r);
	if (res == -VMLET_EINTR || res == -VMLET_ETIMEDOUT)
		return (int)res; /* the run ends: the guest never sees it */
	r->rax = (uint64_t)res;
	vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

/* --- registration and grants ----------------------------------------------- */

VMLET_API int vmlet_sandbox_add_host_func(struct vmlet_sandbox *sb,
					  const struct vmlet_host_func *fn)
{
	if (!sb || !fn || !fn->name || !fn->fn || fn->nargs > VMLET_MAX_ARGS ||
	    (unsigned int)fn->ret >= VMLET_NTYPES)
		return -EINVAL;
	for (unsigned int i = 0; i < fn->nargs; i++)
		if (fn->args[i] == VMLET_VOID || (unsigned int)fn->args[i] >= VMLET_NTYPES)
			return -EINVAL;
	if (lookup(sb, fn->name))
		return -EEXIST;
	if (!sb->xfuncs) {
		sb->xfuncs = calloc(MAX_HOST_FUNCS, sizeof(*sb->xfuncs));
		if (!sb->xfuncs)
			return -ENOMEM;
	}
	if (sb->nxfuncs == MAX_HOST_FUNCS)
		return -ENOSPC;
	sb->xfuncs[sb->nxfuncs++] = *fn;
	return 0;
}

VMLET_API int vmlet_sandbox_grant_fd(struct vmlet_sandbox *sb, int guest_fd, int host_fd,
				     unsigned int mode, const char *path)
{
	struct vmlet_grant *g;

	if (!sb || guest_fd < 3 || host_fd < 0 || !mode ||
	    (mode & ~(VMLET_GRANT_READ | VMLET_GRANT_WRITE)) ||
	    (path && strlen(path) > VMLET_MAX_PATH))
		return -EINVAL;
	if (vmlet_grant_find(sb->grants, sb->ngrants, (uint64_t)guest_fd))
		return -EEXIST;
	if (sb->ngrants == VMLET_MAX_GRANTS)
		return -ENOSPC;
	g = &sb->grants[sb->ngrants];
	*g = (struct vmlet_grant){.guest_fd = guest_fd, .host_fd = host_fd, .mode = mode};
	if (path) {
		g->path = strdup(path);
		if (!g->path)
			return -ENOMEM;
	}
	sb->ngrants++;
	return 0;
}

void vmlet_sandbox_forget_host(struct vmlet_sandbox *sb)
{
	for (unsigned int i = 0; i < sb->ngrants; i++)
		free(sb->grants[i].path);
	sb->ngrants = 0;
	sb->nxfuncs = 0;
}
