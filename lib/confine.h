/* SPDX-License-Identifier: BSD-2-Clause */
/* Confining library threads with seccomp (lib/confine.c). */
#ifndef VMLET_CONFINE_H
#define VMLET_CONFINE_H

#include <stdbool.h>

/*
 * vmlet_thread_confine(flags) for a thread of the library's own; no ring
 * for a thread that makes no host calls (the pool's refill thread).
 */
int __vmlet_thread_confine(unsigned int flags, bool ring);

/*
 * Whether this thread's filter refuses what only flag (a VMLET_CONFINE_*,
 * or 0 for what no flag allows, such as open(2)) lets through: callers
 * answer -EPERM themselves rather than let VMLET_CONFINE_KILL kill the
 * process over a request a guest made.
 */
bool __vmlet_thread_refuses(unsigned int flag);

#endif /* VMLET_CONFINE_H */
