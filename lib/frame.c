// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host side of the call frame format (vmlet/abi.h).
 *
 * Encoding writes straight into the guest's input buffer on the call path,
 * so it allocates nothing; it sizes every record before it writes any, so
 * that a refused call writes nothing there. Decoding reads what the guest
 * wrote and trusts none of it: headers are copied out with memcpy (the
 * buffer need not be aligned), and every bound is taken from that local
 * copy and checked against what is left before a byte behind it is read.
 * The vCPU is stopped while we decode, but even a guest that rewrote the
 * buffer under us could only make a decode fail, never read outside it.
 *
 * Decoders accept one encoding per value: scalars extended the one way the
 * ABI says, zero padding, no bytes left over. A frame that is off by a bit
 * means a broken or hostile guest, and we would rather say so than guess.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* The bytes v's record takes, or a negative errno for a value no record holds. */
static int64_t rec_need(const struct vmlet_value *v)
{
	if (vmlet_type_is_scalar(v->type))
		return sizeof(struct vmlet_rec) + 8;
	if (v->type != VMLET_STRING && v->type != VMLET_BYTES)
		return -EINVAL;
	if (v->buf.len && !v->buf.ptr)
		return -EINVAL;
	/* The format has 32 bits of length; anything longer fits no frame. */
	if (v->buf.len > UINT32_MAX)
		return -E2BIG;
	return (int64_t)vmlet_rec_size(v->type, (uint32_t)v->buf.len);
}

int64_t vmlet_rec_encode(void *buf, size_t cap, const struct vmlet_value *v)
{
	int64_t need = rec_need(v);

	if (need < 0)
		return need;
	if ((uint64_t)need > cap)
		return -E2BIG;
	if (vmlet_type_is_scalar(v->type))
		return (int64_t)vmlet_rec_put_scalar(buf, v->type, vmlet_scalar_bits(v));
	return (int64_t)vmlet_rec_put_buf(buf, v->type, v->buf.ptr, (uint32_t)v->buf.len);
}

/* Is bits the one encoding abi.h allows for a scalar of this type? */
static int canonical(uint32_t type, uint64_t bits)
{
	switch (type) {
	case VMLET_BOOL:
		return bits <= 1;
	case VMLET_I32:
		return bits == (uint64_t)(int64_t)(int32_t)(uint32_t)bits;
	case VMLET_U32:
	case VMLET_F32:
		return bits <= UINT32_MAX;
	default:
		return 1;
	}
}

static void scalar_set(struct vmlet_value *v, uint64_t bits)
{
	uint32_t b32 = (uint32_t)bits;

	switch (v->type) {
	case VMLET_BOOL:
		v->b = bits != 0;
		break;
	case VMLET_I32:
		v->i32 = (int32_t)b32;
		break;
	case VMLET_U32:
		v->u32 = b32;
		break;
	case VMLET_F32:
		memcpy(&v->f32, &b32, sizeof(b32));
		break;
	default:
		v->u64 = bits;
	}
}

int64_t vmlet_rec_decode(const void *buf, size_t avail, struct vmlet_value *v)
{
	const size_t hdr = sizeof(struct vmlet_rec);
	const uint8_t *p = buf, *data;
	struct vmlet_value out = {0};
	struct vmlet_rec rec;
	uint64_t size, bits, used;

	if (avail < hdr)
		return -VMLET_EPROTO;
	memcpy(&rec, p, hdr);
	if (rec.type == VMLET_VOID || rec.type >= VMLET_NTYPES)
		return -VMLET_EPROTO;
	if (vmlet_type_is_scalar(rec.type) && rec.len != 8)
		return -VMLET_EPROTO;
	/* 64-bit arithmetic: a 32-bit len plus header and padding cannot wrap. */
	size = vmlet_rec_size(rec.type, rec.len);
	if (size > avail)
		return -VMLET_EPROTO;
	data = p + hdr;
	out.type = rec.type;
	if (vmlet_type_is_scalar(rec.type)) {
		memcpy(&bits, data, 8);
		if (!canonical(rec.type, bits))
			return -VMLET_EPROTO;
		scalar_set(&out, bits);
		*v = out;
		return (int64_t)size;
	}
	/* size - hdr >= len + 1 for a string, so data[len] is inside. */
	used = rec.len;
	if (rec.type == VMLET_STRING && data[used++] != '\0')
		return -VMLET_EPROTO;
	for (uint64_t i = used; i < size - hdr; i++)
		if (data[i])
			return -VMLET_EPROTO;
	out.buf.ptr = data;
	out.buf.len = rec.len;
	*v = out;
	return (int64_t)size;
}

int64_t vmlet_frame_encode_call(void *buf, size_t cap, uint32_t func,
				const struct vmlet_value *args, unsigned int nargs)
{
	struct vmlet_frame f = {.func = func, .nargs = nargs};
	uint8_t *p = buf;
	size_t off = sizeof(f);
	int64_t n;

	if (nargs > VMLET_MAX_ARGS || (nargs && !args))
		return -EINVAL;
	/* The size field is 32 bits: a frame that fits cap then fits it too. */
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (cap < sizeof(f))
		return -E2BIG;
	/*
	 * Every record is checked before any is written: a refused call
	 * leaves buf as it was, so no argument of it stays in guest memory
	 * that restore does not know was written (lib/sandbox.c).
	 */
	for (unsigned int i = 0; i < nargs; i++) {
		n = rec_need(&args[i]);
		if (n < 0)
			return n;
		if ((uint64_t)n > cap - off)
			return -E2BIG;
		off += (size_t)n;
	}
	off = sizeof(f);
	for (unsigned int i = 0; i < nargs; i++)
		off += (size_t)vmlet_rec_encode(p + off, cap - off, &args[i]);
	f.size = (uint32_t)off;
	memcpy(p, &f, sizeof(f));
	return (int64_t)off;
}

/* A refusal carries an errno; anything else could pass for a VMLET_E* code. */
static int refusal_ok(const struct vmlet_frame *f)
{
	return f->status < 0 && f->status > -VMLET_EEXCEPTION && f->nargs == 0 &&
	       f->size == sizeof(*f);
}

/* A failure: an i32 code and a string message, nothing else. */
static int decode_fail(const uint8_t *p, const struct vmlet_frame *f, struct vmlet_value *ret,
		       int32_t *status)
{
	struct vmlet_value code, msg;
	size_t off = sizeof(*f);
	int64_t n;

	if (f->nargs != 2)
		return -VMLET_EPROTO;
	n = vmlet_rec_decode(p + off, f->size - off, &code);
	if (n < 0 || code.type != VMLET_I32)
		return -VMLET_EPROTO;
	off += (size_t)n;
	n = vmlet_rec_decode(p + off, f->size - off, &msg);
	if (n < 0 || msg.type != VMLET_STRING || off + (size_t)n != f->size)
		return -VMLET_EPROTO;
	*status = code.i32;
	*ret = msg;
	return -VMLET_EFAIL;
}

int vmlet_frame_decode_ret(const void *buf, size_t cap, uint32_t func, enum vmlet_type ret_type,
			   struct vmlet_value *ret, int32_t *status)
{
	const uint8_t *p = buf;
	struct vmlet_value v = {.type = VMLET_VOID};
	struct vmlet_frame f;
	int64_t n;

	if ((unsigned int)ret_type >= VMLET_NTYPES)
		return -EINVAL;
	if (cap < sizeof(f))
		return -VMLET_EPROTO;
	memcpy(&f, p, sizeof(f));
	if (f.size < sizeof(f) || f.size > cap || f.func != func)
		return -VMLET_EPROTO;
	if (f.status == VMLET_STATUS_FAIL)
		return decode_fail(p, &f, ret, status);
	if (f.status) {
		if (!refusal_ok(&f))
			return -VMLET_EPROTO;
		*status = f.status;
		return -VMLET_EREFUSED;
	}
	if (ret_type == VMLET_VOID) {
		if (f.nargs != 0 || f.size != sizeof(f))
			return -VMLET_EPROTO;
		*ret = v;
		return 0;
	}
	if (f.nargs != 1)
		return -VMLET_EPROTO;
	n = vmlet_rec_decode(p + sizeof(f), f.size - sizeof(f), &v);
	if (n < 0)
		return (int)n;
	if (v.type != ret_type || (uint64_t)n != f.size - sizeof(f))
		return -VMLET_EPROTO;
	*ret = v;
	return 0;
}

/*
 * Check one descriptor (d, copied out) whose name area of room bytes starts
 * at name. Returns the name's length, or -1 when anything is off: the
 * checks mirror vmlet_register() in the guest runtime, plus the layout
 * publish() writes (exact size, zeroes in unused slots and padding).
 */
static int64_t fdesc_check(const struct vmlet_fdesc *d, const uint8_t *name, uint64_t room)
{
	unsigned int ints = 0, sses = 0;
	const uint8_t *nul;
	uint64_t len;

	if (d->nargs > VMLET_MAX_ARGS || d->ret >= VMLET_NTYPES)
		return -1;
	for (unsigned int i = 0; i < VMLET_MAX_ARGS; i++) {
		uint8_t t = d->args[i];

		if (i >= d->nargs) {
			if (t != VMLET_VOID)
				return -1;
			continue;
		}
		if (t == VMLET_VOID || t >= VMLET_NTYPES)
			return -1;
		if (t == VMLET_F32 || t == VMLET_F64)
			sses++;
		else
			ints += t == VMLET_BYTES ? 2 : 1;
	}
	if (ints > VMLET_MAX_INT_REGS || sses > VMLET_MAX_SSE_REGS)
		return -1;
	nul = memchr(name, '\0', room);
	if (!nul)
		return -1;
	len = (uint64_t)(nul - name);
	if (len == 0 || len > VMLET_MAX_NAME)
		return -1;
	if (d->size != vmlet_align8(sizeof(*d) + len + 1))
		return -1;
	for (uint64_t i = len + 1; i < room; i++)
		if (name[i])
			return -1;
	return (int64_t)len;
}

int vmlet_frame_decode_table(const void *buf, size_t cap, struct vmlet_func **funcs,
			     unsigned int *nfuncs)
{
	const size_t min_desc = vmlet_align8(sizeof(struct vmlet_fdesc) + 2);
	const uint8_t *p = buf;
	struct vmlet_func *out;
	struct vmlet_frame f;
	uint64_t off, body, names, size;
	char *strs, *strs_end;

	if (cap < sizeof(f))
		return -VMLET_EPROTO;
	memcpy(&f, p, sizeof(f));
	if (f.size < sizeof(f) || f.size > cap || f.func != 0 || f.status != 0)
		return -VMLET_EPROTO;
	body = f.size - sizeof(f);
	/* Every descriptor takes min_desc bytes at least: bounds the count early. */
	if (f.nargs > VMLET_FRAME_MAX_FUNCS || f.nargs > body / min_desc)
		return -VMLET_EPROTO;

	/*
	 * One allocation: the array, then the names. In a valid table the
	 * names take at most what the name areas take, body less the fixed
	 * part of each descriptor; size them by that and validate and copy in
	 * one pass over the guest's bytes. A bad table can break the bound
	 * before we see it is bad (one descriptor swallowing the bytes meant
	 * for the others), hence the check at each copy.
	 */
	names = body - (uint64_t)f.nargs * sizeof(struct vmlet_fdesc);
	if (__builtin_mul_overflow((uint64_t)f.nargs, sizeof(*out), &size) ||
	    __builtin_add_overflow(size, names, &size))
		return -VMLET_EPROTO;
	/* malloc(0) may be NULL; an empty table is still one allocation. */
	out = calloc(1, size ? size : 1);
	if (!out)
		return -ENOMEM;
	strs = (char *)(out + f.nargs);
	strs_end = strs + names;

	off = sizeof(f);
	for (uint32_t i = 0; i < f.nargs; i++) {
		struct vmlet_fdesc d;
		int64_t len;

		if (f.size - off < sizeof(d))
			goto err_proto;
		memcpy(&d, p + off, sizeof(d));
		if (d.size < sizeof(d) || d.size > f.size - off)
			goto err_proto;
		len = fdesc_check(&d, p + off + sizeof(d), d.size - sizeof(d));
		if (len < 0 || (uint64_t)len + 1 > (uint64_t)(strs_end - strs))
			goto err_proto;
		/* Copy from the buffer: the NUL we found is ours from here on. */
		memcpy(strs, p + off + sizeof(d), (size_t)len);
		strs[len] = '\0';
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(out[j].name, strs))
				goto err_proto;
		out[i].name = strs;
		out[i].ret = d.ret;
		out[i].nargs = d.nargs;
		for (unsigned int a = 0; a < d.nargs; a++)
			out[i].args[a] = d.args[a];
		strs += len + 1;
		off += d.size;
	}
	if (off != f.size)
		goto err_proto;

	*funcs = out;
	*nfuncs = f.nargs;
	return 0;

err_proto:
	free(out);
	return -VMLET_EPROTO;
}
