// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshots and restore.
 *
 * A snapshot is a sandbox booted to its ready point and then taken apart:
 * its memfd is sealed (no writes, no resizing) and kept, mapped read-only;
 * its vCPU state is saved. A sandbox made from it maps the memfd
 * MAP_PRIVATE, so the guest and the host share every page until one
 * writes it, and an idle sandbox costs only the pages it wrote.
 *
 * Restore must undo every write since the snapshot and touch nothing
 * else. Two methods, chosen per snapshot (cfg->restore):
 *
 *  DROP: /proc/self/pagemap says which pages of the private mapping are
 *  anonymous (written: copied on write) rather than the file's page;
 *  MADV_DONTNEED on exactly those drops the copies, so they read as the
 *  snapshot again. KVM's MMU notifier unmaps them from the guest; the
 *  next call faults them back in. The idle sandbox holds no private page.
 *  A copy need not be mapped to be there: swapped out or under migration
 *  it is a swap entry, and vmlet_mem_pm_written() (lib/mem.h) says how each entry reads.
 *  (With hugetlb backing, pagemap reports every 4 KiB piece of a copied
 *  2 MiB page, so the runs dropped are whole 2 MiB pages.)
 *
 *  COPY: the memslot tracks dirty pages (lib/dirty.h: KVM's dirty ring,
 *  else its dirty log) and each page the guest wrote is copied back from
 *  the snapshot, plus the pages the host wrote (the input buffer,
 *  host-call answers, reads into guest memory), which KVM does not track.
 *  The private copies stay mapped, in the guest too, so the next call
 *  takes no page faults for them. With the dirty log it takes KVM's
 *  write-protection faults (KVM_GET_DIRTY_LOG protects them again); with
 *  the ring, the few pages every call writes stay writable and are copied
 *  back at every restore, so it takes none and restore makes no syscall.
 *
 * COPY is the default. `make bench` on this project's CI machine (nested
 * KVM inside QEMU/TCG, 6.1 kernel; p50, 4 KiB backing) measured a fresh-VM
 * call of add() at 343 us with COPY against 694 us with DROP (raw exit
 * floor 35 us): a call dirties a handful of pages (stack, buffers, data),
 * and DROP makes the next call fault each of them back into the nested
 * page tables, while COPY leaves them mapped. DROP wins only when a call
 * dirties hundreds of pages (restore of 256 pages: 1.0 ms against 4.7 ms,
 * memcpy being slow under TCG) and keeps idle sandboxes at zero private
 * pages; COPY keeps the pages a sandbox ever wrote (tens of KiB for
 * typical guests; see pool_test's density figure).
 *
 * The vCPU goes back through vmlet_cpustate_load(): regs in kvm_run,
 * sregs and events in kvm_run only when the guest changed them (setting
 * sregs resets KVM's MMU), XSAVE, XCR0 and MSRs with one ioctl each, or
 * the MSRs every restore sets in the guest, in the entry stub that
 * snapshot creation (vmlet_snapshot_create(), vmlet_sandbox_snapshot())
 * writes into the snapshot's memory (lib/entry.c).
 * Last, restore has KVM flush the guest's TLB before the next run, so
 * that no translation a call cached outlives the tables it put back
 * (lib/tlb.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpustate.h"
#include "entry.h"
#include "probes.h"
#include "sandbox.h"
#include "service.h"
#include "tlb.h"

int __vmlet_snapshot_take(struct vmlet_sandbox *sb, enum vmlet_restore restore, bool entry,
			  struct vmlet_snapshot **out)
{
	struct vmlet_snapshot *snap = calloc(1, sizeof(*snap));
	void *ro;
	int err;

	if (!snap) {
		err = -ENOMEM;
		goto err_sb;
	}
	err = vmlet_vm_complete_io(&sb->vm);
	if (!err)
		err = vmlet_cpustate_save(&sb->vm, &snap->cpu);
	if (err)
		goto err_snap;
	snap->entry = entry ? vmlet_entry_write(sb->mem.host, &snap->cpu) : 0;
	if (snap->entry < 0)
		snap->entry = 0;
	snap->ground = true; /* the ready point: the image's own state (lib/entry.c) */

	/* Take the memfd over: no writable mapping may remain to seal it. */
	vmlet_vm_destroy(&sb->vm);
	snap->mem = sb->mem;
	munmap(snap->mem.host, snap->mem.size);
	sb->mem.fd = -1;
	sb->mem.host = NULL;
	snap->mem.host = NULL;
	if (fcntl(snap->mem.fd, F_ADD_SEALS,
		  F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		err = -errno;
		goto err_mem;
	}
	ro = mmap(NULL, snap->mem.size, PROT_READ, MAP_SHARED, snap->mem.fd, 0);
	if (ro == MAP_FAILED) {
		err = -errno;
		goto err_mem;
	}
	snap->mem.host = ro;
	snap->image = sb->image;
	snap->cfg = sb->cfg;
	snap->cfg.restore = restore;
	vmlet_service_get(snap->cfg.host);
	snap->layout = sb->layout;
	snap->restore = restore;
	snap->funcs = sb->funcs;
	snap->nfuncs = sb->nfuncs;
	sb->funcs = NULL;
	snap->refs = 1;
	vmlet_sandbox_destroy(sb);
	*out = snap;
	return 0;

err_mem:
	vmlet_mem_destroy(&snap->mem);
err_snap:
	free(snap);
err_sb:
	vmlet_sandbox_destroy(sb);
	return err;
}

VMLET_API int vmlet_snapshot_create(struct vmlet_image *img, const struct vmlet_config *cfg,
				    struct vmlet_snapshot **out)
{
	struct vmlet_config c = {.sz = sizeof(c)};
	struct vmlet_sandbox *sb;
	uint64_t id;
	int err;

	if (!img || !out)
		return -EINVAL;
	err = vmlet_config_normalize(cfg, &c); /* NULL: the defaults */
	if (err)
		return err;
	if (c.backing == VMLET_BACKING_AUTO)
		c.backing = VMLET_BACKING_4K;
	if (c.restore == VMLET_RESTORE_AUTO)
		c.restore = VMLET_RESTORE_COPY;
	if (c.restore == VMLET_RESTORE_DROP && vmlet_mem_pagemap_fd() < 0)
		return -ENOTSUP;
	/*
	 * A booted sandbox owns its memfd, which the snapshot takes over:
	 * what vmlet_sandbox_create() does with VMLET_CONFIG_BOOT, traced as
	 * it traces it.
	 */
	c.flags |= VMLET_CONFIG_BOOT;
	id = __vmlet_sandbox_next_id();
	vmlet_probe_create_begin(id, (uint32_t)VMLET_PROBE_CREATE_COLD);
	err = __vmlet_sandbox_boot(img, &c, id, NULL, NULL, &sb);
	vmlet_probe_create_end(id, (uint32_t)VMLET_PROBE_CREATE_COLD, (int32_t)err);
	if (err)
		return err;
	return __vmlet_snapshot_take(sb, c.restore, true, out);
}

int __vmlet_snapshot_map(const struct vmlet_snapshot *snap, int prot, int flags, uint8_t **out)
{
	const struct vmlet_snapshot *root = snap;

	while (root->parent)
		root = root->parent;
	return vmlet_mem_map_layers(root->mem.fd, snap->mem.size, snap->runs, snap->nruns, prot,
				    flags, out);
}

VMLET_API const void *vmlet_snapshot_memory(const struct vmlet_snapshot *snap, size_t *size)
{
	if (size)
		*size = snap ? snap->mem.size : 0;
	return snap ? snap->mem.host : NULL;
}

VMLET_API enum vmlet_backing vmlet_snapshot_backing(const struct vmlet_snapshot *snap)
{
	return snap ? snap->mem.backing : VMLET_BACKING_AUTO;
}

VMLET_API enum vmlet_restore vmlet_snapshot_restore_method(const struct vmlet_snapshot *snap)
{
	return snap ? snap->restore : VMLET_RESTORE_AUTO;
}

static int restore_cpu(struct vmlet_sandbox *sb, bool full)
{
	sb->vm.steps = 0;
	return vmlet_cpustate_load(&sb->vm, &sb->snap->cpu, full);
}

static inline void copy_page(struct vmlet_sandbox *sb, uint64_t pg)
{
	uint64_t off = pg * VMLET_PAGE_SIZE;

	memcpy(sb->mem.host + off, sb->snap->mem.host + off, VMLET_PAGE_SIZE);
}

/* Drop the private copies (written pages) of the private mapping. */
static int restore_drop(struct vmlet_sandbox *sb)
{
	uint64_t pm[512], npages = sb->mem.size / VMLET_PAGE_SIZE;
	uint64_t run = 0, nrun = 0;
	uint8_t *host = sb->mem.host;
	bool hugetlb = sb->mem.backing == VMLET_BACKING_HUGETLB;
	const uint64_t steal_pg = VMLET_TLB_STEAL_ADDR / VMLET_PAGE_SIZE;

	for (uint64_t pg = 0; pg < npages;) {
		uint64_t n = npages - pg < 512 ? npages - pg : 512;
		off_t off = (off_t)(((uintptr_t)host / VMLET_PAGE_SIZE + pg) * sizeof(uint64_t));
		ssize_t got = pread(vmlet_mem_pagemap_fd(), pm, n * sizeof(uint64_t), off);

		if (got != (ssize_t)(n * sizeof(uint64_t)))
			return got < 0 ? -errno : -EIO;
		for (uint64_t i = 0; i < n; i++, pg++) {
			/*
			 * KVM writes its steal-time record at every entry
			 * (lib/tlb.c): that page is copied back rather than
			 * dropped, or each call would take a fault for it
			 * here and one in the guest, and restore a madvise().
			 */
			if (vmlet_mem_pm_written(pm[i], hugetlb) && pg == steal_pg && !hugetlb) {
				copy_page(sb, pg);
			} else if (vmlet_mem_pm_written(pm[i], hugetlb)) {
				if (!nrun)
					run = pg;
				nrun = pg + 1 - run;
				continue;
			}
			if (nrun && madvise(host + run * VMLET_PAGE_SIZE, nrun * VMLET_PAGE_SIZE,
					    MADV_DONTNEED) < 0)
				return -errno;
			nrun = 0;
		}
	}
	if (nrun && madvise(host + run * VMLET_PAGE_SIZE, nrun * VMLET_PAGE_SIZE, MADV_DONTNEED))
		return -errno;
	return 0;
}

/*
 * Copy back the pages the guest wrote (lib/dirty.h) and those the host
 * wrote, which KVM does not track: the input bytes, host-call answers and
 * reads into guest memory (hdirty).
 */
static int restore_copy(struct vmlet_sandbox *sb)
{
	struct vmlet_dirty *d = &sb->vm.dirty;
	uint64_t words = (sb->mem.size / VMLET_PAGE_SIZE + 63) / 64;
	int err = vmlet_dirty_collect(d, sb->vm.vm_fd);

	if (err)
		return err;
	if (vmlet_dirty_listed(d)) {
		for (uint32_t i = 0; i < d->nlist; i++)
			copy_page(sb, d->list[i]);
	}
	for (uint64_t w = 0; w < words; w++) {
		uint64_t bits = sb->host.hdirty[w];

		if (!vmlet_dirty_listed(d))
			bits |= d->bitmap[w];
		else
			bits &= ~d->bitmap[w];
		sb->host.hdirty[w] = 0;
		for (; bits; bits &= bits - 1)
			copy_page(sb, w * 64 + (uint64_t)__builtin_ctzll(bits));
	}
	memcpy(sb->in, sb->snap->mem.host + sb->layout.in_addr, sb->in_used);
	return vmlet_dirty_done(d, sb->vm.vm_fd);
}

/*
 * Whether the port exit a call ended on leaves KVM a step that would land
 * on the state restore loads. A run that ends on a port exit leaves KVM
 * something to finish at the next KVM_RUN, after the registers loaded
 * meanwhile: `out imm8` and `in` leave complete_fast_pio_out()/_in(),
 * which step rip past the instruction (by its length, up to 15 bytes
 * with prefixes, and write rax for an `in`) if rip is then the linear rip
 * it exited at (cui_linear_rip, pio.linear_rip in older kernels), and
 * otherwise drop it. The runtime's own `out` never sits at a rip restore
 * loads, but a guest at CPL 0 can write an `out` to VMLET_PORT_RETURN at
 * the entry stub's address or the snapshot's rip (clearing CR0.WP, or
 * through page tables of its own) and return through it: the next call
 * would then start up to 15 bytes into the stub, skipping what it puts
 * back, or into the snapshot's resume code (review_test). So the step is
 * taken first when it could land (the exit's linear rip, as KVM computes
 * it, is one of the two); no call returning the usual way pays for it.
 * An `outs` is run by the emulator, which retires it before the exit.
 */
static bool io_step_lands(const struct vmlet_sandbox *sb)
{
	const struct kvm_run *run = sb->vm.run;
	const struct kvm_sregs *s = &run->s.regs.sregs;
	uint64_t rip = run->s.regs.regs.rip;

	if (run->exit_reason != KVM_EXIT_IO)
		return false;
	if (!(s->efer & (1ULL << 10)) || !s->cs.l) /* not 64-bit mode: cs.base + eip */
		rip = (uint32_t)(s->cs.base + rip);
	return rip == VMLET_ENTRY_ADDR || rip == sb->snap->cpu.regs.rip;
}

static int restore(struct vmlet_sandbox *sb)
{
	int err = 0;

	if (sb->host.lost)
		return -EIO; /* a request in flight may still write its memory */
	/*
	 * A failed call can also stop in an instruction that KVM completes
	 * in its emulator and writes back over what was loaded (an IN, an
	 * MMIO access): those are settled first, as is a port step that
	 * would land on the restored rip (io_step_lands()).
	 */
	if (sb->state == SANDBOX_DEAD || io_step_lands(sb))
		err = vmlet_vm_settle(&sb->vm);
	if (err)
		return err;
	/*
	 * It may have ended in a triple fault, whose vCPU reset changed MSRs
	 * (lib/x86.c), or in the entry stub: all by ioctl then.
	 */
	sb->vm.entry_ok = sb->state != SANDBOX_DEAD ? sb->snap->entry : 0;
	if (sb->state == SANDBOX_DEAD)
		sb->vm.msrs_written = true;
	sb->state = SANDBOX_DEAD;
	err = sb->snap->restore == VMLET_RESTORE_COPY ? restore_copy(sb) : restore_drop(sb);
	if (!err)
		err = restore_cpu(sb, false);
	/* Memory and sregs are the snapshot's: no translation of the call's stays (lib/tlb.c). */
	if (!err)
		err = vmlet_tlb_flush(&sb->vm);
	if (err > 0) { /* it wrote the flag the snapshot lacks: back to the snapshot's next time */
		vmlet_hoststate_wrote(&sb->host, VMLET_TLB_STEAL_ADDR, 1);
		err = 0;
	}
	/* Counting stays on (vmlet_sandbox_restore(3)): re-armed at the snapshot's rip. */
	if (!err && sb->vm.single_step)
		err = vmlet_sandbox_count_insns(sb, true);
	if (err)
		return err;
	sb->in_used = 0;
	sb->vm.timeout_ns = vmlet_timeout_ns(sb->cfg.timeout_us);
	vmlet_hoststate_reset(&sb->host);
	memset(&sb->fault, 0, sizeof(sb->fault));
	sb->state = SANDBOX_READY;
	return 0;
}

VMLET_API int vmlet_sandbox_restore(struct vmlet_sandbox *sb)
{
	int err;

	if (!sb)
		return -EINVAL;
	if (!sb->snap)
		return -EOPNOTSUPP;
	/* A host function of its own call: the run goes on after it. */
	if (vmlet_vm_running(&sb->vm))
		return -EBUSY;
	vmlet_probe_restore_begin(sb->id);
	err = restore(sb);
	vmlet_probe_restore_end(sb->id, (int32_t)err);
	return err;
}

int __vmlet_sandbox_from(struct vmlet_snapshot *snap, const struct vmlet_config *cfg, uint64_t id,
			 bool cold, struct vmlet_mem *mem, struct vmlet_sandbox **out)
{
	struct vmlet_sandbox *sb;
	uint32_t flags = 0;
	int err;

	err = __vmlet_sandbox_new(snap->image, cfg, id, &sb);
	if (err) {
		if (mem)
			vmlet_mem_destroy(mem);
		return err;
	}
	if (mem) {
		sb->mem = *mem;
		mem->fd = -1;
		mem->host = NULL;
	}
	if (cold) {
		sb->boot = snap;
		__vmlet_snapshot_get(snap);
	} else {
		sb->snap = snap;
	}
	sb->layout = snap->layout;
	sb->funcs = snap->funcs;
	sb->nfuncs = snap->nfuncs;
	if (!mem) {
		sb->mem.size = snap->mem.size;
		sb->mem.backing = snap->mem.backing;
	}
	if (!cold && snap->restore == VMLET_RESTORE_COPY) {
		size_t words = (sb->mem.size / VMLET_PAGE_SIZE + 63) / 64;

		sb->host.hdirty = calloc(words, sizeof(uint64_t));
		if (!sb->host.hdirty) {
			err = -ENOMEM;
			goto err_sb;
		}
		flags = KVM_MEM_LOG_DIRTY_PAGES;
	}
	if (!mem)
		err = __vmlet_snapshot_map(snap, PROT_READ | PROT_WRITE, MAP_PRIVATE,
					   &sb->mem.host);
	if (err)
		goto err_sb;
	err = __vmlet_sandbox_vm_create(sb, flags);
	if (err)
		goto err_sb;
	sb->vm.run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
	/* The filter first: it decides the CPUID (lib/tlb.c). */
	if (!cold)
		err = vmlet_x86_msr_filter(&sb->vm, &snap->cpu);
	if (!err)
		err = vmlet_x86_cpuid(&sb->vm);
	if (!err)
		err = vmlet_cpustate_load(&sb->vm, &snap->cpu, true);
	if (err)
		goto err_sb;
	/*
	 * Its first call is its first run, for a cold sandbox (one that
	 * booted) as for one made for restore, which pools and the JS layer
	 * warm before they hand it out (__vmlet_sandbox_create_from()).
	 */
	sb->state = SANDBOX_READY;
	*out = sb;
	return 0;

err_sb:
	vmlet_sandbox_destroy(sb);
	return err;
}

/*
 * Run sb once, on a call the guest refuses, and restore it: the first
 * run starts KVM's per-VM work (DESIGN.md: the NX-hugepage recovery
 * thread on newer kernels) and faults in the dispatcher's pages, which a
 * warm sandbox's first real call then does not pay for.
 */
static int warm(struct vmlet_sandbox *sb)
{
	int err = __vmlet_sandbox_warm_up(sb);

	return err ? err : restore(sb);
}

int __vmlet_sandbox_create_from(struct vmlet_snapshot *snap, bool warmed,
				struct vmlet_sandbox **out)
{
	uint64_t id = __vmlet_sandbox_next_id();
	struct vmlet_sandbox *sb = NULL;
	int err;

	vmlet_probe_create_begin(id, (uint32_t)VMLET_PROBE_CREATE_FROM);
	err = snap && out ? __vmlet_sandbox_from(snap, &snap->cfg, id, false, NULL, &sb) : -EINVAL;
	if (!err && warmed) {
		err = warm(sb);
		if (err)
			vmlet_sandbox_destroy(sb);
	}
	if (!err)
		*out = sb;
	vmlet_probe_create_end(id, (uint32_t)VMLET_PROBE_CREATE_FROM, (int32_t)err);
	return err;
}

VMLET_API int vmlet_sandbox_create_from(struct vmlet_snapshot *snap, struct vmlet_sandbox **out)
{
	return __vmlet_sandbox_create_from(snap, false, out);
}
