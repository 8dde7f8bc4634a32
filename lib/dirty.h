/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The pages a guest wrote, for COPY restore: KVM's dirty ring where the
 * kernel has one (KVM_CAP_DIRTY_LOG_RING), else its dirty log.
 *
 * Either way the set of pages to copy back is a bitmap, with a short list
 * of the same pages while they are few, so that restore walks only those.
 * With the ring, a page harvested at one restore is not write-protected
 * again (no KVM_RESET_DIRTY_RINGS): it stays in the set, is copied back at
 * every restore, and the calls that write it take no write-protection
 * fault. The set is emptied, and the ring reset (one ioctl), only when it
 * outgrows VMLET_DIRTY_KEEP pages or the ring fills up. With the log,
 * KVM_GET_DIRTY_LOG names and write-protects the pages of each call anew.
 */
#ifndef VMLET_DIRTY_H
#define VMLET_DIRTY_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Pages kept writable (and copied back at every restore) before a reset:
 * a fresh JavaScript event writes 22 and the runtime, stack and page
 * tables take the set past 32, which reset and re-protected it at every
 * restore (32 write faults and one ioctl per event in the vmtest VM).
 */
#define VMLET_DIRTY_KEEP 64

struct vmlet_dirty {
	struct kvm_dirty_gfn *ring; /* the vCPU's ring (mmap), or NULL: the dirty log */
	size_t ring_bytes;
	uint32_t nents;	 /* entries in the ring, a power of two */
	uint32_t fetch;	 /* the next entry to harvest */
	uint64_t npages; /* pages of slot 0 */
	uint64_t *bitmap;
	uint32_t list[VMLET_DIRTY_KEEP];
	uint32_t nlist; /* pages in list, or VMLET_DIRTY_KEEP + 1: walk the bitmap */
	uint64_t resets;
};

/*
 * Before the vCPU exists: turn the ring on for vm_fd when this KVM has it
 * and it is not turned off (VMLET_DIRTY_RING=0). Returns the ring's size
 * in bytes, 0 for the dirty log, or a negative error.
 */
int vmlet_dirty_enable(int vm_fd);

/*
 * Set d up for a slot of npages pages (ring_bytes from vmlet_dirty_enable(),
 * the ring mapped from vcpu_fd). vmlet_dirty_free() undoes it at any stage.
 */
int vmlet_dirty_init(struct vmlet_dirty *d, int vcpu_fd, size_t ring_bytes, uint64_t npages);
void vmlet_dirty_free(struct vmlet_dirty *d);

/*
 * Add the pages written since the last collection to the set: harvest
 * the ring, or KVM_GET_DIRTY_LOG (the set was emptied by the last
 * vmlet_dirty_done()).
 */
int vmlet_dirty_collect(struct vmlet_dirty *d, int vm_fd);

/*
 * The ring is full (KVM_EXIT_DIRTY_RING_FULL): harvest it into the set and
 * reset it, so that the guest can go on. -EOVERFLOW: KVM overran the ring
 * and lost pages; the set is now every page, and the call cannot go on.
 */
int vmlet_dirty_ring_full(struct vmlet_dirty *d, int vm_fd);

/* Whether the set is short enough to walk as d->list[0..nlist). */
static inline bool vmlet_dirty_listed(const struct vmlet_dirty *d)
{
	return d->nlist <= VMLET_DIRTY_KEEP;
}

/*
 * The set was copied back: keep it for the next restore (ring, few pages),
 * or empty it (and reset the ring).
 */
int vmlet_dirty_done(struct vmlet_dirty *d, int vm_fd);

static inline bool vmlet_dirty_has(const struct vmlet_dirty *d, uint64_t pg)
{
	return d->bitmap[pg / 64] & (1ULL << (pg % 64));
}

#endif /* VMLET_DIRTY_H */
