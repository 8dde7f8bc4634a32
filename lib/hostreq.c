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

int64_t vmlet_ioreq_open(const struct vmlet_ioreq *rq, const struct vmlet_grant *grants,
			 unsigned int ngrants, const uint8_t *mem, uint64_t mem_size)
{
	const struct vmlet_mem m = {.size = mem_size};

	if (rq->len > VMLET_MAX_PATH || !vmlet_mem_range_ok(&m, rq->addr, rq->len))
		return -EFAULT;
	for (unsigned int i = 0; i < ngrants; i++) {
		const char *p = grants[i].path;

		if (p && strlen(p) == rq->len && !memcmp(p, mem + rq->addr, rq->len))
			return grants[i].guest_fd;
	}
	return -ENOENT;
}
