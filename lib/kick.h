/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Getting a thread out of KVM_RUN: vmlet_sandbox_interrupt() from another
 * thread, and per-call deadlines. Both end up as one signal (VMLET_KICK)
 * to the thread that runs the vCPU, whose handler sets immediate_exit in
 * that thread's kvm_run: KVM_RUN then returns -EINTR at once, whether the
 * signal came while the guest ran or just before KVM_RUN was entered.
 */
#ifndef VMLET_KICK_H
#define VMLET_KICK_H

#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* The signal, and whether its handler could be installed (0 or -EBUSY). */
#define VMLET_KICK (SIGRTMAX - 2)
int vmlet_kick_init(void);

/*
 * The kvm_run this thread runs from now on (NULL when it stops); returns
 * the one it ran before (a nested run puts it back). The signal handler
 * sets immediate_exit there.
 */
struct kvm_run *vmlet_kick_bind(struct kvm_run *run);

/*
 * This thread's signal mask without the kick, as the kernel's 64-bit
 * sigset_t: what KVM_RUN runs with. Read from the kernel the first time
 * on a thread and when reread is set. 0 or -errno.
 */
int vmlet_kick_run_mask(bool reread, uint64_t *mask);

/* Take the kicks pending on this thread (which it blocks outside KVM_RUN). */
void vmlet_kick_eat(void);

/* Send the signal to thread tid of this process. */
int vmlet_kick(int tid);

/* This thread's id, as vmlet_kick() wants it. */
int vmlet_kick_tid(void);

/*
 * Arm this thread's timer to kick it at deadline (CLOCK_MONOTONIC ns),
 * or disarm it (deadline 0). 0 or -errno.
 */
int vmlet_kick_at(uint64_t deadline);

/* CLOCK_MONOTONIC in ns. */
uint64_t vmlet_now_ns(void);

#endif /* VMLET_KICK_H */
