// SPDX-License-Identifier: BSD-2-Clause
/*
 * A sandbox's host-call state: registration of host functions and grants,
 * the lookups host calls and guest I/O make, and one reset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hoststate.h"
#include "layout.h"

#define MAX_HOST_FUNCS 64

int vmlet_hoststate_add_func(struct vmlet_hoststate *hs, const struct vmlet_host_func *fn)
{
	if (!vmlet_host_func_valid(fn))
		return -EINVAL;
	if (vmlet_hoststate_lookup(hs, fn->name))
		return -EEXIST;
	if (!hs->xfuncs) {
		hs->xfuncs = calloc(MAX_HOST_FUNCS, sizeof(*hs->xfuncs));
		if (!hs->xfuncs)
			return -ENOMEM;
	}
	if (hs->nxfuncs == MAX_HOST_FUNCS)
		return -ENOSPC;
	hs->xfuncs[hs->nxfuncs++] = *fn;
	return 0;
}

int vmlet_hoststate_grant(struct vmlet_hoststate *hs, int guest_fd, int host_fd, unsigned int mode,
			  const char *path)
{
	struct vmlet_grant *g;
	struct stat st;

	if (guest_fd < 3 || host_fd < 0 || !mode ||
	    (mode & ~(VMLET_GRANT_READ | VMLET_GRANT_WRITE)) ||
	    (path && strlen(path) > VMLET_MAX_PATH))
		return -EINVAL;
	if (vmlet_grant_find(hs->grants, hs->ngrants, (uint64_t)guest_fd))
		return -EEXIST;
	if (hs->ngrants == VMLET_MAX_GRANTS)
		return -ENOSPC;
	g = &hs->grants[hs->ngrants];
	*g = (struct vmlet_grant){.guest_fd = guest_fd, .host_fd = host_fd, .mode = mode};
	if (syscall(SYS_fstat, host_fd,
		    &st)) /* libc's fstat() is newfstatat, refused when confined */
		return -errno;
	g->dir = S_ISDIR(st.st_mode);
	if (path) {
		g->path = strdup(path);
		if (!g->path)
			return -ENOMEM;
	}
	hs->ngrants++;
	return 0;
}

int vmlet_hoststate_adopt(struct vmlet_hoststate *hs, int host_fd, unsigned int mode)
{
	int fd = 3;

	if (hs->ngrants == VMLET_MAX_GRANTS)
		return -EMFILE;
	while (vmlet_grant_find(hs->grants, hs->ngrants, (uint64_t)fd))
		fd++;
	hs->grants[hs->ngrants++] = (struct vmlet_grant){
		.guest_fd = fd, .host_fd = host_fd, .mode = mode, .owned = true};
	return fd;
}

int vmlet_hoststate_close(struct vmlet_hoststate *hs, uint64_t guest_fd)
{
	struct vmlet_grant *g =
		(struct vmlet_grant *)vmlet_grant_find(hs->grants, hs->ngrants, guest_fd);

	if (!g)
		return -EBADF;
	if (!g->owned)
		return 0; /* the embedder's: it stays */
	close(g->host_fd);
	*g = hs->grants[--hs->ngrants];
	return 0;
}

const struct vmlet_host_func *vmlet_hoststate_lookup(const struct vmlet_hoststate *hs,
						     const char *name)
{
	for (unsigned int i = 0; i < hs->nfuncs; i++)
		if (!strcmp(hs->funcs[i].name, name))
			return &hs->funcs[i];
	for (unsigned int i = 0; i < hs->nxfuncs; i++)
		if (!strcmp(hs->xfuncs[i].name, name))
			return &hs->xfuncs[i];
	return NULL;
}

uint32_t vmlet_hoststate_func_index(const struct vmlet_hoststate *hs,
				    const struct vmlet_host_func *fn)
{
	if (!fn)
		return UINT32_MAX;
	if (hs->funcs && fn >= hs->funcs && fn < hs->funcs + hs->nfuncs)
		return (uint32_t)(fn - hs->funcs);
	return hs->nfuncs + (uint32_t)(fn - hs->xfuncs);
}

void vmlet_hoststate_wrote(struct vmlet_hoststate *hs, uint64_t addr, uint64_t len)
{
	if (!hs->hdirty || !len)
		return;
	for (uint64_t pg = addr / VMLET_PAGE_SIZE; pg <= (addr + len - 1) / VMLET_PAGE_SIZE; pg++)
		hs->hdirty[pg / 64] |= 1ULL << (pg % 64);
}

void vmlet_hoststate_reset(struct vmlet_hoststate *hs)
{
	for (unsigned int i = 0; i < hs->ngrants; i++) {
		free(hs->grants[i].path);
		if (hs->grants[i].owned)
			close(hs->grants[i].host_fd);
	}
	hs->ngrants = 0;
	hs->nxfuncs = 0;
}

void vmlet_hoststate_free(struct vmlet_hoststate *hs)
{
	vmlet_hoststate_reset(hs);
	/* A lost request's function may still read its entry: leave them, lost. */
	if (!hs->lost)
		free(hs->xfuncs);
	free(hs->hdirty);
	hs->xfuncs = NULL;
	hs->hdirty = NULL;
}
