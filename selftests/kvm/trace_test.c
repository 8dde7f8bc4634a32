// SPDX-License-Identifier: BSD-2-Clause
/*
 * Tracing: tools/vmlet-trace against a workload whose creates, calls,
 * acquires and restores are known, in this very process. This test links
 * libvmlet.so (not the .a), so the tool's two ways of finding the probes
 * are both exercised: the libvmlet.so in /proc/PID/maps (-p), and the
 * library path with pid -1 (every process).
 *
 * Counts must match the workload exactly. Times must be consistent with
 * the workload's own clock (both are CLOCK_MONOTONIC): a phase's sum can
 * never exceed the time of the operations that enclose it. From below, no
 * ratio of wall-clock times holds on every machine (the workload's clock
 * also sees the probes' traps and whatever stalls land outside them), so
 * the bound is one no machine beats: each create, create_from, call and
 * restore makes at least one KVM ioctl that enters the kernel and, for a
 * call, the guest, so takes at least 1 us. A sum in us, not ns, fails.
 *
 * SKIP only when this machine cannot trace: not root, or the tool reports
 * no BPF (exit 3: no BTF, no bpf()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <vmlet.h>

#include <bpf/bpf.h>

#include "util.h"
#include "vmlet_trace.h"

#define TOOL_UNSUPPORTED 3

struct tracer {
	pid_t pid;
	int out, err; /* its stdout and stderr */
};

static void read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && ((r = read(fd, buf + n, size - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
		n += r > 0 ? (size_t)r : 0;
	buf[n] = '\0';
}

/*
 * Start vmlet-trace with argv and wait until it is attached (its "Tracing"
 * line); SKIP when it says this machine cannot trace. 0 or -1.
 */
static int tracer_start(struct tracer *t, const char *const *argv)
{
	char line[1024];
	size_t n = 0;
	int out[2], err[2], status;

	if (geteuid())
		SKIP("not root: vmlet-trace needs CAP_BPF and CAP_PERFMON");
	if (pipe(out) || pipe(err))
		return -1;
	t->pid = fork();
	if (t->pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(VMLET_TRACE, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	t->out = out[0];
	t->err = err[0];
	while (n + 1 < sizeof(line)) {
		struct pollfd p = {.fd = t->err, .events = POLLIN};

		if (poll(&p, 1, 60000) <= 0 || read(t->err, line + n, 1) != 1)
			break;
		if (line[n] == '\n') {
			line[n] = '\0';
			if (!strncmp(line, "Tracing ", 8)) {
				printf("# %s\n", line);
				return 0;
			}
			printf("# vmlet-trace: %s\n", line);
			n = 0;
			continue;
		}
		n++;
	}
	line[n] = '\0';
	kill(t->pid, SIGKILL);
	waitpid(t->pid, &status, 0);
	read_all(t->err, line, sizeof(line));
	if (WIFEXITED(status) && WEXITSTATUS(status) == TOOL_UNSUPPORTED)
		SKIP("BPF unavailable: %.200s", line);
	ksft_fail_at("vmlet-trace did not start (status %#x): %s", status, line);
	return -1;
}

/* SIGINT, as Ctrl-C; its stdout into buf; its exit status, or -1. */
static int tracer_stop(struct tracer *t, char *buf, size_t size)
{
	int status;

	kill(t->pid, SIGINT);
	read_all(t->out, buf, size);
	if (waitpid(t->pid, &status, 0) < 0)
		return -1;
	close(t->out);
	close(t->err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Add the time since t to *sum, and keep the shortest in *min. */
static void took(uint64_t t, uint64_t *sum, uint64_t *min)
{
	uint64_t d = now_ns() - t;

	*sum += d;
	if (d < *min)
		*min = d;
}

/* "NAME":{"count":C,"errors":E,"sum_ns":S in the latency JSON. */
static int phase_of(const char *json, const char *name, uint64_t *count, uint64_t *sum)
{
	char key[64];
	unsigned long long c, e, s;
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":{", name);
	p = strstr(json, key);
	if (!p || sscanf(p + strlen(key), "\"count\":%llu,\"errors\":%llu,\"sum_ns\":%llu", &c, &e,
			 &s) != 3 || e) {
		ksft_fail_at("no error-free phase %s in: %.300s", name, json);
		return -1;
	}
	*count = c;
	*sum = s;
	return 0;
}

#define NCOLD	3
#define NFROM	2
#define NCALLS	20
#define NKEPT	10
#define NPOOL	10
#define POOLSZ	2

TEST(latency_counts_and_sums_match_the_workload)
{
	struct vmlet_value a[2] = {vmlet_i32(2), vmlet_i32(40)}, r;
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = POOLSZ, .timeout_ms = -1};
	uint64_t t_cold = 0, t_snap, t_from = 0, t_pool, t_call = 0, t_restore = 0, t_pcall = 0;
	uint64_t m_cold = UINT64_MAX, m_from = UINT64_MAX, m_call = UINT64_MAX;
	uint64_t m_restore = UINT64_MAX, m_ignore = UINT64_MAX;
	uint64_t t, c, s;
	char pid[16], *out = malloc(1 << 16);
	const char *argv[] = {VMLET_TRACE, "latency", "--json", "-p", pid, NULL};
	struct vmlet_sandbox *cold[NCOLD], *from[NFROM];
	struct vmlet_snapshot *snap;
	struct vmlet_image *img;
	struct vmlet_pool *pool;
	struct tracer tr;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_TRUE(out);
	if (tracer_start(&tr, argv))
		return;
	img = test_image(DEMO_ELF);
	ASSERT_TRUE(img);
	for (int i = 0; i < NCOLD; i++) {
		t = now_ns();
		ASSERT_OK(vmlet_sandbox_create(img, NULL, &cold[i]));
		took(t, &t_cold, &m_cold);
	}
	t = now_ns();
	ASSERT_OK(vmlet_snapshot_create(img, NULL, &snap));
	t_snap = now_ns() - t;
	for (int i = 0; i < NFROM; i++) {
		t = now_ns();
		ASSERT_OK(vmlet_sandbox_create_from(snap, &from[i]));
		took(t, &t_from, &m_from);
	}
	for (int i = 0; i < NCALLS; i++) {
		t = now_ns();
		ASSERT_OK(vmlet_sandbox_call(cold[i % NCOLD], "add", a, 2, &r));
		took(t, &t_call, &m_call);
		ASSERT_EQ(r.i32, 42);
	}
	for (int i = 0; i < NKEPT; i++) {
		t = now_ns();
		ASSERT_OK(vmlet_sandbox_restore(from[i % NFROM]));
		took(t, &t_restore, &m_restore);
	}
	t = now_ns();
	ASSERT_OK(vmlet_pool_create(img, NULL, &pc, &pool));
	t_pool = now_ns() - t;
	for (int i = 0; i < NPOOL; i++) {
		t = now_ns();
		ASSERT_OK(vmlet_pool_call(pool, "add", a, 2, &r, NULL, 0));
		took(t, &t_pcall, &m_ignore);
	}
	ASSERT_EQ(tracer_stop(&tr, out, 1 << 16), 0);

	EXPECT_TRUE(strstr(out, "\"when\":\"total\",\"image_loads\":1,"));
	/* Pool and snapshot each boot one cold sandbox; the pool makes POOLSZ. */
	if (!phase_of(out, "create", &c, &s)) {
		EXPECT_EQ(c, NCOLD + 2);
		EXPECT_LT(s, t_cold + t_snap + t_pool + 1);
		EXPECT_GE(s, c * 1000);
	}
	if (!phase_of(out, "create_from", &c, &s)) {
		EXPECT_EQ(c, NFROM + POOLSZ);
		EXPECT_LT(s, t_from + t_pool + 1);
		EXPECT_GE(s, c * 1000);
	}
	if (!phase_of(out, "acquire", &c, &s)) {
		EXPECT_EQ(c, NPOOL);
		EXPECT_LT(s, t_pcall + 1);
	}
	if (!phase_of(out, "call", &c, &s)) {
		EXPECT_EQ(c, NCALLS + NPOOL);
		EXPECT_LT(s, t_call + t_pcall + 1);
		EXPECT_GE(s, c * 1000);
	}
	if (!phase_of(out, "restore", &c, &s)) {
		EXPECT_EQ(c, NKEPT + NPOOL);
		EXPECT_LT(s, t_restore + t_pcall + 1);
		EXPECT_GE(s, c * 1000);
	}
	if (!phase_of(out, "hostcall", &c, &s))
		EXPECT_EQ(c, 0);
	printf("# workload: cold %.0f us (min %.0f), call %.0f us (min %.0f), restore %.0f us (min %.0f),"
	       " pool call %.0f us\n", t_cold / 1e3, m_cold / 1e3, t_call / 1e3, m_call / 1e3,
	       t_restore / 1e3, m_restore / 1e3, t_pcall / 1e3);
	vmlet_pool_destroy(pool);
	for (int i = 0; i < NFROM; i++)
		vmlet_sandbox_destroy(from[i]);
	vmlet_snapshot_destroy(snap);
	for (int i = 0; i < NCOLD; i++)
		vmlet_sandbox_destroy(cold[i]);
	vmlet_image_close(img);
	free(out);
}

/* Each host call is one hostcall phase, whether inline or on the service. */
TEST(hostcall_phase_counts_each_host_call)
{
	static const struct vmlet_host_func funcs[] = {
		{.name = "inc", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1},
		{.name = "inc_in", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1,
		 .flags = VMLET_HOST_INLINE},
	};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = funcs, .nhost_funcs = 2};
	struct vmlet_value a[3], r;
	char pid[16], *out = malloc(1 << 16);
	const char *argv[] = {VMLET_TRACE, "latency", "--json", "-p", pid, NULL};
	struct vmlet_image *img = test_image(GUEST("hostcall"));
	struct vmlet_sandbox *sb;
	struct tracer tr;
	uint64_t c, s;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_TRUE(img && out);
	ASSERT_OK(vmlet_host_create(1, &cfg.host));
	sb = test_sandbox(img, &cfg);
	ASSERT_TRUE(sb);
	if (tracer_start(&tr, argv))
		return;
	a[0] = vmlet_str("inc");
	a[1] = vmlet_u32(7);
	a[2] = vmlet_u64(0);
	ASSERT_OK(vmlet_sandbox_call(sb, "chain", a, 3, &r));
	EXPECT_EQ(r.u64, 7);
	a[0] = vmlet_str("inc_in");
	a[1] = vmlet_u32(5);
	ASSERT_OK(vmlet_sandbox_call(sb, "chain", a, 3, &r));
	EXPECT_EQ(r.u64, 5);
	ASSERT_EQ(tracer_stop(&tr, out, 1 << 16), 0);
	if (!phase_of(out, "hostcall", &c, &s)) {
		EXPECT_EQ(c, 12);
		EXPECT_GE(s, 1);
	}
	if (!phase_of(out, "call", &c, &s))
		EXPECT_EQ(c, 2);
	vmlet_sandbox_destroy(sb);
	vmlet_host_destroy(cfg.host);
	vmlet_image_close(img);
	free(out);
}

TEST(every_process_of_the_library_and_pinned_maps)
{
	const char *argv[] = {VMLET_TRACE, "latency", "--pin", "-l", LIBVMLET_SO, NULL};
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_hist h;
	struct vmlet_image *img;
	struct vmlet_sandbox *sb;
	struct tracer tr;
	char out[4096];
	__u32 key = VMLET_PHASE_CALL;
	int fd;

	if (tracer_start(&tr, argv))
		return;
	img = test_image(DEMO_ELF);
	sb = test_sandbox(img, NULL);
	ASSERT_TRUE(sb);
	for (int i = 0; i < 7; i++)
		ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	fd = bpf_obj_get("/sys/fs/bpf/vmlet/hists");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &h), 0);
	EXPECT_EQ(h.count, 7);
	EXPECT_EQ(h.errors, 0);
	key = VMLET_PHASE_CREATE;
	ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &h), 0);
	EXPECT_EQ(h.count, 1);
	close(fd);
	EXPECT_EQ(tracer_stop(&tr, out, sizeof(out)), 0);
	EXPECT_TRUE(strstr(out, "call: count 7, errors 0"));
	EXPECT_NE(access("/sys/fs/bpf/vmlet/hists", F_OK), 0);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/*
 * A reader that goes away (the pipe closes) ends the tracer through its
 * usual exit, which removes the pins: a SIGPIPE death would leave them,
 * and every later --pin would fail.
 */
TEST(pins_go_when_the_output_pipe_closes)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s latency -i 1 --pin -l %s 2>/dev/null | head -n 1 >/dev/null",
		 VMLET_TRACE, LIBVMLET_SO);
	ASSERT_EQ(system(cmd), 0);
	EXPECT_NE(access("/sys/fs/bpf/vmlet/hists", F_OK), 0);
	if (!access("/sys/fs/bpf/vmlet", F_OK)) /* what the tests after this one need */
		EXPECT_EQ(system("rm -rf /sys/fs/bpf/vmlet"), 0);
}

TEST(calls_streams_one_record_per_call)
{
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 1, .timeout_ms = -1};
	char pid[16], *out = malloc(1 << 16), *line;
	const char *argv[] = {VMLET_TRACE, "calls", "--json", "-p", pid, NULL};
	struct vmlet_image *img = test_image(DEMO_ELF);
	int kept = 0, pooled = 0, other = 0;
	struct vmlet_sandbox *sb;
	struct vmlet_pool *pool;
	struct tracer tr;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_TRUE(img && out);
	sb = test_sandbox(img, NULL);
	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_pool_create(img, NULL, &pc, &pool));
	if (tracer_start(&tr, argv))
		return;
	for (int i = 0; i < 5; i++)
		ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	for (int i = 0; i < 3; i++)
		ASSERT_OK(vmlet_pool_call(pool, "add", a, 2, &r, NULL, 0));
	/* Each record is in the ring buffer before its call returns; SIGINT drains it. */
	ASSERT_EQ(tracer_stop(&tr, out, 1 << 16), 0);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long id, acq, call, rest, ex, uex, insns;
		unsigned int p, tid, func;
		char name[32];
		int err;

		if (sscanf(line,
			   "{\"type\":\"call\",\"pid\":%u,\"tid\":%u,\"sandbox\":%llu,\"func\":%u,"
			   "\"name\":\"%31[^\"]\",\"err\":%d,\"acquire_ns\":%llu,\"call_ns\":%llu,"
			   "\"restore_ns\":%llu,\"exits\":%llu,\"user_exits\":%llu,\"insns\":%llu}",
			   &p, &tid, &id, &func, name, &err, &acq, &call, &rest, &ex, &uex,
			   &insns) != 12 || p != (unsigned int)getpid() || err || strcmp(name, "add") ||
		    !call) {
			printf("# unexpected: %s\n", line);
			other++;
		} else if (id == vmlet_sandbox_id(sb) && !acq && !rest) {
			kept++;
		} else if (id != vmlet_sandbox_id(sb) && acq && rest) {
			pooled++;
		} else {
			printf("# unexpected: %s\n", line);
			other++;
		}
	}
	EXPECT_EQ(kept, 5);
	EXPECT_EQ(pooled, 3);
	EXPECT_EQ(other, 0);
	vmlet_pool_destroy(pool);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
	free(out);
}

TEST(exits_counts_one_userspace_exit_per_warm_call)
{
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	char pid[16], out[8192];
	const char *argv[] = {VMLET_TRACE, "exits", "--json", "-p", pid, NULL};
	struct vmlet_image *img = test_image(DEMO_ELF);
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	unsigned long long calls, exits, uexits;
	struct tracer tr;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r)); /* the first call faults pages in */
	if (tracer_start(&tr, argv))
		return;
	for (int i = 0; i < 10; i++)
		ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	ASSERT_EQ(tracer_stop(&tr, out, sizeof(out)), 0);
	printf("# %s", out);
	ASSERT_EQ(sscanf(out, "{\"type\":\"exits\",\"calls\":%llu,\"exits\":%llu,\"user_exits\":%llu",
			 &calls, &exits, &uexits),
		  3);
	EXPECT_EQ(calls, 10);
	/* A warm call is exactly one exit to user space: the guest's OUT. */
	EXPECT_EQ(uexits, 10);
	EXPECT_TRUE(strstr(out, "{\"source\":\"user\",\"reason\":2,\"name\":\"IO\",\"count\":10}"));
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* The next line of fd, without its newline: 0, or -1 at its end. */
static int read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && read(fd, line + n, 1) == 1) {
		if (line[n] == '\n') {
			line[n] = '\0';
			return 0;
		}
		n++;
	}
	line[n] = '\0';
	return -1;
}

/* Read t's interval lines (exits --json -i) until their calls add up to want or more. */
static unsigned long long interval_calls(struct tracer *t, unsigned long long want)
{
	unsigned long long sum = 0, calls;
	char line[8192];

	while (sum < want && !read_line(t->out, line, sizeof(line))) {
		if (sscanf(line, "{\"type\":\"exits\",\"calls\":%llu", &calls) != 1 ||
		    !strstr(line, "\"when\":\"interval\"")) {
			printf("# not an interval's line: %s\n", line);
			return ~0ULL;
		}
		if (calls)
			printf("# %s\n", line);
		sum += calls;
	}
	return sum;
}

TEST(exits_each_interval_counts_its_own_calls)
{
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	char pid[16], out[65536];
	const char *argv[] = {VMLET_TRACE, "exits", "--json", "-i", "1", "-p", pid, NULL};
	struct vmlet_image *img = test_image(DEMO_ELF);
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	unsigned long long calls;
	struct tracer tr;
	char *last;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	if (tracer_start(&tr, argv))
		return;
	for (int i = 0; i < 5; i++)
		ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	EXPECT_EQ(interval_calls(&tr, 5), 5);
	/* The next intervals count only what came after: 7, not 12. */
	for (int i = 0; i < 7; i++)
		ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	EXPECT_EQ(interval_calls(&tr, 7), 7);
	/* Interrupted, it prints the totals. */
	ASSERT_EQ(tracer_stop(&tr, out, sizeof(out)), 0);
	last = strstr(out, "\"when\":\"total\"");
	ASSERT_TRUE(last);
	while (last > out && last[-1] != '\n')
		last--;
	printf("# %.*s\n", (int)strcspn(last, "\n"), last);
	ASSERT_EQ(sscanf(last, "{\"type\":\"exits\",\"calls\":%llu", &calls), 1);
	EXPECT_EQ(calls, 12);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* The guest names its functions: vmlet-trace prints such a name escaped. */
TEST(calls_escapes_the_guests_function_names)
{
	char pid[16], out[8192];
	const char *json[] = {VMLET_TRACE, "calls", "--json", "-p", pid, NULL};
	const char *table[] = {VMLET_TRACE, "calls", "-p", pid, NULL};
	const char *const *argv[] = {json, table};
	const char *want[] = {"\"name\":\"q\\u0022b\\u005cc\\u0001\"", " q\"b\\c? "};
	struct vmlet_image *img = test_image(GUEST("trace"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct vmlet_value r;
	struct tracer tr;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_TRUE(sb);
	for (int i = 0; i < 2; i++) {
		if (tracer_start(&tr, argv[i]))
			return;
		ASSERT_OK(vmlet_sandbox_call_index(sb, 0, NULL, 0, &r));
		ASSERT_EQ(r.u32, 1);
		ASSERT_EQ(tracer_stop(&tr, out, sizeof(out)), 0);
		printf("# %s", out);
		EXPECT_TRUE(strstr(out, want[i]));
	}
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(target_without_probes_is_an_error)
{
	const char *argv[] = {VMLET_TRACE, "latency", "-l", "/bin/true", NULL};
	char err[1024];
	int status, pipefd[2];
	pid_t pid;

	if (geteuid())
		SKIP("not root: vmlet-trace needs CAP_BPF and CAP_PERFMON");
	ASSERT_EQ(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 2);
		execv(VMLET_TRACE, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	read_all(pipefd[0], err, sizeof(err));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == TOOL_UNSUPPORTED)
		SKIP("BPF unavailable: %.200s", err);
	EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1);
	EXPECT_TRUE(strstr(err, "true has no vmlet probes"));
}

int main(void)
{
	return ksft_run();
}
