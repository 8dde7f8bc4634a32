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
 * ended does not fail the embedder's own syscalls with EINTR.
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kick.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

static TLS struct kvm_run *volatile bound;
static TLS int tid;
static TLS timer_t *timer;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t timer_key;
static int init_err;

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
	struct sigaction sa = {.sa_handler = handler}, old;

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

void vmlet_kick_bind(struct kvm_run *run)
{
	bound = run;
	/* The handler runs on this thread: order against it, not other CPUs. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

int vmlet_kick_tid(void)
{
	if (!tid)
		tid = (int)syscall(SYS_gettid);
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
