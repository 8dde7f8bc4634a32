// SPDX-License-Identifier: BSD-2-Clause
/*
 * What tracing costs: the warm and the fresh-VM call of add(1, 2) with no
 * tracer, with `vmlet-trace latency` attached to this process and with
 * `vmlet-trace calls` streaming (to /dev/null). Each figure's ratio is to
 * the same call with no tracer; the JSON has the means too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define WARM  2000
#define FRESH 500

/* Start vmlet-trace MODE on this process; its pid once attached, or -1. */
static pid_t tracer_start(const char *mode)
{
	char pid[16], c, line[512];
	char *argv[] = {VMLET_TRACE, (char *)mode, "-p", pid, NULL};
	size_t n = 0;
	int err[2];
	pid_t t;

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (pipe2(err, O_CLOEXEC))
		return -1;
	t = spawn(argv, -1, err[1]);
	close(err[1]);
	while (t > 0 && read(err[0], &c, 1) == 1) {
		if (c != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = c;
			continue;
		}
		line[n] = '\0';
		if (!strncmp(line, "Tracing ", 8)) {
			close(err[0]);
			return t;
		}
		fprintf(stderr, "bench: vmlet-trace: %s\n", line);
		n = 0;
	}
	close(err[0]);
	if (t > 0)
		waitpid(t, NULL, 0);
	return -1;
}

static void tracer_stop(pid_t t)
{
	kill(t, SIGINT);
	waitpid(t, NULL, 0);
}

void bench_tracing(struct bench *b)
{
	static const char *const modes[] = {"none", "latency", "calls"};
	static const char *const keys[3][2] = {
		{"warm-none", "fresh-none"},
		{"warm-latency", "fresh-latency"},
		{"warm-calls", "fresh-calls"},
	};
	static const char *const paths[2] = {"vmlet.tracing.warm-none", "vmlet.tracing.fresh-none"};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct fig *base[2] = {NULL, NULL};
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_pool *pool = NULL;
	struct vmlet_image *img = NULL;
	int err;

	section("vmlet: tracing overhead (us)");
	json_obj(b->j, "tracing");
	err = vmlet_image_open(DEMO_ELF, &img);
	if (!err)
		err = vmlet_sandbox_create(img, NULL, &sb);
	if (!err)
		err = vmlet_pool_create(img, NULL, &pc, &pool);
	for (int m = 0; m < 3; m++) {
		pid_t t = -1;

		if (!err && m && (t = tracer_start(modes[m])) < 0)
			err = 1;
		for (int k = 0; k < 2; k++) {
			struct fig *f =
				fig_new(keys[m][k], k ? FRESH : WARM, "vmlet: %s call, tracer %s",
					k ? "fresh-VM" : "warm", modes[m]);

			if (err == 1)
				fig_skip(f, "vmlet-trace %s cannot attach (root and BPF needed)",
					 modes[m]);
			else if (err)
				fig_fail(f, "cannot set up the calls: %s", vmlet_strerror(err));
			else
				add_calls(f, k ? NULL : sb, pool, k ? FRESH : WARM);
			fig_ratio(f, base[k], paths[k]);
			fig_emit(b->j, f);
			if (m)
				fig_free(f);
			else
				base[k] = f;
		}
		if (t > 0)
			tracer_stop(t);
		if (err == 1)
			err = 0;
	}
	fig_free(base[0]);
	fig_free(base[1]);
	if (pool)
		vmlet_pool_destroy(pool);
	if (sb)
		vmlet_sandbox_destroy(sb);
	if (img)
		vmlet_image_close(img);
	json_end(b->j);
}
