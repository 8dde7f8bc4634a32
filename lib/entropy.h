/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fresh host entropy for every call: every VM made from one snapshot
 * starts from the same memory, so whatever a guest wants unpredictable
 * (vmlet_random(), its stack canary, a JS engine's Math.random) comes
 * from here, handed over at call entry (lib/sandbox.c).
 */
#ifndef VMLET_ENTROPY_H
#define VMLET_ENTROPY_H

#include <stdint.h>

/* Fill out[0..1] with 16 bytes from getrandom(2): 0 or a negative errno. */
int vmlet_entropy_get(uint64_t out[2]);

#endif /* VMLET_ENTROPY_H */
