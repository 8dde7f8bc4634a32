// SPDX-License-Identifier: BSD-2-Clause
/*
 * A WASI reactor (no main) for wasm_test and the bench: exports that take
 * and return bytes and strings through vmlet_alloc (vmlet-wasm-cc(1)).
 */
#include <stdint.h>
#include <stdlib.h>

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("vmlet_alloc") void *vmlet_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

/* Fletcher-style checksum of the argument; frees it (warm calls). */
EXPORT("bytes:checksum") uint32_t checksum(uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;

	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	free(p);
	return b << 16 | a;
}

/* The argument reversed, as a string. */
EXPORT("string>string:reverse") uint64_t reverse(char *s, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		char c = s[i];

		s[i] = s[n - 1 - i];
		s[n - 1 - i] = c;
	}
	return (uint64_t)n << 32 | (uint32_t)(uintptr_t)s;
}

EXPORT("add") int32_t add(int32_t a, int32_t b)
{
	return a + b;
}
