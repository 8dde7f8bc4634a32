// SPDX-License-Identifier: BSD-2-Clause
/*
 * The kick: one signal that gets a vCPU thread out of KVM_RUN.
 *
 * KVM's documented way to stop a vCPU from outside is a signal to its
 * thread plus kvm_run->immediate_exit: a signal that lands while the
 * guest runs makes KVM_RUN return -EINTR; one that lands in user space
 * just before KVM_RUN would be lost, so the handler sets immediate_exit
 * in the kvm_run its thread is bound to, and the next KVM_RUN returns
 * -EINTR without entering the guest. The handler touches only that
 * thread-local pointer (initial-exec TLS: no allocation in a handler).
 * It is installed with SA_RESTART, so a kick that arrives after its call
 * ended does not fail the embedder's own restartable syscalls (read(),
 * write(), ...) with EINTR. Those Linux never restarts after a handler
 * (nanosleep(), poll(), epoll_wait(), select(), sigtimedwait(), ...) can
 * still return EINTR once for such a late kick, as for any signal, and
 * KVM_RUN is never restarted: it returns -EINTR whatever the flags.
 *
 * A thread may block the signal (a signalfd-style server blocks real-time
 * signals everywhere, and threads inherit the mask of their creator).
 * KVM_RUN then runs with the mask that KVM_SET_SIGNAL_MASK gave the vCPU:
 * the thread's own without the kick, as QEMU and kvmtool do, so a kick
 * still ends it. vmlet_kick_run_mask() keeps that mask per thread, read
 * from the kernel on the thread's first run and again on every run that
 * arms a deadline (which pays for timer_settime() anyway), so a warm call
 * without a deadline makes no extra syscall. A kick that a blocking
 * thread receives stays pending when KVM_RUN returns (the handler does
 * not run): vmlet_kick_eat() takes it, so the next KVM_RUN does not
 * return -EINTR for it again. Waits on the vCPU thread during a run
 * (lib/ring.c, through vmlet_vm_wait_begin()) block the kick and wait
 * with the mask they found minus the kick, as ppoll() does.
 *
 * Deadlines use one POSIX timer per thread (created on the thread's first
 * call with a deadline, deleted when the thread exits) that sends the
 * same signal to that thread only: calls without a deadline cost nothing,
 * calls with one cost two timer_settime() calls.
 *
 * The signal is SIGRTMAX - 2. If the process already has a handler for
 * it, vmlet refuses to take it over (-EBUSY) rather than break the
 * embedder's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kick.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

static TLS struct kvm_run *volatile bound;
static TLS int tid;
static TLS timer_t *timer;
static TLS uint64_t run_mask; /* this thread's mask as last read, without the kick */
static TLS bool run_mask_read;

static pthread_once_t once = PTHREAD_ONCE_INIT, fork_once = PTHREAD_ONCE_INIT;
static pthread_key_t timer_key;
static int init_err;

/*
 * A forked child's one thread has a new tid, no POSIX timer, and maybe
 * another signal mask: what this thread kept of them is its parent's.
 */
static void forget_after_fork(void)
{
	tid = 0;
	run_mask_read = false;
	bound = NULL;
	if (timer) {
		free(timer); /* the timer itself stayed with the parent */
		timer = NULL;
		pthread_setspecific(timer_key, NULL);
	}
}

static void fork_init(void)
{
	pthread_atfork(NULL, NULL, forget_after_fork);
}

static void handler(int sig)
{
	struct kvm_run *run = bound;

	(void)sig;
	if (run)
		run->immediate_exit = 1;
}

static void timer_free(void *p)
{
	timer_delete(*(timer_t *)p);
	free(p);
}

static void init(void)
{
	struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART}, old;

	init_err = -pthread_key_create(&timer_key, timer_free);
	if (init_err)
		return;
	if (sigaction(VMLET_KICK, NULL, &old) < 0) {
		init_err = -errno;
		return;
	}
	if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
		init_err = -EBUSY;
		return;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(VMLET_KICK, &sa, NULL) < 0)
		init_err = -errno;
}

int vmlet_kick_init(void)
{
	pthread_once(&once, init);
	return init_err;
}

struct kvm_run *vmlet_kick_bind(struct kvm_run *run)
{
	struct kvm_run *old = bound;

	bound = run;
	/* The handler runs on this thread: order against it, not other CPUs. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return old;
}

int vmlet_kick_run_mask(bool reread, uint64_t *mask)
{
	sigset_t cur;

	if (!run_mask_read || reread) {
		/* The kernel's sigset_t is glibc's first 64 bits; clear the rest. */
		sigemptyset(&cur);
		if (pthread_sigmask(SIG_BLOCK, NULL, &cur))
			return -EINVAL;
		sigdelset(&cur, VMLET_KICK);
		memcpy(&run_mask, &cur, sizeof(run_mask));
		run_mask_read = true;
	}
	*mask = run_mask;
	return 0;
}

void vmlet_kick_eat(void)
{
	static const struct timespec now;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VMLET_KICK);
	/* A kick the thread blocks waits here; one it does not block was handled. */
	while (sigtimedwait(&kick, NULL, &now) == VMLET_KICK)
		;
}

int vmlet_kick_tid(void)
{
	if (!tid) {
		pthread_once(&fork_once, fork_init);
		tid = (int)syscall(SYS_gettid);
	}
	return tid;
}

int vmlet_kick(int target)
{
	int err = vmlet_kick_init();

	if (err)
		return err;
	if (syscall(SYS_tgkill, getpid(), target, VMLET_KICK) < 0)
		return -errno;
	return 0;
}

uint64_t vmlet_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int timer_get(void)
{
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = VMLET_KICK};
	timer_t *t;
	int err = vmlet_kick_init();

	if (err)
		return err;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	sev._sigev_un._tid = vmlet_kick_tid();
	if (timer_create(CLOCK_MONOTONIC, &sev, t) < 0) {
		err = -errno;
		free(t);
		return err;
	}
	err = -pthread_setspecific(timer_key, t);
	if (err) {
		timer_delete(*t);
		free(t);
		return err;
	}
	timer = t;
	return 0;
}

int vmlet_kick_at(uint64_t deadline)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(deadline / 1000000000ULL),
			     .tv_nsec = (long)(deadline % 1000000000ULL)},
	};
	int err;

	if (!timer) {
		if (!deadline)
			return 0;
		err = timer_get();
		if (err)
			return err;
	}
	if (timer_settime(*timer, TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}
