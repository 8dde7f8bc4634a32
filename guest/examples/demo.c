// SPDX-License-Identifier: BSD-2-Clause
/*
 * The demo guest: a handful of ordinary C functions that show each vmlet
 * type crossing the VM boundary. `make run` calls them through the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <vmlet/guest.h>

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

static const char *echo(const char *s)
{
	return s;
}

static const char *reverse(const char *s)
{
	size_t cap, len = strlen(s);
	char *r = vmlet_result_buf(&cap);

	if (len >= cap)
		vmlet_abort(-1, "reverse: string too long");
	for (size_t i = 0; i < len; i++)
		r[i] = s[len - 1 - i];
	r[len] = '\0';
	return r;
}

static uint64_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += b[i];
	return s;
}

static double hypot_(double x, double y)
{
	return sqrt(x * x + y * y);
}

static void hello(const char *name)
{
	printf("hello, %s, from inside a micro-VM\n", name);
}

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static int64_t fib(int64_t n)
{
	int64_t a = 0, b = 1;

	for (int64_t i = 0; i < n; i++) {
		int64_t t = a + b;

		a = b;
		b = t;
	}
	return a;
}

static float scale(float x, float k)
{
	return x * k;
}

static struct vmlet_bytes upper(const void *p, size_t len)
{
	size_t cap;
	uint8_t *r = vmlet_result_buf(&cap);

	if (len > cap)
		vmlet_abort(-1, "upper: input too long");
	for (size_t i = 0; i < len; i++) {
		uint8_t c = ((const uint8_t *)p)[i];

		r[i] = c >= 'a' && c <= 'z' ? c - 32 : c;
	}
	return (struct vmlet_bytes){ r, len };
}

/* Read guest memory at addr: peek 0 shows how a guest fault is reported. */
static uint64_t peek(uint64_t addr)
{
	return *(volatile const uint64_t *)addr;
}

/* The host's key/value store (vmlet run --kv KEY=VALUE). */
static const char *kv_get(const char *key)
{
	struct vmlet_value arg = vmlet_hstr(key), val;
	int err = vmlet_host_call("kv_lookup", &arg, 1, &val);

	if (err)
		vmlet_abort(-err, err == -ENOENT ? "kv_lookup: no such key (or no kv_lookup)"
						 : "kv_lookup failed");
	return val.buf.ptr;
}

/* A file the host granted (vmlet run --grant PATH), read into the result buffer. */
static struct vmlet_bytes cat(const char *path)
{
	size_t cap, n = 0;
	char *buf = vmlet_result_buf(&cap);
	int fd = open(path, O_RDONLY);
	ssize_t r = 0;

	if (fd < 0)
		vmlet_abort(errno, "cat: open failed (not granted?)");
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	if (r < 0)
		vmlet_abort(errno, "cat: read failed");
	close(fd);
	return (struct vmlet_bytes){buf, n};
}

static uint64_t calls;

static uint64_t counter(void)
{
	return ++calls;
}

int main(void)
{
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	VMLET_REGISTER(echo, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(reverse, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(sum, VMLET_U64, VMLET_BYTES);
	vmlet_register("hypot", (const void *)hypot_, VMLET_F64, 2,
		       (enum vmlet_type[]){ VMLET_F64, VMLET_F64 });
	VMLET_REGISTER(hello, VMLET_VOID, VMLET_STRING);
	VMLET_REGISTER(is_prime, VMLET_BOOL, VMLET_U32);
	VMLET_REGISTER(fib, VMLET_I64, VMLET_I64);
	VMLET_REGISTER(scale, VMLET_F32, VMLET_F32, VMLET_F32);
	VMLET_REGISTER(upper, VMLET_BYTES, VMLET_BYTES);
	VMLET_REGISTER(peek, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(counter, VMLET_U64);
	VMLET_REGISTER(kv_get, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(cat, VMLET_BYTES, VMLET_STRING);
	vmlet_ready();
}
