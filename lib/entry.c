// SPDX-License-Identifier: BSD-2-Clause
/*
 * The entry stub: guest code that puts back, from the snapshot's own
 * memory, vCPU state that restore would otherwise set with one ioctl per
 * call.
 *
 * What it puts back: the MSRs restore sets at every restore because a
 * guest writes them without an exit (KERNEL_GS_BASE, which SWAPGS
 * exchanges, and the SYSENTER MSRs: lib/x86.h), with WRMSR, which KVM
 * passes through for them on VMX and SVM (no exit either way). The stub
 * runs in the guest as the guest itself could, at CPL 0, so it can set
 * nothing a guest could not.
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
 * How: restore loads the snapshot's registers with rip at the stub. The
 * stub keeps the call's rdx (an argument, which WRMSR needs) in rsp, its
 * only other free register, sets the MSRs, takes rax, rcx and rdx back,
 * and leaves through IRETQ to the snapshot's rip, rsp, rflags and
 * segments: no flag or register it used survives, and it writes no
 * memory. A restore after a failed call, one while instructions are
 * counted or a debugger looks (which would see the stub), and the vCPU
 * state read with the stub still to run (lib/vm.c settles it first) go
 * the ioctl way.
 */
#include <errno.h>
#include <string.h>

#include "entry.h"

#define ENTRY_MSRS 4 /* KERNEL_GS_BASE, SYSENTER_CS, _ESP, _EIP */

/* clang-format off */
__asm__(
"	.pushsection .rodata.vmlet_entry, \"a\"\n"
"	.balign 64\n"
"vmlet_entry_start:\n"
"	mov %rdx, %rsp\n"
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
"vmlet_entry_end:\n"
"	.popsection\n");
/* clang-format on */

#define HIDDEN __attribute__((visibility("hidden")))
extern const uint8_t vmlet_entry_start[] HIDDEN, vmlet_entry_rax[] HIDDEN, vmlet_entry_rcx[] HIDDEN,
	vmlet_entry_frame[] HIDDEN, vmlet_entry_msrs[] HIDDEN, vmlet_entry_end[] HIDDEN;

#define OFF(sym) ((size_t)(sym - vmlet_entry_start))

static void put64(uint8_t *stub, size_t off, uint64_t v)
{
	memcpy(stub + off, &v, sizeof(v));
}

/* The stub for st into stub (OFF(vmlet_entry_end) bytes), or -ENOTSUP. */
static int build(uint8_t *stub, const struct vmlet_x86_state *st)
{
	const struct kvm_msrs *msrs = (const struct kvm_msrs *)st->msrs;
	unsigned int n = 0;

	_Static_assert(VMLET_ENTRY_ADDR % 64 == 0, "the stub's alignment");
	if (VMLET_ENTRY_ADDR + OFF(vmlet_entry_end) > VMLET_STUB_ADDR + VMLET_PAGE_SIZE)
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
	return 0;
}

int vmlet_entry_write(uint8_t *mem, const struct vmlet_x86_state *st)
{
	uint8_t stub[VMLET_PAGE_SIZE];
	int err = build(stub, st);

	if (err)
		return err;
	memcpy(mem + VMLET_ENTRY_ADDR, stub, OFF(vmlet_entry_end));
	return 0;
}

bool vmlet_entry_present(const uint8_t *mem, const struct vmlet_x86_state *st)
{
	uint8_t stub[VMLET_PAGE_SIZE];

	return !build(stub, st) && !memcmp(mem + VMLET_ENTRY_ADDR, stub, OFF(vmlet_entry_end));
}
