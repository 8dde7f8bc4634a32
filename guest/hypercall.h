/* SPDX-License-Identifier: BSD-2-Clause */
/* Leaving the VM: one `out` to an ABI port, arguments in rdi, rsi, rdx. */
#ifndef VMLET_GUEST_HYPERCALL_H
#define VMLET_GUEST_HYPERCALL_H

#include <stdint.h>
#include <vmlet/abi.h>

static inline void vmlet_hypercall(uint8_t port, uint64_t a, uint64_t b, uint64_t c)
{
	/* "memory": the host reads and writes the buffers while we are out. */
	__asm__ volatile("out %%al, %0" : : "i"(port), "D"(a), "S"(b), "d"(c) : "memory");
}

#endif /* VMLET_GUEST_HYPERCALL_H */
