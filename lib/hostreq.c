// SPDX-License-Identifier: BSD-2-Clause
/*
 * Decoding and checking what a guest asks of its host (lib/hostreq.h).
 *
 * Everything here reads bytes and registers the guest wrote, and trusts
 * none of it: frames go through the frame decoder (lib/frame.c), which
 * bounds every length by what is left; addresses and lengths are checked
 * against guest memory with vmlet_mem_range_ok(), which cannot wrap. The
 * vCPU is stopped while the host runs these, and afterwards acts only on
 * what they returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "frame.h"
#include "hostreq.h"
#include "mem.h"

/* What Linux transfers in one read(2) or write(2) at most. */
#define MAX_RW 0x7ffff000ULL

int vmlet_hostreq_decode(const void *buf, uint64_t cap, const char **name, struct vmlet_value *args,
			 unsigned int *nargs)
{
	const uint8_t *p = buf;
	struct vmlet_frame f;
	struct vmlet_value v;
	uint64_t off = sizeof(f);
	int64_t n;

	if (cap < sizeof(f))
		return -EINVAL;
	memcpy(&f, p, sizeof(f));
	if (f.size > cap)
		return -E2BIG; /* a frame larger than the output buffer it is in */
	if (f.size < sizeof(f) || f.func != VMLET_HOSTCALL_FUNC || f.nargs > VMLET_MAX_ARGS)
		return -EINVAL;
	n = vmlet_rec_decode(p + off, f.size - off, &v);
	/* The name is looked up as a C string: a NUL inside would cut it short. */
	if (n < 0 || v.type != VMLET_STRING || memchr(v.buf.ptr, '\0', v.buf.len))
		return -EINVAL;
	*name = v.buf.ptr;
	off += (uint64_t)n;
	for (unsigned int i = 0; i < f.nargs; i++) {
		n = vmlet_rec_decode(p + off, f.size - off, &args[i]);
		if (n < 0)
			return -EINVAL;
		off += (uint64_t)n;
	}
	if (off != f.size)
		return -EINVAL;
	*nargs = f.nargs;
	return 0;
}

bool vmlet_hostreq_types_match(const struct vmlet_host_func *fn, const struct vmlet_value *args,
			       unsigned int nargs)
{
	if (nargs != fn->nargs)
		return false;
	for (unsigned int i = 0; i < nargs; i++)
		if (args[i].type != fn->args[i])
			return false;
	return true;
}

const struct vmlet_grant *vmlet_grant_find(const struct vmlet_grant *grants, unsigned int n,
					   uint64_t fd)
{
	for (unsigned int i = 0; i < n; i++)
		if ((uint64_t)grants[i].guest_fd == fd)
			return &grants[i];
	return NULL;
}

int vmlet_ioreq_check(struct vmlet_ioreq *rq, const struct vmlet_grant *grants,
		      unsigned int ngrants, uint64_t mem_size)
{
	const struct vmlet_mem mem = {.size = mem_size};
	bool reads = rq->op == VMLET_IO_READ || rq->op == VMLET_IO_PREAD;
	const struct vmlet_grant *g;

	switch (rq->op) {
	case VMLET_IO_SLEEP:
		rq->grant = NULL;
		return 0;
	case VMLET_IO_READ:
	case VMLET_IO_WRITE:
	case VMLET_IO_PREAD:
	case VMLET_IO_PWRITE:
		break;
	default:
		return -ENOSYS;
	}
	g = vmlet_grant_find(grants, ngrants, rq->fd);
	if (!g || !(g->mode & (reads ? VMLET_GRANT_READ : VMLET_GRANT_WRITE)))
		return -EBADF;
	if (!vmlet_mem_range_ok(&mem, rq->addr, rq->len))
		return -EFAULT;
	if (rq->op == VMLET_IO_READ || rq->op == VMLET_IO_WRITE)
		rq->off = (uint64_t)-1; /* the file position, as read(2) and write(2) */
	else if ((int64_t)rq->off < 0)
		return -EINVAL;
	if (rq->len > MAX_RW)
		rq->len = MAX_RW;
	rq->grant = g;
	return 0;
}

/* Is path beneath directory dir (a prefix ending at a '/')? Where in path it starts. */
static size_t beneath(const char *dir, const uint8_t *path, size_t len)
{
	size_t n = strlen(dir);

	while (n && dir[n - 1] == '/')
		n--; /* "/data/" as "/data", "/" as "" */
	if (n >= len || memcmp(dir, path, n) || path[n] != '/')
		return 0;
	while (n < len && path[n] == '/')
		n++;
	return n;
}

static bool dotdot(const char *p)
{
	for (const char *c = p; *c; c++)
		if ((c == p || c[-1] == '/') && c[0] == '.' && c[1] == '.' &&
		    (c[2] == '/' || c[2] == '\0'))
			return true;
	return false;
}

int64_t vmlet_ioreq_open(const struct vmlet_ioreq *rq, const struct vmlet_grant *grants,
			 unsigned int ngrants, const uint8_t *mem, uint64_t mem_size,
			 struct vmlet_openat *at)
{
	const struct vmlet_mem m = {.size = mem_size};
	const int flags = (int)(rq->off & (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC));
	const struct vmlet_grant *dir = NULL;
	const uint8_t *path;
	size_t len = rq->len, start = 0;
	unsigned int need;

	if (len > VMLET_MAX_PATH || !vmlet_mem_range_ok(&m, rq->addr, len))
		return -EFAULT;
	path = mem + rq->addr;
	if (memchr(path, '\0', len))
		return -EINVAL;
	at->grant = NULL;
	at->flags = flags;
	for (unsigned int i = 0; i < ngrants; i++) {
		const char *p = grants[i].path;
		size_t n;

		if (!p)
			continue;
		if (strlen(p) == len && !memcmp(p, path, len)) {
			at->grant = &grants[i];
			break;
		}
		n = grants[i].dir ? beneath(p, path, len) : 0;
		if (n > start) {
			dir = &grants[i];
			start = n;
		}
	}
	if (at->grant && at->grant->dir)
		return -EISDIR;
	if (at->grant) {
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
			return -EEXIST;
		if ((flags & O_TRUNC) && !(at->grant->mode & VMLET_GRANT_WRITE))
			return -EACCES;
		return at->grant->guest_fd;
	}
	if (!dir)
		return -ENOENT;
	if (start == len)
		return -EISDIR; /* "/data/" */
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		at->mode = VMLET_GRANT_READ;
		break;
	case O_WRONLY:
		at->mode = VMLET_GRANT_WRITE;
		break;
	case O_RDWR:
		at->mode = VMLET_GRANT_READ | VMLET_GRANT_WRITE;
		break;
	default:
		return -EINVAL;
	}
	memcpy(at->rel, path + start, len - start);
	at->rel[len - start] = '\0';
	need = at->mode | (flags & (O_CREAT | O_TRUNC) ? VMLET_GRANT_WRITE : 0);
	if ((need & ~dir->mode) || dotdot(at->rel))
		return -EACCES;
	at->grant = dir;
	return 0;
}
