/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a guest asks of its host, decoded and checked: the host-call frame
 * in its output buffer (VMLET_PORT_HOSTCALL) and the registers of an I/O
 * request (VMLET_PORT_IO). Pure functions over the guest's bytes and the
 * sandbox's grants, with no KVM and no io_uring, so that a fuzzer can run
 * them (selftests/fuzz/hostcall_fuzz.c); lib/hostcall.c acts on what they
 * accept.
 */
#ifndef VMLET_HOSTREQ_H
#define VMLET_HOSTREQ_H

#include <stdbool.h>
#include <stdint.h>
#include <vmlet.h>

/* The longest path open() may name, as PATH_MAX. */
#define VMLET_MAX_PATH 4096

/* A host descriptor the guest may use as guest_fd (vmlet_sandbox_grant_fd). */
struct vmlet_grant {
	int guest_fd;
	int host_fd;
	unsigned int mode; /* VMLET_GRANT_* */
	char *path;	   /* what open() names it by, or NULL */
};

/*
 * Decode the host-call frame the guest wrote at buf (cap bytes: its
 * output buffer): a struct vmlet_frame with func VMLET_HOSTCALL_FUNC and
 * size within cap, a string record with the function's name (no NUL in
 * it), nargs (at most VMLET_MAX_ARGS) argument records that
 * vmlet_rec_decode() accepts, and nothing after them. Returns 0 with
 * *name (NUL-terminated, in buf), args[0..*nargs) (strings and bytes
 * point into buf) and *nargs set, or the error the guest gets: -E2BIG for
 * a frame that claims more than cap, -EINVAL for anything else.
 */
int vmlet_hostreq_decode(const void *buf, uint64_t cap, const char **name, struct vmlet_value *args,
			 unsigned int *nargs);

/* The grant of guest fd among grants[0..n), or NULL. */
const struct vmlet_grant *vmlet_grant_find(const struct vmlet_grant *grants, unsigned int n,
					   uint64_t fd);

/* Do the arguments have the function's signature? */
bool vmlet_hostreq_types_match(const struct vmlet_host_func *fn, const struct vmlet_value *args,
			       unsigned int nargs);

/* An I/O request, as the guest's registers give it (abi.h, VMLET_PORT_IO). */
struct vmlet_ioreq {
	uint64_t op;   /* enum vmlet_io */
	uint64_t fd;   /* guest fd */
	uint64_t addr; /* guest address of the buffer (or the path) */
	uint64_t len;
	uint64_t off;			 /* file offset, or nanoseconds to sleep */
	const struct vmlet_grant *grant; /* out: the descriptor to use */
};

/*
 * Check a read, write, pread, pwrite or sleep against the grants and a
 * guest memory of mem_size bytes. Returns 0 when it may be issued, with
 * rq->grant set (read and write: rq->off -1, the file position), and
 * rq->len cut to what Linux transfers at most (0x7ffff000); or the error
 * the guest gets: -EBADF for a descriptor not granted (or not for that
 * direction), -EFAULT for a buffer outside guest memory or wrapping,
 * -EINVAL for a negative pread/pwrite offset, -ENOSYS for any other op
 * (open included: vmlet_ioreq_open()).
 */
int vmlet_ioreq_check(struct vmlet_ioreq *rq, const struct vmlet_grant *grants,
		      unsigned int ngrants, uint64_t mem_size);

/*
 * open(): the guest fd of the grant whose path is the rq->len bytes at
 * rq->addr of mem (mem_size bytes), -ENOENT when none is, -EFAULT when the
 * path is outside guest memory or longer than VMLET_MAX_PATH.
 */
int64_t vmlet_ioreq_open(const struct vmlet_ioreq *rq, const struct vmlet_grant *grants,
			 unsigned int ngrants, const uint8_t *mem, uint64_t mem_size);

#endif /* VMLET_HOSTREQ_H */
