// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/frame.c: records, call frames, return frames and
 * the function table.
 *
 * Expected frames are written byte by byte with a small builder rather than
 * with the encoder, so an encoder bug cannot hide behind a matching decoder
 * bug. Decoders are fed copies in heap buffers of exactly cap bytes, so
 * AddressSanitizer or valgrind catch a read one byte too far, and at odd
 * offsets, because the guest's buffer owes us no alignment.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "unit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* A byte builder for frames. */

struct fb {
	uint8_t b[8192];
	size_t n;
};

static void fb_raw(struct fb *f, const void *p, size_t n)
{
	ck_assert_uint_le(f->n + n, sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void fb_zero(struct fb *f, size_t n)
{
	ck_assert_uint_le(f->n + n, sizeof(f->b));
	memset(f->b + f->n, 0, n);
	f->n += n;
}

static void fb_u8(struct fb *f, uint8_t v)
{
	fb_raw(f, &v, 1);
}

static void fb_u32(struct fb *f, uint32_t v)
{
	uint8_t le[4] = { v, v >> 8, v >> 16, v >> 24 };

	fb_raw(f, le, 4);
}

static void fb_u64(struct fb *f, uint64_t v)
{
	fb_u32(f, (uint32_t)v);
	fb_u32(f, (uint32_t)(v >> 32));
}

/* Overwrite a u32 already written at off. */
static void fb_set32(struct fb *f, size_t off, uint32_t v)
{
	size_t n = f->n;

	f->n = off;
	fb_u32(f, v);
	f->n = n;
}

static void fb_frame(struct fb *f, uint32_t size, uint32_t func, int32_t status, uint32_t nargs)
{
	f->n = 0;
	fb_u32(f, size);
	fb_u32(f, func);
	fb_u32(f, (uint32_t)status);
	fb_u32(f, nargs);
}

/* Set the frame's size field to what has been written. */
static void fb_seal(struct fb *f)
{
	fb_set32(f, 0, (uint32_t)f->n);
}

static void fb_scalar(struct fb *f, uint32_t type, uint64_t bits)
{
	fb_u32(f, type);
	fb_u32(f, 8);
	fb_u64(f, bits);
}

/* A string or bytes record, NUL (for strings) and padding included. */
static void fb_buf(struct fb *f, uint32_t type, const void *p, uint32_t len)
{
	size_t body = (len + (type == VMLET_STRING) + 7) & ~(size_t)7;

	fb_u32(f, type);
	fb_u32(f, len);
	fb_raw(f, p, len);
	fb_zero(f, body - len);
}

static void fb_fdesc(struct fb *f, uint8_t ret, uint8_t nargs, const uint8_t *args,
		     const char *name)
{
	size_t len = strlen(name), size = (16 + len + 1 + 7) & ~(size_t)7;

	fb_u32(f, (uint32_t)size);
	fb_u8(f, ret);
	fb_u8(f, nargs);
	for (unsigned int i = 0; i < VMLET_MAX_ARGS; i++)
		fb_u8(f, i < nargs ? args[i] : 0);
	fb_raw(f, name, len);
	fb_zero(f, size - 16 - len);
}

/* A heap copy of exactly cap bytes at offset skew of a fresh allocation. */
static uint8_t *dup_at(const void *p, size_t n, size_t cap, size_t skew, uint8_t **base)
{
	*base = malloc(cap + skew ? cap + skew : 1);
	ck_assert_ptr_nonnull(*base);
	memset(*base, 0x5a, cap + skew);
	memcpy(*base + skew, p, n < cap ? n : cap);
	return *base + skew;
}

/* ------------------------------------------------------------------------ */
/* Decoding return frames from builder bytes. */

struct decoded {
	int err;
	struct vmlet_value v;
	int32_t status;
	char text[64]; /* v's string or bytes and the byte after them, copied before the frame goes */
};

static const struct vmlet_value SENTINEL = { .type = (enum vmlet_type)77, .u64 = 0xdeadbeef };

/* Decode f's bytes as a return frame of func, cap = exactly its length. */
static struct decoded ret_decode_cap(const struct fb *f, size_t cap, uint32_t func,
				     enum vmlet_type type)
{
	struct decoded d = { .v = SENTINEL, .status = 12345 };
	uint8_t *base, *p;

	p = dup_at(f->b, f->n, cap, 0, &base);
	d.err = vmlet_frame_decode_ret(p, cap, func, type, &d.v, &d.status);
	if (!d.err || d.err == -VMLET_EFAIL) {
		const uint8_t *s = d.v.buf.ptr;

		if ((d.v.type == VMLET_STRING || d.v.type == VMLET_BYTES) && s >= p &&
		    d.v.buf.len < sizeof(d.text) && d.v.buf.len < (size_t)(p + cap - s))
			memcpy(d.text, s, d.v.buf.len + 1);
	}
	free(base);
	return d;
}

static struct decoded ret_decode(const struct fb *f, uint32_t func, enum vmlet_type type)
{
	return ret_decode_cap(f, f->n, func, type);
}

/* A failed decode leaves *ret and *status as they were. */
static void assert_proto(struct decoded d)
{
	ck_assert_int_eq(d.err, -VMLET_EPROTO);
	ck_assert_int_eq(d.v.type, SENTINEL.type);
	ck_assert_uint_eq(d.v.u64, SENTINEL.u64);
	ck_assert_int_eq(d.status, 12345);
}

static uint64_t bits64(const struct vmlet_value *v)
{
	uint32_t b32;
	uint64_t b;

	switch (v->type) {
	case VMLET_BOOL:
		return v->b;
	case VMLET_I32:
		return (uint64_t)(int64_t)v->i32;
	case VMLET_U32:
		return v->u32;
	case VMLET_F32:
		memcpy(&b32, &v->f32, 4);
		return b32;
	default:
		memcpy(&b, &v->u64, 8);
		return b;
	}
}

/* ------------------------------------------------------------------------ */
/* Values every round trip goes through. */

static float f32_bits(uint32_t b)
{
	float f;

	memcpy(&f, &b, 4);
	return f;
}

static double f64_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, 8);
	return d;
}

struct scalar_case {
	struct vmlet_value v;
	uint64_t wire; /* the 8 payload bytes the ABI prescribes */
};

static struct scalar_case scalars[32];
static unsigned int nscalars;

static void scalars_init(void)
{
	struct scalar_case c[] = {
		{ vmlet_bool(false), 0 },
		{ vmlet_bool(true), 1 },
		{ vmlet_i32(0), 0 },
		{ vmlet_i32(1), 1 },
		{ vmlet_i32(-1), UINT64_MAX },
		{ vmlet_i32(INT32_MAX), 0x7fffffff },
		{ vmlet_i32(INT32_MIN), 0xffffffff80000000ULL },
		{ vmlet_i32(-2), 0xfffffffffffffffeULL },
		{ vmlet_u32(0), 0 },
		{ vmlet_u32(UINT32_MAX), 0xffffffffULL },
		{ vmlet_u32(0x80000000U), 0x80000000ULL },
		{ vmlet_i64(INT64_MIN), 0x8000000000000000ULL },
		{ vmlet_i64(INT64_MAX), 0x7fffffffffffffffULL },
		{ vmlet_i64(-1), UINT64_MAX },
		{ vmlet_u64(0), 0 },
		{ vmlet_u64(UINT64_MAX), UINT64_MAX },
		{ vmlet_f32(0.0f), 0 },
		{ vmlet_f32(-0.0f), 0x80000000ULL },
		{ vmlet_f32(INFINITY), 0x7f800000ULL },
		{ vmlet_f32(-INFINITY), 0xff800000ULL },
		{ vmlet_f32(f32_bits(0x7fc00001)), 0x7fc00001ULL }, /* quiet NaN, payload */
		{ vmlet_f32(f32_bits(0xff800001)), 0xff800001ULL }, /* signalling, sign set */
		{ vmlet_f32(f32_bits(0x00000001)), 0x00000001ULL }, /* smallest denormal */
		{ vmlet_f64(0.0), 0 },
		{ vmlet_f64(-0.0), 0x8000000000000000ULL },
		{ vmlet_f64(INFINITY), 0x7ff0000000000000ULL },
		{ vmlet_f64(-INFINITY), 0xfff0000000000000ULL },
		{ vmlet_f64(f64_bits(0x7ff8000000000123ULL)), 0x7ff8000000000123ULL },
		{ vmlet_f64(f64_bits(0xfff0000000000001ULL)), 0xfff0000000000001ULL },
		{ vmlet_f64(1.5), 0x3ff8000000000000ULL },
	};

	ck_assert_uint_le(ARRAY_SIZE(c), ARRAY_SIZE(scalars));
	memcpy(scalars, c, sizeof(c));
	nscalars = ARRAY_SIZE(c);
}

static const char long_str[] = "the quick brown fox jumps over the lazy dog, twice: "
			       "the quick brown fox jumps over the lazy dog";
static const uint8_t some_bytes[] = { 0, 1, 2, 0, 0xff, 0x80, 0, 7, 9 };

/* Strings of lengths around the padding boundaries, and bytes likewise. */
static struct vmlet_value bufvals[] = {
	{ .type = VMLET_STRING, .buf = { "", 0 } },
	{ .type = VMLET_STRING, .buf = { "a", 1 } },
	{ .type = VMLET_STRING, .buf = { "1234567", 7 } },
	{ .type = VMLET_STRING, .buf = { "12345678", 8 } },
	{ .type = VMLET_STRING, .buf = { "nul\0inside", 10 } },
	{ .type = VMLET_STRING, .buf = { long_str, sizeof(long_str) - 1 } },
	{ .type = VMLET_STRING, .buf = { NULL, 0 } },
	{ .type = VMLET_BYTES, .buf = { NULL, 0 } },
	{ .type = VMLET_BYTES, .buf = { "", 0 } },
	{ .type = VMLET_BYTES, .buf = { some_bytes, 1 } },
	{ .type = VMLET_BYTES, .buf = { some_bytes, 8 } },
	{ .type = VMLET_BYTES, .buf = { some_bytes, 9 } },
};

static void expect_rec(struct fb *f, const struct vmlet_value *v)
{
	if (v->type == VMLET_STRING || v->type == VMLET_BYTES)
		fb_buf(f, v->type, v->buf.ptr ? v->buf.ptr : "", (uint32_t)v->buf.len);
	else
		fb_scalar(f, v->type, bits64(v));
}

/* All test values, scalars then buffers. */
static struct vmlet_value value_at(unsigned int i)
{
	return i < nscalars ? scalars[i].v : bufvals[i - nscalars];
}

static unsigned int nvalues(void)
{
	return nscalars + ARRAY_SIZE(bufvals);
}

static void check_same(const struct vmlet_value *got, const struct vmlet_value *want)
{
	ck_assert_int_eq(got->type, want->type);
	if (got->type == VMLET_STRING || got->type == VMLET_BYTES) {
		ck_assert_uint_eq(got->buf.len, want->buf.len);
		if (want->buf.len)
			ck_assert_mem_eq(got->buf.ptr, want->buf.ptr, want->buf.len);
		if (got->type == VMLET_STRING)
			ck_assert_uint_eq(((const char *)got->buf.ptr)[got->buf.len], 0);
		return;
	}
	ck_assert_uint_eq(bits64(got), bits64(want));
}

/* ------------------------------------------------------------------------ */
/* Records */

START_TEST(scalar_wire_format)
{
	for (unsigned int i = 0; i < nscalars; i++) {
		struct fb want = { 0 };
		uint8_t buf[16];

		fb_scalar(&want, scalars[i].v.type, scalars[i].wire);
		ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &scalars[i].v), 16);
		ck_assert_mem_eq(buf, want.b, 16);
	}
}
END_TEST

START_TEST(scalar_round_trip_bit_exact)
{
	for (unsigned int i = 0; i < nscalars; i++) {
		struct fb f = { 0 };
		struct vmlet_value v = SENTINEL;
		uint8_t *base, *p;

		fb_scalar(&f, scalars[i].v.type, scalars[i].wire);
		for (size_t skew = 0; skew < 8; skew++) {
			p = dup_at(f.b, f.n, f.n, skew, &base);
			ck_assert_int_eq(vmlet_rec_decode(p, f.n, &v), 16);
			free(base);
			check_same(&v, &scalars[i].v);
		}
	}
}
END_TEST

START_TEST(i32_negative_is_sign_extended)
{
	struct vmlet_value v = vmlet_i32(-5), out;
	uint8_t buf[16];
	uint64_t wire;

	ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &v), 16);
	memcpy(&wire, buf + 8, 8);
	ck_assert_uint_eq(wire, (uint64_t)-5);
	ck_assert_int_eq(vmlet_rec_decode(buf, sizeof(buf), &out), 16);
	ck_assert_int_eq(out.i32, -5);
}
END_TEST

START_TEST(float_specials_keep_their_bits)
{
	struct vmlet_value nan32 = vmlet_f32(f32_bits(0x7fa00001)), out;
	struct vmlet_value nz64 = vmlet_f64(-0.0);
	uint8_t buf[16];

	ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &nan32), 16);
	ck_assert_int_eq(vmlet_rec_decode(buf, sizeof(buf), &out), 16);
	ck_assert(isnan(out.f32));
	ck_assert_uint_eq(bits64(&out), 0x7fa00001);
	ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &nz64), 16);
	ck_assert_int_eq(vmlet_rec_decode(buf, sizeof(buf), &out), 16);
	ck_assert(signbit(out.f64) && out.f64 == 0.0);
}
END_TEST

START_TEST(bool_decodes_to_true_and_false)
{
	struct vmlet_value out;
	struct fb f = { 0 };

	fb_scalar(&f, VMLET_BOOL, 1);
	ck_assert_int_eq(vmlet_rec_decode(f.b, f.n, &out), 16);
	ck_assert(out.b == true);
	f.n = 0;
	fb_scalar(&f, VMLET_BOOL, 0);
	ck_assert_int_eq(vmlet_rec_decode(f.b, f.n, &out), 16);
	ck_assert(out.b == false);
}
END_TEST

START_TEST(buf_wire_format_and_round_trip)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(bufvals); i++) {
		const struct vmlet_value *v = &bufvals[i];
		struct fb want = { 0 };
		struct vmlet_value out = SENTINEL;
		uint8_t buf[256], *base, *p;
		int64_t n;

		expect_rec(&want, v);
		memset(buf, 0xa5, sizeof(buf));
		n = vmlet_rec_encode(buf, sizeof(buf), v);
		ck_assert_int_eq(n, (int64_t)want.n);
		ck_assert_int_eq(n, (int64_t)vmlet_rec_size(v->type, (uint32_t)v->buf.len));
		ck_assert_mem_eq(buf, want.b, want.n);
		ck_assert_uint_eq(buf[n], 0xa5);
		for (size_t skew = 0; skew < 8; skew++) {
			p = dup_at(want.b, want.n, want.n, skew, &base);
			ck_assert_int_eq(vmlet_rec_decode(p, want.n, &out), n);
			/* Decoded buffers point into the frame, after the header. */
			ck_assert_ptr_eq(out.buf.ptr, p + 8);
			check_same(&out, v);
			free(base);
		}
	}
}
END_TEST

START_TEST(encode_rejects_bad_values)
{
	static const int bad_types[] = { VMLET_VOID, VMLET_NTYPES, 100, -1 };
	uint8_t buf[64];
	struct vmlet_value v;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad_types); i++) {
		v = (struct vmlet_value){ .type = (enum vmlet_type)bad_types[i] };
		ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &v), -EINVAL);
	}
	v = vmlet_bytes(NULL, 3);
	ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &v), -EINVAL);
	v = vmlet_strn(NULL, 1);
	ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &v), -EINVAL);
	/* The bad value wins over the small buffer. */
	ck_assert_int_eq(vmlet_rec_encode(buf, 0, &v), -EINVAL);
}
END_TEST

START_TEST(encode_rejects_len_beyond_32_bits)
{
	struct vmlet_value v = vmlet_bytes("x", (size_t)UINT32_MAX + 1);
	uint8_t buf[64];

	if (sizeof(size_t) <= 4)
		return;
	/* Must not read the (short) source: the length is refused first. */
	ck_assert_int_eq(vmlet_rec_encode(buf, sizeof(buf), &v), -E2BIG);
	v.type = VMLET_STRING;
	ck_assert_int_eq(vmlet_rec_encode(buf, SIZE_MAX, &v), -E2BIG);
}
END_TEST

START_TEST(encode_e2big_at_every_short_cap)
{
	for (unsigned int i = 0; i < nvalues(); i++) {
		struct vmlet_value v = value_at(i);
		size_t need = vmlet_rec_size(v.type, (uint32_t)v.buf.len);

		if (vmlet_type_is_scalar(v.type))
			need = 16;
		for (size_t cap = 0; cap < need; cap++) {
			uint8_t *buf = malloc(cap ? cap : 1);

			ck_assert_ptr_nonnull(buf);
			ck_assert_int_eq(vmlet_rec_encode(buf, cap, &v), -E2BIG);
			free(buf);
		}
		{
			uint8_t *buf = malloc(need);

			ck_assert_ptr_nonnull(buf);
			ck_assert_int_eq(vmlet_rec_encode(buf, need, &v), (int64_t)need);
			free(buf);
		}
	}
}
END_TEST

START_TEST(rec_decode_rejects_truncation)
{
	for (unsigned int i = 0; i < nvalues(); i++) {
		struct vmlet_value v = value_at(i), out;
		struct fb f = { 0 };

		expect_rec(&f, &v);
		for (size_t avail = 0; avail < f.n; avail++) {
			uint8_t *base, *p = dup_at(f.b, f.n, avail, 0, &base);

			out = SENTINEL;
			ck_assert_int_eq(vmlet_rec_decode(p, avail, &out), -VMLET_EPROTO);
			ck_assert_int_eq(out.type, SENTINEL.type);
			free(base);
		}
	}
}
END_TEST

/* Bad record headers, each in a buffer exactly as long as its len implies. */
START_TEST(rec_decode_rejects_bad_headers)
{
	static const struct {
		uint32_t type, len;
	} bad[] = {
		{ VMLET_VOID, 0 },   { VMLET_VOID, 8 },	  { VMLET_NTYPES, 8 }, { 0x100, 0 },
		{ UINT32_MAX, 8 },   { VMLET_BOOL, 0 },	  { VMLET_I32, 4 },    { VMLET_U32, 4 },
		{ VMLET_F32, 4 },    { VMLET_I64, 7 },	  { VMLET_F64, 9 },    { VMLET_U64, 16 },
		{ VMLET_U64, UINT32_MAX },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vmlet_value out = SENTINEL;
		size_t n = 8 + ((bad[i].len + 7ULL) & ~7ULL);
		uint8_t *base, *p;
		struct fb f = { 0 };

		if (n > 64)
			n = 64;
		fb_u32(&f, bad[i].type);
		fb_u32(&f, bad[i].len);
		fb_zero(&f, n - 8);
		p = dup_at(f.b, f.n, f.n, 1, &base);
		ck_assert_int_eq(vmlet_rec_decode(p, n, &out), -VMLET_EPROTO);
		ck_assert_int_eq(out.type, SENTINEL.type);
		free(base);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Call frames */

START_TEST(call_frame_every_type_round_trip)
{
	struct vmlet_value args[VMLET_MAX_ARGS];
	unsigned int n = 0, total = nvalues();

	/* Every value, in groups of up to VMLET_MAX_ARGS. */
	for (unsigned int first = 0; first < total; first += n) {
		struct fb want = { 0 };
		uint8_t buf[1024], *base, *p;
		size_t off;
		int64_t size;

		n = total - first < VMLET_MAX_ARGS ? total - first : VMLET_MAX_ARGS;
		fb_frame(&want, 0, 7 + first, 0, n);
		for (unsigned int i = 0; i < n; i++) {
			args[i] = value_at(first + i);
			expect_rec(&want, &args[i]);
		}
		fb_seal(&want);

		size = vmlet_frame_encode_call(buf, sizeof(buf), 7 + first, args, n);
		ck_assert_int_eq(size, (int64_t)want.n);
		ck_assert_mem_eq(buf, want.b, want.n);

		/* Read it back the way the guest would, from an odd address. */
		p = dup_at(buf, (size_t)size, (size_t)size, 3, &base);
		off = sizeof(struct vmlet_frame);
		for (unsigned int i = 0; i < n; i++) {
			struct vmlet_value out;
			int64_t r = vmlet_rec_decode(p + off, (size_t)size - off, &out);

			ck_assert_int_gt(r, 0);
			check_same(&out, &args[i]);
			off += (size_t)r;
		}
		ck_assert_uint_eq(off, (size_t)size);
		free(base);
	}
}
END_TEST

START_TEST(call_frame_without_args)
{
	struct fb want = { 0 };
	uint8_t buf[16];

	fb_frame(&want, 16, 3, 0, 0);
	ck_assert_int_eq(vmlet_frame_encode_call(buf, sizeof(buf), 3, NULL, 0), 16);
	ck_assert_mem_eq(buf, want.b, 16);
}
END_TEST

START_TEST(call_frame_e2big_at_every_short_cap)
{
	struct vmlet_value args[] = {
		vmlet_i32(-1),
		vmlet_str("hello, world"),
		vmlet_bytes(some_bytes, 9),
		vmlet_f64(2.5),
	};
	uint8_t full[256];
	int64_t need = vmlet_frame_encode_call(full, sizeof(full), 1, args, ARRAY_SIZE(args));

	ck_assert_int_eq(need, 16 + 16 + 24 + 24 + 16);
	for (size_t cap = 0; cap < (size_t)need; cap++) {
		uint8_t *buf = malloc(cap ? cap : 1);

		ck_assert_ptr_nonnull(buf);
		memset(buf, 0xa5, cap);
		ck_assert_int_eq(vmlet_frame_encode_call(buf, cap, 1, args, ARRAY_SIZE(args)),
				 -E2BIG);
		/* Refused, it wrote nothing: no argument stays in guest memory. */
		for (size_t i = 0; i < cap; i++)
			ck_assert_uint_eq(buf[i], 0xa5);
		free(buf);
	}
	for (size_t cap = 0; cap < 16; cap++)
		ck_assert_int_eq(vmlet_frame_encode_call(full, cap, 1, NULL, 0), -E2BIG);
}
END_TEST

START_TEST(call_frame_rejects_bad_args)
{
	struct vmlet_value args[VMLET_MAX_ARGS + 1];
	uint8_t buf[512];

	for (unsigned int i = 0; i < ARRAY_SIZE(args); i++)
		args[i] = vmlet_u32(i);
	ck_assert_int_eq(vmlet_frame_encode_call(buf, sizeof(buf), 0, args, VMLET_MAX_ARGS),
			 16 + 16 * VMLET_MAX_ARGS);
	ck_assert_int_eq(vmlet_frame_encode_call(buf, sizeof(buf), 0, args, VMLET_MAX_ARGS + 1),
			 -EINVAL);
	ck_assert_int_eq(vmlet_frame_encode_call(buf, sizeof(buf), 0, NULL, 1), -EINVAL);
	args[2] = (struct vmlet_value){ .type = VMLET_VOID };
	ck_assert_int_eq(vmlet_frame_encode_call(buf, sizeof(buf), 0, args, 3), -EINVAL);
	args[2] = vmlet_bytes(NULL, 1);
	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(vmlet_frame_encode_call(buf, sizeof(buf), 0, args, 3), -EINVAL);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xa5);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Return frames */

START_TEST(ret_every_type_round_trip)
{
	for (unsigned int i = 0; i < nvalues(); i++) {
		struct vmlet_value v = value_at(i);
		struct fb f = { 0 };

		fb_frame(&f, 0, 5, 0, 1);
		expect_rec(&f, &v);
		fb_seal(&f);
		for (size_t skew = 0; skew < 8; skew++) {
			struct vmlet_value out = SENTINEL;
			int32_t status = 99;
			uint8_t *base, *p;
			int err;

			p = dup_at(f.b, f.n, f.n, skew, &base);
			err = vmlet_frame_decode_ret(p, f.n, 5, v.type, &out, &status);
			ck_assert_int_eq(err, 0);
			check_same(&out, &v);
			ck_assert_int_eq(status, 99);
			free(base);
		}
	}
}
END_TEST

START_TEST(ret_void)
{
	struct fb f = { 0 };
	struct decoded d;

	fb_frame(&f, 16, 2, 0, 0);
	d = ret_decode(&f, 2, VMLET_VOID);
	ck_assert_int_eq(d.err, 0);
	ck_assert_int_eq(d.v.type, VMLET_VOID);
	ck_assert_int_eq(d.status, 12345);
}
END_TEST

START_TEST(ret_ignores_bytes_past_size)
{
	struct fb f = { 0 };
	struct decoded d;

	fb_frame(&f, 0, 0, 0, 1);
	fb_scalar(&f, VMLET_U64, 42);
	fb_seal(&f);
	fb_u64(&f, 0xffffffffffffffffULL); /* stale bytes from an earlier call */
	d = ret_decode(&f, 0, VMLET_U64);
	ck_assert_int_eq(d.err, 0);
	ck_assert_uint_eq(d.v.u64, 42);
}
END_TEST

START_TEST(ret_truncated_header)
{
	struct fb f = { 0 };

	fb_frame(&f, 16, 0, 0, 0);
	for (size_t cap = 0; cap < 16; cap++)
		assert_proto(ret_decode_cap(&f, cap, 0, VMLET_VOID));
}
END_TEST

START_TEST(ret_truncated_record)
{
	struct fb f = { 0 };

	/* Frame ends inside the record header, then inside the payload. */
	for (uint32_t size = 16; size < 32; size++) {
		fb_frame(&f, size, 0, 0, 1);
		fb_scalar(&f, VMLET_I64, 1);
		assert_proto(ret_decode(&f, 0, VMLET_I64));
	}
	fb_frame(&f, 0, 0, 0, 1);
	fb_buf(&f, VMLET_STRING, "abcdefghij", 10);
	for (uint32_t size = 16; size < f.n; size++) {
		fb_set32(&f, 0, size);
		assert_proto(ret_decode(&f, 0, VMLET_STRING));
	}
}
END_TEST

START_TEST(ret_size_beyond_cap)
{
	struct fb f = { 0 };

	fb_frame(&f, 0, 0, 0, 1);
	fb_scalar(&f, VMLET_U32, 1);
	fb_seal(&f);
	ck_assert_int_eq(ret_decode(&f, 0, VMLET_U32).err, 0);
	assert_proto(ret_decode_cap(&f, f.n - 1, 0, VMLET_U32));
	fb_set32(&f, 0, (uint32_t)f.n + 8);
	assert_proto(ret_decode(&f, 0, VMLET_U32));
	fb_set32(&f, 0, UINT32_MAX);
	assert_proto(ret_decode(&f, 0, VMLET_U32));
}
END_TEST

START_TEST(ret_size_below_header)
{
	struct fb f = { 0 };

	for (uint32_t size = 0; size < 16; size++) {
		fb_frame(&f, size, 0, 0, 0);
		assert_proto(ret_decode(&f, 0, VMLET_VOID));
	}
}
END_TEST

START_TEST(ret_oversized_len)
{
	static const uint32_t types[] = { VMLET_STRING, VMLET_BYTES, VMLET_U64 };
	static const uint32_t lens[] = { UINT32_MAX, UINT32_MAX - 7, 0x80000000U, 17, 9 };

	for (unsigned int t = 0; t < ARRAY_SIZE(types); t++) {
		for (unsigned int l = 0; l < ARRAY_SIZE(lens); l++) {
			struct fb f = { 0 };

			fb_frame(&f, 0, 0, 0, 1);
			fb_u32(&f, types[t]);
			fb_u32(&f, lens[l]);
			fb_zero(&f, 8);
			fb_seal(&f);
			assert_proto(ret_decode(&f, 0, types[t]));
		}
	}
}
END_TEST

START_TEST(ret_unknown_type_tag)
{
	static const uint32_t tags[] = { VMLET_VOID, VMLET_NTYPES, 0x100, UINT32_MAX };

	for (unsigned int i = 0; i < ARRAY_SIZE(tags); i++) {
		struct fb f = { 0 };

		fb_frame(&f, 0, 0, 0, 1);
		fb_scalar(&f, tags[i], 0);
		fb_seal(&f);
		assert_proto(ret_decode(&f, 0, VMLET_U64));
		/* Nor when the caller's type matches the bad tag. */
		if (tags[i] == VMLET_VOID)
			assert_proto(ret_decode(&f, 0, VMLET_VOID));
	}
}
END_TEST

START_TEST(ret_wrong_record_type)
{
	for (uint32_t have = VMLET_BOOL; have < VMLET_NTYPES; have++) {
		for (uint32_t want = VMLET_BOOL; want < VMLET_NTYPES; want++) {
			struct fb f = { 0 };

			if (have == want)
				continue;
			fb_frame(&f, 0, 0, 0, 1);
			if (vmlet_type_is_scalar(have))
				fb_scalar(&f, have, 0);
			else
				fb_buf(&f, have, "abc", 3);
			fb_seal(&f);
			assert_proto(ret_decode(&f, 0, (enum vmlet_type)want));
		}
	}
}
END_TEST

START_TEST(ret_noncanonical_scalars)
{
	static const struct {
		uint32_t type;
		uint64_t bits;
	} bad[] = {
		{ VMLET_BOOL, 2 },
		{ VMLET_BOOL, 0x100 },
		{ VMLET_BOOL, 0x8000000000000000ULL },
		{ VMLET_BOOL, UINT64_MAX },
		{ VMLET_I32, 0x80000000ULL },	      /* zero-extended negative */
		{ VMLET_I32, 0xffffffffULL },	      /* -1, zero-extended */
		{ VMLET_I32, 0x100000000ULL },	      /* bit 32 without bit 31 */
		{ VMLET_I32, 0xffffffff7fffffffULL }, /* sign bits over a positive */
		{ VMLET_U32, 0x100000000ULL },
		{ VMLET_U32, 0xffffffffffffffffULL }, /* u32 max, sign-extended */
		{ VMLET_F32, 0xffffffff80000000ULL }, /* -0.0f, sign-extended */
		{ VMLET_F32, 0x000000017f800000ULL },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		struct fb f = { 0 };

		fb_frame(&f, 0, 0, 0, 1);
		fb_scalar(&f, bad[i].type, bad[i].bits);
		fb_seal(&f);
		assert_proto(ret_decode(&f, 0, (enum vmlet_type)bad[i].type));
	}
}
END_TEST

START_TEST(ret_scalar_len_not_8)
{
	static const uint32_t lens[] = { 0, 4, 7, 9, 16, UINT32_MAX };

	/* The frame holds what the len would take, so only len is wrong. */
	for (unsigned int i = 0; i < ARRAY_SIZE(lens); i++) {
		uint64_t body = (lens[i] + 7ULL) & ~7ULL;
		struct fb f = { 0 };

		fb_frame(&f, 0, 0, 0, 1);
		fb_u32(&f, VMLET_I64);
		fb_u32(&f, lens[i]);
		fb_zero(&f, body < 64 ? body : 64);
		fb_seal(&f);
		assert_proto(ret_decode(&f, 0, VMLET_I64));
	}
}
END_TEST

START_TEST(ret_string_without_nul)
{
	struct fb f = { 0 };

	/* "abc" then 'x' where the NUL belongs. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_u32(&f, VMLET_STRING);
	fb_u32(&f, 3);
	fb_raw(&f, "abcx\0\0\0\0", 8);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_STRING));

	/* Eight bytes: the NUL would be the first byte of the next word. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_u32(&f, VMLET_STRING);
	fb_u32(&f, 8);
	fb_raw(&f, "abcdefgh", 8);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_STRING));
	/* With the word present and zero it is fine. */
	fb_zero(&f, 8);
	fb_seal(&f);
	ck_assert_int_eq(ret_decode(&f, 0, VMLET_STRING).err, 0);
}
END_TEST

START_TEST(ret_nonzero_padding)
{
	for (unsigned int type = VMLET_STRING; type <= VMLET_BYTES; type++) {
		unsigned int first = type == VMLET_STRING ? 4 : 3;

		for (unsigned int at = first; at < 8; at++) {
			struct fb f = { 0 };

			fb_frame(&f, 0, 0, 0, 1);
			fb_buf(&f, type, "abc", 3);
			fb_seal(&f);
			ck_assert_int_eq(ret_decode(&f, 0, type).err, 0);
			f.b[16 + 8 + at] = 0x01;
			assert_proto(ret_decode(&f, 0, type));
		}
	}
}
END_TEST

START_TEST(ret_trailing_bytes)
{
	struct fb f = { 0 };

	fb_frame(&f, 0, 0, 0, 1);
	fb_scalar(&f, VMLET_I32, 3);
	fb_zero(&f, 8);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_I32));

	fb_frame(&f, 0, 0, 0, 0);
	fb_zero(&f, 8);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_VOID));
}
END_TEST

START_TEST(ret_record_count)
{
	struct fb f = { 0 };

	/* Non-void wants exactly one record. */
	for (uint32_t nargs = 0; nargs < 4; nargs++) {
		if (nargs == 1)
			continue;
		fb_frame(&f, 0, 0, 0, nargs);
		for (uint32_t i = 0; i < nargs; i++)
			fb_scalar(&f, VMLET_U64, i);
		fb_seal(&f);
		assert_proto(ret_decode(&f, 0, VMLET_U64));
	}
	fb_frame(&f, 0, 0, 0, UINT32_MAX);
	fb_scalar(&f, VMLET_U64, 1);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_U64));
	/* Void wants none, even with no bytes behind the count. */
	fb_frame(&f, 16, 0, 0, 1);
	assert_proto(ret_decode(&f, 0, VMLET_VOID));
}
END_TEST

START_TEST(ret_wrong_func)
{
	struct fb f = { 0 };

	fb_frame(&f, 0, 4, 0, 1);
	fb_scalar(&f, VMLET_BOOL, 1);
	fb_seal(&f);
	ck_assert_int_eq(ret_decode(&f, 4, VMLET_BOOL).err, 0);
	assert_proto(ret_decode(&f, 3, VMLET_BOOL));
	assert_proto(ret_decode(&f, 5, VMLET_BOOL));
	assert_proto(ret_decode(&f, UINT32_MAX, VMLET_BOOL));
	/* A refusal for another function is no refusal of ours. */
	fb_frame(&f, 16, 4, -EINVAL, 0);
	assert_proto(ret_decode(&f, 0, VMLET_BOOL));
}
END_TEST

START_TEST(ret_refused)
{
	static const int32_t ok[] = { -1, -EINVAL, -E2BIG, -EFAULT, -4095 };
	struct fb f = { 0 };
	struct decoded d;

	for (unsigned int i = 0; i < ARRAY_SIZE(ok); i++) {
		fb_frame(&f, 16, 9, ok[i], 0);
		d = ret_decode(&f, 9, VMLET_STRING);
		ck_assert_int_eq(d.err, -VMLET_EREFUSED);
		ck_assert_int_eq(d.status, ok[i]);
		ck_assert_int_eq(d.v.type, SENTINEL.type); /* *ret untouched */
		d = ret_decode(&f, 9, VMLET_VOID);
		ck_assert_int_eq(d.err, -VMLET_EREFUSED);
		ck_assert_int_eq(d.status, ok[i]);
	}
}
END_TEST

START_TEST(ret_failed)
{
	struct fb f = { 0 };
	struct decoded d;

	/* An i32 code and a string message, whatever the result type. */
	fb_frame(&f, 0, 9, VMLET_STATUS_FAIL, 2);
	fb_scalar(&f, VMLET_I32, (uint64_t)(int64_t)-3);
	fb_buf(&f, VMLET_STRING, "wasm trap: unreachable", 22);
	fb_seal(&f);
	d = ret_decode(&f, 9, VMLET_I32);
	ck_assert_int_eq(d.err, -VMLET_EFAIL);
	ck_assert_int_eq(d.status, -3);
	ck_assert_int_eq(d.v.type, VMLET_STRING);
	ck_assert_uint_eq(d.v.buf.len, 22);
	ck_assert(!memcmp(d.text, "wasm trap: unreachable", 23));
	ck_assert_int_eq(ret_decode(&f, 9, VMLET_VOID).err, -VMLET_EFAIL);
	assert_proto(ret_decode(&f, 8, VMLET_I32));
	/* Cut short, one record, records swapped or of other types, bytes over. */
	assert_proto(ret_decode_cap(&f, f.n - 8, 9, VMLET_I32));
	fb_frame(&f, 0, 9, VMLET_STATUS_FAIL, 1);
	fb_scalar(&f, VMLET_I32, 1);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 9, VMLET_I32));
	fb_frame(&f, 0, 9, VMLET_STATUS_FAIL, 2);
	fb_buf(&f, VMLET_STRING, "x", 1);
	fb_scalar(&f, VMLET_I32, 1);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 9, VMLET_I32));
	fb_frame(&f, 0, 9, VMLET_STATUS_FAIL, 2);
	fb_scalar(&f, VMLET_I64, 1);
	fb_buf(&f, VMLET_BYTES, "x", 1);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 9, VMLET_I32));
	fb_frame(&f, 0, 9, VMLET_STATUS_FAIL, 2);
	fb_scalar(&f, VMLET_I32, 1);
	fb_buf(&f, VMLET_STRING, "x", 1);
	fb_zero(&f, 8);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 9, VMLET_I32));
}
END_TEST

START_TEST(ret_refused_malformed)
{
	static const int32_t bad[] = { 1, INT32_MAX, -4096, -VMLET_EPROTO, INT32_MIN };
	struct fb f = { 0 };

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		fb_frame(&f, 16, 0, bad[i], 0);
		assert_proto(ret_decode(&f, 0, VMLET_U64));
	}
	/* A refusal carries no record. */
	fb_frame(&f, 0, 0, -EINVAL, 1);
	fb_scalar(&f, VMLET_U64, 1);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_U64));
	fb_frame(&f, 0, 0, -EINVAL, 0);
	fb_zero(&f, 8);
	fb_seal(&f);
	assert_proto(ret_decode(&f, 0, VMLET_U64));
	/* And its header is whole. */
	fb_frame(&f, 12, 0, -EINVAL, 0);
	assert_proto(ret_decode(&f, 0, VMLET_U64));
}
END_TEST

START_TEST(ret_bad_ret_type_is_einval)
{
	struct fb f = { 0 };
	struct decoded d;

	fb_frame(&f, 16, 0, 0, 0);
	d = ret_decode(&f, 0, VMLET_NTYPES);
	ck_assert_int_eq(d.err, -EINVAL);
	d = ret_decode(&f, 0, (enum vmlet_type)-1);
	ck_assert_int_eq(d.err, -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Function tables */

static int table_decode(const struct fb *f, struct vmlet_func **funcs, unsigned int *n)
{
	uint8_t *base, *p = dup_at(f->b, f->n, f->n, 5, &base);
	int err = vmlet_frame_decode_table(p, f->n, funcs, n);

	free(base);
	return err;
}

/* The table must be rejected and the out parameters left alone. */
static void assert_table_proto(const struct fb *f)
{
	struct vmlet_func *funcs = (struct vmlet_func *)&funcs;
	unsigned int n = 777;

	ck_assert_int_eq(table_decode(f, &funcs, &n), -VMLET_EPROTO);
	ck_assert_ptr_eq(funcs, (struct vmlet_func *)&funcs);
	ck_assert_uint_eq(n, 777);
}

static const char name63[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
static const char name64[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_x";

START_TEST(table_valid)
{
	static const uint8_t a_add[] = { VMLET_I32, VMLET_I32 };
	static const uint8_t a_str[] = { VMLET_STRING, VMLET_BYTES, VMLET_F64 };
	static const uint8_t a_max[] = {
		VMLET_F32,  VMLET_F64, VMLET_F32, VMLET_F64, VMLET_F32,
		VMLET_BYTES, VMLET_I64, VMLET_U64, VMLET_BOOL, VMLET_U32,
	};
	static const struct {
		const char *name;
		uint8_t ret, nargs;
		const uint8_t *args;
	} want[] = {
		{ "add", VMLET_I32, 2, a_add },
		{ "f", VMLET_VOID, 0, NULL },
		{ "strlen7", VMLET_STRING, 3, a_str },	/* 16 + 7 + 1: exactly 24 */
		{ "eight_ch", VMLET_BYTES, 3, a_str },	/* 16 + 8 + 1: 32 */
		{ name63, VMLET_F32, VMLET_MAX_ARGS, a_max },
	};
	struct vmlet_func *funcs = NULL;
	struct fb f = { 0 };
	unsigned int n = 0;

	fb_frame(&f, 0, 0, 0, ARRAY_SIZE(want));
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++)
		fb_fdesc(&f, want[i].ret, want[i].nargs, want[i].args, want[i].name);
	fb_seal(&f);
	ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
	ck_assert_uint_eq(n, ARRAY_SIZE(want));
	for (unsigned int i = 0; i < n; i++) {
		ck_assert_str_eq(funcs[i].name, want[i].name);
		ck_assert_int_eq(funcs[i].ret, want[i].ret);
		ck_assert_uint_eq(funcs[i].nargs, want[i].nargs);
		for (unsigned int a = 0; a < VMLET_MAX_ARGS; a++)
			ck_assert_int_eq(funcs[i].args[a], a < want[i].nargs ? want[i].args[a] : 0);
	}
	/* Names live in the allocation, not in the (freed) guest buffer. */
	ck_assert_ptr_eq(funcs[0].name, (const char *)(funcs + n));
	free(funcs);
}
END_TEST

START_TEST(table_empty)
{
	struct vmlet_func *funcs = NULL;
	struct fb f = { 0 };
	unsigned int n = 9;

	fb_frame(&f, 16, 0, 0, 0);
	ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(funcs);
	free(funcs);
}
END_TEST

START_TEST(table_bad_frame_header)
{
	struct fb f = { 0 };
	struct vmlet_func *funcs;
	unsigned int n;

	fb_frame(&f, 16, 0, 0, 0);
	for (size_t cap = 0; cap < 16; cap++) {
		uint8_t *base, *p = dup_at(f.b, f.n, cap, 0, &base);

		ck_assert_int_eq(vmlet_frame_decode_table(p, cap, &funcs, &n), -VMLET_EPROTO);
		free(base);
	}
	for (uint32_t size = 0; size < 16; size++) {
		fb_frame(&f, size, 0, 0, 0);
		assert_table_proto(&f);
	}
	fb_frame(&f, 24, 0, 0, 0); /* size beyond cap */
	assert_table_proto(&f);
	fb_frame(&f, 16, 1, 0, 0); /* func */
	assert_table_proto(&f);
	fb_frame(&f, 16, 0, -EINVAL, 0); /* status */
	assert_table_proto(&f);
}
END_TEST

START_TEST(table_count_mismatch)
{
	struct fb f = { 0 };

	/* Says two, has one. */
	fb_frame(&f, 0, 0, 0, 2);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "one");
	fb_seal(&f);
	assert_table_proto(&f);
	/* Says one, has two: the second is left over. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "one");
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "two");
	fb_seal(&f);
	assert_table_proto(&f);
	/* Bytes left over after the last descriptor. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "one");
	fb_zero(&f, 8);
	fb_seal(&f);
	assert_table_proto(&f);
	/* A count far beyond what the bytes could hold. */
	fb_frame(&f, 0, 0, 0, UINT32_MAX);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "one");
	fb_seal(&f);
	assert_table_proto(&f);
}
END_TEST

/* Room for two minimal descriptors, all of it taken by the first. */
START_TEST(table_first_desc_swallows_the_rest)
{
	struct fb f = { 0 };

	fb_frame(&f, 0, 0, 0, 2);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "abcdefghijklmnopqrstuvwxyz01234");
	ck_assert_uint_eq(f.n, 16 + 2 * 24);
	fb_seal(&f);
	assert_table_proto(&f);
	/* And with as many descriptors as fit, the last one overlong. */
	fb_frame(&f, 0, 0, 0, 3);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "a");
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "abcdefghijklmnopqrstuvwxyz01234");
	fb_seal(&f);
	assert_table_proto(&f);
}
END_TEST

START_TEST(table_too_many_funcs)
{
	static struct fb f;
	struct vmlet_func *funcs;
	unsigned int n;
	char name[16];

	/* VMLET_FRAME_MAX_FUNCS of them pass, one more does not. */
	for (unsigned int count = VMLET_FRAME_MAX_FUNCS; count <= VMLET_FRAME_MAX_FUNCS + 1;
	     count++) {
		uint8_t *buf = malloc(16 + (size_t)count * 24);
		size_t off = 16;

		ck_assert_ptr_nonnull(buf);
		for (unsigned int i = 0; i < count; i++) {
			f.n = 0;
			snprintf(name, sizeof(name), "f%u", i);
			fb_fdesc(&f, VMLET_VOID, 0, NULL, name);
			memcpy(buf + off, f.b, f.n);
			off += f.n;
		}
		fb_frame(&f, (uint32_t)off, 0, 0, count);
		memcpy(buf, f.b, 16);
		if (count == VMLET_FRAME_MAX_FUNCS) {
			ck_assert_int_eq(vmlet_frame_decode_table(buf, off, &funcs, &n), 0);
			ck_assert_uint_eq(n, count);
			ck_assert_str_eq(funcs[count - 1].name, "f1023");
			free(funcs);
		} else {
			ck_assert_int_eq(vmlet_frame_decode_table(buf, off, &funcs, &n),
					 -VMLET_EPROTO);
		}
		free(buf);
	}
}
END_TEST

START_TEST(table_bad_desc_size)
{
	static const uint32_t sizes[] = { 0, 8, 15, 16, 17, 23, 25, 32, 40, UINT32_MAX };
	struct fb f = { 0 };

	/*
	 * "seven77" takes exactly 24: anything else is wrong, even when the
	 * frame holds that many bytes of zero padding.
	 */
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		fb_frame(&f, 0, 0, 0, 1);
		fb_fdesc(&f, VMLET_VOID, 0, NULL, "seven77");
		fb_set32(&f, 16, sizes[i]);
		if (sizes[i] > 24 && sizes[i] < 64)
			fb_zero(&f, sizes[i] - 24);
		fb_seal(&f);
		assert_table_proto(&f);
	}
	/* The right size, but the frame ends first. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "seven77");
	f.n -= 8;
	fb_seal(&f);
	assert_table_proto(&f);
	/* A descriptor header cut short. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_zero(&f, 8);
	fb_seal(&f);
	assert_table_proto(&f);
}
END_TEST

START_TEST(table_bad_types)
{
	uint8_t args[VMLET_MAX_ARGS] = { 0 };
	struct vmlet_func *funcs;
	struct fb f = { 0 };
	unsigned int n;

	/* nargs over the limit, on an otherwise valid descriptor. */
	for (unsigned int i = 0; i < ARRAY_SIZE(args); i++)
		args[i] = i < 6 ? VMLET_I32 : VMLET_F64;
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, VMLET_MAX_ARGS, args, "g");
	fb_seal(&f);
	ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
	free(funcs);
	f.b[16 + 5] = VMLET_MAX_ARGS + 1;
	assert_table_proto(&f);
	f.b[16 + 5] = 255;
	assert_table_proto(&f);

	/* VOID or unknown argument types, unknown return types. */
	args[0] = VMLET_I32;
	args[1] = VMLET_VOID;
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 2, args, "g");
	fb_seal(&f);
	assert_table_proto(&f);
	args[1] = VMLET_NTYPES;
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 2, args, "g");
	fb_seal(&f);
	assert_table_proto(&f);
	args[1] = 0xff;
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 2, args, "g");
	fb_seal(&f);
	assert_table_proto(&f);
	args[1] = VMLET_U32;
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_NTYPES, 2, args, "g");
	fb_seal(&f);
	assert_table_proto(&f);
	/* The same descriptor with a known return type is fine. */
	f.b[16 + 4] = VMLET_BYTES;
	ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
	ck_assert_int_eq(funcs[0].ret, VMLET_BYTES);
	free(funcs);
}
END_TEST

START_TEST(table_unused_arg_slots_must_be_zero)
{
	static const uint8_t args[] = { VMLET_I32 };
	struct vmlet_func *funcs;
	struct fb f = { 0 };
	unsigned int n;

	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 1, args, "g");
	fb_seal(&f);
	ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
	free(funcs);
	f.b[16 + 6 + 1] = VMLET_I32;
	assert_table_proto(&f);
	f.b[16 + 6 + 1] = 0;
	f.b[16 + 6 + VMLET_MAX_ARGS - 1] = 1;
	assert_table_proto(&f);
}
END_TEST

/* Signatures and whether they fit the System V argument registers. */
START_TEST(table_register_limits)
{
	static const struct {
		uint8_t nargs;
		uint8_t args[VMLET_MAX_ARGS];
		int ok;
	} sigs[] = {
		{ 6, { 2, 2, 2, 2, 2, 2 }, 1 },
		{ 7, { 2, 2, 2, 2, 2, 2, 2 }, 0 },
		{ 3, { 9, 9, 9 }, 1 },
		{ 4, { 9, 9, 9, 2 }, 0 },
		{ 4, { 9, 9, 9, 9 }, 0 },
		{ 6, { 8, 8, 8, 8, 8, 8 }, 1 },
		{ 8, { 6, 7, 6, 7, 6, 7, 6, 7 }, 1 },
		{ 9, { 6, 7, 6, 7, 6, 7, 6, 7, 6 }, 0 },
		{ 10, { 6, 7, 6, 7, 6, 7, 6, 7, 1, 9 }, 1 },
		{ 10, { 6, 7, 6, 7, 6, 7, 6, 7, 9, 9 }, 1 },
		{ 10, { 9, 9, 9, 2, 6, 7, 6, 7, 6, 7 }, 0 },
		{ 10, { 2, 3, 4, 5, 1, 8, 6, 7, 6, 7 }, 1 },
		{ 10, { 2, 3, 4, 5, 1, 8, 2, 7, 6, 7 }, 0 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(sigs); i++) {
		struct vmlet_func *funcs = NULL;
		struct fb f = { 0 };
		unsigned int n = 0;

		fb_frame(&f, 0, 0, 0, 1);
		fb_fdesc(&f, VMLET_F64, sigs[i].nargs, sigs[i].args, "sig");
		fb_seal(&f);
		if (sigs[i].ok) {
			ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
			ck_assert_uint_eq(funcs[0].nargs, sigs[i].nargs);
			free(funcs);
		} else {
			assert_table_proto(&f);
		}
	}
}
END_TEST

START_TEST(table_bad_names)
{
	struct fb f = { 0 };
	struct vmlet_func *funcs;
	unsigned int n;

	/* Empty: a NUL first. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "");
	fb_seal(&f);
	assert_table_proto(&f);
	/* Longest allowed, then one more. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, name63);
	fb_seal(&f);
	ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
	free(funcs);
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, name64);
	fb_seal(&f);
	assert_table_proto(&f);
	/* Unterminated: fills the descriptor to the last byte. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "1234567");
	f.b[16 + 16 + 7] = 'x';
	fb_seal(&f);
	assert_table_proto(&f);
	/* Unterminated, last in the buffer: nothing past cap may be read. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_u32(&f, 24);
	fb_zero(&f, 12);
	fb_raw(&f, "abcdefgh", 8);
	fb_seal(&f);
	assert_table_proto(&f);
	/* Nonzero padding after the NUL. */
	fb_frame(&f, 0, 0, 0, 1);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "abc");
	f.b[16 + 16 + 5] = 1;
	fb_seal(&f);
	assert_table_proto(&f);
}
END_TEST

START_TEST(table_duplicate_names)
{
	struct fb f = { 0 };

	fb_frame(&f, 0, 0, 0, 3);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "same");
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "other");
	fb_fdesc(&f, VMLET_I32, 0, NULL, "same");
	fb_seal(&f);
	assert_table_proto(&f);
	/* A prefix is another name. */
	fb_frame(&f, 0, 0, 0, 2);
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "same");
	fb_fdesc(&f, VMLET_VOID, 0, NULL, "sam");
	fb_seal(&f);
	{
		struct vmlet_func *funcs;
		unsigned int n;

		ck_assert_int_eq(table_decode(&f, &funcs, &n), 0);
		ck_assert_str_eq(funcs[1].name, "sam");
		free(funcs);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */

static void setup(void)
{
	scalars_init();
}

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc;

	tc = tcase_create("rec");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, scalar_wire_format);
	tcase_add_test(tc, scalar_round_trip_bit_exact);
	tcase_add_test(tc, i32_negative_is_sign_extended);
	tcase_add_test(tc, float_specials_keep_their_bits);
	tcase_add_test(tc, bool_decodes_to_true_and_false);
	tcase_add_test(tc, buf_wire_format_and_round_trip);
	tcase_add_test(tc, encode_rejects_bad_values);
	tcase_add_test(tc, encode_rejects_len_beyond_32_bits);
	tcase_add_test(tc, encode_e2big_at_every_short_cap);
	tcase_add_test(tc, rec_decode_rejects_truncation);
	tcase_add_test(tc, rec_decode_rejects_bad_headers);
	suite_add_tcase(s, tc);

	tc = tcase_create("call");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, call_frame_every_type_round_trip);
	tcase_add_test(tc, call_frame_without_args);
	tcase_add_test(tc, call_frame_e2big_at_every_short_cap);
	tcase_add_test(tc, call_frame_rejects_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("ret");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, ret_every_type_round_trip);
	tcase_add_test(tc, ret_void);
	tcase_add_test(tc, ret_ignores_bytes_past_size);
	tcase_add_test(tc, ret_truncated_header);
	tcase_add_test(tc, ret_truncated_record);
	tcase_add_test(tc, ret_size_beyond_cap);
	tcase_add_test(tc, ret_size_below_header);
	tcase_add_test(tc, ret_oversized_len);
	tcase_add_test(tc, ret_unknown_type_tag);
	tcase_add_test(tc, ret_wrong_record_type);
	tcase_add_test(tc, ret_noncanonical_scalars);
	tcase_add_test(tc, ret_scalar_len_not_8);
	tcase_add_test(tc, ret_string_without_nul);
	tcase_add_test(tc, ret_nonzero_padding);
	tcase_add_test(tc, ret_trailing_bytes);
	tcase_add_test(tc, ret_record_count);
	tcase_add_test(tc, ret_wrong_func);
	tcase_add_test(tc, ret_refused);
	tcase_add_test(tc, ret_failed);
	tcase_add_test(tc, ret_refused_malformed);
	tcase_add_test(tc, ret_bad_ret_type_is_einval);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_test(tc, table_valid);
	tcase_add_test(tc, table_empty);
	tcase_add_test(tc, table_bad_frame_header);
	tcase_add_test(tc, table_count_mismatch);
	tcase_add_test(tc, table_first_desc_swallows_the_rest);
	tcase_add_test(tc, table_too_many_funcs);
	tcase_add_test(tc, table_bad_desc_size);
	tcase_add_test(tc, table_bad_types);
	tcase_add_test(tc, table_unused_arg_slots_must_be_zero);
	tcase_add_test(tc, table_register_limits);
	tcase_add_test(tc, table_bad_names);
	tcase_add_test(tc, table_duplicate_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(frame_suite(), CK_FORK_GETENV);
}
