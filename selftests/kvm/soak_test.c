// SPDX-License-Identifier: BSD-2-Clause
/*
 * Soak: threads create, call and destroy sandboxes (cold, from a
 * snapshot, through a pool), with host calls through the service and
 * inline, granted-descriptor I/O and failing calls mixed in, for a bounded
 * time; then every file descriptor, mapping and the memory they took must
 * be back to where they were.
 *
 * VMLET_SOAK_SECS sets the time (default 3 s; CI runs longer). The
 * baseline is taken after a warm-up round of the same work, so that what
 * the process sets up once (the /dev/kvm handle, malloc arenas and stack
 * caches of threads) is in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

#define THREADS 4
#define NOPS	5

static const struct vmlet_host_func funcs[] = {
	{.name = "add1", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1},
	{.name = "add1_in", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1,
	 .flags = VMLET_HOST_INLINE},
	{.name = "eperm", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_eperm},
};

struct soak {
	struct vmlet_image *img;
	struct vmlet_host *host;
	struct vmlet_snapshot *snap;
	struct vmlet_pool *pool;
	struct vmlet_config cfg;
	uint64_t end; /* now_ns() */
	atomic_uint ops[NOPS], bad;
};

struct worker {
	struct soak *s;
	unsigned int id;
};

/* relay_u64(fn, v) on sb: 0 when the host function's answer is v + 1. */
static int relay(struct vmlet_sandbox *sb, const char *fn, uint64_t v)
{
	struct vmlet_value a[2] = {vmlet_str(fn), vmlet_u64(v)}, r;
	int err = vmlet_sandbox_call(sb, "relay_u64", a, 2, &r);

	return err ? err : r.u64 == v + 1 ? 0 : -EBADMSG;
}

/* A file of the guest's own: read 64 bytes of /dev/zero through a grant. */
static int granted_read(struct vmlet_sandbox *sb, int fd)
{
	struct vmlet_value a[3], r;
	int err;

	err = vmlet_sandbox_grant_fd(sb, 3, fd, VMLET_GRANT_READ, "/zero");
	if (err)
		return err;
	err = vmlet_sandbox_call(sb, "big_addr", NULL, 0, &r);
	if (err)
		return err;
	a[0] = vmlet_i32(3);
	a[1] = vmlet_u64(r.u64);
	a[2] = vmlet_u64(64);
	err = vmlet_sandbox_call(sb, "read_at", a, 3, &r);
	return err ? err : r.i64 == 64 ? 0 : -EBADMSG;
}

static int one_op(struct soak *s, unsigned int op, uint64_t v, int zero)
{
	struct vmlet_value a[2] = {vmlet_str("add1"), vmlet_u64(v)}, r;
	struct vmlet_sandbox *sb = NULL;
	int err = 0;

	switch (op) {
	case 0: /* a cold sandbox, a host call through the service */
		err = vmlet_sandbox_create(s->img, &s->cfg, &sb);
		if (!err)
			err = relay(sb, "add1", v);
		break;
	case 1: /* from the snapshot: an inline host call and granted I/O */
		err = vmlet_sandbox_create_from(s->snap, &sb);
		if (!err)
			err = relay(sb, "add1_in", v);
		if (!err)
			err = granted_read(sb, zero);
		break;
	case 2: /* a fresh-VM call from the pool */
		err = vmlet_pool_call(s->pool, "relay_u64", a, 2, &r, NULL, 0);
		if (!err && r.u64 != v + 1)
			err = -EBADMSG;
		break;
	case 3: /* a failing pool call: the guest aborts on the host's -EPERM */
		a[0] = vmlet_str("eperm");
		err = vmlet_pool_call(s->pool, "relay_u64", a, 2, &r, NULL, 0);
		err = err == -VMLET_EABORT ? 0 : err ? err : -EBADMSG;
		break;
	default: /* acquire, two calls, release */
		err = vmlet_pool_acquire(s->pool, -1, &sb);
		if (err)
			return err;
		err = relay(sb, "add1", v);
		if (!err)
			err = relay(sb, "add1_in", v + 1);
		err = vmlet_pool_release(s->pool, sb) ?: err;
		return err;
	}
	vmlet_sandbox_destroy(sb);
	return err;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct soak *s = w->s;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	/* Each kind of operation at least once, however slow the machine. */
	for (uint64_t i = 0; i < NOPS || now_ns() < s->end; i++) {
		unsigned int op = (unsigned int)((i + w->id) % NOPS);
		int err = one_op(s, op, (uint64_t)w->id << 40 | i, zero);

		atomic_fetch_add(&s->ops[op], 1);
		if (err) {
			printf("# thread %u op %u: %d (%s)\n", w->id, op, err, vmlet_strerror(err));
			atomic_fetch_add(&s->bad, 1);
		}
	}
	close(zero);
	return NULL;
}

static int soak_run(struct soak *s, double secs)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int err;

	err = vmlet_host_create(2, &s->host);
	if (err)
		return err;
	s->cfg = (struct vmlet_config){.sz = sizeof(s->cfg), .host_funcs = funcs,
				       .nhost_funcs = sizeof(funcs) / sizeof(funcs[0]),
				       .host = s->host};
	err = vmlet_snapshot_create(s->img, &s->cfg, &s->snap);
	if (err)
		goto err_host;
	err = vmlet_pool_create(s->img, &s->cfg, &pc, &s->pool);
	if (err)
		goto err_snap;
	s->end = now_ns() + (uint64_t)(secs * 1e9);
	for (unsigned int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){s, i};
		err = -pthread_create(&t[i], NULL, worker_main, &w[i]);
		if (err) {
			s->end = 0; /* stop the ones started */
			while (i--)
				pthread_join(t[i], NULL);
			goto err_pool;
		}
	}
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
err_pool:
	err = vmlet_pool_destroy(s->pool) ?: err;
err_snap:
	vmlet_snapshot_destroy(s->snap);
err_host:
	vmlet_host_destroy(s->host);
	return err;
}

TEST(threads_create_call_destroy_and_give_everything_back)
{
	struct soak s = {0};
	double secs = getenv("VMLET_SOAK_SECS") ? atof(getenv("VMLET_SOAK_SECS")) : 3;
	unsigned int total = 0;
	struct footprint before, after;

	s.img = test_image(GUEST("hostcall"));
	if (!s.img)
		return;
	ASSERT_OK(soak_run(&s, 0.5)); /* warm-up */
	ASSERT_EQ(s.bad, 0);
	for (unsigned int i = 0; i < NOPS; i++)
		atomic_store(&s.ops[i], 0);
	before = footprint_take();
	ASSERT_OK(soak_run(&s, secs));
	after = footprint_take();
	for (unsigned int i = 0; i < NOPS; i++) {
		total += s.ops[i];
		EXPECT_GE(s.ops[i], 1);
	}
	printf("# %.0f s, %d threads: %u operations (cold %u, snapshot %u, pool %u, "
	       "failing pool %u, acquire %u)\n",
	       secs, THREADS, total, s.ops[0], s.ops[1], s.ops[2], s.ops[3], s.ops[4]);
	EXPECT_EQ(s.bad, 0);
	/* A leaked sandbox shows in fds and mappings; RSS bounds the heap. */
	EXPECT_FOOTPRINT_BACK(before, after, 1024);
	vmlet_image_close(s.img);
}

int main(void)
{
	return ksft_run();
}
