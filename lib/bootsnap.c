// SPDX-License-Identifier: BSD-2-Clause
/*
 * Boot snapshots: cold create without booting.
 *
 * Booting a guest to its ready point costs thousands of guest instructions
 * and a run per sandbox, and gives the same state every time. So an image
 * boots once per memory layout, on the first vmlet_sandbox_create() that
 * needs it, and keeps a snapshot of that boot (lib/snapshot.c); every
 * later cold sandbox of that layout maps the snapshot's memory MAP_PRIVATE
 * and loads its vCPU state: a VM, a vCPU, a memslot and the registers,
 * with no guest instruction run. It is still a cold sandbox: the caller's
 * config (print, host functions, deadline), calls that share state, no
 * restore; it differs from a booted one only in its memory being shared
 * with the snapshot until written.
 *
 * The key is everything the boot depends on: the layout (memory, stack,
 * heap and buffer sizes, the image's extent) and the backing that AUTO
 * chooses now. A config with another layout gets a snapshot of its own.
 * Not snapshotted, and so booted for every sandbox as before:
 *  - VMLET_CONFIG_BOOT in the config;
 *  - hugetlb backing: the snapshot would pin 2 MiB pages of its own and
 *    every written 4 KiB would copy 2 MiB;
 *  - an image whose boot talks to the host (prints, calls a host function,
 *    does I/O): what it hears and says belongs to each sandbox's own
 *    print callback, host functions and grants. The snapshot's boot runs
 *    with a print callback and port handlers that only note the attempt
 *    (the run ends at the first host call or I/O); the layout is then
 *    remembered as one that boots.
 * The snapshot's boot runs with the first caller's deadline, and its
 * failure is that caller's error, not remembered: the next caller boots
 * again.
 *
 * Thread safety: once per layout under the image's lock. The first caller
 * of a layout boots while holding it, so that threads racing to the first
 * use boot once and the others wait for it and share the result; each
 * caller gets its own reference on the snapshot, so sandboxes keep their
 * boot snapshot after vmlet_image_close() drops the image's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

struct vmlet_bootsnap {
	struct vmlet_bootsnap *next;
	struct vmlet_layout layout;
	enum vmlet_backing backing;  /* never AUTO nor HUGETLB */
	struct vmlet_snapshot *snap; /* NULL: the boot talks to the host: boot each sandbox */
};

/* What the snapshot's boot said to the host. */
struct heard {
	bool talked;
};

static void heard_print(void *ctx, const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	((struct heard *)ctx)->talked = true;
}

static int heard_port(struct vmlet_vm *vm, void *ctx)
{
	(void)vm;
	((struct heard *)ctx)->talked = true;
	return -ECANCELED;
}

/* Boot img with c's layout on backing and snapshot it, or find that its boot talks. */
static int make(struct vmlet_image *img, const struct vmlet_config *c, uint64_t id,
		struct vmlet_bootsnap *bs)
{
	struct vmlet_config bc = *c;
	struct heard h = {false};
	struct vmlet_sandbox *sb;
	int err;

	bc.backing = bs->backing;
	bc.print = heard_print;
	bc.print_ctx = &h;
	bc.host_funcs = NULL;
	bc.nhost_funcs = 0;
	bc.host = NULL;
	bc.restore = VMLET_RESTORE_COPY;
	err = __vmlet_sandbox_boot(img, &bc, id, heard_port, &h, &sb);
	if (h.talked) {
		if (!err)
			vmlet_sandbox_destroy(sb);
		return 0;
	}
	if (err)
		return err;
	sb->cfg.print = NULL;
	sb->cfg.print_ctx = NULL;
	return __vmlet_snapshot_take(sb, VMLET_RESTORE_COPY, &bs->snap);
}

static bool same(const struct vmlet_bootsnap *bs, const struct vmlet_layout *l,
		 enum vmlet_backing backing)
{
	return bs->backing == backing && !memcmp(&bs->layout, l, sizeof(*l));
}

int __vmlet_bootsnap_get(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			 struct vmlet_snapshot **out)
{
	enum vmlet_backing backing = cfg->backing;
	struct vmlet_bootsnap *bs;
	struct vmlet_layout l;
	int err;

	*out = NULL;
	if (cfg->flags & VMLET_CONFIG_BOOT)
		return 0;
	memset(&l, 0, sizeof(l));
	err = vmlet_layout_compute(cfg, img->elf.lo, img->elf.hi, &l);
	if (err)
		return err;
	if (backing == VMLET_BACKING_AUTO)
		backing = vmlet_mem_best_backing(l.mem_size, NULL);
	if (backing == VMLET_BACKING_HUGETLB)
		return 0;
	/* A THP snapshot outlives THP being turned off: asked for now, fail as a boot would. */
	if (backing == VMLET_BACKING_THP && !vmlet_mem_thp_enabled())
		return -EOPNOTSUPP;

	pthread_mutex_lock(&img->lock);
	for (bs = img->boot_snaps; bs; bs = bs->next)
		if (same(bs, &l, backing))
			break;
	if (!bs) {
		bs = calloc(1, sizeof(*bs));
		err = bs ? 0 : -ENOMEM;
		if (bs) {
			bs->layout = l;
			bs->backing = backing;
			err = make(img, cfg, id, bs);
		}
		if (err) {
			free(bs);
			bs = NULL;
		} else {
			bs->next = img->boot_snaps;
			img->boot_snaps = bs;
		}
	}
	if (bs && bs->snap) {
		__vmlet_snapshot_get(bs->snap);
		*out = bs->snap;
	}
	pthread_mutex_unlock(&img->lock);
	return err;
}

void __vmlet_bootsnap_free(struct vmlet_image *img)
{
	struct vmlet_bootsnap *bs, *next;

	for (bs = img->boot_snaps; bs; bs = next) {
		next = bs->next;
		vmlet_snapshot_destroy(bs->snap);
		free(bs);
	}
	img->boot_snaps = NULL;
}
