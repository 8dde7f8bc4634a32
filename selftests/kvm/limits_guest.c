// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for limits_test and confine_test: output floods, host-call frames
 * too large for the output buffer (honest, lying and answered), a heap
 * grown until it runs out, host-call chains, and the ordinary work
 * (arithmetic, a fault, a granted descriptor, dirty pages) that a
 * confined thread must still be able to run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vmlet/guest.h>

static char page[4096];

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

/* n bytes of 'x' to fd 1, chunk bytes per write(); the bytes write() took. */
static uint64_t flood(uint64_t n, uint32_t chunk)
{
	uint64_t done = 0;

	memset(page, 'x', sizeof(page));
	if (!chunk || chunk > sizeof(page))
		chunk = sizeof(page);
	while (done < n) {
		uint64_t k = n - done < chunk ? n - done : chunk;
		ssize_t w = write(1, page, k);

		if (w <= 0)
			break;
		done += (uint64_t)w;
	}
	return done;
}

/* The string through vmlet_print(), then through write(2, ...). */
static void say(const char *s)
{
	vmlet_print(s, strlen(s));
	write(2, s, strlen(s));
}

static uint64_t null_read(void)
{
	return *(volatile uint64_t *)0;
}

/* fn(u64) -> u64 on the host, n times, each fed the last result. */
static uint64_t chain(const char *fn, uint32_t n, uint64_t v)
{
	for (uint32_t i = 0; i < n; i++) {
		struct vmlet_value a = {.type = VMLET_U64, .u64 = v}, r;
		int err = vmlet_host_call(fn, &a, 1, &r);

		if (err)
			vmlet_abort(-err, "host call failed");
		v = r.u64;
	}
	return v;
}

/* A host call to "sink" with n bytes: the runtime's error, it never leaves. */
static int32_t big_arg(uint64_t n)
{
	void *p = malloc(n);
	struct vmlet_value a = {.type = VMLET_BYTES, .buf = {p, n}};
	int err;

	if (!p)
		return -ENOMEM;
	memset(p, 1, n);
	err = vmlet_host_call("sink", &a, 1, NULL);
	free(p);
	return err;
}

/* A hand-made host-call frame whose header claims size bytes: the host's answer. */
static int32_t lying_frame(uint32_t size)
{
	const struct vmlet_boot *b = (const struct vmlet_boot *)VMLET_BOOT_ADDR;
	struct vmlet_frame *f = (struct vmlet_frame *)b->out_addr;
	struct vmlet_rec *rec = (struct vmlet_rec *)(f + 1);

	rec->type = VMLET_STRING;
	rec->len = 4;
	memcpy(rec + 1, "sink\0\0\0\0", 8);
	f->size = size;
	f->func = VMLET_HOSTCALL_FUNC;
	f->status = 0;
	f->nargs = 0;
	__asm__ volatile("out %%al, %0" : : "i"(VMLET_PORT_HOSTCALL) : "memory");
	if (f->func != VMLET_HOSTCALL_FUNC || f->size != sizeof(*f))
		return -EPROTO;
	return f->status;
}

/* A host call to "big", which answers n bytes; its error, or the length. */
static int64_t big_answer(uint64_t n)
{
	struct vmlet_value a = {.type = VMLET_U64, .u64 = n}, r;
	int err = vmlet_host_call("big", &a, 1, &r);

	return err ? err : (int64_t)r.buf.len;
}

/*
 * Take all the heap there is: brk past the end, one huge mmap, then
 * 64 KiB mallocs until they fail. The bytes malloc gave.
 */
static uint64_t grow(void)
{
	uint64_t total = 0, cur = (uint64_t)syscall(SYS_brk, 0);

	/* musl's own brk() never asks: the raw call reaches the shim. */
	if ((uint64_t)syscall(SYS_brk, cur + (1ULL << 40)) != cur)
		vmlet_abort(1, "brk past the end of memory moved the break");
	if (mmap(NULL, 1ULL << 36, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) !=
	    MAP_FAILED)
		vmlet_abort(2, "a 64 GiB mmap worked");
	for (;;) {
		char *p = malloc(64 * 1024);

		if (!p)
			break;
		p[0] = p[64 * 1024 - 1] = 1;
		total += 64 * 1024;
	}
	return total;
}

/*
 * Use the heap up, then the errno of each way to ask for more, a byte
 * each: a malloc that finds nothing left (bits 0-7), a 64 GiB mmap
 * (8-15), a 256 GiB malloc (16-23); 0xff where the call did not fail.
 * Bits 24-31: 0 when the raw brk past the end kept the break where it
 * was (the kernel's way for brk to fail), 0xff when it moved it.
 * Bits 32-39: a 2 TiB mmap, past any guest's memory.
 */
static uint64_t enomem(void)
{
	uint64_t e = 0, cur;
	void *p;

	while ((p = malloc(64 * 1024)))
		((char *)p)[0] = 1;
	errno = 0;
	p = malloc(64 * 1024);
	e |= (uint64_t)(p ? 0xff : errno & 0xff);
	errno = 0;
	p = mmap(NULL, 1ULL << 36, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e |= (uint64_t)(p != MAP_FAILED ? 0xff : errno & 0xff) << 8;
	errno = 0;
	p = malloc(1ULL << 38);
	e |= (uint64_t)(p ? 0xff : errno & 0xff) << 16;
	cur = (uint64_t)syscall(SYS_brk, 0);
	e |= (uint64_t)((uint64_t)syscall(SYS_brk, cur + (1ULL << 40)) == cur ? 0 : 0xff) << 24;
	errno = 0;
	p = mmap(NULL, 1ULL << 41, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e |= (uint64_t)(p != MAP_FAILED ? 0xff : errno & 0xff) << 32;
	return e;
}

/* The heap the host laid out for this guest. */
static uint64_t heap_size(void)
{
	const struct vmlet_boot *b = (const struct vmlet_boot *)VMLET_BOOT_ADDR;

	return b->heap_hi - b->heap_lo;
}

/* open() a granted path and read it; the bytes read or -errno. */
static int64_t read_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, page, sizeof(page));
	close(fd);
	return n < 0 ? -errno : n;
}

/* Write one byte into each of n pages of the heap: dirty pages to restore. */
static uint32_t scribble(uint32_t n)
{
	static char *area;

	if (!area)
		area = malloc(64 * 4096);
	if (!area || n > 64)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		area[i * 4096] = (char)(area[i * 4096] + 1);
	return (uint32_t)area[0];
}

int main(void)
{
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	VMLET_REGISTER(flood, VMLET_U64, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(say, VMLET_VOID, VMLET_STRING);
	VMLET_REGISTER(null_read, VMLET_U64);
	VMLET_REGISTER(chain, VMLET_U64, VMLET_STRING, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(big_arg, VMLET_I32, VMLET_U64);
	VMLET_REGISTER(lying_frame, VMLET_I32, VMLET_U32);
	VMLET_REGISTER(big_answer, VMLET_I64, VMLET_U64);
	VMLET_REGISTER(grow, VMLET_U64);
	VMLET_REGISTER(heap_size, VMLET_U64);
	VMLET_REGISTER(enomem, VMLET_U64);
	VMLET_REGISTER(read_path, VMLET_I64, VMLET_STRING);
	VMLET_REGISTER(scribble, VMLET_U32, VMLET_U32);
	vmlet_ready();
}
