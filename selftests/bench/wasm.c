// SPDX-License-Identifier: BSD-2-Clause
/*
 * A Wasm sandbox: wasm/add.wat (built with Debian's wabt) in Node's
 * built-in WebAssembly (V8). wasm/bench.js times, inside Node, compiling
 * and instantiating the module and calling add(1, 2) ("compile"),
 * instantiating the compiled module and calling it ("instantiate", the
 * counterpart of a fresh VM per call) and calling one instance ("warm",
 * timed 1000 calls at a time); its samples come back on a pipe and get
 * the statistics every figure gets. "start" is timed here: from just
 * before fork to Node printing add(1, 2), a cold start with the process.
 * Syscalls per operation: Node run with the operation N times against 0
 * times, with counters that follow all of Node's threads.
 *
 * And V8's side of the wasm-guest group's real workload: wasm/checksum.c's
 * module doing what a vmlet call of it does (vmlet_alloc, copy 4 KiB in,
 * Adler-32), on a fresh instance ("sum_instantiate") and on one instance
 * ("sum_warm").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define SAMPLES	   2000
#define STARTS	   20
#define MIN_STARTS 5
#define BUDGET_NS  20000000000ULL
#define COUNT_OPS  20000

static const char *const ops[] = {"compile", "instantiate", "warm"};
static const char *const sum_ops[] = {"sum_instantiate", "sum_warm"};

/* Run node on module with args; its stdout (malloc'd) in *out. 0 or why. */
static int node_on(const char *module, char *const args[], char **out, char *why, size_t len)
{
	char *argv[8] = {NODE, WASM_JS, (char *)module};
	int o[2], e[2], status;
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t r;
	pid_t pid;

	for (int i = 0; args[i] && i < 4; i++)
		argv[3 + i] = args[i];
	if (!buf || pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) {
		snprintf(why, len, "%s", strerror(errno));
		free(buf);
		return -1;
	}
	pid = spawn(argv, o[1], e[1]);
	close(o[1]);
	close(e[1]);
	while ((r = read(o[0], buf + n, cap - n - 1)) > 0) {
		n += (size_t)r;
		if (cap - n < 2) {
			char *p = realloc(buf, cap *= 2);

			if (!p)
				break;
			buf = p;
		}
	}
	buf[n] = '\0';
	close(o[0]);
	read_text(e[0], why, len);
	close(e[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		size_t l = strlen(why);

		snprintf(why + l, len - l, "%s%s failed", l ? ": " : "", NODE);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static int node(char *const args[], char **out, char *why, size_t len)
{
	return node_on(WASM_ADD, args, out, why, len);
}

/* Lines "NAME PER NS NS ..." from bench.js into the figures of names[0..n). */
static void samples(char *out, const char *const names[], struct fig **f, int n)
{
	for (char *line = out, *next; line && *line; line = next) {
		char *end, *name = line;
		double per;
		int k;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line = strchr(line, ' ');
		if (!line)
			break;
		*line++ = '\0';
		for (k = 0; k < n && strcmp(name, names[k]); k++)
			;
		per = strtod(line, &end);
		if (k == n || end == line || per <= 0)
			continue;
		for (line = end; *line;) {
			double v = strtod(line, &end);

			if (end == line)
				break;
			fig_add(f[k], v / per);
			line = end;
		}
	}
}

/* The checksum workload in V8 (see the top). */
static void sums(struct bench *b)
{
	char n[16], why[512], *out = NULL, *args[] = {"sum", n, NULL};
	const char *labels[] = {"wasm: instantiate + checksum(4 KiB)",
				"wasm: warm checksum(4 KiB)"};
	struct fig *f[2];
	int err;

	for (int i = 0; i < 2; i++)
		f[i] = fig_new(sum_ops[i], SAMPLES, "%s", labels[i]);
	snprintf(n, sizeof(n), "%d", SAMPLES);
	err = node_on(WASM_SUM, args, &out, why, sizeof(why));
	if (!err)
		samples(out, sum_ops, f, 2);
	free(out);
	for (int i = 0; i < 2; i++) {
		if (err)
			fig_fail(f[i], "%s", why);
		else if (f[i]->n != SAMPLES)
			fig_fail(f[i], "bench.js gave %d samples, not %d", f[i]->n, SAMPLES);
		fig_emit(b->j, f[i]);
		fig_free(f[i]);
	}
}

/* Node, from fork to the first byte it prints (add(1, 2), "3"). */
static void start(struct bench *b)
{
	struct fig *f = fig_new("start", STARTS, "wasm: node start to add(1, 2)");
	char *argv[] = {NODE, WASM_JS, WASM_ADD, "once", NULL};
	uint64_t t0 = now_ns();
	struct counters ctr;

	for (int i = 0; more(i, MIN_STARTS, STARTS, t0, BUDGET_NS); i++) {
		uint64_t t = now_ns();
		char c = 0;
		int o[2], status;
		pid_t pid;

		if (pipe2(o, O_CLOEXEC)) {
			fig_fail(f, "pipe: %s", strerror(errno));
			break;
		}
		pid = spawn(argv, o[1], -1);
		close(o[1]);
		if (pid > 0 && !read_byte(o[0], &c, START_TIMEOUT_MS))
			fig_add(f, (double)(now_ns() - t));
		close(o[0]);
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || c != '3' || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fig_fail(f, "%s %s once: printed '%c'", NODE, WASM_JS, c ? c : ' ');
			break;
		}
	}
	/* Counted (all of Node's threads) apart, untimed. */
	ctr_open(&ctr, true);
	ctr_start(&ctr);
	for (int i = 0; i < 3 && fig_ok(f); i++) {
		pid_t pid = spawn(argv, -1, -1);

		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	ctr_stop(&ctr, f->counts, 3);
	ctr_close(&ctr);
	f->counts[EV_UEXIT] = f->counts[EV_INSN] = -1; /* no VM here */
	fig_ratio(f, b->floor_create, "floor.create");
	fig_emit(b->j, f);
	fig_free(f);
}

/*
 * Syscalls per operation, from node doing op COUNT_OPS times against 0
 * times (op does per operations each time); -1 when they cannot be counted.
 */
static double syscalls_per_op(const char *op, int per)
{
	char n0[] = "0", n1[16], why[256], *out;
	char *a0[] = {"count", (char *)op, n0, NULL}, *a1[] = {"count", (char *)op, n1, NULL};
	double c0[NEV], c1[NEV];
	struct counters c;

	snprintf(n1, sizeof(n1), "%d", COUNT_OPS);
	ctr_open(&c, true);
	ctr_start(&c);
	if (node(a0, &out, why, sizeof(why)))
		goto fail;
	free(out);
	ctr_stop(&c, c0, 1);
	ctr_start(&c);
	if (node(a1, &out, why, sizeof(why)))
		goto fail;
	free(out);
	ctr_stop(&c, c1, 1);
	ctr_close(&c);
	if (c0[EV_SYSCALL] < 0)
		return -1;
	/* Node's own start-up varies by a few calls: never below zero. */
	if (c1[EV_SYSCALL] < c0[EV_SYSCALL])
		return 0;
	return (c1[EV_SYSCALL] - c0[EV_SYSCALL]) / COUNT_OPS / per;
fail:
	ctr_close(&c);
	return -1;
}

void bench_wasm(struct bench *b)
{
	char *vargs[] = {NODE, "--version", NULL}, version[64], why[512], n[16], *out = NULL;
	char *args[] = {"time", n, NULL};
	struct fig *f[3];
	int err;

	json_obj(b->j, "wasm");
	first_line(vargs, version, sizeof(version));
	json_str(b->j, "node", version);
	json_str(b->j, "module", "wasm/add.wat, built with wat2wasm");
	section("wasm: node's WebAssembly (us)");
	start(b);
	for (int i = 0; i < 3; i++)
		f[i] = fig_new(ops[i], SAMPLES, "wasm: %s%s", ops[i],
			       i == 2 ? " call"
			       : i    ? " + call"
				      : " + instantiate + call");
	snprintf(n, sizeof(n), "%d", SAMPLES);
	err = node(args, &out, why, sizeof(why));
	if (!err)
		samples(out, ops, f, 3);
	free(out);
	for (int i = 0; i < 3; i++) {
		if (err)
			fig_fail(f[i], "%s", why);
		else if (f[i]->n != SAMPLES)
			fig_fail(f[i], "bench.js gave %d samples, not %d", f[i]->n, SAMPLES);
		else
			f[i]->counts[EV_SYSCALL] = syscalls_per_op(ops[i], i == 2 ? 1000 : 1);
		fig_ratio(f[i], i ? b->floor_out : b->floor_create,
			  i ? "floor.out" : "floor.create");
		fig_emit(b->j, f[i]);
		fig_free(f[i]);
	}
	sums(b);
	json_end(b->j);
}
