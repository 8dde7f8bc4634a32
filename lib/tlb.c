// SPDX-License-Identifier: BSD-2-Clause
/*
 * The guest TLB at restore.
 *
 * A call runs at CPL 0 and can edit the snapshot's page tables in place
 * (clearing CR0.WP if it must), make the CPU cache the new translation
 * (INVLPG, then touch the page), write the entry back and return. TLB
 * and paging-structure-cache entries are tagged with the vCPU's VPID
 * (VMX) or ASID (SVM) and the PCID, not with the content of the tables,
 * so they outlive everything restore does to put the snapshot back:
 *  - COPY copies pages back into the same host pages, which stay mapped
 *    in KVM's EPT/NPT: no invalidation, no flush. With the dirty ring,
 *    restore skips KVM_RESET_DIRTY_RINGS when the set of pages did not
 *    change, so KVM does not even write-protect (and flush) then;
 *  - DROP zaps what the MMU notifier unmaps, which flushes only where KVM
 *    had mapped a dropped page;
 *  - registers go back through kvm_run, sregs only when they differ
 *    (lib/cpustate.c): KVM resets its MMU context, and flushes at the next
 *    kvm_mmu_load(), only when CR0, CR3, CR4 or EFER changed.
 * On hardware the next call (maybe another user's, from a pool) could
 * then start with the previous call's translations: a channel from one
 * call to the next, and, since the entry stub (lib/entry.c) runs at a
 * fixed linear address, a stale instruction-TLB entry for its page would
 * run the image's code from another page before the stub put the FPU
 * and MSRs back. (In QEMU/TCG, whose TLB is flushed at every world
 * switch, and under a KVM that emulates guest code and walks the tables
 * at each access, none of this shows.)
 *
 * Why not the stub: a MOV to CR3 as its first instruction flushes the
 * entries of PCID 0 that are not global (Intel SDM vol. 3A 4.10.4.1, AMD
 * APM vol. 2 on TLB management), and global ones need CR4.PGE, which the
 * snapshot does not set and a call cannot leave set unseen (sregs
 * differ: MMU reset), nor set and clear again (a MOV to CR4 that changes
 * PGE flushes everything); but the stub's own first fetch goes through whatever
 * translation of its page the last call left, no choice of address
 * helps when the guest owns every translation, and the runs without a
 * stub (after a failed call, counting instructions, under a debugger,
 * under emulation) would still need another way.
 *
 * The way: KVM's paravirtual TLB flush (Documentation/virt/kvm/cpuid.rst,
 * KVM_FEATURE_PV_TLB_FLUSH; msr.rst, MSR_KVM_STEAL_TIME). At every
 * KVM_RUN, vcpu_load() -> kvm_arch_vcpu_load() makes KVM_REQ_STEAL_UPDATE,
 * and vcpu_enter_guest() serves it, before the first guest instruction,
 * with record_steal_time() (arch/x86/kvm/x86.c): it exchanges the steal-
 * time record's `preempted` byte with 0 and, where the byte had
 * KVM_VCPU_FLUSH_TLB, calls kvm_vcpu_flush_tlb_guest(): on VMX an INVVPID
 * of the vCPU's VPID, single context (vmx_flush_tlb_guest(): linear and
 * combined mappings, global ones and paging-structure caches included,
 * SDM vol. 3C, INVVPID), on SVM a flush of its ASID (TLB_CONTROL_FLUSH_ASID
 * or a new ASID), and without TDP a sync of the shadow roots. The
 * snapshot's memory holds the byte set (the boot writes it, a live
 * snapshot sets it in the sandbox first), so restore, which makes memory
 * the snapshot's again, sets it too; restore then checks it and writes
 * it where it is not (a snapshot file from before). Nothing of the guest
 * runs between: every call's first fetch walks the snapshot's tables,
 * stub or not, on every path restore takes. It costs no system call, no
 * exit, no guest instruction: one flush of the guest's TLB per restore,
 * which any fix pays. (KVM counts it in the vCPU's tlb_flush statistic:
 * tlb_test sees it grow by one per restore, where it did not grow before.)
 *
 * Why a guest cannot turn it off: the record's address (the last 64
 * bytes of the exception stubs' page) is vmlet's alone. The vCPU's CPUID
 * offers steal time and the PV flush, as KVM_CAP_ENFORCE_PV_FEATURE_CPUID
 * requires for KVM to use them, so only where the MSR filter sends the
 * guest's WRMSR of MSR_KVM_STEAL_TIME to user space, which refuses it
 * with #GP (lib/vm.c). The guest can write the record itself during a
 * call; restore puts it back before setting the byte. KVM writes the
 * record at every entry and marks its page dirty (mark_page_dirty_in_slot),
 * so restore puts that page back too, as any the guest wrote: what the
 * next call reads there is KVM's (the vCPU thread's run-queue delay),
 * never the previous call's.
 *
 * Where KVM has no steal time (a kernel without CONFIG_SCHED_INFO), no MSR
 * filter, or the snapshot runs with DEBUGCTL set (no filter: lib/x86.c),
 * restore resets KVM's MMU context instead: one KVM_SET_SREGS with CR3's
 * PWT bit flipped, then the snapshot's sregs through kvm_run, so that both
 * loads change CR3 (__set_sregs() resets on any change of it) and the next
 * entry's kvm_mmu_load() flushes the current root (VMX: INVEPT of the
 * EPTP, combined mappings of every VPID; SVM: the ASID). That costs a
 * system call and the refaults of the guest's working set at every
 * restore, which vmlet_platform_query()'s tlb_pv reports.
 */
#include <asm/kvm_para.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"
#include "tlb.h"
#include "x86.h"

#define CR3_PWT (1ULL << 3)

bool vmlet_tlb_pv_offered(void)
{
	const struct vmlet_kvm *kvm;

	return !vmlet_kvm_get(&kvm) && kvm->pv_tlb_flush && kvm->msr_filter;
}

int vmlet_tlb_init(struct vmlet_vm *vm)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1,
	       .e = {.index = MSR_KVM_STEAL_TIME, .data = VMLET_TLB_STEAL_ADDR | KVM_MSR_ENABLED}};
	int n;

	_Static_assert(sizeof(struct kvm_steal_time) == 64, "the record fills the 64 bytes");
	_Static_assert(!(VMLET_TLB_STEAL_ADDR & ~KVM_STEAL_VALID_BITS), "KVM's alignment");
	vm->tlb_pv = false;
	if (!vm->msr_filter || !vmlet_tlb_pv_offered())
		return 0;
	n = ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return -errno;
	vm->tlb_pv = n == 1;
	return 0;
}

void vmlet_tlb_write(uint8_t *mem)
{
	memset(mem + VMLET_TLB_STEAL_ADDR, 0, sizeof(struct kvm_steal_time));
	vmlet_tlb_flag(mem);
}

int vmlet_tlb_flag(uint8_t *mem)
{
	uint8_t *flag = mem + VMLET_TLB_STEAL_ADDR + offsetof(struct kvm_steal_time, preempted);

	if (*flag == KVM_VCPU_FLUSH_TLB)
		return 0;
	*flag = KVM_VCPU_FLUSH_TLB;
	return 1;
}

int vmlet_tlb_flush(struct vmlet_vm *vm)
{
	struct kvm_sregs sregs;

	if (vm->tlb_pv)
		return vmlet_tlb_flag(vm->mem->host);
	sregs = vm->run->s.regs.sregs;
	sregs.cr3 ^= CR3_PWT;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	vm->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
	vm->tlb_resets++;
	return 0;
}
