// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshots of live sandboxes: a sandbox as it stands between calls,
 * after calls that loaded state, kept so that sandboxes (and pools) made
 * from it start with that work done.
 *
 * The vCPU of a sandbox between calls is parked after its OUT to the
 * return (or ready) port; finishing that OUT without running guest code
 * (vmlet_vm_complete_io()) leaves a state from which the next call works,
 * exactly as vmlet_snapshot_create() takes it at the ready point. The
 * sandbox goes on working afterwards.
 *
 * Memory is layered. The snapshot of a sandbox made from a snapshot keeps
 * in its own memfd only the pages that differ from its parent (pwrite()
 * of those pages into a sparse memfd: the others cost nothing) and holds
 * a reference on the parent. Its memory is the root snapshot's memfd with
 * the runs of every layer mapped over it (one flattened list of runs, the
 * upper layer winning), MAP_PRIVATE for its sandboxes and MAP_SHARED,
 * PROT_READ for the view that COPY restore reads; DROP restore falls back
 * to whichever file page lies under each address. Only a page the
 * sandbox wrote, anonymous in its private mapping, can differ from the
 * parent, so pagemap narrows the comparison to those (every page is
 * compared when pagemap is unavailable).
 *
 * The snapshot of a cold sandbox is a root: its memfd holds the pages that
 * are not zero. A sandbox that asked for hugetlb 2 MiB pages
 * (VMLET_BACKING_HUGETLB) gets no layering (a 2 MiB page differs as soon
 * as 4 KiB of it do): the snapshot is a full copy in its own hugetlb
 * memfd, with no parent, and fails with -ENOMEM without the pages.
 *
 * One that got hugetlb pages from VMLET_BACKING_AUTO gets a root on 4 KiB
 * pages instead, as vmlet_snapshot_create() does for AUTO: what is shared
 * copy-on-write is not worth huge pages. Every sandbox of a hugetlb
 * snapshot maps it MAP_PRIVATE, and a private hugetlb mapping reserves
 * huge pages for the whole of it at mmap() (mm/hugetlb.c,
 * hugetlb_reserve_pages()), written or not; each 4 KiB written copies
 * 2 MiB. So a hugetlb snapshot of n MiB with k sandboxes takes
 * (1 + k) * n / 2 pages besides the loading sandbox's: in the vmtest VM
 * (64 pages) a JS guest of 44 MiB failed to load with -ENOMEM at the
 * first sandbox of its snapshot (22 + 22 + 22 > 64). AUTO must not fail
 * where 4 KiB pages would do, and no free-page count taken now can say
 * how many sandboxes (a pool's) will come.
 *
 * The vCPU state saved gets its entry stub (lib/entry.c), written into
 * the sandbox's memory before its pages are taken, so that a restore to
 * the snapshot sets no FPU state or MSR by ioctl; the sandbox's own next
 * restore puts that page back, as a page the host wrote. Only where the
 * state stands on the same ground as the sandbox's snapshot's
 * (vmlet_entry_same_ground(): control registers, descriptor tables, page
 * tables, exception stubs, no trap or event pending), and that one's is
 * ground itself (snap->ground: a ready point, a boot snapshot's too, or a
 * live snapshot found so in turn): the calls before a live snapshot may
 * have run on untrusted input, and the stub must never start in code of
 * theirs. Elsewhere restore sets that state by ioctl.
 *
 * What the snapshot keeps besides memory and vCPU: the sandbox's config
 * (host functions of the config, print, limits, restore method) and the
 * guest's function table, copied. Host functions added with
 * vmlet_sandbox_add_host_func(), grants and a vmlet_sandbox_set_timeout()
 * are the current user's and stay behind, as restore drops them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpustate.h"
#include "entry.h"
#include "sandbox.h"
#include "service.h"
#include "tlb.h"

#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/*
 * Why sb cannot be snapshotted now, or 0. A sandbox released to its pool
 * is not checked for: the pool may restore, lend or destroy it at any
 * moment, and only the pool knows it (by address, lib/pool.c), so any use
 * of it after the release is the caller's bug, as a call would be.
 */
static int check(const struct vmlet_sandbox *sb)
{
	if (vmlet_vm_running(&sb->vm))
		return -EBUSY; /* a host function of its own call asks */
	if (sb->state != SANDBOX_READY || sb->host.lost)
		return -VMLET_EDEAD;
	return 0;
}

/* The function table in one allocation with its names, as the frame decoder makes it. */
static struct vmlet_func *copy_funcs(const struct vmlet_func *f, unsigned int n)
{
	size_t size = n * sizeof(*f);
	struct vmlet_func *c;
	char *s;

	for (unsigned int i = 0; i < n; i++)
		size += strlen(f[i].name) + 1;
	c = malloc(size ? size : 1);
	if (!c)
		return NULL;
	memcpy(c, f, n * sizeof(*f));
	s = (char *)(c + n);
	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(f[i].name) + 1;

		memcpy(s, f[i].name, len);
		c[i].name = s;
		s += len;
	}
	return c;
}

static bool zero_page(const uint8_t *p)
{
	static const uint8_t zero[VMLET_PAGE_SIZE];

	return !memcmp(p, zero, VMLET_PAGE_SIZE);
}

/*
 * Mark in bits the pages of sb that differ from base (its snapshot's view)
 * or, without one, that are not zero.
 */
static int differing_pages(const struct vmlet_sandbox *sb, const uint8_t *base, uint64_t *bits)
{
	uint64_t npages = sb->mem.size / VMLET_PAGE_SIZE, words = (npages + 63) / 64;
	const uint8_t *mem = sb->mem.host;
	int err = base ? vmlet_mem_anon_pages(mem, sb->mem.size, bits) : -EOPNOTSUPP;

	if (err == -EOPNOTSUPP)
		memset(bits, 0xff, words * sizeof(*bits));
	else if (err)
		return err;
	for (uint64_t pg = 0; pg < npages; pg++) {
		uint64_t off = pg * VMLET_PAGE_SIZE;

		if (!(bits[pg / 64] & 1ULL << (pg % 64)))
			continue;
		if (base ? !memcmp(mem + off, base + off, VMLET_PAGE_SIZE) : zero_page(mem + off))
			bits[pg / 64] &= ~(1ULL << (pg % 64));
	}
	return 0;
}

static bool bit(const uint64_t *bits, uint64_t pg)
{
	return bits[pg / 64] & 1ULL << (pg % 64);
}

/* Write the marked pages of src into fd at their own offsets: a sparse file. */
static int write_pages(int fd, const uint8_t *src, const uint64_t *bits, uint64_t npages)
{
	for (uint64_t pg = 0, end; pg < npages; pg = end) {
		if (!bit(bits, pg)) {
			end = pg + 1;
			continue;
		}
		for (end = pg; end < npages && bit(bits, end);)
			end++;
		for (uint64_t off = pg * VMLET_PAGE_SIZE; off < end * VMLET_PAGE_SIZE;) {
			ssize_t n = pwrite(fd, src + off, end * VMLET_PAGE_SIZE - off, (off_t)off);

			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			off += (uint64_t)n;
		}
	}
	return 0;
}

/*
 * The runs of snap: its parent's with the marked pages taken out, and the
 * marked pages from snap's own memfd. Each page gets the memfd of the
 * topmost layer that has it, then equal neighbours become one run.
 */
static int layer_runs(struct vmlet_snapshot *snap, const uint64_t *bits)
{
	const struct vmlet_snapshot *parent = snap->parent;
	uint64_t npages = snap->mem.size / VMLET_PAGE_SIZE;
	unsigned int n = 0, max = 0;
	int *owner = malloc(npages * sizeof(*owner));
	uint64_t *off = malloc(npages * sizeof(*off));
	int err = -ENOMEM;

	if (!owner || !off)
		goto out;
	for (uint64_t pg = 0; pg < npages; pg++) {
		owner[pg] = bit(bits, pg) ? snap->mem.fd : -1;
		off[pg] = pg * VMLET_PAGE_SIZE;
	}
	for (unsigned int i = 0; i < parent->nruns; i++) {
		const struct vmlet_mem_run *r = &parent->runs[i];

		for (uint64_t pg = r->pg; pg < r->pg + r->npages; pg++) {
			if (owner[pg] >= 0)
				continue;
			owner[pg] = r->fd;
			off[pg] = r->off + (pg - r->pg) * VMLET_PAGE_SIZE;
		}
	}
	for (uint64_t pg = 0; pg < npages; pg++) {
		struct vmlet_mem_run *r = n ? &snap->runs[n - 1] : NULL;

		if (owner[pg] < 0)
			continue;
		if (r && r->fd == owner[pg] && r->pg + r->npages == pg &&
		    r->off + r->npages * VMLET_PAGE_SIZE == off[pg]) {
			r->npages++;
			continue;
		}
		if (n == max) {
			struct vmlet_mem_run *runs;

			max = max ? 2 * max : 16;
			runs = realloc(snap->runs, max * sizeof(*runs));
			if (!runs)
				goto out;
			snap->runs = runs;
		}
		snap->runs[n++] = (struct vmlet_mem_run){
			.pg = pg, .npages = 1, .off = off[pg], .fd = owner[pg]};
	}
	snap->nruns = n;
	err = 0;
out:
	free(owner);
	free(off);
	return err;
}

/*
 * A layer of more runs than VMLET_MEM_MAX_RUNS, each a mapping in every
 * sandbox (a guest that wrote every other page makes one per page),
 * becomes a root instead: its memfd gets every page of sb that is not
 * zero, and it keeps no parent.
 */
static int flatten(struct vmlet_snapshot *snap, const struct vmlet_sandbox *sb, uint64_t *bits)
{
	int err;

	free(snap->runs);
	snap->runs = NULL;
	snap->nruns = 0;
	vmlet_snapshot_destroy(snap->parent);
	snap->parent = NULL;
	err = differing_pages(sb, NULL, bits);
	return err ? err
		   : write_pages(snap->mem.fd, sb->mem.host, bits, sb->mem.size / VMLET_PAGE_SIZE);
}

/* A layer over sb's snapshot, or a root of a cold sandbox: the pages that differ. */
static int take_pages(struct vmlet_snapshot *snap, const struct vmlet_sandbox *sb)
{
	uint64_t npages = sb->mem.size / VMLET_PAGE_SIZE;
	uint64_t *bits = calloc((npages + 63) / 64, sizeof(*bits));
	int fd, err;

	if (!bits)
		return -ENOMEM;
	fd = memfd_create("vmlet", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	snap->mem.fd = fd;
	snap->mem.backing = sb->snap ? sb->snap->mem.backing : VMLET_BACKING_4K;
	if (ftruncate(fd, (off_t)sb->mem.size) < 0) {
		err = -errno;
		goto out;
	}
	err = differing_pages(sb, sb->snap ? sb->snap->mem.host : NULL, bits);
	if (!err)
		err = write_pages(fd, sb->mem.host, bits, npages);
	if (!err && sb->snap) {
		snap->parent = sb->snap;
		__vmlet_snapshot_get(snap->parent);
		err = layer_runs(snap, bits);
		if (!err && snap->nruns > VMLET_MEM_MAX_RUNS)
			err = flatten(snap, sb, bits);
	}
out:
	free(bits);
	return err;
}

/* A full copy on hugetlb pages: no layers. */
static int copy_huge(struct vmlet_snapshot *snap, const struct vmlet_sandbox *sb)
{
	int err = vmlet_mem_create(sb->mem.size, VMLET_BACKING_HUGETLB, &snap->mem);

	if (err)
		return err;
	memcpy(snap->mem.host, sb->mem.host, sb->mem.size);
	munmap(snap->mem.host, snap->mem.size);
	snap->mem.host = NULL;
	return 0;
}

/*
 * Whether st, sb's state, stands on its snapshot's (or, cold, its boot
 * snapshot's) ground for the entry stub (lib/entry.c), that snapshot's
 * state being ground itself (a ready point, or a live snapshot found so
 * in turn). Where sb's memory is a private mapping of that snapshot's,
 * only pages sb wrote can differ, and pagemap narrows the comparison to
 * those; a copy (hugetlb, or its fallback) is compared in full.
 */
static bool stub_ground(const struct vmlet_sandbox *sb, const struct vmlet_x86_state *st)
{
	/* A cold sandbox's ground: the boot snapshot its memory was mapped from. */
	const struct vmlet_snapshot *base = sb->snap ? sb->snap : sb->boot;
	uint64_t low = sb->mem.size < VMLET_IMAGE_BASE ? sb->mem.size : VMLET_IMAGE_BASE;
	uint64_t written[VMLET_IMAGE_BASE / VMLET_PAGE_SIZE / 64] = {0};
	/* Only a private mapping of base shows what sb wrote as anonymous, and not on hugetlb. */
	bool narrowed = sb->mem.fd < 0 && sb->mem.backing != VMLET_BACKING_HUGETLB &&
			!vmlet_mem_anon_pages(sb->mem.host, low, written);

	return base && base->ground &&
	       vmlet_entry_same_ground(sb->mem.host, st, base->mem.host, &base->cpu, sb->mem.size,
				       narrowed ? written : NULL);
}

VMLET_API int vmlet_sandbox_snapshot(struct vmlet_sandbox *sb, struct vmlet_snapshot **out)
{
	struct vmlet_snapshot *snap;
	int err;

	if (!sb || !out)
		return -EINVAL;
	err = check(sb);
	if (err)
		return err;
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	snap->refs = 1;
	snap->mem.fd = -1;
	snap->mem.size = sb->mem.size;
	snap->image = sb->image;
	snap->cfg = sb->cfg;
	snap->restore = sb->snap ? sb->snap->restore : sb->cfg.restore;
	if (snap->restore == VMLET_RESTORE_AUTO)
		snap->restore = VMLET_RESTORE_COPY;
	snap->cfg.restore = snap->restore;
	vmlet_service_get(snap->cfg.host);
	snap->layout = sb->layout;
	snap->nfuncs = sb->nfuncs;
	snap->funcs = copy_funcs(sb->funcs, sb->nfuncs);
	if (!snap->funcs) {
		err = -ENOMEM;
		goto err_snap;
	}
	err = -ENOTSUP;
	if (snap->restore == VMLET_RESTORE_DROP && vmlet_mem_pagemap_fd() < 0)
		goto err_snap;
	err = vmlet_vm_complete_io(&sb->vm);
	if (!err)
		err = vmlet_cpustate_save(&sb->vm, &snap->cpu);
	/* KVM took the TLB flag at the last entry: restores find it set (lib/tlb.c). */
	if (!err && vmlet_tlb_flag(sb->mem.host))
		vmlet_hoststate_wrote(&sb->host, VMLET_TLB_STEAL_ADDR, 1);
	/*
	 * The entry stub for this state, as vmlet_snapshot_create() writes
	 * one (lib/entry.c), only on its snapshot's ground: a call before
	 * this one may have left page tables, descriptor tables or flags that
	 * would run something else at the stub's address, with the previous
	 * call's FPU and MSRs still in the vCPU.
	 */
	snap->ground = !err && stub_ground(sb, &snap->cpu);
	if (snap->ground)
		snap->entry = vmlet_entry_write(sb->mem.host, &snap->cpu);
	else if (!err) /* nor can a file of it carry one a call wrote (vmlet_entry_present()) */
		vmlet_entry_erase(sb->mem.host);
	if (snap->entry < 0)
		snap->entry = 0;
	if (!err) /* the stub's page: back to sb's snapshot's at its next restore */
		vmlet_hoststate_wrote(&sb->host, VMLET_ENTRY_ADDR, 1);
	if (!err && sb->cfg.backing == VMLET_BACKING_HUGETLB)
		err = copy_huge(snap, sb);
	else if (!err)
		err = take_pages(snap, sb);
	if (err)
		goto err_snap;
	if (fcntl(snap->mem.fd, F_ADD_SEALS, SEALS) < 0) {
		err = -errno;
		goto err_snap;
	}
	err = __vmlet_snapshot_map(snap, PROT_READ, MAP_SHARED, &snap->mem.host);
	if (err)
		goto err_snap;
	*out = snap;
	return 0;

err_snap:
	vmlet_snapshot_destroy(snap);
	return err;
}

VMLET_API uint64_t vmlet_snapshot_own_size(const struct vmlet_snapshot *snap)
{
	struct stat st;

	if (!snap || fstat(snap->mem.fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}
