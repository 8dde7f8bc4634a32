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
 *
 * hugetlb memory is not mapped from the snapshot: the snapshot would pin
 * 2 MiB pages of its own, and each 4 KiB written would copy 2 MiB. A
 * hugetlb cold sandbox gets memory of its own, as a booted one does, and
 * the pages of the 4 KiB snapshot of its layout that are not zero (found
 * once, when the snapshot is made: tens of KiB) are copied into it.
 *
 * Not snapshotted, and so booted for every sandbox as before:
 *  - VMLET_CONFIG_BOOT in the config;
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
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes.h"
#include "sandbox.h"

struct vmlet_bootsnap {
	struct vmlet_bootsnap *next;
	struct vmlet_layout layout;
	enum vmlet_backing backing;  /* of the snapshot: 4K or THP */
	struct vmlet_snapshot *snap; /* NULL: the boot talks to the host: boot each sandbox */
	struct vmlet_mem_run *runs;  /* the pages that are not zero (fd unused) */
	unsigned int nruns;
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
	return __vmlet_snapshot_take(sb, VMLET_RESTORE_COPY, false, &bs->snap);
}

static bool same(const struct vmlet_bootsnap *bs, const struct vmlet_layout *l,
		 enum vmlet_backing backing)
{
	return bs->backing == backing && !memcmp(&bs->layout, l, sizeof(*l));
}

static bool zero_page(const uint8_t *p)
{
	static const uint8_t zero[VMLET_PAGE_SIZE];

	return !memcmp(p, zero, VMLET_PAGE_SIZE);
}

/*
 * The runs of pages of bs's snapshot that are not zero: what a copy must
 * hold. Only the memfd's data (SEEK_DATA) is read: reading its holes
 * through the shared mapping would fill them with pages.
 */
static int find_data(struct vmlet_bootsnap *bs)
{
	const struct vmlet_mem *m = &bs->snap->mem;
	unsigned int max = 0;

	for (off_t at = 0, end; (uint64_t)at < m->size; at = end) {
		at = lseek(m->fd, at, SEEK_DATA);
		if (at < 0)
			return errno == ENXIO ? 0 : -errno;
		end = lseek(m->fd, at, SEEK_HOLE);
		if (end < 0)
			return -errno;
		for (uint64_t pg = (uint64_t)at / VMLET_PAGE_SIZE;
		     pg < ((uint64_t)end + VMLET_PAGE_SIZE - 1) / VMLET_PAGE_SIZE; pg++) {
			struct vmlet_mem_run *r = bs->nruns ? &bs->runs[bs->nruns - 1] : NULL;

			if (zero_page(m->host + pg * VMLET_PAGE_SIZE))
				continue;
			if (r && r->pg + r->npages == pg) {
				r->npages++;
				continue;
			}
			if (bs->nruns == max) {
				max = max ? 2 * max : 16;
				r = realloc(bs->runs, max * sizeof(*r));
				if (!r)
					return -ENOMEM;
				bs->runs = r;
			}
			bs->runs[bs->nruns++] =
				(struct vmlet_mem_run){.pg = pg, .npages = 1, .fd = -1};
		}
	}
	return 0;
}

/*
 * The boot snapshot of layout l on backing, made now if it is not there:
 * *out has a reference on its snapshot for the caller, or is NULL when
 * that layout's boot talks to the host.
 */
static int find(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
		const struct vmlet_layout *l, enum vmlet_backing backing,
		struct vmlet_bootsnap **out)
{
	struct vmlet_bootsnap *bs;
	int err = 0;

	pthread_mutex_lock(&img->lock);
	for (bs = img->boot_snaps; bs; bs = bs->next)
		if (same(bs, l, backing))
			break;
	if (!bs) {
		bs = calloc(1, sizeof(*bs));
		err = bs ? 0 : -ENOMEM;
		if (bs) {
			bs->layout = *l;
			bs->backing = backing;
			err = make(img, cfg, id, bs);
		}
		if (!err && bs->snap)
			err = find_data(bs);
		if (err) {
			if (bs) {
				vmlet_snapshot_destroy(bs->snap);
				free(bs->runs);
			}
			free(bs);
			bs = NULL;
		} else {
			bs->next = img->boot_snaps;
			img->boot_snaps = bs;
		}
	}
	if (bs && bs->snap)
		__vmlet_snapshot_get(bs->snap);
	pthread_mutex_unlock(&img->lock);
	*out = bs && bs->snap ? bs : NULL;
	return err;
}

/* Memory of its own for a cold sandbox with cfg's backing, holding bs's bytes. */
static int copy(const struct vmlet_bootsnap *bs, enum vmlet_backing backing, struct vmlet_mem *mem)
{
	const uint8_t *src = bs->snap->mem.host;
	int err = vmlet_mem_create(bs->snap->mem.size, backing, mem);

	if (err)
		return err;
	for (unsigned int i = 0; i < bs->nruns; i++)
		memcpy(mem->host + bs->runs[i].pg * VMLET_PAGE_SIZE,
		       src + bs->runs[i].pg * VMLET_PAGE_SIZE,
		       bs->runs[i].npages * VMLET_PAGE_SIZE);
	return 0;
}

int __vmlet_bootsnap_create(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			    struct vmlet_sandbox **out)
{
	enum vmlet_backing backing = cfg->backing;
	struct vmlet_mem mem = {.fd = -1};
	struct vmlet_bootsnap *bs;
	struct vmlet_layout l;
	struct vmlet_snapshot *snap;
	int err;

	if (cfg->flags & VMLET_CONFIG_BOOT)
		return 1;
	memset(&l, 0, sizeof(l));
	err = vmlet_layout_compute(cfg, img->elf.lo, img->elf.hi, &l);
	if (err)
		return err;
	if (backing == VMLET_BACKING_AUTO)
		backing = vmlet_mem_best_backing(l.mem_size, NULL);
	/* A THP snapshot outlives THP being turned off: asked for now, fail as a boot would. */
	if (backing == VMLET_BACKING_THP && !vmlet_mem_thp_enabled())
		return -EOPNOTSUPP;
	err = find(img, cfg, id, &l, backing == VMLET_BACKING_HUGETLB ? VMLET_BACKING_4K : backing,
		   &bs);
	if (err || !bs)
		return err ? err : 1;
	snap = bs->snap;
	/* hugetlb: AUTO may still fall back, as a boot's memory would. */
	if (backing == VMLET_BACKING_HUGETLB)
		err = copy(bs, cfg->backing, &mem);
	if (!err)
		err = __vmlet_sandbox_from(snap, cfg, id, true, mem.host ? &mem : NULL, out);
	vmlet_snapshot_destroy(snap);
	return err;
}

void __vmlet_bootsnap_free(struct vmlet_image *img)
{
	struct vmlet_bootsnap *bs, *next;

	for (bs = img->boot_snaps; bs; bs = next) {
		next = bs->next;
		vmlet_snapshot_destroy(bs->snap);
		free(bs->runs);
		free(bs);
	}
	img->boot_snaps = NULL;
}

/* The cold constructor: from the boot snapshot when it can, else a boot. */
static int create(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
		  struct vmlet_sandbox **out)
{
	struct vmlet_config c;
	int err;

	if (!img || !out)
		return -EINVAL;
	err = vmlet_config_normalize(cfg, &c);
	if (!err)
		err = __vmlet_bootsnap_create(img, &c, id, out);
	if (err == 1)
		err = __vmlet_sandbox_boot(img, &c, id, NULL, NULL, out);
	return err;
}

VMLET_API int vmlet_sandbox_create(struct vmlet_image *img, const struct vmlet_config *cfg,
				   struct vmlet_sandbox **out)
{
	uint64_t id = __vmlet_sandbox_next_id();
	int err;

	vmlet_probe_create_begin(id, (uint32_t)VMLET_PROBE_CREATE_COLD);
	err = create(img, cfg, id, out);
	vmlet_probe_create_end(id, (uint32_t)VMLET_PROBE_CREATE_COLD, (int32_t)err);
	return err;
}
