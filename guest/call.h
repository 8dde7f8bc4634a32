/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the host hands over at each call's entry (abi.h, "Call entry"),
 * kept where the runtime (vmlet_random) and the syscall shim (the wall
 * clock) find it. It lives in vmlet_ready()'s frame and the AT_RANDOM
 * bytes at the top of the stack, a page every call writes anyway.
 */
#ifndef VMLET_GUEST_CALL_H
#define VMLET_GUEST_CALL_H

#include <stdint.h>

struct vmlet_call_state {
	uint64_t *key;	      /* AT_RANDOM's 16 bytes: this call's entropy */
	uint64_t realtime_ns; /* the host's CLOCK_REALTIME at entry */
	uint64_t tsc;	      /* the guest's TSC at entry */
	uint64_t blocks;      /* ChaCha20 blocks vmlet_random() used (any key) */
};

/* NULL until the first call: before it, the boot page has the clock. */
extern struct vmlet_call_state *vmlet_call_state;

#endif /* VMLET_GUEST_CALL_H */
