/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The objects behind the public API: an image (a validated ELF and its
 * bytes) and a sandbox (memory, VM and the guest's function table).
 */
#ifndef VMLET_SANDBOX_H
#define VMLET_SANDBOX_H

#include <vmlet.h>

#include "elf.h"
#include "hostreq.h"
#include "layout.h"
#include "mem.h"
#include "vm.h"
#include "x86.h"

struct vmlet_image {
	uint8_t *data;
	size_t len;
	struct vmlet_elf elf;
};

enum sandbox_state {
	SANDBOX_READY, /* parked in the dispatch loop, callable */
	SANDBOX_DEAD,  /* failed: its guest state cannot be trusted */
};

/*
 * A booted guest kept at its ready point: the memory as a sealed memfd
 * (mapped read-only here, to copy from), the vCPU state and the guest's
 * function table, which its sandboxes share.
 */
struct vmlet_snapshot {
	struct vmlet_image *image; /* borrowed */
	struct vmlet_config cfg;
	struct vmlet_layout layout;
	struct vmlet_mem mem; /* host: PROT_READ, MAP_SHARED */
	struct vmlet_x86_state cpu;
	struct vmlet_func *funcs;
	unsigned int nfuncs;
	enum vmlet_restore restore;
};

struct vmlet_sandbox {
	struct vmlet_image *image;	/* borrowed: must outlive the sandbox */
	struct vmlet_snapshot *snap;	/* borrowed, or NULL for a cold sandbox */
	uint64_t id;			/* vmlet_sandbox_id(): joins trace events */
	uint64_t in_used;		/* bytes of the input buffer the host wrote */
	bool pooled;			/* idle in its pool: not the caller's to use */
	uint64_t *dirty;		/* VMLET_RESTORE_COPY: KVM's dirty bitmap */
	uint64_t *hdirty;		/* VMLET_RESTORE_COPY: pages the host wrote */
	struct vmlet_host_func *xfuncs; /* added with vmlet_sandbox_add_host_func */
	unsigned int nxfuncs;
	struct vmlet_grant grants[VMLET_MAX_GRANTS];
	unsigned int ngrants;
	struct vmlet_config cfg;
	struct vmlet_layout layout;
	struct vmlet_mem mem;
	struct vmlet_vm vm;
	enum sandbox_state state;
	struct vmlet_func *funcs; /* one allocation with the names; the snapshot's */
	unsigned int nfuncs;
	uint8_t *in, *out; /* host views of the call buffers */
	struct vmlet_fault fault;
};

/* Serve VMLET_PORT_HOSTCALL and VMLET_PORT_IO (lib/hostcall.c). */
int vmlet_hypercall(struct vmlet_vm *vm, void *ctx, unsigned int port);
/* References to a host-call service, held by sandboxes and snapshots. */
void vmlet_host_get(struct vmlet_host *h);
void vmlet_host_put(struct vmlet_host *h);
/* Drop the grants and host functions added to sb (restore, destroy). */
void vmlet_sandbox_forget_host(struct vmlet_sandbox *sb);
/* A new sandbox id: process-wide, from 1, never reused (lib/probes.h). */
uint64_t vmlet_sandbox_next_id(void);

/* Point sb's VM at its config's print, host calls and timeout. */
void vmlet_sandbox_bind_vm(struct vmlet_sandbox *sb);
/* This thread's host-call ring, made anew and limited to what hostcall.c issues. */
int vmlet_thread_ring_restrict(void);
/* /proc/self/pagemap, which DROP restore reads (opened once), or -1. */
int vmlet_snapshot_pagemap_fd(void);
/* Confine a library thread (lib/confine.c); no ring for threads that make no host calls. */
int vmlet_confine_thread(unsigned int flags, bool ring);

/* Run the guest's dispatcher once on a call it refuses (warm-up). */
int vmlet_sandbox_warm_up(struct vmlet_sandbox *sb);

#endif /* VMLET_SANDBOX_H */
