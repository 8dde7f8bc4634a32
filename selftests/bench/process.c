// SPDX-License-Identifier: BSD-2-Clause
/*
 * A process per call: fork, exec of process/add.c (static musl) with
 * "1" "2", wait, check the exit status (3). With seccomp, the child sets
 * no_new_privs and loads a filter between fork and exec, as a sandbox
 * launcher would: an allow-list of the calls exec and musl's start-up and
 * exit need (execve, arch_prctl, set_tid_address, exit_group, exit), any
 * other call kills the process. The filter is classic BPF built here, so
 * the child allocates nothing between fork and exec. The two alternate
 * call by call, so that the rest of the machine weighs on both alike.
 * Counts per call follow the child too (syscalls; no KVM here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define CALLS	  2000
#define MIN_CALLS 50
#define BUDGET_NS 20000000000ULL
#define COUNTED	  100

#define ALLOW(nr)                                                                                  \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                                           \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	ALLOW(__NR_execve),
	ALLOW(__NR_arch_prctl),
	ALLOW(__NR_set_tid_address),
	ALLOW(__NR_exit_group),
	ALLOW(__NR_exit),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

static const struct sock_fprog prog = {
	.len = sizeof(filter) / sizeof(filter[0]),
	.filter = filter,
};

/* One call: the exit status (3 expected), or -errno. */
static int call(bool sec)
{
	static char *const argv[] = {PROCESS_ADD, "1", "2", NULL};
	static char *const envp[] = {NULL};
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (sec && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
			    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)))
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (pid < 0)
		return -errno;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t process_spawn_idle(int out_fd)
{
	char *argv[] = {PROCESS_ADD, "idle", NULL};

	return spawn(argv, out_fd, -1);
}

/* One timed call into f; false (and f says why) when it failed. */
static bool timed(struct fig *f, bool sec)
{
	uint64_t t = now_ns();
	int ret = call(sec);

	fig_add(f, (double)(now_ns() - t));
	if (ret < 0)
		fig_fail(f, "fork or wait: %s", strerror(-ret));
	else if (ret != 3)
		fig_fail(f, "exit status %d, not 3%s", ret,
			 ret == 128 + SIGSYS ? ": killed by seccomp"
			 : ret == 126	     ? ": cannot load the seccomp filter"
					     : "");
	return ret == 3;
}

static void count(struct fig *f, bool sec)
{
	struct counters c;

	if (!fig_ok(f))
		return;
	ctr_open(&c, true);
	ctr_start(&c);
	for (int i = 0; i < COUNTED; i++)
		call(sec);
	ctr_stop(&c, f->counts, COUNTED);
	ctr_close(&c);
	f->counts[EV_UEXIT] = f->counts[EV_INSN] = -1; /* no VM here */
}

void bench_process(struct bench *b)
{
	struct fig *f[2];
	uint64_t t0;
	bool ok[2] = {true, true};

	json_obj(b->j, "process");
	json_str(b->j, "binary", "process/add.c, static musl, " PROCESS_ADD);
	section("process: a process per call (us)");
	f[0] = fig_new("plain", CALLS, "process: fork+exec add");
	f[1] = fig_new("seccomp", CALLS, "process: fork+exec add, seccomp");
	/* Alternately one and the other first. */
	t0 = now_ns();
	for (int i = 0; (ok[0] || ok[1]) && more(i, MIN_CALLS, CALLS, t0, BUDGET_NS); i++) {
		for (int k = 0; k < 2; k++) {
			int sec = (i + k) & 1;

			if (ok[sec])
				ok[sec] = timed(f[sec], sec);
		}
	}
	for (int k = 0; k < 2; k++) {
		count(f[k], k);
		fig_ratio(f[k], b->floor_out, "floor.out");
		fig_emit(b->j, f[k]);
		fig_free(f[k]);
	}
	json_end(b->j);
}
