/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Call frame encoding and decoding on the host side (format: vmlet/abi.h).
 *
 * Everything decoded here was written by the guest and is untrusted: every
 * length is checked against the buffer before it is used, with
 * overflow-safe arithmetic. Decoded strings and bytes point into the buffer.
 */
#ifndef VMLET_FRAME_H
#define VMLET_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <vmlet.h>

/*
 * A table with more functions is malformed. Well above what the guest
 * runtime registers (VMLET_MAX_FUNCS in vmlet/guest.h); it bounds the
 * duplicate-name check, which is quadratic.
 */
#define VMLET_FRAME_MAX_FUNCS 1024

/*
 * Encode one record at buf (cap bytes available). Returns the bytes written,
 * -E2BIG when it does not fit (or len exceeds the format's 32 bits), -EINVAL
 * for a bad type or a NULL pointer with a nonzero len. The encoder writes a
 * string's NUL itself and never reads the byte at s[len]. On error the
 * contents of buf are unspecified.
 */
int64_t vmlet_rec_encode(void *buf, size_t cap, const struct vmlet_value *v);

/*
 * Decode one record at buf (avail bytes). Returns the bytes it takes, or
 * -VMLET_EPROTO when it is truncated, its type is unknown (or VOID), a
 * scalar is not 8 bytes or not canonically extended (bool 0/1, i32
 * sign-extended, u32 and f32 zero-extended), or a string lacks its NUL or
 * padding is not zero. *v is written only on success.
 */
int64_t vmlet_rec_decode(const void *buf, size_t avail, struct vmlet_value *v);

/*
 * Encode a call frame; returns its size, -E2BIG when it does not fit cap (or
 * 32 bits), or -EINVAL for a bad argument, nargs > VMLET_MAX_ARGS, or args
 * NULL with nargs > 0. Argument types are not checked against a signature.
 */
int64_t vmlet_frame_encode_call(void *buf, size_t cap, uint32_t func,
				const struct vmlet_value *args, unsigned int nargs);

/*
 * Decode a return frame for function func whose result type is ret_type.
 * Returns 0 and fills *ret (its type set; VOID for void), -VMLET_EREFUSED
 * with *status set when the guest refused the call, or -VMLET_EPROTO when
 * the frame is malformed: size beyond cap or below the header, another
 * func, a record count other than 1 (0 for void or refused), a record of
 * another type or that vmlet_rec_decode() rejects, or bytes left over. A
 * refusal's status must be an errno (-4095..-1) and its frame bare (nargs 0,
 * size of the header). -VMLET_EFAIL when the function failed
 * (VMLET_STATUS_FAIL): *status gets the failure's code and *ret its message
 * (a string in buf); the frame then holds exactly an i32 and a string
 * record. -EINVAL for a ret_type that is no type. *ret and *status are
 * written only when the return says so.
 */
int vmlet_frame_decode_ret(const void *buf, size_t cap, uint32_t func, enum vmlet_type ret_type,
			   struct vmlet_value *ret, int32_t *status);

/*
 * Decode the function table the guest published at its ready point.
 * On success *funcs is one allocation (free() it, even for an empty table)
 * holding the array and the names, and *nfuncs its length. Rejects
 * (-VMLET_EPROTO) a malformed table: a frame size beyond cap or below the
 * header, a nonzero func or status, more than VMLET_FRAME_MAX_FUNCS
 * entries, descriptors that overrun the frame or leave bytes over, a
 * descriptor size other than align8(sizeof(struct vmlet_fdesc) + name + 1),
 * nargs > VMLET_MAX_ARGS, unknown or VOID argument types, nonzero unused
 * argument slots, an unknown return type, arguments that do not fit the
 * registers (VMLET_MAX_INT_REGS, VMLET_MAX_SSE_REGS; bytes take two integer
 * registers), an empty, overlong (> VMLET_MAX_NAME) or unterminated name,
 * nonzero padding after the name, or a name registered twice. -ENOMEM when
 * allocation fails. *funcs and *nfuncs are written only on success.
 */
int vmlet_frame_decode_table(const void *buf, size_t cap, struct vmlet_func **funcs,
			     unsigned int *nfuncs);

#endif /* VMLET_FRAME_H */
