// SPDX-License-Identifier: BSD-2-Clause
/*
 * Pools: a snapshot and up to `size` sandboxes made from it, kept ready.
 *
 * Acquire pops an idle sandbox under the pool's lock (microseconds: no
 * KVM call). Release restores the sandbox on the caller's thread, which
 * is where a fresh-VM call pays for its isolation, and pushes it back.
 * Creating and destroying VMs are the expensive kernel operations, so
 * creating stays off that path: a sandbox whose restore fails is destroyed
 * (on the releasing thread, a rare path) and the refill thread makes its
 * replacement; it also tops the pool up whenever fewer than low_water
 * sandboxes are idle and fewer than size are alive. Waits are timed on
 * CLOCK_MONOTONIC.
 *
 * The refill thread runs nothing but library code, so it confines itself
 * with seccomp (lib/confine.c, VMLET_CONFINE_CREATE) before it makes a
 * sandbox, unless the pool is VMLET_POOL_UNCONFINED; vmlet_pool_create()
 * fails with its error when that is impossible. It costs the call path
 * nothing: no caller's thread is touched.
 *
 * The pool knows every sandbox it owns by address: idle[] holds the idle
 * ones, lent[] the acquired ones. Release looks sb up in lent[] before it
 * touches *sb, so a sandbox the pool never handed out (one made from its
 * snapshot with vmlet_sandbox_create_from(), or one of another pool) or
 * one released twice is refused without being read, restored or counted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probes.h"
#include "confine.h"
#include "sandbox.h"

struct vmlet_pool {
	struct vmlet_snapshot *snap;
	struct vmlet_pool_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t ready;  /* an idle sandbox was pushed, or the refill gave up */
	pthread_cond_t refill; /* the refill thread has work, or must stop */
	pthread_t thread;
	struct vmlet_sandbox **idle; /* a stack of cfg.size slots */
	struct vmlet_sandbox **lent; /* acquired, not yet released: cfg.size slots */
	unsigned int nidle, nlent, live, creating;
	bool stop;
	bool started;	 /* the refill thread confined itself (or failed to) */
	int confine_err; /* why it could not */
	int refill_err;	 /* the last creation failure, 0 after a success */
	struct vmlet_pool_stats stats;
};

static bool want_more(const struct vmlet_pool *p)
{
	return p->live + p->creating < p->cfg.size && p->nidle + p->creating < p->cfg.low_water;
}

static int make_one(struct vmlet_pool *p)
{
	struct vmlet_sandbox *sb;
	int err;

	p->creating++;
	pthread_mutex_unlock(&p->lock);
	err = __vmlet_sandbox_create_from(p->snap, true, &sb);
	pthread_mutex_lock(&p->lock);
	p->creating--;
	p->refill_err = err;
	if (!err) {
		p->idle[p->nidle++] = sb;
		p->live++;
		p->stats.created++;
	}
	pthread_cond_broadcast(&p->ready);
	return err;
}

static void *refill_main(void *arg)
{
	struct vmlet_pool *p = arg;
	int err = 0;

	if (!(p->cfg.flags & VMLET_POOL_UNCONFINED))
		err = __vmlet_thread_confine(VMLET_CONFINE_CREATE, false);
	pthread_mutex_lock(&p->lock);
	p->started = true;
	p->confine_err = err;
	pthread_cond_broadcast(&p->ready);
	while (!p->stop && !err) {
		if (!want_more(p)) {
			pthread_cond_wait(&p->refill, &p->lock);
			continue;
		}
		if (make_one(p)) {
			/* Out of memory or VMs: retry after a pause, not in a spin. */
			struct timespec t;

			clock_gettime(CLOCK_MONOTONIC, &t);
			t.tv_sec += 1;
			pthread_cond_timedwait(&p->refill, &p->lock, &t);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void drain(struct vmlet_pool *p)
{
	while (p->nidle)
		vmlet_sandbox_destroy(p->idle[--p->nidle]);
}

static int pool_config(const struct vmlet_pool_config *pcfg, struct vmlet_pool_config *c)
{
	*c = (struct vmlet_pool_config){.sz = sizeof(*c), .timeout_ms = -1};
	if (pcfg) {
		if (pcfg->sz < offsetof(struct vmlet_pool_config, timeout_ms) ||
		    pcfg->sz > sizeof(*c))
			return -EINVAL;
		memcpy(c, pcfg, pcfg->sz);
		c->sz = sizeof(*c);
	}
	if (!c->size)
		c->size = 8;
	if (!c->min_ready)
		c->min_ready = c->size;
	if (!c->low_water)
		c->low_water = c->size;
	if (c->min_ready > c->size || c->low_water > c->size || (c->flags & ~VMLET_POOL_UNCONFINED))
		return -EINVAL;
	return 0;
}

/*
 * A pool of sandboxes of snap, taking over one reference to it: the pool
 * drops it when it is destroyed, or here when it fails to start.
 */
static int start(struct vmlet_snapshot *snap, const struct vmlet_pool_config *pcfg,
		 struct vmlet_pool **out)
{
	struct vmlet_pool_config c = *pcfg;
	struct vmlet_pool *p;
	int err = 0;

	p = calloc(1, sizeof(*p));
	if (!p) {
		vmlet_snapshot_destroy(snap);
		return -ENOMEM;
	}
	p->snap = snap;
	p->cfg = c;
	p->stats.size = c.size;
	p->idle = calloc(c.size, sizeof(*p->idle));
	p->lent = calloc(c.size, sizeof(*p->lent));
	if (!p->idle || !p->lent) {
		err = -ENOMEM;
		goto err_pool;
	}
	pthread_mutex_init(&p->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&p->ready, &ca);
		pthread_cond_init(&p->refill, &ca);
		pthread_condattr_destroy(&ca);
	}

	pthread_mutex_lock(&p->lock);
	while (p->nidle < c.min_ready && !err)
		err = make_one(p);
	pthread_mutex_unlock(&p->lock);
	if (err)
		goto err_drain;
	err = -pthread_create(&p->thread, NULL, refill_main, p);
	if (err)
		goto err_drain;
	pthread_mutex_lock(&p->lock);
	while (!p->started)
		pthread_cond_wait(&p->ready, &p->lock);
	err = p->confine_err;
	pthread_mutex_unlock(&p->lock);
	if (err) {
		pthread_join(p->thread, NULL); /* it has returned */
		goto err_drain;
	}
	*out = p;
	return 0;

err_drain:
	drain(p);
	pthread_cond_destroy(&p->refill);
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->lock);
err_pool:
	free(p->lent);
	free(p->idle);
	vmlet_snapshot_destroy(p->snap);
	free(p);
	return err;
}

VMLET_API int vmlet_pool_create(struct vmlet_image *img, const struct vmlet_config *cfg,
				const struct vmlet_pool_config *pcfg, struct vmlet_pool **out)
{
	struct vmlet_pool_config c;
	struct vmlet_snapshot *snap;
	int err;

	if (!img || !out)
		return -EINVAL;
	err = pool_config(pcfg, &c);
	if (!err)
		err = vmlet_snapshot_create(img, cfg, &snap);
	if (!err)
		err = start(snap, &c, out);
	return err;
}

VMLET_API int vmlet_pool_create_from(struct vmlet_snapshot *snap,
				     const struct vmlet_pool_config *pcfg, struct vmlet_pool **out)
{
	struct vmlet_pool_config c;
	int err;

	if (!snap || !out)
		return -EINVAL;
	err = pool_config(pcfg, &c);
	if (err)
		return err;
	__vmlet_snapshot_get(snap);
	return start(snap, &c, out);
}

VMLET_API int vmlet_pool_destroy(struct vmlet_pool *p)
{
	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (p->live != p->nidle) {
		pthread_mutex_unlock(&p->lock);
		return -EBUSY;
	}
	p->stop = true;
	pthread_cond_signal(&p->refill);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	drain(p);
	pthread_cond_destroy(&p->refill);
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->lock);
	vmlet_snapshot_destroy(p->snap);
	free(p->lent);
	free(p->idle);
	free(p);
	return 0;
}

static int acquire(struct vmlet_pool *p, int timeout_ms, struct vmlet_sandbox **out)
{
	struct timespec deadline;
	int err = 0;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&p->lock);
	while (!p->nidle) {
		if (!timeout_ms) {
			err = -EAGAIN;
			break;
		}
		/* Nothing alive, nothing on the way, and making one fails: no wait helps. */
		if (!p->live && !p->creating && p->refill_err) {
			err = p->refill_err;
			break;
		}
		if (timeout_ms < 0)
			pthread_cond_wait(&p->ready, &p->lock);
		else if (pthread_cond_timedwait(&p->ready, &p->lock, &deadline) == ETIMEDOUT &&
			 !p->nidle) {
			err = -ETIMEDOUT;
			break;
		}
	}
	if (!err) {
		*out = p->idle[--p->nidle];
		p->lent[p->nlent++] = *out; /* nlent + nidle <= live <= size */
		if (want_more(p))
			pthread_cond_signal(&p->refill);
	}
	pthread_mutex_unlock(&p->lock);
	return err;
}

VMLET_API int vmlet_pool_acquire(struct vmlet_pool *p, int timeout_ms, struct vmlet_sandbox **out)
{
	int err;

	if (!p || !out)
		return -EINVAL;
	vmlet_probe_acquire_begin((uint64_t)(uintptr_t)p);
	err = acquire(p, timeout_ms, out);
	vmlet_probe_acquire_end((uint64_t)(uintptr_t)p, err ? 0 : (*out)->id, (int32_t)err);
	return err;
}

/* Take sb off lent[]: 0, -EALREADY when it is idle here, -EINVAL when it is not the pool's. */
static int take_back(struct vmlet_pool *p, const struct vmlet_sandbox *sb)
{
	for (unsigned int i = 0; i < p->nlent; i++) {
		if (p->lent[i] == sb) {
			p->lent[i] = p->lent[--p->nlent];
			return 0;
		}
	}
	for (unsigned int i = 0; i < p->nidle; i++)
		if (p->idle[i] == sb)
			return -EALREADY;
	return -EINVAL;
}

VMLET_API int vmlet_pool_release(struct vmlet_pool *p, struct vmlet_sandbox *sb)
{
	uint64_t id;
	int err;

	if (!p || !sb)
		return -EINVAL;
	/* Still running (a host function of its own call): it stays lent. */
	if (vmlet_vm_running(&sb->vm))
		return -EBUSY;
	pthread_mutex_lock(&p->lock);
	err = take_back(p, sb);
	pthread_mutex_unlock(&p->lock);
	if (err)
		return err;
	id = sb->id;
	/* The next user did not ask to be single-stepped (restore keeps it on). */
	err = sb->vm.single_step ? vmlet_sandbox_count_insns(sb, false) : 0;
	if (!err)
		err = vmlet_sandbox_restore(sb);
	if (err)
		vmlet_sandbox_destroy(sb);
	pthread_mutex_lock(&p->lock);
	if (err) {
		p->live--;
		p->stats.discarded++;
		pthread_cond_signal(&p->refill);
	} else {
		p->idle[p->nidle++] = sb; /* its lent[] slot was freed above */
		p->stats.restored++;
		pthread_cond_signal(&p->ready);
	}
	pthread_mutex_unlock(&p->lock);
	vmlet_probe_release((uint64_t)(uintptr_t)p, id, (int32_t)err);
	return err;
}

static int copy_result(struct vmlet_value *ret, void *buf, size_t size)
{
	size_t need = ret->buf.len + (ret->type == VMLET_STRING);

	if (ret->type != VMLET_STRING && ret->type != VMLET_BYTES)
		return 0;
	if (!buf || size < need)
		return -ENOSPC;
	memcpy(buf, ret->buf.ptr, need);
	ret->buf.ptr = buf;
	return 0;
}

/*
 * The fault record goes out through opts, copied before the release clears
 * it: the sandbox is restored, and another caller may hold it, by the time
 * the caller could ask vmlet_sandbox_fault(). An out pointer in an options
 * struct that starts with its size, as libbpf grows its calls
 * (bpf_prog_test_run_opts()), rather than one more positional parameter
 * for each new need; vmlet_pool_call() stays as it was, a wrapper.
 */
VMLET_API int vmlet_pool_call_opts(struct vmlet_pool *p, const char *name,
				   const struct vmlet_value *args, unsigned int nargs,
				   struct vmlet_value *ret, const struct vmlet_pool_call_opts *opts)
{
	struct vmlet_pool_call_opts o = {.sz = sizeof(o)};
	struct vmlet_sandbox *sb;
	size_t fault_sz = sizeof(struct vmlet_fault);
	struct vmlet_value v;
	int err, rerr;

	if (opts) {
		if (opts->sz < sizeof(opts->sz) || opts->sz > sizeof(o))
			return -EINVAL;
		memcpy(&o, opts, opts->sz);
	}
	if (opts && opts->sz < offsetof(struct vmlet_pool_call_opts, fault_sz) + sizeof(size_t))
		fault_sz = offsetof(struct vmlet_fault, nframes);
	else if (o.fault_sz && o.fault_sz < sizeof(struct vmlet_fault))
		fault_sz = o.fault_sz;
	if (o.fault)
		memset(o.fault, 0, fault_sz);
	err = p ? vmlet_pool_acquire(p, p->cfg.timeout_ms, &sb) : -EINVAL;
	if (err)
		goto err_acquire;
	err = vmlet_sandbox_call(sb, name, args, nargs, &v);
	if (o.fault)
		memcpy(o.fault, vmlet_sandbox_fault(sb), fault_sz);
	if (!err)
		err = copy_result(&v, o.buf, o.size);
	if (!err && ret)
		*ret = v;
	rerr = vmlet_pool_release(p, sb);
	return err ? err : rerr;

err_acquire:
	if (o.fault)
		o.fault->error = err; /* no call ran */
	return err;
}

VMLET_API int vmlet_pool_call(struct vmlet_pool *p, const char *name,
			      const struct vmlet_value *args, unsigned int nargs,
			      struct vmlet_value *ret, void *buf, size_t size)
{
	struct vmlet_pool_call_opts o = {.sz = sizeof(o), .buf = buf, .size = size};

	return vmlet_pool_call_opts(p, name, args, nargs, ret, &o);
}

VMLET_API void vmlet_pool_stats(struct vmlet_pool *p, struct vmlet_pool_stats *st)
{
	if (!st)
		return;
	if (!p) {
		memset(st, 0, sizeof(*st));
		return;
	}
	pthread_mutex_lock(&p->lock);
	*st = p->stats;
	st->live = p->live;
	st->idle = p->nidle;
	pthread_mutex_unlock(&p->lock);
}

VMLET_API const struct vmlet_snapshot *vmlet_pool_snapshot(const struct vmlet_pool *p)
{
	return p ? p->snap : NULL;
}
