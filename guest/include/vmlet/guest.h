/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmlet guest API.
 *
 * A guest is an ordinary static C program (musl) linked with the vmlet
 * guest runtime. Its main() registers the functions the host may call and
 * then calls vmlet_ready(), which never returns: the guest parks there and
 * serves calls. Registered functions are plain C functions whose
 * parameters and result map to vmlet types:
 *
 *   VMLET_BOOL bool     VMLET_I32 int32_t    VMLET_U32 uint32_t
 *   VMLET_I64 int64_t   VMLET_U64 uint64_t   VMLET_F32 float
 *   VMLET_F64 double    VMLET_VOID void (result only)
 *   VMLET_STRING  parameter: const char * (NUL-terminated, read-only);
 *                 result: const char *, copied to the host
 *   VMLET_BYTES   parameter: two parameters, const void *ptr, size_t len;
 *                 result: struct vmlet_bytes, copied to the host
 *
 * Example:
 *	static int32_t add(int32_t a, int32_t b) { return a + b; }
 *	int main(void)
 *	{
 *		VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
 *		vmlet_ready();
 *	}
 *
 * stdout and stderr go to the host's print callback (line-buffered), the
 * heap comes from guest memory, and a crash, abort() or exit() ends the
 * call with an error on the host.
 */
#ifndef VMLET_GUEST_H
#define VMLET_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <vmlet/abi.h>

#define VMLET_MAX_FUNCS 128

struct vmlet_bytes {
	const void *ptr;
	size_t len;
};

/*
 * Register fn under name with result type ret and nargs argument types.
 * A bad registration (too many functions or arguments, a name too long or
 * registered twice, a type that does not exist) aborts the guest with a
 * message, so the host's sandbox creation fails and says why.
 */
void vmlet_register(const char *name, const void *fn, enum vmlet_type ret, unsigned int nargs,
		    const enum vmlet_type *args);

#define VMLET_REGISTER(fn, ret, ...)                                                     \
	vmlet_register(#fn, (const void *)(fn), (ret),                                   \
		       sizeof((enum vmlet_type[]){ __VA_ARGS__ }) / sizeof(enum vmlet_type), \
		       (enum vmlet_type[]){ __VA_ARGS__ })

/* Publish the registered functions to the host and serve calls forever. */
_Noreturn void vmlet_ready(void);

/* End the current call (or start-up) with -VMLET_EABORT, code and message. */
_Noreturn void vmlet_abort(int code, const char *msg);

/*
 * Fail the current call: the host's call returns -VMLET_EFAIL with this code
 * and message in its struct vmlet_fault (message cut to fit), and the guest
 * goes back to serving calls, dropping the failed call's stack (nothing
 * on it is unwound: locks, buffers and the like stay as they are). The
 * sandbox lives on; its memory keeps what the call changed. Before
 * vmlet_ready() there is no call to fail and this is vmlet_abort().
 */
_Noreturn void vmlet_fail(int code, const char *msg);

/*
 * Fill buf with len unpredictable bytes. Every call gets fresh entropy
 * from the host (getrandom(2) there), so VMs made from one snapshot, which
 * start identical, draw different bytes; within a call, bytes never
 * repeat. (ChaCha20 keyed per call; before the ready point, keyed at
 * boot.) musl's AT_RANDOM bytes and the stack canary change per call too;
 * rand() and random() do not: they are seeded as C says.
 */
void vmlet_random(void *buf, size_t len);

/* Send text to the host's print callback, unbuffered. */
void vmlet_print(const char *buf, size_t len);

/*
 * Space where a string or bytes result can be built in place, so it is not
 * copied again: *cap gets its size (room for a string's NUL included).
 * Valid during a call; return a pointer into it.
 */
void *vmlet_result_buf(size_t *cap);

/*
 * Host calls take and give struct vmlet_value (vmlet/abi.h). String and
 * bytes arguments are copied into the call; a string or bytes result
 * points into the output buffer and is valid until the next host call or
 * the end of the current function (returning it is fine).
 *
 * Call the host function `name` (one the embedder registered). Returns 0
 * with *ret filled (ret may be NULL), or a negative errno: -ENOENT for a
 * name the host does not know, -EINVAL for arguments that do not match its
 * signature, -E2BIG when they do not fit the output buffer, or the error
 * the host function returned.
 */
int vmlet_host_call(const char *name, const struct vmlet_value *args, unsigned int nargs,
		    struct vmlet_value *ret);

/*
 * Whether the host has a function `name` taking these argument types and
 * returning ret, without calling it: 0, or the error vmlet_host_call()
 * would return (-ENOENT: no such name; -EINVAL: other types).
 */
int vmlet_host_probe(const char *name, enum vmlet_type ret, const enum vmlet_type *types,
		     unsigned int nargs);

static inline struct vmlet_value vmlet_hstr(const char *s)
{
	return (struct vmlet_value){.type = VMLET_STRING, .buf = {s, __builtin_strlen(s)}};
}

#endif /* VMLET_GUEST_H */
