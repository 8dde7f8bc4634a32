// SPDX-License-Identifier: BSD-2-Clause
/*
 * A vCPU's state saved and loaded back. Save reads all of it by ioctls;
 * load sets regs, sregs and events through kvm_run (no ioctl) and the
 * rest by ioctls, except what the snapshot's entry stub puts back from
 * guest memory at the next run (lib/entry.c says what, and when a
 * snapshot has one). A run that must not execute the stub (a debugger's,
 * or one whose state is read first) has it put back here by ioctl.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpustate.h"
#include "entry.h"
#include "kvm.h"

#define XSAVE_XSTATE_BV 512 /* bytes into the XSAVE area: which components it holds */

_Static_assert(sizeof(((struct vmlet_x86_state *)0)->xsave) == sizeof(struct kvm_xsave),
	       "KVM_GET_XSAVE fills struct kvm_xsave");

#define NUNFILTERED 4 /* KERNEL_GS_BASE, SYSENTER_CS, _ESP, _EIP */

/* Set the MSRs of st that restore sets every time. */
static int msrs_load_unfiltered(struct vmlet_vm *vm, const struct vmlet_x86_state *st)
{
	const struct kvm_msrs *all = (const struct kvm_msrs *)st->msrs;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[NUNFILTERED];
	} m = {.h.nmsrs = 0};
	int n;

	for (uint32_t i = 0; i < all->nmsrs && m.h.nmsrs < NUNFILTERED; i++)
		if (vmlet_x86_msr_unfiltered(all->entries[i].index))
			m.e[m.h.nmsrs++] = all->entries[i];
	n = ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return -errno;
	return (uint32_t)n == m.h.nmsrs ? 0 : -EIO;
}

/* Whether KVM_GET_MSRS reads index on this vCPU. */
static bool msr_readable(struct vmlet_vm *vm, uint32_t index)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one = {.h.nmsrs = 1, .e.index = index};

	return ioctl(vm->vcpu_fd, KVM_GET_MSRS, &one) == 1;
}

int vmlet_cpustate_save(struct vmlet_vm *vm, struct vmlet_x86_state *st)
{
	struct kvm_msrs *msrs = (struct kvm_msrs *)st->msrs;
	const struct vmlet_kvm *kvm;
	int err = vmlet_kvm_get(&kvm);
	uint64_t bv;

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &st->regs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &st->sregs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_XSAVE, st->xsave) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0)
		return -errno;
	if (kvm->xcrs && ioctl(vm->vcpu_fd, KVM_GET_XCRS, &st->xcrs) < 0)
		return -errno;
	/*
	 * KVM may name components guests are not offered (PKRU, on this
	 * project's AMD host whose KVM emulates guest code): a guest can
	 * never enable them (lib/kvm.c), so the state keeps them in their
	 * initial state, as the entry stub's XRSTOR does, and a snapshot file
	 * holds only what guests are offered, which is what its load checks.
	 */
	memcpy(&bv, (uint8_t *)st->xsave + XSAVE_XSTATE_BV, sizeof(bv));
	bv &= kvm->xcr0;
	memcpy((uint8_t *)st->xsave + XSAVE_XSTATE_BV, &bv, sizeof(bv));
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		for (uint32_t m = r->first; m < r->first + r->n; m++) {
			if (!r->always &&
			    (!vmlet_x86_msr_supported(kvm, m) || !msr_readable(vm, m)))
				continue;
			if (msrs->nmsrs == VMLET_X86_NMSRS)
				return -E2BIG; /* a list longer than the room for it */
			msrs->entries[msrs->nmsrs++].index = m;
		}
	}
	if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, msrs) != (int)msrs->nmsrs)
		return -EIO;
	return 0;
}

static int fpu_load(struct vmlet_vm *vm, const struct vmlet_x86_state *st)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_XSAVE, st->xsave) < 0)
		return -errno;
	if (st->xcrs.nr_xcrs && ioctl(vm->vcpu_fd, KVM_SET_XCRS, &st->xcrs) < 0)
		return -errno;
	return 0;
}

int vmlet_cpustate_load(struct vmlet_vm *vm, const struct vmlet_x86_state *st, bool full)
{
	/* A debugger or instruction count would see the stub's instructions. */
	bool stub = !full && vm->entry_ok && !vm->single_step && !vm->debug;
	bool fpu = stub && (vm->entry_ok & VMLET_ENTRY_FPU);
	struct kvm_run *run = vm->run;
	uint32_t nmsrs;
	int n;

	if (!fpu) {
		n = fpu_load(vm, st);
		if (n)
			return n;
	}
	/*
	 * DR0-DR3 hold any 64 bits a guest at CPL 0 writes, readable by the
	 * next call: one more ioctl, as nothing tells whether they changed.
	 */
	if (ioctl(vm->vcpu_fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
		return -errno;
	if (full || !vm->msr_filter || vm->msrs_written) {
		n = ioctl(vm->vcpu_fd, KVM_SET_MSRS, st->msrs);
		if (n < 0)
			return -errno;
		memcpy(&nmsrs, st->msrs, sizeof(nmsrs)); /* struct kvm_msrs starts with it */
		if ((uint32_t)n != nmsrs)
			return -EIO;
		vm->msrs_written = false;
	} else if (!stub) {
		n = msrs_load_unfiltered(vm, st);
		if (n)
			return n;
	}
	run->s.regs.regs = st->regs;
	if (stub)
		run->s.regs.regs.rip = VMLET_ENTRY_ADDR;
	run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	vm->entry = stub ? st : NULL;
	/*
	 * Setting sregs resets KVM's MMU context, and the guest then faults
	 * its working set back into fresh nested page tables: only when
	 * something in them changed (a guest at CPL 0 can load CR3, the
	 * descriptor tables, segment bases). KVM synced them out at the last
	 * exit (kvm_valid_regs); the first load after creation sets them all.
	 */
	if (full || memcmp(&run->s.regs.sregs, &st->sregs, sizeof(st->sregs))) {
		run->s.regs.sregs = st->sregs;
		run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
	}
	if (full || memcmp(&run->s.regs.events, &st->events, sizeof(st->events))) {
		run->s.regs.events = st->events;
		run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
	}
	return 0;
}

/* What the entry stub of st puts back, by ioctl. */
static int entry_load(struct vmlet_vm *vm, const struct vmlet_x86_state *st)
{
	int err = vm->entry_ok & VMLET_ENTRY_FPU ? fpu_load(vm, st) : 0;

	return err ? err : msrs_load_unfiltered(vm, st);
}

int vmlet_cpustate_entry_unfinished(struct vmlet_vm *vm, const struct vmlet_x86_state *st)
{
	if (!vmlet_entry_contains(vm->run->s.regs.regs.rip))
		return 0;
	return entry_load(vm, st);
}

int vmlet_cpustate_entry_settle(struct vmlet_vm *vm)
{
	const struct vmlet_x86_state *st = vm->entry;
	int err;

	if (!st)
		return 0;
	err = entry_load(vm, st);
	if (err)
		return err;
	vm->run->s.regs.regs = st->regs;
	vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	vm->entry = NULL;
	return 0;
}
