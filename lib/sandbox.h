/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The objects behind the public API: an image (a validated ELF and its
 * bytes) and a sandbox (memory, VM and the guest's function table).
 */
#ifndef VMLET_SANDBOX_H
#define VMLET_SANDBOX_H

#include <vmlet.h>

#include "image.h"
#include "hoststate.h"
#include "layout.h"
#include "mem.h"
#include "vm.h"
#include "x86.h"

enum sandbox_state {
	SANDBOX_READY, /* parked in the dispatch loop, callable */
	SANDBOX_DEAD,  /* failed: its guest state cannot be trusted */
};

/*
 * A booted guest kept at its ready point, or a live sandbox kept between
 * calls (lib/livesnap.c): the memory as a sealed memfd (mapped read-only
 * here, to copy from), the vCPU state and the guest's function table,
 * which its sandboxes share.
 *
 * A live snapshot of a sandbox made from a snapshot is a layer: its memfd
 * holds only the pages that differ from its parent's, and its memory (the
 * view in mem.host, and every sandbox's) is the root's memfd with the runs
 * of every layer above mapped over it (vmlet_mem_map_layers()).
 */
struct vmlet_snapshot {
	struct vmlet_image *image; /* borrowed */
	struct vmlet_config cfg;
	struct vmlet_layout layout;
	struct vmlet_mem mem; /* host: PROT_READ, MAP_SHARED; fd: this layer's pages */
	struct vmlet_x86_state cpu;
	struct vmlet_func *funcs;
	unsigned int nfuncs;
	enum vmlet_restore restore;
	int entry;	   /* its memory's entry stub for cpu puts back VMLET_ENTRY_* */
	bool ground;	   /* cpu and memory are ground a stub may stand on (lib/entry.c) */
	unsigned int refs; /* the creator's, its children's, its pools' */
	struct vmlet_snapshot *parent; /* a layer's: referenced, else NULL */
	struct vmlet_mem_run *runs;    /* what is mapped over the root's memfd, by page */
	unsigned int nruns;
	int file_fd; /* a loaded snapshot's file (a duplicate, >= 3), whose runs map it; else 0 */
};

struct vmlet_sandbox {
	struct vmlet_image *image;   /* borrowed: must outlive the sandbox */
	struct vmlet_snapshot *snap; /* borrowed, or NULL for a cold sandbox */
	struct vmlet_snapshot *boot; /* a cold one's boot snapshot: referenced, or NULL */
	uint64_t id;		     /* vmlet_sandbox_id(): joins trace events */
	uint64_t in_used;	     /* bytes of the input buffer the host wrote */
	struct vmlet_hoststate host; /* host functions, grants, host writes */
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

/*
 * Internal to the sandbox objects (sandbox.c, snapshot.c, pool.c), named
 * apart from the API as liburing names its helpers.
 */

/*
 * A sandbox of img (cfg normalized, copied) with neither memory nor VM
 * yet: the start of both constructors. vmlet_sandbox_destroy() frees it
 * at any stage.
 */
int __vmlet_sandbox_new(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			struct vmlet_sandbox **out);

/*
 * Create sb's VM over its memory (mapped by then) and attach the print,
 * host-call and I/O ports and the config's deadline.
 */
int __vmlet_sandbox_vm_create(struct vmlet_sandbox *sb, uint32_t slot_flags);

/*
 * Boot a sandbox of img with cfg (normalized) to the guest's ready point.
 * talk, when not NULL, serves the host-call and I/O ports in place of the
 * sandbox's own handlers (lib/bootsnap.c: a boot that asks the host).
 */
int __vmlet_sandbox_boot(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			 vmlet_port_fn *talk, void *ctx, struct vmlet_sandbox **out);

/*
 * A sandbox of snap's memory and vCPU state: for create_from, with snap's
 * config, restorable to snap, not run yet; cold, with cfg
 * (normalized), a reference on snap and no restore, as if it had booted.
 * Its memory maps snap's private copy-on-write, or is mem when not NULL:
 * memory of its own holding snap's bytes, which it takes over (also on
 * failure).
 */
int __vmlet_sandbox_from(struct vmlet_snapshot *snap, const struct vmlet_config *cfg, uint64_t id,
			 bool cold, struct vmlet_mem *mem, struct vmlet_sandbox **out);

/*
 * A cold sandbox of img with cfg (normalized) from the image's boot
 * snapshot for cfg's layout, made on first use (lib/bootsnap.c). 1 when
 * it must boot instead (VMLET_CONFIG_BOOT, a boot that talks to the
 * host), else 0 or an error: the snapshot's boot's when it failed (the
 * next call tries again).
 */
int __vmlet_bootsnap_create(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			    struct vmlet_sandbox **out);

/*
 * Turn sb, booted (owning its memfd), into a snapshot with this restore
 * method: its memfd sealed, its vCPU state saved, and with entry the
 * entry stub written into its memory (lib/entry.c: not for a boot
 * snapshot, whose cold sandboxes never restore and must have the booted
 * memory). sb is gone either way.
 */
int __vmlet_snapshot_take(struct vmlet_sandbox *sb, enum vmlet_restore restore, bool entry,
			  struct vmlet_snapshot **out);

/*
 * Whether sb can call function index with args now: 0, -VMLET_EDEAD,
 * -EBUSY (within one of its calls), -ENOENT, or -EINVAL for arguments
 * that do not match its signature.
 */
int __vmlet_sandbox_may_call(const struct vmlet_sandbox *sb, unsigned int index,
			     const struct vmlet_value *args, unsigned int nargs);

/* A new sandbox id: process-wide, from 1, never reused (lib/probes.h). */
uint64_t __vmlet_sandbox_next_id(void);

/* Fill sb's fault backtrace after a failed run (lib/backtrace.c). */
void __vmlet_sandbox_symbolize(struct vmlet_sandbox *sb);

/* Run the guest's dispatcher once on a call it refuses (warm-up). */
int __vmlet_sandbox_warm_up(struct vmlet_sandbox *sb);

/*
 * vmlet_sandbox_create_from(), and with warmed the warm-up run and a
 * restore before it returns, as a pool's sandboxes have (lib/snapshot.c):
 * inside the create probes either way.
 */
int __vmlet_sandbox_create_from(struct vmlet_snapshot *snap, bool warmed,
				struct vmlet_sandbox **out);

/* One more reference to snap (vmlet_snapshot_destroy() drops one). */
void __vmlet_snapshot_get(struct vmlet_snapshot *snap);

/*
 * Map snap's memory with prot and flags: the root snapshot's memfd with
 * the layers above it (MAP_PRIVATE for a sandbox, MAP_SHARED for a view).
 */
int __vmlet_snapshot_map(const struct vmlet_snapshot *snap, int prot, int flags, uint8_t **out);

#endif /* VMLET_SANDBOX_H */
