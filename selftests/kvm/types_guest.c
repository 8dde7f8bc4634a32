// SPDX-License-Identifier: BSD-2-Clause
/* Guest for call_test: every type in and out, argument registers, output. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet/guest.h>

static bool id_bool(bool v) { return v; }
static int32_t id_i32(int32_t v) { return v; }
static uint32_t id_u32(uint32_t v) { return v; }
static int64_t id_i64(int64_t v) { return v; }
static uint64_t id_u64(uint64_t v) { return v; }
static float id_f32(float v) { return v; }
static double id_f64(double v) { return v; }
static const char *id_str(const char *s) { return s; }
static struct vmlet_bytes id_bytes(const void *p, size_t len) { return (struct vmlet_bytes){ p, len }; }
static void nothing(void) { }

/* Integer and SSE arguments interleaved: each must land in its register. */
static double mix(int32_t a, double b, const char *s, const void *p, size_t len, uint64_t c,
		  float d)
{
	return a + b + (double)strlen(s) * 1000 + (double)len * 100000 +
	       (p ? ((const uint8_t *)p)[0] : 0) * 1e7 + (double)c * 1e9 + d;
}

static double ten(int32_t a, int32_t b, int32_t c, int32_t d, int32_t e, int32_t f, double g,
		  double h, double i, double j)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}

static void say(const char *s)
{
	printf("%s\n", s);
	fprintf(stderr, "err:%s\n", s);
}

static const char *bigstr(uint32_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

static uint64_t counter;

static uint64_t count(void) { return ++counter; }

/* Exactly 2 instructions per iteration (dec, jnz), for instruction counting. */
static uint32_t loop(uint32_t n)
{
	uint32_t i = n;

	if (i)
		__asm__ volatile("1: dec %0; jnz 1b" : "+r"(i));
	return n;
}

int main(void)
{
	VMLET_REGISTER(id_bool, VMLET_BOOL, VMLET_BOOL);
	VMLET_REGISTER(id_i32, VMLET_I32, VMLET_I32);
	VMLET_REGISTER(id_u32, VMLET_U32, VMLET_U32);
	VMLET_REGISTER(id_i64, VMLET_I64, VMLET_I64);
	VMLET_REGISTER(id_u64, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(id_f32, VMLET_F32, VMLET_F32);
	VMLET_REGISTER(id_f64, VMLET_F64, VMLET_F64);
	VMLET_REGISTER(id_str, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(id_bytes, VMLET_BYTES, VMLET_BYTES);
	VMLET_REGISTER(nothing, VMLET_VOID);
	VMLET_REGISTER(mix, VMLET_F64, VMLET_I32, VMLET_F64, VMLET_STRING, VMLET_BYTES, VMLET_U64,
		       VMLET_F32);
	VMLET_REGISTER(ten, VMLET_F64, VMLET_I32, VMLET_I32, VMLET_I32, VMLET_I32, VMLET_I32,
		       VMLET_I32, VMLET_F64, VMLET_F64, VMLET_F64, VMLET_F64);
	VMLET_REGISTER(say, VMLET_VOID, VMLET_STRING);
	VMLET_REGISTER(bigstr, VMLET_STRING, VMLET_U32);
	VMLET_REGISTER(count, VMLET_U64);
	VMLET_REGISTER(loop, VMLET_U32, VMLET_U32);
	vmlet_ready();
}
