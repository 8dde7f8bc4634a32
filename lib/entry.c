// SPDX-License-Identifier: BSD-2-Clause
/*
 * The entry stub: guest code that puts back, from the snapshot's own
 * memory, vCPU state that restore would otherwise set with one ioctl per
 * call.
 *
 * What it puts back:
 *  - XCR0 and the x87, SSE and AVX registers (KVM_SET_XCRS and
 *    KVM_SET_XSAVE before): XGETBV (no exit) says whether XCR0 is the
 *    snapshot's, XSETBV (an exit, in the kernel) sets it only when not,
 *    and XRSTOR loads the snapshot's XSAVE image with every component of
 *    XCR0 requested: a component the image marks in its initial state is
 *    initialized, as KVM_SET_XSAVE does. Only where the vCPU can enable
 *    no component beyond the snapshot's XCR0 (lib/kvm.c masks CPUID leaf
 *    0xD and protection keys), so none escapes;
 *  - the MSRs restore sets at every restore because a guest writes them
 *    without an exit (KERNEL_GS_BASE, which SWAPGS exchanges, and the
 *    SYSENTER MSRs: lib/x86.h), with WRMSR, which KVM passes through for
 *    them on VMX and SVM (no exit either way).
 * The stub runs in the guest as the guest itself could, at CPL 0, so it
 * can set nothing a guest could not.
 *
 * What it does not: the debug registers. A guest's MOV to or from a DR
 * exits to KVM, never to user space: VMX's handle_dr() reports it only
 * with DR7.GD under KVM_GUESTDBG_USE_HW_BP, SVM's dr_interception() not
 * at all (it drops the intercepts, or emulates the MOV with guest debug
 * on), so nothing tells restore a guest touched them; and the stub's own
 * first MOV to a DR would cost an exit per call, which KVM_SET_DEBUGREGS
 * does not. XSETBV likewise exits to KVM alone (VMX always, SVM by
 * intercept; QEMU's TCG not even that), hence the XGETBV compare.
 *
 * Why that is as safe as the ioctl: the stub and its data (the values, in
 * the snapshot) lie in the exception stubs' page, which restore puts back
 * like any page the guest wrote, and every register the stub depends on
 * (CR0, CR3, CR4, EFER, GDT, segments: sregs; rip, rflags: regs) is
 * loaded from the snapshot before it runs, through kvm_run. So what a call
 * leaves, in that page or in those registers, does not reach the next
 * call's stub: its first instruction runs on the snapshot's state and
 * data, whatever the previous call did, and the snapshot's first
 * instruction runs after every MSR above is the snapshot's again.
 *
 * That argument takes the snapshot's state as ground the stub can stand
 * on: its page tables map the stub's address to the stub, its IDT sends
 * any exception to the host's exception stubs, and no trap flag,
 * breakpoint or pending event takes the vCPU elsewhere before the stub
 * is done. At a boot snapshot's ready point that state is the one the
 * host built, unless the image's own start-up code changed it: an image
 * that does so before its first call could run its own code at the
 * stub's address, but it runs every call anyway, and its ready state is
 * fixed before any call's data exists. A live snapshot is taken after
 * calls that may have run on untrusted input, so it gets a stub only
 * where vmlet_entry_same_ground() finds everything the stub stands on
 * (control registers, descriptor tables, the GDT, TSS and IDT page, the
 * exception stubs, the page tables, rflags.TF and NT, DR7, pending
 * events) equal to its base's, itself ground: the snapshot its sandbox
 * was made from or, for a cold sandbox, the boot snapshot its memory came
 * from (lib/livesnap.c). One that is not gets its stub's bytes zeroed, so
 * that no file saved from it carries a stub a call wrote there; a loaded
 * file's stub (lib/snapfile.c) is otherwise taken on the file's word, as
 * the rest of its state is.
 *
 * How: restore loads the snapshot's registers with rip at the stub. The
 * stub keeps the call's rdx (an argument, which XSETBV, XRSTOR and WRMSR
 * need) in rsp, its only other free register, puts the state back, takes
 * rax, rcx and rdx back,
 * and leaves through IRETQ to the snapshot's rip, rsp, rflags and
 * segments: no flag or register it used survives, and it writes no
 * memory. Where KVM emulates guest code there is no stub at all: each
 * instruction emulated costs more than an ioctl (and KVM's emulator has
 * no XRSTOR). A restore after a failed call, one while instructions are
 * counted or a debugger looks (which would see the stub), and the vCPU
 * state read with the stub still to run (lib/vm.c settles it first) go
 * the ioctl way.
 */
#include <errno.h>
#include <string.h>

#include "entry.h"
#include "kvm.h"
#include "tlb.h"

#define ENTRY_MSRS 4 /* KERNEL_GS_BASE, SYSENTER_CS, _ESP, _EIP */

/* clang-format off */
__asm__(
"	.pushsection .rodata.vmlet_entry, \"a\"\n"
"	.balign 64\n"
"vmlet_entry_start:\n"
"	mov %rdx, %rsp\n"
"	cmpb $0, vmlet_entry_fpu(%rip)\n"
"	je 2f\n"
"	xor %ecx, %ecx\n"
"	xgetbv\n"
"	cmp vmlet_entry_xcr0(%rip), %eax\n"
"	jne 1f\n"
"	cmp vmlet_entry_xcr0 + 4(%rip), %edx\n"
"	je 3f\n"
"1:	mov vmlet_entry_xcr0(%rip), %eax\n"
"	mov vmlet_entry_xcr0 + 4(%rip), %edx\n"
"	xsetbv\n"
"3:	mov $-1, %eax\n"
"	mov $-1, %edx\n"
"	xrstor64 vmlet_entry_xsave(%rip)\n"
"2:\n"
"	mov vmlet_entry_msrs + 0(%rip), %ecx\n"
"	mov vmlet_entry_msrs + 8(%rip), %eax\n"
"	mov vmlet_entry_msrs + 12(%rip), %edx\n"
"	wrmsr\n"
"	mov vmlet_entry_msrs + 16(%rip), %ecx\n"
"	mov vmlet_entry_msrs + 24(%rip), %eax\n"
"	mov vmlet_entry_msrs + 28(%rip), %edx\n"
"	wrmsr\n"
"	mov vmlet_entry_msrs + 32(%rip), %ecx\n"
"	mov vmlet_entry_msrs + 40(%rip), %eax\n"
"	mov vmlet_entry_msrs + 44(%rip), %edx\n"
"	wrmsr\n"
"	mov vmlet_entry_msrs + 48(%rip), %ecx\n"
"	mov vmlet_entry_msrs + 56(%rip), %eax\n"
"	mov vmlet_entry_msrs + 60(%rip), %edx\n"
"	wrmsr\n"
"	mov %rsp, %rdx\n"
"	mov vmlet_entry_rax(%rip), %rax\n"
"	mov vmlet_entry_rcx(%rip), %rcx\n"
"	lea vmlet_entry_frame(%rip), %rsp\n"
"	iretq\n"
"	.balign 8\n"
"vmlet_entry_rax:\n"
"	.quad 0\n"
"vmlet_entry_rcx:\n"
"	.quad 0\n"
"vmlet_entry_frame:\n" /* rip, cs, rflags, rsp, ss: what IRETQ pops */
"	.quad 0, 0, 0, 0, 0\n"
"vmlet_entry_msrs:\n" /* index (32 bits, then 32 of 0), value */
"	.fill 16 * 4, 1, 0\n"
"vmlet_entry_xcr0:\n"
"	.quad 0\n"
"vmlet_entry_fpu:\n" /* 1: set XCR0, XRSTOR the image */
"	.byte 0\n"
"	.balign 64\n"
"vmlet_entry_xsave:\n" /* standard form: XCR0 is at most x87, SSE, AVX */
"	.fill 832, 1, 0\n"
"vmlet_entry_end:\n"
"	.popsection\n");
/* clang-format on */

#define HIDDEN __attribute__((visibility("hidden")))
extern const uint8_t vmlet_entry_start[] HIDDEN, vmlet_entry_rax[] HIDDEN, vmlet_entry_rcx[] HIDDEN,
	vmlet_entry_frame[] HIDDEN, vmlet_entry_msrs[] HIDDEN, vmlet_entry_xcr0[] HIDDEN,
	vmlet_entry_fpu[] HIDDEN, vmlet_entry_xsave[] HIDDEN, vmlet_entry_end[] HIDDEN;

#define XFEATURES_OK	0x7ULL /* x87, SSE, AVX: what fits vmlet_entry_xsave */
#define XSAVE_BYTES	832
#define XSTATE_BV	512 /* bytes into the area */
#define XCOMP_BV	520
#define CR0_TS		(1ULL << 3)
#define CR4_OSXSAVE	(1ULL << 18)
#define CPUID_7_ECX_PKU (1U << 3)

#define OFF(sym) ((size_t)(sym - vmlet_entry_start))

static void put64(uint8_t *stub, size_t off, uint64_t v)
{
	memcpy(stub + off, &v, sizeof(v));
}

static const struct kvm_cpuid_entry2 *cpuid(const struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == 0)
			return &c->entries[i];
	return NULL;
}

/*
 * Whether the stub can put st's XSAVE state and XCR0 back as
 * KVM_SET_XSAVE and KVM_SET_XCRS would: with XCR0 equal to every component the
 * vCPU's CPUID offers (lib/kvm.c offers no more than x87, SSE and AVX, and
 * no protection keys), so that no component escapes the XRSTOR; and with
 * CR4.OSXSAVE on and CR0.TS off, which sregs bring back before it runs.
 */
static bool fpu_ok(const struct vmlet_x86_state *st, uint64_t *xcr0)
{
	const struct kvm_cpuid_entry2 *d, *f7;
	const struct vmlet_kvm *kvm;
	uint64_t comp;

	if (vmlet_kvm_get(&kvm) || !kvm->xcrs)
		return false;
	*xcr0 = 0;
	for (uint32_t i = 0; i < st->xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (st->xcrs.xcrs[i].xcr == 0)
			*xcr0 = st->xcrs.xcrs[i].value;
	d = cpuid(kvm->cpuid, 0xd);
	f7 = cpuid(kvm->cpuid, 7);
	memcpy(&comp, (const uint8_t *)st->xsave + XCOMP_BV, sizeof(comp));
	return *xcr0 && !(*xcr0 & ~XFEATURES_OK) && d &&
	       (d->eax | (uint64_t)d->edx << 32) == *xcr0 && !(f7 && (f7->ecx & CPUID_7_ECX_PKU)) &&
	       (st->sregs.cr4 & CR4_OSXSAVE) && !(st->sregs.cr0 & CR0_TS) && !comp;
}

/*
 * The stub for st into stub (OFF(vmlet_entry_end) bytes): what it puts
 * back (VMLET_ENTRY_*), or -ENOTSUP.
 */
static int build(uint8_t *stub, const struct vmlet_x86_state *st)
{
	const struct vmlet_kvm *kvm;
	int what = VMLET_ENTRY_MSRS;
	uint64_t xcr0, bv;

	/*
	 * Where KVM emulates guest code, each of the stub's instructions
	 * costs more than the ioctl it saves: on this project's host a fresh
	 * call took 199 us at best with it (5 syscalls), 168 us without (6).
	 */
	if (vmlet_kvm_get(&kvm) || kvm->emulated)
		return -ENOTSUP;
	const struct kvm_msrs *msrs = (const struct kvm_msrs *)st->msrs;
	unsigned int n = 0;

	_Static_assert(VMLET_ENTRY_ADDR % 64 == 0, "the stub's alignment");
	/* The page's last 64 bytes are KVM's steal-time record (lib/tlb.h). */
	if (VMLET_ENTRY_ADDR + OFF(vmlet_entry_end) > VMLET_TLB_STEAL_ADDR)
		return -ENOTSUP;
	memcpy(stub, vmlet_entry_start, OFF(vmlet_entry_end));
	put64(stub, OFF(vmlet_entry_rax), st->regs.rax);
	put64(stub, OFF(vmlet_entry_rcx), st->regs.rcx);
	put64(stub, OFF(vmlet_entry_frame), st->regs.rip);
	put64(stub, OFF(vmlet_entry_frame) + 8, st->sregs.cs.selector);
	put64(stub, OFF(vmlet_entry_frame) + 16, st->regs.rflags);
	put64(stub, OFF(vmlet_entry_frame) + 24, st->regs.rsp);
	put64(stub, OFF(vmlet_entry_frame) + 32, st->sregs.ss.selector);
	for (uint32_t i = 0; i < msrs->nmsrs; i++) {
		if (!vmlet_x86_msr_unfiltered(msrs->entries[i].index))
			continue;
		if (n == ENTRY_MSRS)
			return -ENOTSUP;
		put64(stub, OFF(vmlet_entry_msrs) + 16 * n, msrs->entries[i].index);
		put64(stub, OFF(vmlet_entry_msrs) + 16 * n + 8, msrs->entries[i].data);
		n++;
	}
	if (!n)
		return -ENOTSUP;
	/* Fewer than four (no SYSENTER MSRs here): the first one again. */
	for (unsigned int i = n; i < ENTRY_MSRS; i++)
		memcpy(stub + OFF(vmlet_entry_msrs) + 16 * i, stub + OFF(vmlet_entry_msrs), 16);
	if (fpu_ok(st, &xcr0)) {
		put64(stub, OFF(vmlet_entry_xcr0), xcr0);
		stub[OFF(vmlet_entry_fpu)] = 1;
		memcpy(stub + OFF(vmlet_entry_xsave), st->xsave, XSAVE_BYTES);
		/* KVM names PKRU wherever the host has it: beyond XCR0, a #GP to XRSTOR. */
		memcpy(&bv, stub + OFF(vmlet_entry_xsave) + XSTATE_BV, sizeof(bv));
		bv &= xcr0;
		memcpy(stub + OFF(vmlet_entry_xsave) + XSTATE_BV, &bv, sizeof(bv));
		what |= VMLET_ENTRY_FPU;
	}
	return what;
}

int vmlet_entry_write(uint8_t *mem, const struct vmlet_x86_state *st)
{
	uint8_t stub[VMLET_PAGE_SIZE];
	int what = build(stub, st);

	if (what > 0)
		memcpy(mem + VMLET_ENTRY_ADDR, stub, OFF(vmlet_entry_end));
	return what;
}

/* What the stub's run depends on in guest memory: GDT, TSS, IDT, exception stubs, page tables. */
static const uint64_t ground[][2] = {
	{VMLET_GDT_ADDR, VMLET_ENTRY_ADDR},
	{VMLET_PT_ADDR, VMLET_IMAGE_BASE},
};

#define RFLAGS_TF  (1ULL << 8)
#define RFLAGS_NT  (1ULL << 14) /* IRETQ in 64-bit mode: #GP */
#define DR7_ENABLE 0xffULL	/* L0-L3, G0-G3 */

bool vmlet_entry_same_ground(const uint8_t *mem, const struct vmlet_x86_state *st,
			     const uint8_t *bmem, const struct vmlet_x86_state *bst, uint64_t size,
			     const uint64_t *written)
{
	const struct kvm_sregs *a = &st->sregs, *b = &bst->sregs;

	if (a->cr0 != b->cr0 || a->cr3 != b->cr3 || a->cr4 != b->cr4 || a->efer != b->efer ||
	    memcmp(&a->gdt, &b->gdt, sizeof(a->gdt)) || memcmp(&a->idt, &b->idt, sizeof(a->idt)) ||
	    memcmp(&a->cs, &b->cs, sizeof(a->cs)) || memcmp(&a->ss, &b->ss, sizeof(a->ss)) ||
	    memcmp(&a->tr, &b->tr, sizeof(a->tr)))
		return false;
	/* Nothing delivered before or during the stub: no trap flag, breakpoint or event. */
	if ((st->regs.rflags & (RFLAGS_TF | RFLAGS_NT)) || (st->debugregs.dr7 & DR7_ENABLE) ||
	    !vmlet_x86_events_quiet(&st->events))
		return false;
	for (unsigned int i = 0; i < sizeof(a->interrupt_bitmap) / sizeof(a->interrupt_bitmap[0]);
	     i++)
		if (a->interrupt_bitmap[i])
			return false;
	for (unsigned int i = 0; i < sizeof(ground) / sizeof(ground[0]); i++) {
		uint64_t end = ground[i][1] < size ? ground[i][1] : size;

		for (uint64_t at = ground[i][0]; at < end; at = (at | (VMLET_PAGE_SIZE - 1)) + 1) {
			uint64_t pg = at / VMLET_PAGE_SIZE, n = (at | (VMLET_PAGE_SIZE - 1)) + 1;

			if (n > end)
				n = end;
			if ((!written || written[pg / 64] & 1ULL << (pg % 64)) &&
			    memcmp(mem + at, bmem + at, n - at))
				return false;
		}
	}
	return true;
}

void vmlet_entry_erase(uint8_t *mem)
{
	memset(mem + VMLET_ENTRY_ADDR, 0, OFF(vmlet_entry_end));
}

bool vmlet_entry_contains(uint64_t rip)
{
	return rip - VMLET_ENTRY_ADDR < OFF(vmlet_entry_end);
}

int vmlet_entry_present(const uint8_t *mem, const struct vmlet_x86_state *st)
{
	uint8_t stub[VMLET_PAGE_SIZE];
	int what = build(stub, st);

	if (what > 0 && !memcmp(mem + VMLET_ENTRY_ADDR, stub, OFF(vmlet_entry_end)))
		return what;
	return 0;
}
