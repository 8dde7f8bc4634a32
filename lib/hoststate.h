/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a sandbox's host calls and guest I/O work with: the functions the
 * guest may call, the descriptors it was granted, where its buffers are,
 * and the pages the host wrote into its memory. One per sandbox; restore
 * drops what the embedder added for the last user (vmlet_hoststate_reset).
 */
#ifndef VMLET_HOSTSTATE_H
#define VMLET_HOSTSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <vmlet.h>

#include "hostreq.h"
#include "mem.h"

struct vmlet_hoststate {
	uint64_t id;			     /* the sandbox's: joins trace events */
	struct vmlet_host *service;	     /* the config's service, or NULL */
	const struct vmlet_host_func *funcs; /* the config's */
	unsigned int nfuncs;
	struct vmlet_host_func *xfuncs; /* added with vmlet_sandbox_add_host_func() */
	unsigned int nxfuncs;
	struct vmlet_grant grants[VMLET_MAX_GRANTS];
	unsigned int ngrants;
	struct vmlet_mem *mem; /* the guest's memory, borrowed */
	uint8_t *out;	       /* its output buffer, in mem */
	uint64_t out_addr, out_size;
	uint64_t *hdirty; /* COPY restore: pages the host wrote, or NULL */
	bool lost;	  /* a request still in flight may write mem: never reuse it */
};

/* Add fn (vmlet_sandbox_add_host_func()): 0, -EINVAL, -EEXIST, -ENOSPC or -ENOMEM. */
int vmlet_hoststate_add_func(struct vmlet_hoststate *hs, const struct vmlet_host_func *fn);

/* Grant host_fd as guest_fd (vmlet_sandbox_grant_fd()). */
int vmlet_hoststate_grant(struct vmlet_hoststate *hs, int guest_fd, int host_fd, unsigned int mode,
			  const char *path);

/*
 * Take host_fd, opened for the guest beneath a granted directory, as the
 * lowest free guest fd (returned), with access mode; closed by
 * vmlet_hoststate_close() or reset. -EMFILE past VMLET_MAX_GRANTS.
 */
int vmlet_hoststate_adopt(struct vmlet_hoststate *hs, int host_fd, unsigned int mode);

/* The guest's close(): 0 (a grant of the embedder's stays), or -EBADF. */
int vmlet_hoststate_close(struct vmlet_hoststate *hs, uint64_t guest_fd);

/* The function named name, the config's first, or NULL. */
const struct vmlet_host_func *vmlet_hoststate_lookup(const struct vmlet_hoststate *hs,
						     const char *name);

/* fn's index for the trace probes: the config's first; UINT32_MAX for NULL. */
uint32_t vmlet_hoststate_func_index(const struct vmlet_hoststate *hs,
				    const struct vmlet_host_func *fn);

/* Record that the host wrote guest bytes [addr, addr + len) (COPY restore). */
void vmlet_hoststate_wrote(struct vmlet_hoststate *hs, uint64_t addr, uint64_t len);

/* Drop the grants (closing what the guest opened) and the functions added (restore). */
void vmlet_hoststate_reset(struct vmlet_hoststate *hs);

/* Reset, and free what hs holds (destroy). */
void vmlet_hoststate_free(struct vmlet_hoststate *hs);

#endif /* VMLET_HOSTSTATE_H */
