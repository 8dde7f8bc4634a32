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

/* VMLET_PORT_IO: five arguments in, the host's result back in rax. */
static inline long vmlet_hypercall_io(uint64_t op, uint64_t fd, uint64_t addr, uint64_t len,
				      uint64_t off)
{
	register uint64_t r8 __asm__("r8") = off;
	long ret;

	__asm__ volatile("out %%al, %1"
			 : "=a"(ret)
			 : "i"(VMLET_PORT_IO), "D"(op), "S"(fd), "d"(addr), "c"(len), "r"(r8), "0"(0)
			 : "memory");
	return ret;
}

#endif /* VMLET_GUEST_HYPERCALL_H */
