// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest: abuse of the hypercall ports and of the call buffers,
 * for hostile_test.
 *
 * raw() leaves through any port with any registers (bogus pointers,
 * lengths that wrap, a fault report with a made-up stack, READY in the
 * middle of a call). hostcall_raw() and ret_raw() put the host's bytes in
 * the output buffer as they are and issue a host call or a return with
 * them; hostcall_again() issues a host call over the previous answer.
 * forge_fault() reports an exception that never happened.
 * in_write() writes the read-only input buffer, in_rewrite() does it past
 * CR0.WP. flood() writes MiBs to stdout.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <vmlet/guest.h>

#define CR0_WP (1ULL << 16)

static const struct vmlet_boot *const boot = (const void *)VMLET_BOOT_ADDR;

#define OUT(p)                                                                          \
	case p:                                                                         \
		__asm__ volatile("out %%al, %1"                                         \
				 : "+a"(rax)                                            \
				 : "i"(p), "D"(rdi), "S"(rsi), "d"(rdx), "c"(rcx), "r"(r8_) \
				 : "memory");                                           \
		break

/* out to one of the ABI's ports with these registers; rax afterwards. */
static uint64_t raw(uint32_t port, uint64_t rdi, uint64_t rsi, uint64_t rdx, uint64_t rcx,
		    uint64_t r8)
{
	register uint64_t r8_ __asm__("r8") = r8;
	uint64_t rax = 0;

	switch (port) {
		OUT(VMLET_PORT_READY);
		OUT(VMLET_PORT_RETURN);
		OUT(VMLET_PORT_PRINT);
		OUT(VMLET_PORT_ABORT);
		OUT(VMLET_PORT_EXIT);
		OUT(VMLET_PORT_FAULT);
		OUT(VMLET_PORT_HOSTCALL);
		OUT(VMLET_PORT_IO);
	}
	return rax;
}

static void *out(void)
{
	return (void *)boot->out_addr;
}

/* The host's bytes as a host-call frame; the answer's status. */
static int32_t hostcall_raw(const void *frame, size_t len)
{
	struct vmlet_frame *f = out();

	if (len > boot->out_size)
		return 1;
	memcpy(f, frame, len);
	__asm__ volatile("out %%al, %0" : : "i"(VMLET_PORT_HOSTCALL) : "memory");
	return f->status;
}

/*
 * The same, and the answer's first record as a u64: the status when it
 * is not 0, -EPROTO when the record is not a u64.
 */
static int64_t hostcall_raw_u64(const void *frame, size_t len)
{
	const struct vmlet_frame *f = out();
	const struct vmlet_rec *r = (const struct vmlet_rec *)(f + 1);
	int32_t status = hostcall_raw(frame, len);
	int64_t v;

	if (status)
		return status;
	if (r->type != VMLET_U64 || r->len != 8)
		return -EPROTO;
	memcpy(&v, r + 1, sizeof(v));
	return v;
}

/* A host call over whatever the output buffer holds (the last answer). */
static int32_t hostcall_again(void)
{
	struct vmlet_frame *f = out();

	__asm__ volatile("out %%al, %0" : : "i"(VMLET_PORT_HOSTCALL) : "memory");
	return f->status;
}

/* The host's bytes as this call's return frame, then carry on. */
static uint32_t ret_raw(const void *frame, size_t len)
{
	if (len > boot->out_size)
		return 1;
	memcpy(out(), frame, len);
	__asm__ volatile("out %%al, %0" : : "i"(VMLET_PORT_RETURN) : "memory");
	return 7;
}

/* A fault report from guest code, on the exception stack as the stubs make it. */
static void forge_fault(uint64_t vector, uint64_t error, uint64_t rip)
{
	struct vmlet_xframe *x = (void *)(VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE - sizeof(*x));

	*x = (struct vmlet_xframe){.vector = vector, .error = error, .rip = rip};
	__asm__ volatile("mov %0, %%rsp; out %%al, %1" : : "r"(x), "i"(VMLET_PORT_FAULT) : "memory");
	__builtin_unreachable(); /* the host ends the call here */
}

static void in_write(uint64_t v)
{
	*(volatile uint64_t *)boot->in_addr = v;
}

static uint32_t in_rewrite(void)
{
	uint64_t cr0;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~CR0_WP));
	memset((void *)boot->in_addr, 0xff, sizeof(struct vmlet_frame) + 64);
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
	return 1;
}

static char chunk[64 * 1024];

/* chunks writes of 64 KiB to stdout; the bytes write() took. */
static uint64_t flood(uint32_t chunks)
{
	uint64_t total = 0;

	memset(chunk, 'x', sizeof(chunk));
	for (uint32_t i = 0; i < chunks; i++) {
		ssize_t n = write(1, chunk, sizeof(chunk));

		if (n < 0)
			break;
		total += (uint64_t)n;
	}
	return total;
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(raw, VMLET_U64, VMLET_U32, VMLET_U64, VMLET_U64, VMLET_U64, VMLET_U64,
		       VMLET_U64);
	VMLET_REGISTER(hostcall_raw, VMLET_I32, VMLET_BYTES);
	VMLET_REGISTER(hostcall_raw_u64, VMLET_I64, VMLET_BYTES);
	VMLET_REGISTER(hostcall_again, VMLET_I32);
	VMLET_REGISTER(ret_raw, VMLET_U32, VMLET_BYTES);
	VMLET_REGISTER(forge_fault, VMLET_VOID, VMLET_U64, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(in_write, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(in_rewrite, VMLET_U32);
	VMLET_REGISTER(flood, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
