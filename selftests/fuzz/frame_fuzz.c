// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness for the frame decoders (lib/frame.c), which read what
 * the guest wrote.
 *
 * The input is the guest's output buffer, cap bytes, decoded twice: where
 * libFuzzer put it (a heap block of exactly that size, so ASan sees a read
 * one byte before or after it), then copied to an odd address with nothing
 * after it (the guest may align its frames any way it likes, so a typed
 * misaligned load shows up under UBSan). Beyond not crashing, every decode
 * must end in one of its documented codes, and whatever decodes must encode
 * back to the same bytes: the decoders accept one encoding per value, so a
 * frame that decodes but re-encodes differently is a frame they should
 * have refused.
 *
 *   make fuzz                     (builds and runs every harness; FUZZ_SECS)
 *   $(O)/selftests/fuzz/frame_fuzz selftests/fuzz/corpus/frame
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * A decoded result encodes back to the record it came from, in exactly as
 * many bytes (the buffer is that long, so ASan sees any write past it).
 */
static void check_rec(const uint8_t *rec, size_t len, const struct vmlet_value *v)
{
	uint8_t *out = malloc(len);
	int64_t n;

	check(out != NULL);
	n = vmlet_rec_encode(out, len, v);
	check(n >= 0 && (size_t)n == len);
	check(!memcmp(out, rec, len));
	check(vmlet_rec_encode(out, len - 1, v) == -E2BIG);
	free(out);
}

/*
 * As the one argument of a call frame, the result makes the same bytes as
 * the return frame: same size, func, status 0 and one record.
 */
static void check_call(const uint8_t *frame, uint32_t size, uint32_t func,
		       const struct vmlet_value *v)
{
	uint8_t *call = malloc(size);

	check(call != NULL);
	check(vmlet_frame_encode_call(call, size, func, v, 1) == (int64_t)size);
	check(!memcmp(call, frame, size));
	check(vmlet_frame_encode_call(call, size - 1, func, v, 1) == -E2BIG);
	free(call);
}

static void fuzz_ret(const uint8_t *buf, size_t cap)
{
	uint32_t func = cap >= 8 ? get32(buf + 4) : 0;

	for (unsigned int t = 0; t < VMLET_NTYPES; t++) {
		struct vmlet_value v = {.type = (enum vmlet_type)0xff};
		int32_t status = 1;
		int err = vmlet_frame_decode_ret(buf, cap, func, (enum vmlet_type)t, &v, &status);
		uint32_t size;

		if (err == -VMLET_EPROTO) {
			check(v.type == (enum vmlet_type)0xff && status == 1);
			continue;
		}
		size = get32(buf);
		if (err == -VMLET_EREFUSED) {
			check(status < 0 && status > -4096 && size == sizeof(struct vmlet_frame));
			check(v.type == (enum vmlet_type)0xff);
			continue;
		}
		if (err == -VMLET_EFAIL) {
			check(get32(buf + 8) == VMLET_STATUS_FAIL && get32(buf + 12) == 2);
			check(v.type == VMLET_STRING && v.buf.len < size);
			continue;
		}
		check(err == 0 && status == 1 && v.type == t);
		check(get32(buf + 8) == 0);
		if (t == VMLET_VOID) {
			check(size == sizeof(struct vmlet_frame) && get32(buf + 12) == 0);
			continue;
		}
		check(get32(buf + 12) == 1);
		check_rec(buf + sizeof(struct vmlet_frame), size - sizeof(struct vmlet_frame), &v);
		if (v.type == VMLET_STRING || v.type == VMLET_BYTES)
			check(v.buf.ptr == buf + sizeof(struct vmlet_frame) + sizeof(struct vmlet_rec));

		check_call(buf, size, func, &v);
	}
}

/* Decoding the bare bytes as one record, from the start. */
static void fuzz_rec(const uint8_t *buf, size_t cap)
{
	struct vmlet_value v;
	int64_t n = vmlet_rec_decode(buf, cap, &v);

	if (n < 0) {
		check(n == -VMLET_EPROTO);
		return;
	}
	check(n >= 8 && (size_t)n <= cap && n % 8 == 0);
	check_rec(buf, (size_t)n, &v);
}

/* Write the table back the way the guest runtime's publish() does. */
static size_t table_encode(uint8_t *out, size_t cap, const struct vmlet_func *funcs,
			   unsigned int n)
{
	struct vmlet_frame f = {.nargs = n};
	size_t off = sizeof(f);

	check(cap >= off);
	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(funcs[i].name);
		struct vmlet_fdesc d = {0};

		d.size = (uint32_t)vmlet_align8(sizeof(d) + len + 1);
		check(d.size <= cap - off);
		d.ret = (uint8_t)funcs[i].ret;
		d.nargs = (uint8_t)funcs[i].nargs;
		for (unsigned int a = 0; a < VMLET_MAX_ARGS; a++)
			d.args[a] = (uint8_t)funcs[i].args[a];
		memset(out + off, 0, d.size);
		memcpy(out + off, &d, sizeof(d));
		memcpy(out + off + sizeof(d), funcs[i].name, len);
		off += d.size;
	}
	f.size = (uint32_t)off;
	memcpy(out, &f, sizeof(f));
	return off;
}

static void fuzz_table(const uint8_t *buf, size_t cap)
{
	struct vmlet_func *funcs = NULL;
	uint8_t *again;
	unsigned int n = 12345;
	int err = vmlet_frame_decode_table(buf, cap, &funcs, &n);
	size_t size;

	if (err) {
		check(err == -VMLET_EPROTO || err == -ENOMEM);
		check(funcs == NULL && n == 12345);
		return;
	}
	check(funcs != NULL && n <= VMLET_FRAME_MAX_FUNCS);
	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(funcs[i].name);

		check(len > 0 && len <= VMLET_MAX_NAME);
		check(funcs[i].ret < VMLET_NTYPES && funcs[i].nargs <= VMLET_MAX_ARGS);
		for (unsigned int j = 0; j < i; j++)
			check(strcmp(funcs[i].name, funcs[j].name));
	}
	/* The frame fits cap, so its re-encoding must too. */
	again = malloc(cap);
	check(again != NULL);
	size = table_encode(again, cap, funcs, n);
	check(size == get32(buf) && !memcmp(again, buf, size));
	free(again);
	free(funcs);
}

static void fuzz_all(const uint8_t *buf, size_t cap)
{
	fuzz_ret(buf, cap);
	fuzz_rec(buf, cap);
	fuzz_table(buf, cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *base = malloc(size + 1);

	check(base != NULL);
	fuzz_all(data, size);
	memcpy(base + 1, data, size);
	fuzz_all(base + 1, size);
	free(base);
	return 0;
}
