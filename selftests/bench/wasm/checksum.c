// SPDX-License-Identifier: BSD-2-Clause
/*
 * The wasm-guest bench's module: add, and an Adler-32 checksum over a
 * bytes argument (vmlet-wasm-cc's bytes: convention). No libc and no
 * imports (clang --target=wasm32 -nostdlib), so that the same wasm2c code
 * also runs natively in the bench process, the floor for that code.
 * vmlet_alloc hands out one buffer above the stack, reused by every call.
 */
#define EXPORT(name) __attribute__((export_name(name)))
#define BUF_MAX (64 * 1024)

extern unsigned char __heap_base;

EXPORT("vmlet_alloc") unsigned char *vmlet_alloc(unsigned long n)
{
	return n <= BUF_MAX ? &__heap_base : 0;
}

EXPORT("bytes:checksum") unsigned int checksum(const unsigned char *p, unsigned long n)
{
	unsigned int a = 1, b = 0;

	for (unsigned long i = 0; i < n; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	return b << 16 | a;
}

EXPORT("add") int add(int a, int b)
{
	return a + b;
}
