/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmlet Wasm guests: what wasm2c's output is compiled with inside a guest.
 *
 * vmlet-wasm-cc(1) turns a module into C with Debian's wasm2c and compiles
 * that C with this header included first, against Debian's wasm-rt.h and
 * libvmlet-wasm.a, the runtime that implements wasm-rt.h in the guest:
 *
 *   - bounds: explicit checks in the generated code
 *     (WASM_RT_MEMCHECK_SIGNAL_HANDLER 0). The guest has no signals, and
 *     guard pages would need a 4 GiB+ reservation per memory in page
 *     tables that the host builds before the first instruction; a check is
 *     a compare and a branch per access, and a module's memory can then
 *     be anywhere in the guest heap and move when it grows. Measured
 *     (bench wasm-guest, checksum of 4 KiB, a load per byte): 1.147x the
 *     guest instructions of a build without checks, the most guard pages
 *     could save. vmlet-wasm-cc(1) has the figures.
 *   - call stack: each Wasm function checks the stack pointer on entry
 *     against a limit VMLET_WASM_STACK_RESERVE bytes above the bottom of
 *     the guest stack, so deep recursion traps ("call stack exhausted")
 *     before it reaches the guard page, whatever the size of its frames.
 *   - traps: wasm_rt_trap() fails the call with vmlet_fail(): the host's
 *     call returns -VMLET_EFAIL with the trap's kind as its message and
 *     the wasm_rt_trap_t as its code, and the next call works.
 *   - linear memory: from the guest heap, grown up to the module's maximum
 *     or what the heap holds (memory.grow returns -1 beyond); at most
 *     65535 pages, since wasm_rt_memory_t counts bytes in 32 bits.
 */
#ifndef VMLET_WASM_H
#define VMLET_WASM_H

#include <stdint.h>
#include <vmlet/abi.h>

#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0
#define WASM_RT_USE_STACK_DEPTH_COUNT	1

/* Bytes of guest stack kept for the runtime, WASI and host calls. */
#define VMLET_WASM_STACK_RESERVE (16 * 1024)

extern uintptr_t vmlet_wasm_stack_limit;

/*
 * wasm2c's prologue is `if (++depth > WASM_RT_MAX_CALL_STACK_DEPTH) trap`:
 * make the limit 0 once the stack pointer is below ours, and unreachable
 * otherwise, so the depth counter never decides.
 */
static inline uint32_t vmlet_wasm_stack_left(void)
{
	uintptr_t sp;

	__asm__("mov %%rsp, %0" : "=r"(sp));
	return sp < vmlet_wasm_stack_limit ? 0 : UINT32_MAX;
}
#define WASM_RT_MAX_CALL_STACK_DEPTH vmlet_wasm_stack_left()

#include <wasm-rt.h>

/* What WASI functions reach: the module's exported memory (NULL: none). */
struct Z_wasi_snapshot_preview1_instance_t {
	wasm_rt_memory_t *memory;
};

extern struct Z_wasi_snapshot_preview1_instance_t vmlet_wasi;

/* Set up the runtime before the module is instantiated. */
void vmlet_wasm_init(void);

/*
 * At start-up: fail unless the host has the function an import from
 * module (vmlet or env) names, with these types.
 */
void vmlet_wasm_import(const char *module, const char *name, enum vmlet_type ret,
		       unsigned int nargs, const enum vmlet_type *args);

/* vmlet_ready(), after which failures end calls rather than start-up. */
_Noreturn void vmlet_wasm_ready(void);

/*
 * Fail the current call (or the start-up) with a message that starts
 * "wasm: ", like a trap does.
 */
_Noreturn void vmlet_wasm_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Copy a string or bytes argument into linear memory through the module's
 * allocator (its export vmlet_alloc, i32 -> i32, given as alloc): returns
 * its Wasm address, and fails the call if the allocator returns 0 or an
 * address that does not hold len bytes.
 */
uint32_t vmlet_wasm_put(wasm_rt_memory_t *mem, uint32_t (*alloc)(void *, uint32_t), void *inst,
			const void *src, size_t len);

/* A bytes or string result at (packed & 0xffffffff, packed >> 32), checked. */
const void *vmlet_wasm_get(wasm_rt_memory_t *mem, uint64_t packed, size_t *len);

/* WASI _start with argv, environ (NUL-separated strings) and stdin for this call. */
int32_t vmlet_wasi_start(void (*start)(void *), void *inst, const void *argv, size_t argv_len,
			 const void *env, size_t env_len, const void *in, size_t in_len);

#endif /* VMLET_WASM_H */
