// SPDX-License-Identifier: BSD-2-Clause
/*
 * What vmlet_thread_confine()'s seccomp filter costs: the warm and the
 * fresh-VM call of add(1, 2), and a bare system call (gettid), each on a
 * thread without the filter and on one with it. The filter acts on every
 * system call of its thread (a cBPF program in the syscall path), so the
 * bare call shows its cost per system call; the calls show what that
 * comes to per call (one KVM_RUN warm, a handful fresh). Each figure with
 * the filter has its ratio to the same one without.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define WARM  2000
#define FRESH 500
#define SYS   20000

enum { K_WARM, K_FRESH, K_SYS, NK };

struct run {
	struct vmlet_sandbox *sb;
	struct vmlet_pool *pool;
	bool confine;
	struct fig *f[NK];
	int err;
};

static void *run_main(void *arg)
{
	struct run *r = arg;
	r->err = r->confine ? vmlet_thread_confine(0) : 0;
	if (r->err)
		return NULL;
	add_calls(r->f[K_WARM], r->sb, NULL, WARM);
	add_calls(r->f[K_FRESH], NULL, r->pool, FRESH);
	for (int i = 0; i < SYS; i++) {
		uint64_t t = now_ns();

		syscall(SYS_gettid);
		fig_add(r->f[K_SYS], (double)(now_ns() - t));
	}
	return NULL;
}

void bench_seccomp(struct bench *b)
{
	static const char *const keys[2][NK] = {
		{"warm-none", "fresh-none", "gettid-none"},
		{"warm-filter", "fresh-filter", "gettid-filter"},
	};
	static const char *const labels[NK] = {"warm call", "fresh-VM call", "gettid()"};
	static const char *const paths[NK] = {"vmlet.seccomp.warm-none", "vmlet.seccomp.fresh-none",
					      "vmlet.seccomp.gettid-none"};
	static const int caps[NK] = {WARM, FRESH, SYS};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct vmlet_image *img = NULL;
	struct run r[2] = {0};
	int err;

	section("vmlet: seccomp filter (vmlet_thread_confine) cost (us)");
	json_obj(b->j, "seccomp");
	progress("seccomp: calls without and with the filter");
	err = vmlet_image_open(DEMO_ELF, &img);
	if (!err)
		err = vmlet_sandbox_create(img, NULL, &r[0].sb);
	if (!err)
		err = vmlet_pool_create(img, NULL, &pc, &r[0].pool);
	for (int m = 0; m < 2; m++) {
		pthread_t t;

		r[m].sb = r[0].sb;
		r[m].pool = r[0].pool;
		r[m].confine = m;
		for (int k = 0; k < NK; k++)
			r[m].f[k] = fig_new(keys[m][k], caps[k], "vmlet: %s, %s filter", labels[k],
					    m ? "with" : "without");
		if (!err && pthread_create(&t, NULL, run_main, &r[m]) == 0)
			pthread_join(t, NULL);
		for (int k = 0; k < NK; k++) {
			if (err)
				fig_fail(r[m].f[k], "cannot set up the calls: %s",
					 vmlet_strerror(err));
			else if (r[m].err)
				fig_fail(r[m].f[k], "vmlet_thread_confine: %s",
					 vmlet_strerror(r[m].err));
			if (m)
				fig_ratio(r[m].f[k], r[0].f[k], paths[k]);
			fig_emit(b->j, r[m].f[k]);
		}
	}
	for (int m = 0; m < 2; m++)
		for (int k = 0; k < NK; k++)
			fig_free(r[m].f[k]);
	if (r[0].pool)
		vmlet_pool_destroy(r[0].pool);
	if (r[0].sb)
		vmlet_sandbox_destroy(r[0].sb);
	if (img)
		vmlet_image_close(img);
	json_end(b->j);
}
