/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmlet host/guest ABI.
 *
 * Both sides compile against this header: the host library (glibc) and the
 * guest runtime (musl, ring 0 inside the micro-VM). It fixes the guest
 * physical memory layout, the I/O ports the guest uses to leave the VM, and
 * the call frame encoding. Guest memory is identity-mapped, so every address
 * below is both guest physical and guest virtual.
 *
 * Memory layout (addresses are fixed unless noted):
 *
 *   0x000000  page 0, never mapped (NULL dereference faults)
 *   0x001000  struct vmlet_boot, read-only: the layout the host chose
 *   0x002000  GDT at +0, TSS at +0x100, IDT at +0x800; read-only
 *   0x003000  exception entry stubs written by the host; read-only, exec
 *   0x004000  guard page (unmapped)
 *   0x005000  exception stack (IST1), 2 pages
 *   0x010000  page tables, read-only, up to VMLET_IMAGE_BASE
 *   0x100000  the guest image (PT_LOAD segments, permissions from the ELF)
 *   ...       then, each page aligned, in this order (struct vmlet_boot):
 *             input buffer  (host to guest call frames)  read-only
 *             output buffer (guest to host frames)       read-write
 *             guard page    (unmapped)
 *             stack                                       read-write
 *             heap (brk/mmap), up to the end of memory     read-write
 *
 * Data is never executable except the image's executable segments and the
 * exception stubs.
 *
 * Leaving the VM: the guest executes `out %al, $port` with arguments in
 * registers (read by the host from KVM's synced registers, no extra ioctl):
 *
 *   VMLET_PORT_READY     the function table is in the output buffer
 *   VMLET_PORT_RETURN    a return frame is in the output buffer
 *   VMLET_PORT_PRINT     rdi = address, rsi = length: text for the host
 *   VMLET_PORT_ABORT     rdi = code, rsi = message address, rdx = length
 *   VMLET_PORT_EXIT      rdi = exit status (exit()/exit_group())
 *   VMLET_PORT_FAULT     rsp points at struct vmlet_xframe (host stubs only)
 *   VMLET_PORT_HOSTCALL  a host-call frame is in the output buffer; the
 *                        host answers with a return frame in its place
 *   VMLET_PORT_IO        rdi = enum vmlet_io op, rsi = fd, rdx = address,
 *                        rcx = length, r8 = offset or nanoseconds; the
 *                        host puts the result (>= 0 or -errno) in rax
 *
 * Call frames: a struct vmlet_frame header followed by `nargs` records.
 * Each record is a struct vmlet_rec (type, payload length) followed by the
 * payload padded with zeroes to a multiple of 8 bytes. All integers are
 * little-endian.
 *   - scalars (bool, i32, u32, i64, u64, f32, f64): len = 8, the value
 *     sign- or zero-extended to 64 bits (bool is 0 or 1, f32 is its bit
 *     pattern in the low 32 bits);
 *   - string: len = number of bytes, followed by a NUL that len does not
 *     count, so the guest reads it in place as a C string;
 *   - bytes: len = number of bytes.
 * A call frame carries the function's index (resolved by name once, on the
 * host) and its arguments. A return frame carries the same index, a status
 * (0, or a negative errno for a call the guest refused) and, when the status
 * is 0 and the function is not void, exactly one record with the result.
 * A function that failed (vmlet_fail() in the guest: a Wasm trap, for
 * example) returns status VMLET_STATUS_FAIL with two records, an i64 code
 * and a string message; the guest is back at its serving loop and takes
 * the next call.
 *
 * A host-call frame has func = VMLET_HOSTCALL_FUNC, then a string record
 * with the host function's name, then `nargs` argument records (the name
 * is not counted). The answer is a return frame with the same func.
 * With status VMLET_HOSTCALL_PROBE | type, the frame only asks whether
 * the host has that function taking those argument types (their values
 * are ignored) and returning that type: the answer is a bare return frame,
 * status 0 or the error the call would get, and the function does not run.
 *
 * At the ready point the output buffer holds a table frame: a struct
 * vmlet_frame whose nargs counts struct vmlet_fdesc entries that follow.
 */
#ifndef VMLET_ABI_H
#define VMLET_ABI_H

#include <stddef.h>
#include <stdint.h>

#define VMLET_ABI_VERSION 1

#define VMLET_PAGE_SIZE	  0x1000ULL
#define VMLET_BOOT_ADDR	  0x1000ULL
#define VMLET_GDT_ADDR	  0x2000ULL
#define VMLET_TSS_ADDR	  0x2100ULL
#define VMLET_IDT_ADDR	  0x2800ULL
#define VMLET_STUB_ADDR	  0x3000ULL
#define VMLET_XSTACK_ADDR 0x5000ULL
#define VMLET_XSTACK_SIZE 0x2000ULL
#define VMLET_PT_ADDR	  0x10000ULL
#define VMLET_IMAGE_BASE  0x100000ULL

/* GDT selectors */
#define VMLET_SEL_CODE 0x08
#define VMLET_SEL_DATA 0x10
#define VMLET_SEL_TSS  0x18

enum vmlet_port {
	VMLET_PORT_READY = 0xe0,
	VMLET_PORT_RETURN = 0xe1,
	VMLET_PORT_PRINT = 0xe2,
	VMLET_PORT_ABORT = 0xe3,
	VMLET_PORT_EXIT = 0xe4,
	VMLET_PORT_FAULT = 0xe5,
	VMLET_PORT_HOSTCALL = 0xe6,
	VMLET_PORT_IO = 0xe7,
};

#define VMLET_HOSTCALL_FUNC 0xffffffffU

/* A host-call frame's status that asks without calling (see above). */
#define VMLET_HOSTCALL_PROBE 0x100

/* A return frame's status for a function that failed (see above). */
#define VMLET_STATUS_FAIL 1

/* VMLET_PORT_IO operations, on descriptors the host granted. */
enum vmlet_io {
	VMLET_IO_READ = 0,   /* read(fd, addr, len) */
	VMLET_IO_WRITE = 1,  /* write(fd, addr, len) */
	VMLET_IO_PREAD = 2,  /* pread(fd, addr, len, off) */
	VMLET_IO_PWRITE = 3, /* pwrite(fd, addr, len, off) */
	VMLET_IO_SLEEP = 4,  /* sleep r8 nanoseconds */
	VMLET_IO_OPEN = 5,   /* open(path at addr, len; r8 = Linux O_* flags) */
	VMLET_IO_SIZE = 6,   /* the size of the file behind fd */
	VMLET_IO_CLOSE = 7,  /* close(fd) */
};

/*
 * VMLET_IO_OPEN returns the guest fd of the grant whose path is the path
 * (its O_* flags: O_CREAT | O_EXCL is -EEXIST, O_TRUNC truncates and
 * needs VMLET_GRANT_WRITE), or opens a regular file beneath a granted
 * directory whose path is a prefix of it, as a new guest fd with the
 * access mode the flags ask (within the directory's grant: -EACCES
 * otherwise); O_ACCMODE, O_CREAT, O_EXCL and O_TRUNC count, other flags
 * are ignored. VMLET_IO_CLOSE closes such a file; on a descriptor the
 * embedder granted it does nothing and returns 0.
 */

enum vmlet_type {
	VMLET_VOID = 0,
	VMLET_BOOL = 1,
	VMLET_I32 = 2,
	VMLET_U32 = 3,
	VMLET_I64 = 4,
	VMLET_U64 = 5,
	VMLET_F32 = 6,
	VMLET_F64 = 7,
	VMLET_STRING = 8,
	VMLET_BYTES = 9,
	VMLET_NTYPES
};

/*
 * A typed value, as the host API and the guest's host calls pass them.
 * Strings and bytes are borrowed: arguments point at the caller's memory;
 * results point into a call buffer (the host API and the guest API say
 * for how long). A string's len excludes its NUL.
 */
struct vmlet_value {
	enum vmlet_type type;
	union {
		_Bool b;
		int32_t i32;
		uint32_t u32;
		int64_t i64;
		uint64_t u64;
		float f32;
		double f64;
		struct {
			const void *ptr;
			size_t len;
		} buf;
	};
};

/*
 * A function takes at most VMLET_MAX_ARGS arguments, and they must fit the
 * System V registers: integers, pointers and string arguments take one of
 * six integer registers, bytes two (pointer, length), floats one of eight
 * SSE registers. Nothing is passed on the stack.
 */
#define VMLET_MAX_ARGS	   10
#define VMLET_MAX_INT_REGS 6
#define VMLET_MAX_SSE_REGS 8
#define VMLET_MAX_NAME	   63

struct vmlet_boot {
	uint32_t abi_version;
	uint32_t flags;
	uint64_t mem_size;
	uint64_t in_addr, in_size;
	uint64_t out_addr, out_size;
	uint64_t stack_lo, stack_hi;
	uint64_t heap_lo, heap_hi;
	uint64_t tsc_khz;     /* 0 when the host could not tell */
	uint64_t random[2];   /* AT_RANDOM: from getrandom(2) at boot */
	uint64_t realtime_ns; /* CLOCK_REALTIME at boot, for calls see below */
};

/*
 * Call entry: the host resumes the guest after the `out` of
 * VMLET_PORT_READY or VMLET_PORT_RETURN with fresh values for this call
 * in the registers that `out` passed: rdi and rsi hold 16 bytes from the
 * host's getrandom(2), rdx the host's CLOCK_REALTIME in nanoseconds. Every
 * VM made from one snapshot starts identical; these are what differ.
 */

struct vmlet_frame {
	uint32_t size; /* bytes, this header included */
	uint32_t func;
	int32_t status;
	uint32_t nargs;
};

struct vmlet_rec {
	uint32_t type;
	uint32_t len;
};

struct vmlet_fdesc {
	uint32_t size; /* bytes, name and padding included */
	uint8_t ret;
	uint8_t nargs;
	uint8_t args[VMLET_MAX_ARGS];
	/* followed by the NUL-terminated name, padded to 8 bytes */
};

/* What the exception stubs push before VMLET_PORT_FAULT; rsp points at it. */
struct vmlet_xframe {
	uint64_t vector;
	uint64_t error;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

/* The image's ELF note (PT_NOTE, name "vmlet", type VMLET_NOTE_TYPE). */
#define VMLET_NOTE_NAME "vmlet"
#define VMLET_NOTE_TYPE 0x1
struct vmlet_note {
	uint32_t abi_version;
	uint32_t reserved;
	uint64_t syscall_entry; /* LSTAR */
};

static inline uint64_t vmlet_align8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

/* Bytes one record takes in a frame, header included. */
static inline uint64_t vmlet_rec_size(uint32_t type, uint32_t len)
{
	return sizeof(struct vmlet_rec) + vmlet_align8((uint64_t)len + (type == VMLET_STRING));
}

static inline int vmlet_type_is_scalar(uint32_t type)
{
	return type >= VMLET_BOOL && type <= VMLET_F64;
}

/*
 * Record encoding, shared by the host (lib/frame.c) and the guest runtime
 * (guest/runtime.c) so that both write records the one way: inline, with
 * memcpy for the header (a host buffer need not be aligned; an aligned
 * guest store compiles to the same instructions).
 */

/* The 64-bit image of a scalar value: sign- or zero-extended, bool 0 or 1. */
static inline uint64_t vmlet_scalar_bits(const struct vmlet_value *v)
{
	uint32_t f32;
	uint8_t b;

	switch (v->type) {
	case VMLET_BOOL:
		/* As a byte: a caller that filled the union another way is no UB. */
		__builtin_memcpy(&b, &v->b, 1);
		return b != 0;
	case VMLET_I32:
		return (uint64_t)(int64_t)v->i32;
	case VMLET_U32:
		return v->u32;
	case VMLET_F32:
		__builtin_memcpy(&f32, &v->f32, sizeof(f32));
		return f32;
	default:
		/* i64, u64 and f64 share the union's storage: copy the bits. */
		return v->u64;
	}
}

/* Write a scalar record with these bits at p; returns its size (16). */
static inline uint64_t vmlet_rec_put_scalar(void *p, uint32_t type, uint64_t bits)
{
	const uint32_t len = 8;

	/* Three stores, as the fields are: no vector register to build them in. */
	__builtin_memcpy(p, &type, 4);
	__builtin_memcpy((uint8_t *)p + 4, &len, 4);
	__builtin_memcpy((uint8_t *)p + 8, &bits, 8);
	return sizeof(struct vmlet_rec) + 8;
}

/*
 * Write a string or bytes record at p from src (which may overlap it: an
 * answer is often its own argument, in place), the NUL and padding zeroed;
 * the caller checked that vmlet_rec_size() bytes fit. Returns that size.
 */
static inline uint64_t vmlet_rec_put_buf(void *p, uint32_t type, const void *src, uint32_t len)
{
	struct vmlet_rec rec = {.type = type, .len = len};
	uint64_t size = vmlet_rec_size(type, len);
	uint8_t *data = (uint8_t *)p + sizeof(rec);

	if (len)
		__builtin_memmove(data, src, len);
	__builtin_memset(data + len, 0, size - sizeof(rec) - len);
	__builtin_memcpy(p, &rec, sizeof(rec));
	return size;
}

#endif /* VMLET_ABI_H */
