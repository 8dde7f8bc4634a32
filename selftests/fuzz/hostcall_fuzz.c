// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness for the checks on what a guest asks of its host
 * (lib/hostreq.c): the host-call frame in its output buffer, and the
 * registers of an I/O request against the sandbox's grants and memory.
 *
 * The input is a struct input (the I/O request's registers and which of
 * guest fds 3..6 are granted, read and/or write) followed by the guest's
 * bytes, which serve as both the output buffer and the whole of guest
 * memory. They are checked where libFuzzer put them (exactly their size,
 * so ASan sees a read past them), then at an odd address (UBSan sees a
 * misaligned typed load). Beyond not crashing:
 *  - a frame that decodes encodes back to exactly its bytes (one encoding
 *    per request), and its name and arguments lie inside it;
 *  - an I/O request is accepted exactly when it names a descriptor
 *    granted for its direction, a buffer inside guest memory and a sane
 *    offset, and each refusal is the one its first fault calls for;
 *  - open() finds exactly the grant whose path the guest wrote, or a
 *    name beneath a granted directory (bit 4 of its mode) that is the
 *    rest of the path, with no ".." and the access its grant allows.
 *
 *   make fuzz                     (builds and runs every harness; FUZZ_SECS)
 *   $(O)/selftests/fuzz/hostcall_fuzz selftests/fuzz/corpus/hostcall
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "hostreq.h"

struct input {
	uint64_t op, fd, addr, len, off; /* VMLET_PORT_IO: rdi, rsi, rdx, rcx, r8 */
	uint8_t modes[4];		 /* guest fds 3..6: VMLET_GRANT_* bits, 0 none */
	uint32_t reserved;
};

static const char *const paths[4] = {"/a", "/data/in.csv", "/data", NULL};

static void fuzz_decode(const uint8_t *buf, size_t cap)
{
	struct vmlet_value args[VMLET_MAX_ARGS], name_v;
	const char *name = NULL;
	unsigned int nargs = 1234;
	struct vmlet_frame f;
	uint8_t *again;
	size_t off;
	int err = vmlet_hostreq_decode(buf, cap, &name, args, &nargs);

	if (err == -E2BIG) { /* exactly a header that claims more than cap */
		check(cap >= sizeof(f) && nargs == 1234);
		memcpy(&f, buf, sizeof(f));
		check(f.size > cap);
		return;
	}
	if (err) {
		check(err == -EINVAL && nargs == 1234);
		return;
	}
	memcpy(&f, buf, sizeof(f));
	check(nargs == f.nargs && nargs <= VMLET_MAX_ARGS);
	check(f.size <= cap && f.func == VMLET_HOSTCALL_FUNC);
	check((const uint8_t *)name > buf && (const uint8_t *)name < buf + f.size);
	name_v = vmlet_strn(name, strlen(name));
	check(name + name_v.buf.len < (const char *)buf + f.size);
	for (unsigned int i = 0; i < nargs; i++) {
		const uint8_t *p = args[i].buf.ptr;

		if (args[i].type != VMLET_STRING && args[i].type != VMLET_BYTES)
			continue;
		check(p > buf && p + args[i].buf.len <= buf + f.size);
	}
	/*
	 * Encoded again, the same bytes: a name with a NUL inside it would
	 * come back shorter and differ, as would anything not canonical.
	 */
	again = malloc(f.size);
	check(again != NULL);
	memcpy(again, &f, sizeof(f));
	off = sizeof(f);
	for (unsigned int i = 0; i <= nargs; i++) {
		int64_t n = vmlet_rec_encode(again + off, f.size - off, i ? &args[i - 1] : &name_v);

		check(n > 0);
		off += (size_t)n;
	}
	check(off == f.size && !memcmp(again, buf, f.size));
	free(again);
}

static bool in_memory(uint64_t addr, uint64_t len, uint64_t size)
{
	uint64_t end;

	return !__builtin_add_overflow(addr, len, &end) && end <= size;
}

static const struct vmlet_grant *granted(const struct vmlet_grant *g, unsigned int n,
					 uint64_t fd, unsigned int mode)
{
	for (unsigned int i = 0; i < n; i++)
		if ((uint64_t)g[i].guest_fd == fd)
			return g[i].mode & mode ? &g[i] : NULL;
	return NULL;
}

static void fuzz_io(const struct input *in, const struct vmlet_grant *g, unsigned int ng,
		    const uint8_t *mem, uint64_t size)
{
	struct vmlet_ioreq rq = {in->op, in->fd, in->addr, in->len, in->off, NULL};
	bool rw = in->op <= VMLET_IO_PWRITE, positional = rw && in->op >= VMLET_IO_PREAD;
	unsigned int mode = in->op == VMLET_IO_READ || in->op == VMLET_IO_PREAD
				    ? VMLET_GRANT_READ
				    : VMLET_GRANT_WRITE;
	const struct vmlet_grant *want = rw ? granted(g, ng, in->fd, mode) : NULL;
	int err = vmlet_ioreq_check(&rq, g, ng, size);

	if (!rw && in->op != VMLET_IO_SLEEP) {
		check(err == -ENOSYS);
		return;
	}
	if (in->op == VMLET_IO_SLEEP) {
		check(err == 0 && rq.grant == NULL && rq.off == in->off);
		return;
	}
	if (!want) {
		check(err == -EBADF);
		return;
	}
	if (!in_memory(in->addr, in->len, size)) {
		check(err == -EFAULT);
		return;
	}
	if (positional && (int64_t)in->off < 0) {
		check(err == -EINVAL);
		return;
	}
	check(err == 0 && rq.grant == want);
	check(rq.addr == in->addr && rq.len <= in->len && rq.len <= 0x7ffff000);
	check(rq.len == in->len || rq.len == 0x7ffff000);
	check(rq.off == (positional ? in->off : (uint64_t)-1));
	/* The buffer the host would hand to io_uring: its ends are in memory. */
	if (rq.len) {
		volatile uint8_t first = mem[rq.addr], last = mem[rq.addr + rq.len - 1];

		(void)first;
		(void)last;
	}
}

static void fuzz_open(const struct input *in, const struct vmlet_grant *g, unsigned int ng,
		      const uint8_t *mem, uint64_t size)
{
	struct vmlet_ioreq rq = {VMLET_IO_OPEN, in->fd, in->addr, in->len, in->off, NULL};
	struct vmlet_openat at;
	int64_t fd = vmlet_ioreq_open(&rq, g, ng, mem, size, &at);
	const struct vmlet_grant *match = NULL;
	const uint8_t *p;
	size_t rel;

	if (in->len > VMLET_MAX_PATH || !in_memory(in->addr, in->len, size)) {
		check(fd == -EFAULT);
		return;
	}
	p = mem + in->addr;
	if (memchr(p, '\0', in->len)) {
		check(fd == -EINVAL);
		return;
	}
	for (unsigned int i = 0; i < ng && !match; i++)
		if (g[i].path && strlen(g[i].path) == in->len && !memcmp(g[i].path, p, in->len))
			match = &g[i];
	if (match) {
		check(fd < 0 || (fd == match->guest_fd && at.grant == match && !match->dir));
		return;
	}
	if (fd != 0) {
		check(fd < 0 && fd != -EFAULT);
		return;
	}
	/* Beneath a granted directory: its path, '/'s, then at.rel, none of it "..". */
	check(at.grant && at.grant->dir && at.grant->path);
	rel = strlen(at.rel);
	check(rel > 0 && rel < in->len && !memcmp(at.rel, p + in->len - rel, rel));
	check(!memcmp(p, at.grant->path, strlen(at.grant->path)) && p[in->len - rel - 1] == '/');
	check(strcmp(at.rel, "..") && strncmp(at.rel, "../", 3) && !strstr(at.rel, "/../"));
	check(rel < 3 || strcmp(at.rel + rel - 3, "/.."));
	check(at.mode && !(at.mode & ~at.grant->mode));
	check(!(at.flags & (O_CREAT | O_TRUNC)) || (at.grant->mode & VMLET_GRANT_WRITE));
}

static void fuzz_all(const struct input *in, const uint8_t *buf, size_t size)
{
	struct vmlet_grant g[4];
	unsigned int ng = 0;

	for (unsigned int i = 0; i < 4; i++)
		if (in->modes[i] & (VMLET_GRANT_READ | VMLET_GRANT_WRITE))
			g[ng++] = (struct vmlet_grant){.guest_fd = 3 + (int)i, .host_fd = -1,
						       .mode = in->modes[i] & 3,
						       .path = (char *)paths[i],
						       .dir = in->modes[i] & 4};
	fuzz_decode(buf, size);
	fuzz_io(in, g, ng, buf, size);
	fuzz_open(in, g, ng, buf, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {0};
	size_t hdr = size < sizeof(in) ? size : sizeof(in);
	uint8_t *odd;

	memcpy(&in, data, hdr);
	data += hdr;
	size -= hdr;
	fuzz_all(&in, data, size);
	odd = malloc(size + 1);
	check(odd != NULL);
	memcpy(odd + 1, data, size);
	fuzz_all(&in, odd + 1, size);
	free(odd);
	return 0;
}
