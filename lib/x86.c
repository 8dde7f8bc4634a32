// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86-64 long-mode set-up for a guest with no kernel.
 *
 * The guest runs in ring 0 with flat 64-bit segments. Every exception
 * vector enters a host-written stub through an interrupt gate on IST1 (a
 * dedicated stack, so a stack overflow still reports): the stub pushes the
 * vector (and a zero where the CPU pushes no error code) and leaves through
 * VMLET_PORT_FAULT with rsp at a struct vmlet_xframe. The guest runtime
 * never handles exceptions itself: nothing it corrupts can hide a fault.
 *
 * `syscall` is routed to the guest runtime's shim (LSTAR from the image's
 * vmlet note); SFMASK clears IF, DF and AC but leaves TF alone so that
 * single-step counting sees the shim's instructions too.
 */
#include <asm/kvm_para.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "entropy.h"
#include "kvm.h"
#include "tlb.h"
#include "x86.h"

#define CR0_PE	       (1ULL << 0)
#define CR0_MP	       (1ULL << 1)
#define CR0_ET	       (1ULL << 4)
#define CR0_NE	       (1ULL << 5)
#define CR0_WP	       (1ULL << 16)
#define CR0_PG	       (1ULL << 31)
#define CR4_PAE	       (1ULL << 5)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_OSXSAVE    (1ULL << 18)
#define EFER_SCE       (1ULL << 0)
#define EFER_LME       (1ULL << 8)
#define EFER_LMA       (1ULL << 10)
#define EFER_NXE       (1ULL << 11)
#define RFLAGS_FIXED   (1ULL << 1)
#define RFLAGS_IF      (1ULL << 9)
#define RFLAGS_DF      (1ULL << 10)
#define RFLAGS_AC      (1ULL << 18)

#define NVECTORS    32
#define STUB_SIZE   16
#define STUB_COMMON (VMLET_STUB_ADDR + NVECTORS * STUB_SIZE)
/* Vectors for which the CPU pushes an error code. */
#define ERRCODE_VECTORS                                                                            \
	((1U << 8) | (1U << 10) | (1U << 11) | (1U << 12) | (1U << 13) | (1U << 14) | (1U << 17) | \
	 (1U << 21) | (1U << 29) | (1U << 30))

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t reserved;
};

#define AT_NULL	  0
#define AT_PHDR	  3
#define AT_PHENT  4
#define AT_PHNUM  5
#define AT_PAGESZ 6
#define AT_ENTRY  9
#define AT_SECURE 23
#define AT_RANDOM 25

static void gdt_write(uint8_t *mem)
{
	uint64_t *gdt = (uint64_t *)(mem + VMLET_GDT_ADDR);
	uint64_t base = VMLET_TSS_ADDR, limit = sizeof(struct tss64) - 1;

	gdt[0] = 0;
	gdt[VMLET_SEL_CODE / 8] = 0x00af9b000000ffffULL; /* 64-bit code, accessed */
	gdt[VMLET_SEL_DATA / 8] = 0x00cf93000000ffffULL; /* data, accessed */
	/* 64-bit TSS descriptor, busy (the state KVM loads TR in). */
	gdt[VMLET_SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0xbULL << 40) |
				 (1ULL << 47) | (((limit >> 16) & 0xf) << 48) |
				 (((base >> 24) & 0xff) << 56);
	gdt[VMLET_SEL_TSS / 8 + 1] = base >> 32;
}

static void tss_write(uint8_t *mem)
{
	struct tss64 *tss = (struct tss64 *)(mem + VMLET_TSS_ADDR);

	memset(tss, 0, sizeof(*tss));
	tss->ist[0] = VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE;
	tss->iomap_base = sizeof(*tss);
}

static void stubs_write(uint8_t *mem)
{
	struct idt_gate *idt = (struct idt_gate *)(mem + VMLET_IDT_ADDR);
	uint8_t *code = mem + VMLET_STUB_ADDR;

	memset(code, 0xcc, VMLET_PAGE_SIZE);
	vmlet_tlb_write(mem);
	for (unsigned int v = 0; v < NVECTORS; v++) {
		uint64_t stub = VMLET_STUB_ADDR + v * STUB_SIZE;
		uint8_t *p = code + v * STUB_SIZE;
		int32_t rel;

		if (!(ERRCODE_VECTORS & (1U << v))) {
			*p++ = 0x6a; /* push $0 */
			*p++ = 0x00;
		}
		*p++ = 0x6a; /* push $v */
		*p++ = (uint8_t)v;
		*p++ = 0xe9; /* jmp common */
		rel = (int32_t)(STUB_COMMON - (VMLET_STUB_ADDR + (uint64_t)(p + 4 - code)));
		memcpy(p, &rel, 4);

		idt[v] = (struct idt_gate){
			.off0 = stub & 0xffff,
			.sel = VMLET_SEL_CODE,
			.ist = 1,
			.type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
			.off1 = (stub >> 16) & 0xffff,
			.off2 = (uint32_t)(stub >> 32),
		};
	}
	/* common: out %al, $VMLET_PORT_FAULT; 1: hlt; jmp 1b */
	code += STUB_COMMON - VMLET_STUB_ADDR;
	code[0] = 0xe6;
	code[1] = VMLET_PORT_FAULT;
	code[2] = 0xf4;
	code[3] = 0xeb;
	code[4] = 0xfd;
}

static int boot_write(struct vmlet_vm *vm, uint8_t *mem, const struct vmlet_layout *l)
{
	int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	struct vmlet_boot *b = (struct vmlet_boot *)(mem + VMLET_BOOT_ADDR);
	struct timespec ts;

	*b = (struct vmlet_boot){
		.abi_version = VMLET_ABI_VERSION,
		.mem_size = l->mem_size,
		.in_addr = l->in_addr,
		.in_size = l->in_size,
		.out_addr = l->out_addr,
		.out_size = l->out_size,
		.stack_lo = l->stack_lo,
		.stack_hi = l->stack_hi,
		.heap_lo = l->heap_lo,
		.heap_hi = l->heap_hi,
		.tsc_khz = khz > 0 ? (uint64_t)khz : 0,
	};
	/*
	 * musl seeds its canary from these (AT_RANDOM). Sandboxes made from
	 * one snapshot share them: the guest runtime reseeds both per call
	 * from the call's entropy (vmlet_vm_set_call()).
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	b->realtime_ns = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	return vmlet_entropy_get(b->random);
}

/* The stack musl's _start expects: argc, argv, envp, auxv. Returns rsp. */
static uint64_t stack_write(uint8_t *mem, const struct vmlet_layout *l, const struct vmlet_elf *elf)
{
	static const char arg0[] = "vmlet";
	uint64_t top = l->stack_hi, name, rnd, *sp, rsp;
	uint64_t words[] = {
		1,	   0,
		0, /* argc, argv[0], argv[1] */
		0, /* envp[0] */
		AT_PHDR,   elf->phdr_addr,
		AT_PHENT,  56,
		AT_PHNUM,  elf->phdr_addr ? elf->phnum : 0,
		AT_PAGESZ, VMLET_PAGE_SIZE,
		AT_ENTRY,  elf->entry,
		AT_SECURE, 0,
		AT_RANDOM, 0,
		AT_NULL,   0,
	};

	name = top - 16;
	memcpy(mem + name, arg0, sizeof(arg0));
	rnd = name - 16;
	memcpy(mem + rnd, ((struct vmlet_boot *)(mem + VMLET_BOOT_ADDR))->random, 16);
	words[1] = name;
	words[17] = rnd;
	rsp = (rnd - sizeof(words)) & ~15ULL;
	sp = (uint64_t *)(mem + rsp);
	memcpy(sp, words, sizeof(words));
	return rsp;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, int code)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = code ? 11 : 3,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

static int sregs_set(struct vmlet_vm *vm, uint64_t cr3, int xsave)
{
	struct kvm_sregs sregs;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	seg_flat(&sregs.cs, VMLET_SEL_CODE, 1);
	seg_flat(&sregs.ds, VMLET_SEL_DATA, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = VMLET_TSS_ADDR,
		.limit = sizeof(struct tss64) - 1,
		.selector = VMLET_SEL_TSS,
		.type = 11,
		.present = 1,
	};
	sregs.ldt = (struct kvm_segment){.type = 2, .unusable = 1};
	sregs.gdt.base = VMLET_GDT_ADDR;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = VMLET_IDT_ADDR;
	sregs.idt.limit = NVECTORS * sizeof(struct idt_gate) - 1;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = cr3;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (xsave ? CR4_OSXSAVE : 0);
	sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	return 0;
}

static int msrs_set(struct vmlet_vm *vm, uint64_t lstar)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} m = {
		.hdr.nmsrs = 3,
		.e =
			{
				{.index = MSR_STAR, .data = (uint64_t)VMLET_SEL_CODE << 32},
				{.index = MSR_LSTAR, .data = lstar},
				{.index = MSR_SFMASK, .data = RFLAGS_IF | RFLAGS_DF | RFLAGS_AC},
			},
	};
	int n = ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m);

	if (n < 0)
		return -errno;
	return n == 3 ? 0 : -EIO;
}

int vmlet_x86_boot(struct vmlet_vm *vm, const struct vmlet_layout *l, const struct vmlet_elf *elf,
		   uint64_t cr3)
{
	const struct vmlet_kvm *kvm;
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	struct kvm_regs *regs = &vm->run->s.regs.regs;
	uint8_t *mem = vm->mem->host;
	int err;

	err = vmlet_kvm_get(&kvm);
	if (err)
		return err;
	gdt_write(mem);
	tss_write(mem);
	stubs_write(mem);
	err = boot_write(vm, mem, l);
	if (err)
		return err;

	err = vmlet_x86_cpuid(vm);
	if (err)
		return err;
	err = sregs_set(vm, cr3, kvm->xcrs);
	if (err)
		return err;
	if (kvm->xcrs) {
		struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = kvm->xcr0}}};

		if (ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
			return -errno;
	}
	if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	err = msrs_set(vm, elf->note.syscall_entry);
	if (err)
		return err;
	memset(regs, 0, sizeof(*regs));
	regs->rip = elf->entry;
	regs->rsp = stack_write(mem, l, elf);
	regs->rflags = RFLAGS_FIXED;
	vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

int vmlet_x86_fault_address(struct vmlet_vm *vm, uint64_t *cr2)
{
	struct kvm_sregs sregs;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	*cr2 = sregs.cr2;
	return 0;
}

int vmlet_x86_cpuid(struct vmlet_vm *vm)
{
	const struct kvm_cpuid2 *cpuid;
	const struct vmlet_kvm *kvm;
	int err = vmlet_kvm_get(&kvm);

	if (err)
		return err;
	/* Steal time only where a guest's write of its MSR comes to vm.c (lib/tlb.c). */
	cpuid = vm->msr_filter && kvm->cpuid_pv ? kvm->cpuid_pv : kvm->cpuid;
	if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		return -errno;
	/* KVM's PV MSRs and hypercalls only as CPUID says: none but steal time (lib/kvm.c). */
	if (kvm->enforce_pv) {
		struct kvm_enable_cap cap = {.cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args = {1}};

		if (ioctl(vm->vcpu_fd, KVM_ENABLE_CAP, &cap) < 0)
			return -errno;
	}
	return vmlet_tlb_init(vm);
}

/* The snapshot's MSR entry for index, or NULL. */
static const struct kvm_msr_entry *state_msr(const struct vmlet_x86_state *st, uint32_t index)
{
	const struct kvm_msrs *msrs = (const struct kvm_msrs *)st->msrs;

	for (uint32_t i = 0; i < msrs->nmsrs; i++)
		if (msrs->entries[i].index == index)
			return &msrs->entries[i];
	return NULL;
}

bool vmlet_x86_msr_unfiltered(uint32_t index)
{
	const struct vmlet_x86_msr_range *r = vmlet_x86_state_msrs();

	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++)
		if (index - r[i].first < r[i].n)
			return r[i].unfiltered;
	return true;
}

int vmlet_x86_msr_filter(struct vmlet_vm *vm, const struct vmlet_x86_state *st)
{
	static const uint8_t deny[2] = {0}; /* 16 MSRs at most per range, all denied */
	struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_USER_SPACE_MSR,
				     .args = {KVM_MSR_EXIT_REASON_FILTER}};
	struct kvm_msr_filter filter = {.flags = KVM_MSR_FILTER_DEFAULT_ALLOW};
	const struct kvm_msr_entry *debugctl = state_msr(st, MSR_DEBUGCTL);
	const struct vmlet_kvm *kvm;
	unsigned int n = 0;
	int err = vmlet_kvm_get(&kvm);

	if (err)
		return err;
	if (!kvm->msr_filter || (debugctl && debugctl->data))
		return 0;
	_Static_assert(VMLET_X86_NRANGES <= KVM_MSR_FILTER_MAX_RANGES,
		       "one filter range per run of state MSRs");
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		if (r->unfiltered)
			continue;
		filter.ranges[n++] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_WRITE,
			.nmsrs = r->n,
			.base = r->first,
			.bitmap = (uint8_t *)deny,
		};
	}
	/* And steal time's, which vm.c refuses: its record is restore's (lib/tlb.c). */
	_Static_assert(VMLET_X86_NRANGES < KVM_MSR_FILTER_MAX_RANGES, "room for steal time's");
	filter.ranges[n++] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_WRITE,
		.nmsrs = 1,
		.base = MSR_KVM_STEAL_TIME,
		.bitmap = (uint8_t *)deny,
	};
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ||
	    ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0)
		return -errno;
	vm->msr_filter = true;
	return 0;
}

bool vmlet_x86_msr_supported(const struct vmlet_kvm *kvm, uint32_t index)
{
	const struct vmlet_x86_msr_range *r = vmlet_x86_state_msrs();

	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++)
		if (index - r[i].first < r[i].n)
			return r[i].always || r[i].emulated || vmlet_kvm_msr_listed(kvm, index);
	return false;
}
