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
	bool dir;	   /* host_fd is a directory: open() opens files beneath it */
	bool owned;	   /* opened for the guest: closed at its close() or at reset */
};

/* What open() found: a granted file, or a file to open beneath a granted directory. */
struct vmlet_openat {
	const struct vmlet_grant *grant;
	char rel[VMLET_MAX_PATH + 1]; /* beneath a directory: the path in it */
	int flags;		      /* O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC asked */
	unsigned int mode;	      /* VMLET_GRANT_* the new descriptor gets */
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
 * open() of the rq->len bytes at rq->addr of mem (mem_size bytes) with the
 * Linux O_* flags in rq->off (abi.h, VMLET_IO_OPEN). Returns the guest fd
 * of the file grant with that path (at->grant; truncate it when at->flags
 * has O_TRUNC); or 0 with at->grant the granted directory (the one with
 * the longest path) that at->rel is to be opened beneath, with at->flags
 * and the access at->mode the new descriptor gets; or the error: -EFAULT
 * for a path outside guest memory or longer than VMLET_MAX_PATH, -EINVAL
 * for a NUL in it or access mode 3, -ENOENT when no grant has or holds
 * the path, -EEXIST for O_CREAT | O_EXCL on a granted file, -EISDIR for
 * a granted directory itself, -EACCES for a ".." component or an access
 * (or O_CREAT, O_TRUNC: writing) the grant does not allow.
 */
int64_t vmlet_ioreq_open(const struct vmlet_ioreq *rq, const struct vmlet_grant *grants,
			 unsigned int ngrants, const uint8_t *mem, uint64_t mem_size,
			 struct vmlet_openat *at);

#endif /* VMLET_HOSTREQ_H */
