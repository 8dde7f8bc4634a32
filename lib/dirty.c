// SPDX-License-Identifier: BSD-2-Clause
/*
 * Dirty page tracking for COPY restore (see dirty.h for the model).
 *
 * The ring (Documentation/virt/kvm/api.rst, KVM_CAP_DIRTY_LOG_RING) holds
 * one entry per page at its first write after it was last protected; an
 * entry is ours once its flags say DIRTY, and goes back to KVM marked
 * RESET, which KVM_RESET_DIRTY_RINGS then turns into write protection
 * again. Reading the ring is plain memory: a restore that finds the pages
 * it already knows costs no system call. A page that stays in the set is
 * copied back at every restore whether or not the call wrote it, which is
 * why the set is bounded; a call that writes more pages pays one reset.
 * A page that KVM protects again anyway (a ring-full reset, or its mapping
 * zapped and faulted back) is named again at its next write: the set only
 * ever holds more than was written, never less.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dirty.h"
#include "kvm.h"

/* 16 KiB of ring per vCPU: a call that writes more pages exits to reset it. */
#define RING_ENTRIES 1024

int vmlet_dirty_enable(int vm_fd)
{
	const struct vmlet_kvm *kvm;
	struct kvm_enable_cap cap = {.cap = KVM_CAP_DIRTY_LOG_RING};
	size_t bytes = RING_ENTRIES * sizeof(struct kvm_dirty_gfn);
	int err = vmlet_kvm_get(&kvm);

	if (err)
		return err;
	if (kvm->dirty_ring < bytes)
		return 0;
	cap.args[0] = bytes;
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	return (int)bytes;
}

int vmlet_dirty_init(struct vmlet_dirty *d, int vcpu_fd, size_t ring_bytes, uint64_t npages)
{
	void *ring;

	memset(d, 0, sizeof(*d));
	d->npages = npages;
	d->bitmap = calloc((npages + 63) / 64, sizeof(uint64_t));
	if (!d->bitmap)
		return -ENOMEM;
	if (!ring_bytes) {
		d->nlist = VMLET_DIRTY_KEEP + 1;
		return 0;
	}
	ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd,
		    KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE));
	if (ring == MAP_FAILED)
		return -errno;
	d->ring = ring;
	d->ring_bytes = ring_bytes;
	d->nents = (uint32_t)(ring_bytes / sizeof(struct kvm_dirty_gfn));
	return 0;
}

void vmlet_dirty_free(struct vmlet_dirty *d)
{
	if (d->ring)
		munmap(d->ring, d->ring_bytes);
	free(d->bitmap);
	d->ring = NULL;
	d->bitmap = NULL;
}

static void add(struct vmlet_dirty *d, uint64_t pg)
{
	if (pg >= d->npages || vmlet_dirty_has(d, pg))
		return;
	d->bitmap[pg / 64] |= 1ULL << (pg % 64);
	if (d->nlist < VMLET_DIRTY_KEEP)
		d->list[d->nlist] = (uint32_t)pg;
	if (d->nlist <= VMLET_DIRTY_KEEP)
		d->nlist++;
}

/* Returns the number of entries taken. */
static uint32_t harvest(struct vmlet_dirty *d)
{
	uint32_t n = 0;

	for (;; n++) {
		struct kvm_dirty_gfn *e = &d->ring[d->fetch & (d->nents - 1)];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			return n;
		if (e->slot == 0) /* address space 0, slot 0: the only one */
			add(d, e->offset);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		d->fetch++;
	}
}

/* Returns the number of entries KVM took back, or a negative error. */
static int reset(struct vmlet_dirty *d, int vm_fd)
{
	int n = ioctl(vm_fd, KVM_RESET_DIRTY_RINGS, 0);

	if (n < 0)
		return -errno;
	d->resets++;
	return n;
}

int vmlet_dirty_collect(struct vmlet_dirty *d, int vm_fd)
{
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = d->bitmap};

	if (d->ring) {
		harvest(d);
		return 0;
	}
	if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return -errno;
	return 0;
}

int vmlet_dirty_ring_full(struct vmlet_dirty *d, int vm_fd)
{
	uint32_t taken;
	int n;

	if (!d->ring)
		return -EPROTO;
	taken = harvest(d);
	n = reset(d, vm_fd);
	if (n < 0 || taken || n)
		return n < 0 ? n : 0;
	/*
	 * Full, yet nothing new to take and nothing to give back: KVM wrote
	 * past the ring's end (see kvm.c) and the entries it overwrote are
	 * lost. Copy every page back at the next restore.
	 */
	memset(d->bitmap, 0xff, (d->npages + 63) / 64 * sizeof(uint64_t));
	d->nlist = VMLET_DIRTY_KEEP + 1;
	return -EOVERFLOW;
}

int vmlet_dirty_done(struct vmlet_dirty *d, int vm_fd)
{
	/* The log's bitmap is KVM_GET_DIRTY_LOG's to overwrite. */
	int n;

	if (!d->ring || vmlet_dirty_listed(d))
		return 0;
	memset(d->bitmap, 0, (d->npages + 63) / 64 * sizeof(uint64_t));
	d->nlist = 0;
	n = reset(d, vm_fd);
	return n < 0 ? n : 0;
}
