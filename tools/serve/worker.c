// SPDX-License-Identifier: BSD-2-Clause
/*
 * Workers: one thread per core that runs calls in sandboxes, each with its
 * own pool (restore), its own warm sandbox (reuse), and the right to
 * create sandboxes from the snapshot (renew). A worker sets those up and
 * then confines itself with vmlet_thread_confine(): from then on it can
 * run, restore, create and destroy sandboxes and nothing else, so it
 * cannot take part in HTTP (accept, recv, send are refused). The HTTP
 * threads therefore hand calls over: HTTP thread i is paired with worker
 * i (worker_for_thread), puts the job in the worker's one-slot mailbox and
 * waits on the same futex word for the outcome; the worker answers, and
 * only then does what the lifecycle leaves for after the call (release
 * and restore the pool's sandbox, destroy a renewed one, bring a failed
 * reuse sandbox back), so that work is off the response's path. The job
 * carries the times of both hand-overs, which /metrics shows
 * (vmlet_serve_handoff_seconds), and how each found the thread it went to
 * (vmlet_serve_handoffs_total).
 *
 * A thread waiting on a hand-over spins for up to --spin-us (default 200
 * us) before it sleeps on the futex, but only while its pair and every
 * other busy one (with a job, or one posted in the last millisecond) can
 * each have two of the server's CPUs, --cpus (may_spin()): spinning on a
 * CPU another thread of ours needs would delay that thread instead.
 * Other processes are not counted. On the 2-core build machine, quiet (a
 * Firecracker guest whose idle CPUs halt at once: guest_halt_poll_ns=0),
 * restore at one connection had a p50 of 202-218 us against 145 us for
 * the library's own fresh-VM call (+41%), and the hand-overs a mean of
 * 23-26 us to the worker and 25-29 us back: waking a thread on a halted
 * CPU. Spinning, they took 1-2 us each way, and restore's p50 fell to
 * 147-149 us (+3%); at 50 connections, where may_spin() lets no thread
 * spin, throughput stayed the same (restore 10.1k against 9.9k req/s,
 * reuse 11.1k against 11.1k, 3 rounds each). The price is CPU time: at
 * one connection 301 us of it per request against 208 without spinning.
 * Before may_spin() counted pairs, a cap on spinners by a count of
 * running jobs let workers spin at 50 connections while their HTTP
 * threads needed the CPU, and throughput fell by a fifth to a half.
 * Earlier, on the same machine under a load average of 10-12 (whose CPUs
 * were rarely idle, so a wake-up was cheap), spinning 100 us had changed
 * nothing beyond the noise; restoring on a thread of its own instead and
 * pinning each HTTP thread and its worker to one CPU did not help either
 * (the extra thread competed for the CPU the next call needs).
 * Running HTTP on the workers themselves, which removes both hand-overs
 * (one libmicrohttpd daemon per worker in external epoll mode, driven by
 * MHD_run_wait() from the worker's loop, all on the one listening socket,
 * the seccomp filter widened to accept4, recvfrom, sendmsg, shutdown,
 * setsockopt and epoll), was measured against this design in alternating
 * wrk segments on the same loaded machine: at one connection on restore
 * p50 342 against 380 us (medians of 8 segments each, which spread over
 * 297-503 and 258-2560 us), no clear win, since the next request's
 * parsing no longer overlaps the previous call's restore; a second
 * batch of 6 segments each gave p50 448 against 437 us and the same CPU
 * time per request (263 against 262 us). At 50 connections restore fell
 * from 2.9k-5.9k to 1.2k-2.8k req/s in both batches. So the
 * workers stay out of HTTP, and keep the narrower filter. A lock
 * per worker makes the pairing safe if it is ever not one to one; in the
 * usual case it is never contended and costs no system call.
 *
 * Destroying a VM costs the kernel milliseconds (DESIGN.md: tearing one
 * down takes about 29 ms under nested KVM), so renew's destroys go to one
 * reaper thread, confined like the workers, instead of delaying the
 * worker's next call; when the reaper is REAP_MAX behind, the worker
 * destroys its sandbox itself, which bounds the backlog.
 *
 * Renew's sandboxes are made with vmlet_sandbox_create_from(), which runs
 * nothing before the call (no warm-up run and no restore:
 * vmlet_sandbox_create_from(3)). And while a server has a renew route,
 * one more sandbox, the keeper, lives as long as the workers, idle and
 * never run: where no other VM exists (renew alone, a connection at a
 * time), every KVM_CREATE_VM and vCPU creation would otherwise switch on
 * kernel static keys (preempt notifiers, vCPUs without an in-kernel
 * APIC) and every last destroy switch them off again, each switch
 * patching kernel text with an IPI to every CPU. On the 2-core build
 * machine (Linux 6.18, a KVM that emulates guest code), a loop of
 * create_from, call of add() and destroy cost 1.69, 1.63 and 1.69 ms of
 * CPU per round without the keeper and 1.15, 1.23 and 1.14 ms with it
 * (300 rounds each, alternated); perf put 19% of the loop's samples in
 * __text_poke without it. The keeper costs a VM, a vCPU and two
 * descriptors, and no guest page: it never runs.
 *
 * The guest's output during a call goes to the job's buffer (the print
 * callback runs on the worker, confined, and only copies); the config's
 * print_limit is that buffer's size, so a guest that prints more fails
 * with -VMLET_EOUTPUT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "serve.h"

enum { ST_SETUP, ST_IDLE, ST_JOB, ST_DONE, ST_STOP, ST_FAILED };

struct worker {
	struct server *s;
	unsigned int id;
	pthread_t th;
	pthread_mutex_t lock; /* the requester's, around one job */
	uint32_t state;	      /* futex word: ST_* */
	uint64_t posted_ns;   /* when the last job was posted */
	uint64_t done_ns;     /* posted_ns of the last job done, after() and all */
	struct job *job;
	struct vmlet_pool *pool;     /* restore */
	struct vmlet_sandbox *reuse; /* reuse */
	bool reuse_dead;	     /* its last call failed: restore it */
	struct vmlet_sandbox *held;  /* the call's sandbox, for after() */
	enum lifecycle held_lc;
	uint64_t restores; /* of the reuse sandbox */
	uint64_t renewed;  /* sandboxes created for renew */
	int err;	   /* setup's */
};

#define REAP_MAX 64

static struct reaper {
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vmlet_sandbox *q[REAP_MAX];
	unsigned int head, n;
	bool stop, started;
} reaper = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/*
 * Renew's keeper: an idle sandbox that lives as long as the workers, so
 * that some VM and some vCPU always exist (see the top).
 */
static struct vmlet_sandbox *keeper;

static __thread struct job *cur_job;
static __thread struct worker *mine;
static unsigned int next_worker;

static void futex_wait(uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static uint32_t load(const uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

/*
 * Spinning before sleeping (see the top). A pair, an HTTP thread and its
 * worker, is active while its worker has a job (from posting to the end
 * of after()) and for ACTIVE_NS after it posted one; w's threads spin
 * only while w's pair and every other active one can each have two of
 * the server's CPUs (s->cpus).
 */
#define ACTIVE_NS 1000000

static bool active(const struct worker *w, uint64_t now)
{
	uint64_t posted = __atomic_load_n(&w->posted_ns, __ATOMIC_RELAXED);

	/* now may be a little older than posted: signed. */
	return (int64_t)(now - posted) < ACTIVE_NS ||
	       __atomic_load_n(&w->done_ns, __ATOMIC_RELAXED) != posted;
}

static bool may_spin(const struct worker *w, uint64_t now)
{
	const struct server *s = w->s;
	unsigned int n = 1;

	for (unsigned int i = 0; i < s->workers; i++)
		n += s->w[i] != w && active(s->w[i], now);
	return 2 * n <= s->cpus;
}

/*
 * Wait until w's state is a or b, spinning up to the server's spin_ns
 * while may_spin(), then sleeping on the futex; *how says which of those
 * found it (WAIT_*).
 */
static uint32_t wait_for(struct worker *w, uint32_t a, uint32_t b, unsigned char *how)
{
	uint32_t st = load(&w->state);
	uint64_t now, end;

	*how = WAIT_READY;
	if (st == a || st == b)
		return st;
	now = now_ns();
	end = now + w->s->spin_ns;
	while (now < end && may_spin(w, now)) {
		*how = WAIT_SPINNING;
		for (int i = 0; i < 256; i++) {
			st = load(&w->state);
			if (st == a || st == b)
				return st;
			__builtin_ia32_pause();
		}
		now = now_ns();
	}
	while ((st = load(&w->state)) != a && st != b) {
		*how = WAIT_SLEEPING;
		futex_wait(&w->state, st);
	}
	return st;
}

static void set_state(struct worker *w, uint32_t st)
{
	__atomic_store_n(&w->state, st, __ATOMIC_RELEASE);
	futex_wake(&w->state);
}

/* Guest output of a call: kept up to the job's buffer. */
void job_output(struct job *job, const char *buf, size_t len)
{
	if (len > OUTPUT_CAP - job->outlen)
		len = OUTPUT_CAP - job->outlen;
	memcpy(job->output + job->outlen, buf, len);
	job->outlen += len;
}

/* The config's print callback: output of the call running on this worker. */
void worker_print(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	if (cur_job)
		job_output(cur_job, buf, len);
}

/* Call on sb and keep what the response needs before sb is restored. */
static void call(struct job *job, struct vmlet_sandbox *sb)
{
	struct vmlet_value *ret = &job->ret;
	int err;

	err = vmlet_sandbox_call_index(sb, job->route->index, job->args, job->route->sig.nargs,
				       ret);
	if (err) {
		job->fault = *vmlet_sandbox_fault(sb);
		job->err = err;
		return;
	}
	if (ret->type == VMLET_STRING || ret->type == VMLET_BYTES) {
		/* The guest's output buffer is no larger than RESULT_CAP. */
		size_t n = ret->buf.len < RESULT_CAP ? ret->buf.len : RESULT_CAP;

		memcpy(job->result, ret->buf.ptr, n);
		ret->buf.ptr = job->result;
		ret->buf.len = n;
	}
}

static void run(struct worker *w, struct job *job)
{
	struct server *s = w->s;
	struct vmlet_sandbox *sb = NULL;
	int err;

	cur_job = job;
	switch (job->route->lc) {
	case LC_REUSE:
		call(job, w->reuse);
		w->reuse_dead = job->err != 0;
		break;
	case LC_RESTORE:
		err = vmlet_pool_acquire(w->pool, (int)s->timeout_ms, &sb);
		if (err) {
			job->err = err;
			break;
		}
		call(job, sb);
		break;
	case LC_RENEW:
		err = vmlet_sandbox_create_from(s->snap, &sb);
		if (err) {
			job->err = err;
			break;
		}
		w->renewed++;
		call(job, sb);
		break;
	default:
		job->err = -EINVAL;
	}
	cur_job = NULL;
	w->held = sb;
	w->held_lc = job->route->lc;
}

static void *reaper_main(void *arg)
{
	struct vmlet_sandbox *sb;

	if (arg)
		vmlet_thread_confine(0);
	pthread_mutex_lock(&reaper.lock);
	for (;;) {
		while (!reaper.n && !reaper.stop)
			pthread_cond_wait(&reaper.cond, &reaper.lock);
		if (!reaper.n)
			break;
		sb = reaper.q[reaper.head];
		reaper.head = (reaper.head + 1) % REAP_MAX;
		reaper.n--;
		pthread_mutex_unlock(&reaper.lock);
		vmlet_sandbox_destroy(sb);
		pthread_mutex_lock(&reaper.lock);
	}
	pthread_mutex_unlock(&reaper.lock);
	return NULL;
}

/* Destroy sb on the reaper thread; on this one if it is too far behind. */
static void reap(struct vmlet_sandbox *sb)
{
	bool queued = false;

	pthread_mutex_lock(&reaper.lock);
	if (reaper.started && reaper.n < REAP_MAX) {
		reaper.q[(reaper.head + reaper.n++) % REAP_MAX] = sb;
		queued = true;
		pthread_cond_signal(&reaper.cond);
	}
	pthread_mutex_unlock(&reaper.lock);
	if (!queued)
		vmlet_sandbox_destroy(sb);
}

/* What the lifecycle does once the caller has its answer. */
static void after(struct worker *w)
{
	if (w->held && w->held_lc == LC_RESTORE)
		vmlet_pool_release(w->pool, w->held);
	else if (w->held)
		reap(w->held);
	w->held = NULL;
	if (w->reuse_dead) {
		if (vmlet_sandbox_restore(w->reuse) == 0)
			w->reuse_dead = false;
		w->restores++;
	}
}

static int setup(struct worker *w)
{
	struct server *s = w->s;
	unsigned int flags = s->lcs[LC_RENEW] ? VMLET_CONFINE_CREATE : 0;
	int err;

	if (s->lcs[LC_RESTORE]) {
		struct vmlet_pool_config pc = {
			.sz = sizeof(pc),
			.size = s->pool_size,
			.min_ready = s->pool_size,
			.timeout_ms = (int)s->timeout_ms,
		};

		err = vmlet_pool_create_from(s->snap, &pc, &w->pool);
		if (err)
			return err;
	}
	if (s->lcs[LC_REUSE]) {
		err = vmlet_sandbox_create_from(s->snap, &w->reuse);
		if (err)
			return err;
	}
	return s->confine ? vmlet_thread_confine(flags) : 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char how;
	uint64_t posted;
	uint32_t st;

	w->err = setup(w);
	set_state(w, w->err ? ST_FAILED : ST_IDLE);
	if (w->err)
		return NULL;
	for (;;) {
		st = wait_for(w, ST_JOB, ST_STOP, &how);
		if (st == ST_STOP)
			break;
		w->job->taken_how = how;
		w->job->taken_ns = now_ns();
		posted = w->job->posted_ns; /* the job is the HTTP thread's once done */
		run(w, w->job);
		w->job->answered_ns = now_ns();
		set_state(w, ST_DONE);
		after(w);
		__atomic_store_n(&w->done_ns, posted, __ATOMIC_RELAXED);
	}
	return NULL;
}

void worker_call(struct worker *w, struct job *job)
{
	job->err = 0;
	job->outlen = 0;
	job->fault.error = 0;
	pthread_mutex_lock(&w->lock);
	w->job = job;
	job->posted_ns = now_ns();
	__atomic_store_n(&w->posted_ns, job->posted_ns, __ATOMIC_RELAXED);
	set_state(w, ST_JOB);
	wait_for(w, ST_DONE, ST_DONE, &job->answered_how);
	pthread_mutex_unlock(&w->lock);
}

struct worker *worker_for_thread(struct server *s)
{
	if (!mine)
		mine = s->w[__atomic_fetch_add(&next_worker, 1, __ATOMIC_RELAXED) % s->workers];
	return mine;
}

unsigned int worker_id(const struct worker *w)
{
	return w->id;
}

void worker_pool_stats(const struct worker *w, struct vmlet_pool_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (w->pool)
		vmlet_pool_stats(w->pool, st);
}

uint64_t worker_restores(const struct worker *w)
{
	return __atomic_load_n(&w->restores, __ATOMIC_RELAXED);
}

uint64_t worker_renewed(const struct worker *w)
{
	return __atomic_load_n(&w->renewed, __ATOMIC_RELAXED);
}

int workers_start(struct server *s)
{
	int err = 0;

	s->w = calloc(s->workers, sizeof(*s->w));
	if (!s->w)
		return -ENOMEM;
	if (s->lcs[LC_RENEW]) {
		err = vmlet_sandbox_create_from(s->snap, &keeper);
		if (err)
			return err;
		err = -pthread_create(&reaper.th, NULL, reaper_main, s->confine ? s : NULL);
		if (err)
			return err;
		reaper.started = true;
	}
	/* All of them before any thread, which may_spin() reads. */
	for (unsigned int i = 0; i < s->workers; i++) {
		struct worker *w = calloc(1, sizeof(*w));

		if (!w)
			return -ENOMEM;
		w->s = s;
		w->id = i;
		pthread_mutex_init(&w->lock, NULL);
		s->w[i] = w;
	}
	for (unsigned int i = 0; i < s->workers; i++) {
		struct worker *w = s->w[i];

		err = -pthread_create(&w->th, NULL, worker_main, w);
		if (err) {
			for (unsigned int j = i; j < s->workers; j++) {
				s->w[j]->state = ST_FAILED;
				s->w[j]->th = 0;
			}
			break;
		}
	}
	/* Wait for every started one, so that workers_stop() finds none in setup. */
	for (unsigned int i = 0; i < s->workers && s->w[i]; i++) {
		struct worker *w = s->w[i];
		uint32_t st;

		while ((st = load(&w->state)) == ST_SETUP)
			futex_wait(&w->state, st);
		if (st == ST_FAILED && !err)
			err = w->err;
	}
	return err;
}

void workers_stop(struct server *s)
{
	if (!s->w)
		return;
	/* Every thread first: a spinning one reads the others (may_spin()). */
	for (unsigned int i = 0; i < s->workers; i++) {
		struct worker *w = s->w[i];

		if (w && w->th && load(&w->state) != ST_FAILED)
			set_state(w, ST_STOP);
	}
	for (unsigned int i = 0; i < s->workers; i++)
		if (s->w[i] && s->w[i]->th)
			pthread_join(s->w[i]->th, NULL);
	for (unsigned int i = 0; i < s->workers; i++) {
		struct worker *w = s->w[i];

		if (!w)
			continue;
		if (w->reuse)
			vmlet_sandbox_destroy(w->reuse);
		if (w->pool)
			vmlet_pool_destroy(w->pool);
		pthread_mutex_destroy(&w->lock);
		free(w);
	}
	free(s->w);
	s->w = NULL;
	if (reaper.started) {
		pthread_mutex_lock(&reaper.lock);
		reaper.stop = true;
		pthread_cond_signal(&reaper.cond);
		pthread_mutex_unlock(&reaper.lock);
		pthread_join(reaper.th, NULL);
		reaper.started = false;
	}
	vmlet_sandbox_destroy(keeper);
	keeper = NULL;
}
