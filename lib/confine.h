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

#endif /* VMLET_CONFINE_H */
