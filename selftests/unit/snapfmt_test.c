// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/snapfmt.c: the snapshot file format without KVM.
 *
 * A synthetic but valid file (the state a vmlet guest has at its ready
 * point, a 4 MiB layout, two functions, eight pages in four runs) parses;
 * then a corpus of broken files, each with the exact code and message the
 * parser must give: header (magic, version, checksum, ABI, vendor,
 * features), sections (types, overflow, overlap, alignment, truncation at
 * every section, sizes, checksums), layout, function table, runs and the
 * vCPU state. Those broken inside a section have their checksums fixed
 * up, so that the check under test is the one that speaks.
 *
 * `snapfmt_test --write-seed FILE` writes the valid file: the seed of
 * selftests/fuzz/corpus/snapfile.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "snapfmt.h"
#include "unit.h"

#define PAGE	 4096
#define MEM	 (4ULL << 20)
#define IMG_LO	 0x100000ULL
#define IMG_HI	 0x110000ULL
#define S_CPU	 0
#define S_LAYOUT 1
#define S_FUNCS	 2
#define S_RUNS	 3
#define S_PAGES	 4

/* Outside a test (--write-seed) libcheck cannot report: abort instead. */
static bool seed_mode;
#define need(cond)                                                                                 \
	do {                                                                                       \
		if (seed_mode && !(cond))                                                          \
			abort();                                                                   \
		else if (!seed_mode)                                                               \
			ck_assert(cond);                                                           \
	} while (0)

/* Everything a file is built from; cases change it before building. */
struct src {
	struct vmlet_snapfmt_host host; /* the host the file is saved on */
	struct vmlet_snapfmt_host load; /* the host it is loaded on */
	struct vmlet_x86_state cpu;
	struct vmlet_snapfmt_layout layout;
	struct vmlet_func funcs[2];
	unsigned int nfuncs;
	uint8_t *mem;
};

static void flat(struct kvm_segment *s, uint16_t sel, int code)
{
	*s = (struct kvm_segment){.limit = 0xffffffff,
				  .selector = sel,
				  .type = code ? 11 : 3,
				  .present = 1,
				  .db = !code,
				  .s = 1,
				  .l = !!code,
				  .g = 1};
}

static struct kvm_msrs *msrs_of(struct vmlet_x86_state *cpu)
{
	return (struct kvm_msrs *)(void *)cpu->msrs;
}

static void msr(struct vmlet_x86_state *cpu, uint32_t index, uint64_t data)
{
	struct kvm_msrs *m = msrs_of(cpu);

	m->entries[m->nmsrs++] = (struct kvm_msr_entry){.index = index, .data = data};
}

/* A host whose KVM takes every state MSR (lib/x86.h) but skip (0: none). */
static void host_msrs(struct vmlet_snapfmt_host *h, uint32_t skip)
{
	h->nmsrs = 0;
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		for (uint32_t m = r->first; m < r->first + r->n; m++)
			if (m != skip)
				h->msrs[h->nmsrs++] = m;
	}
}

static void src_init(struct src *s)
{
	static const unsigned int pages[] = {1, 2, 16, 256, 257, 258, 259, 1023};
	struct vmlet_config in = {.sz = sizeof(in)}, c;

	memset(s, 0, sizeof(*s));
	memcpy(s->host.vendor, "AuthenticAMD", 12);
	s->host.xcr0 = 7;
	memset(s->host.cpuid, 0xff, sizeof(s->host.cpuid));
	s->host.xfeatures = 0x207;
	s->host.xcrs = true;
	s->host.phys_bits = 48;
	host_msrs(&s->host, 0);
	s->load = s->host;

	need(vmlet_config_normalize(&in, &c) == 0);
	need(vmlet_layout_compute(&c, IMG_LO, IMG_HI, &s->layout.layout) == 0);
	s->layout.mem_size = c.mem_size;
	s->layout.stack_size = c.stack_size;
	s->layout.in_size = c.in_size;
	s->layout.out_size = c.out_size;
	s->layout.image_lo = IMG_LO;
	s->layout.image_hi = IMG_HI;

	s->cpu.regs.rip = IMG_LO + 0x123;
	s->cpu.regs.rsp = s->layout.layout.stack_hi - 0x100;
	s->cpu.regs.rflags = 2;
	flat(&s->cpu.sregs.cs, 8, 1);
	flat(&s->cpu.sregs.ds, 16, 0);
	s->cpu.sregs.es = s->cpu.sregs.fs = s->cpu.sregs.gs = s->cpu.sregs.ss = s->cpu.sregs.ds;
	s->cpu.sregs.tr = (struct kvm_segment){
		.base = 0x2100, .limit = 0x67, .selector = 0x18, .type = 11, .present = 1};
	s->cpu.sregs.ldt = (struct kvm_segment){.type = 2, .unusable = 1};
	s->cpu.sregs.gdt = (struct kvm_dtable){.base = 0x2000, .limit = 39};
	s->cpu.sregs.idt = (struct kvm_dtable){.base = 0x2800, .limit = 511};
	s->cpu.sregs.cr0 = 0x80050033;
	s->cpu.sregs.cr3 = 0x10000;
	s->cpu.sregs.cr4 = 0x40620;
	s->cpu.sregs.efer = 0xd01;
	s->cpu.sregs.apic_base = 0xfee00900;
	s->cpu.xcrs.nr_xcrs = 1;
	s->cpu.xcrs.xcrs[0].value = 7;
	s->cpu.xsave[0] = 0x37f;
	s->cpu.xsave[6] = 0x1f80;
	s->cpu.xsave[512 / 4] = 3; /* XSTATE_BV: x87, SSE */
	s->cpu.debugregs.dr6 = 0xffff0ff0;
	s->cpu.debugregs.dr7 = 0x400;
	msr(&s->cpu, MSR_STAR, 8ULL << 32);
	msr(&s->cpu, MSR_LSTAR, IMG_LO + 0x800);
	msr(&s->cpu, MSR_SFMASK, 0x40600);
	msr(&s->cpu, MSR_PAT, 0x0007040600070406ULL);

	s->funcs[0] = (struct vmlet_func){
		.name = "add", .ret = VMLET_I64, .nargs = 2, .args = {VMLET_I64, VMLET_I64}};
	s->funcs[1] = (struct vmlet_func){.name = "hello", .ret = VMLET_STRING};
	s->nfuncs = 2;
	s->mem = calloc(1, MEM);
	need(s->mem != NULL);
	for (unsigned int i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		memset(s->mem + pages[i] * PAGE + 100, (int)(i + 1), 50);
}

/* The whole file, *len bytes (malloc()ed). */
static uint8_t *build(const struct src *s, size_t *len)
{
	struct vmlet_snapfmt_run *runs;
	uint64_t nruns;
	uint8_t *meta, *file;
	size_t meta_len;
	struct vmlet_snapfmt_header h;

	need(vmlet_snapfmt_runs(s->mem, MEM, NULL, &runs, &nruns) == 0);
	need(vmlet_snapfmt_build(&s->host, &s->cpu, &s->layout, s->funcs, s->nfuncs, s->mem, runs,
				 nruns, &meta, &meta_len) == 0);
	memcpy(&h, meta, sizeof(h));
	file = calloc(1, h.file_size);
	need(file != NULL);
	memcpy(file, meta, meta_len);
	for (uint64_t i = 0; i < nruns; i++)
		memcpy(file + runs[i].off, s->mem + runs[i].pg * PAGE, runs[i].npages * PAGE);
	*len = h.file_size;
	free(meta);
	free(runs);
	return file;
}

static struct vmlet_snapfmt_header *hdr(uint8_t *file)
{
	return (struct vmlet_snapfmt_header *)file;
}

static uint8_t *sect(uint8_t *file, int i)
{
	return file + hdr(file)->sect[i].off;
}

/* Recompute every checksum, as someone who edits a file on purpose would. */
static void fixup(uint8_t *file, size_t len)
{
	struct vmlet_snapfmt_header *h = hdr(file);

	for (int i = 0; i < VMLET_SNAPFMT_NSECT; i++)
		if (h->sect[i].off <= len && h->sect[i].size <= len - h->sect[i].off)
			h->sect[i].crc = vmlet_crc32c(0, file + h->sect[i].off, h->sect[i].size);
	h->crc = vmlet_crc32c(0, h, offsetof(struct vmlet_snapfmt_header, crc));
}

static int parse(const uint8_t *file, size_t len, const struct vmlet_snapfmt_host *host, char *err)
{
	struct vmlet_snapfmt f;
	/* An exact copy, so that ASan sees a read past its end. */
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, file, len);
	ret = vmlet_snapfmt_parse(copy, len, host, &f, err, 256);
	free(copy);
	return ret;
}

START_TEST(crc32c_is_castagnoli)
{
	ck_assert_uint_eq(vmlet_crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(vmlet_crc32c(vmlet_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
	ck_assert_uint_eq(vmlet_crc32c(0, "", 0), 0);
}
END_TEST

START_TEST(runs_group_nonzero_pages_and_skip_unmarked_ones)
{
	struct src s;
	struct vmlet_snapfmt_run *runs;
	uint64_t n, maybe[MEM / PAGE / 64] = {0};

	src_init(&s);
	ck_assert_int_eq(vmlet_snapfmt_runs(s.mem, MEM, NULL, &runs, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(runs[0].pg, 1);
	ck_assert_uint_eq(runs[0].npages, 2);
	ck_assert_uint_eq(runs[1].pg, 16);
	ck_assert_uint_eq(runs[2].pg, 256);
	ck_assert_uint_eq(runs[2].npages, 4);
	ck_assert_uint_eq(runs[3].pg, 1023);
	free(runs);
	maybe[256 / 64] = 1ULL << (257 % 64); /* only page 257 may hold data */
	ck_assert_int_eq(vmlet_snapfmt_runs(s.mem, MEM, maybe, &runs, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(runs[0].pg, 257);
	ck_assert_uint_eq(runs[0].npages, 1);
	free(runs);
	free(s.mem);
}
END_TEST

START_TEST(valid_file_parses)
{
	struct src s;
	struct vmlet_snapfmt f;
	struct vmlet_func *funcs;
	unsigned int nfuncs;
	char err[256] = "x";
	size_t len;
	uint8_t *file;

	src_init(&s);
	file = build(&s, &len);
	ck_assert_uint_eq(len, 2 * PAGE + 8 * PAGE);
	ck_assert_int_eq(vmlet_snapfmt_parse(file, len, &s.load, &f, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(f.nruns, 4);
	ck_assert_uint_eq(f.hdr.mem_size, MEM);
	ck_assert_uint_eq(f.cpu.regs.rip, IMG_LO + 0x123);
	ck_assert_int_eq(memcmp(&f.layout, &s.layout, sizeof(s.layout)), 0);
	ck_assert_int_eq(vmlet_frame_decode_table(f.funcs, f.funcs_size, &funcs, &nfuncs), 0);
	ck_assert_uint_eq(nfuncs, 2);
	ck_assert_str_eq(funcs[0].name, "add");
	ck_assert_uint_eq(funcs[0].nargs, 2);
	ck_assert_str_eq(funcs[1].name, "hello");
	free(funcs);
	for (uint64_t i = 0; i < f.nruns; i++)
		ck_assert_int_eq(memcmp(file + f.runs[i].off, s.mem + f.runs[i].pg * PAGE,
					f.runs[i].npages * PAGE),
				 0);
	/* No memory at all but zeros, no functions: still a file. */
	memset(s.mem, 0, MEM);
	s.nfuncs = 0;
	free(file);
	file = build(&s, &len);
	ck_assert_uint_eq(len, 2 * PAGE);
	ck_assert_int_eq(vmlet_snapfmt_parse(file, len, &s.load, &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f.nruns, 0);
	free(file);
	free(s.mem);
}
END_TEST

/*
 * The MSRs a host's KVM takes are data (struct vmlet_snapfmt_host.msrs):
 * a file holding IA32_SPEC_CTRL and the MTRRs parses on a host that has
 * them all, and a host whose KVM lacks one gets its name, where before
 * the file loaded and KVM_SET_MSRS failed when a sandbox was made of it.
 */
START_TEST(optional_msrs_need_the_hosts_kvm)
{
	struct src s;
	char err[256];
	size_t len;
	uint8_t *file;

	src_init(&s);
	msr(&s.cpu, MSR_SPEC_CTRL, 1);
	msr(&s.cpu, MSR_TSC_AUX, 0xffffffff);
	msr(&s.cpu, MSR_MTRR_DEFTYPE, 0xc06);
	msr(&s.cpu, MSR_MTRR_FIX4K + 7, 0x0606060605050404ULL);
	msr(&s.cpu, MSR_MTRR_BASE0, (1ULL << 47) | 6);
	msr(&s.cpu, MSR_MTRR_BASE0 + 1, (0xffffULL << 32) | 0xfffff800);
	file = build(&s, &len);
	ck_assert_int_eq(parse(file, len, &s.load, err), 0);
	ck_assert_str_eq(err, "");

	host_msrs(&s.load, MSR_SPEC_CTRL);
	ck_assert_int_eq(parse(file, len, &s.load, err), -EOPNOTSUPP);
	ck_assert_str_eq(err, "MSR 0x48 (IA32_SPEC_CTRL) in the file is not supported by this "
			      "host's KVM");
	host_msrs(&s.load, MSR_TSC_AUX);
	ck_assert_int_eq(parse(file, len, &s.load, err), -EOPNOTSUPP);
	ck_assert_str_eq(err, "MSR 0xc0000103 (IA32_TSC_AUX) in the file is not supported by "
			      "this host's KVM");
	host_msrs(&s.load, MSR_MTRR_FIX4K + 7);
	ck_assert_int_eq(parse(file, len, &s.load, err), -EOPNOTSUPP);
	ck_assert_str_eq(err, "MSR 0x26f (IA32_MTRR_FIX4K_F8000) in the file is not supported "
			      "by this host's KVM");
	/* The MTRR base at bit 47 needs 48 physical address bits. */
	host_msrs(&s.load, 0);
	s.load.phys_bits = 47;
	ck_assert_int_eq(parse(file, len, &s.load, err), -EOPNOTSUPP);
	ck_assert_str_eq(err, "MSR 0x200 (IA32_MTRR_PHYSBASE0) holds 0x800000000006, beyond this "
			      "host's 47 physical address bits");
	s.load.phys_bits = 52;
	ck_assert_int_eq(parse(file, len, &s.load, err), 0);
	free(file);
	free(s.mem);
}
END_TEST

/* One broken file: how to break it, and what the parser must say. */
struct bad {
	const char *what;
	void (*src)(struct src *s);		/* before building */
	void (*bytes)(uint8_t *f, size_t *len); /* after building */
	int fix;				/* then fix the checksums up */
	int code;
	const char *msg; /* exact, or a prefix ending in '*' */
};

#define SRC(name, body)                                                                            \
	static void name(struct src *s)                                                            \
	{                                                                                          \
		body;                                                                              \
	}
#define BYTES(name, body)                                                                          \
	static void name(uint8_t *f, size_t *len)                                                  \
	{                                                                                          \
		(void)f;                                                                           \
		(void)len;                                                                         \
		body;                                                                              \
	}

BYTES(empty, *len = 0)
BYTES(bad_magic, f[3] = 'X')
BYTES(elf_file, memcpy(f,
		       "\x7f"
		       "ELF\2\1\1\0",
		       8))
BYTES(short_header, *len = 100)
BYTES(version_2, hdr(f)->version = 2)
BYTES(header_flip, f[70] ^= 1)
BYTES(abi_2, hdr(f)->abi_version = 2)
SRC(intel_host, memcpy(s->load.vendor, "GenuineIntel", 12))
SRC(host_without_avx_state, s->load.xcr0 = 3)
SRC(host_without_syscall, s->load.cpuid[VMLET_CPUID_81_EDX] &= ~(1U << 11))
SRC(host_without_xcrs, s->load.xcrs = false)
SRC(host_without_sse_state, s->load.xfeatures = 1)
SRC(host_without_nx, s->load.cpuid[VMLET_CPUID_81_EDX] &= ~(1U << 20))
BYTES(four_sections, hdr(f)->nsections = 4)
BYTES(flags, hdr(f)->flags = 1)
BYTES(mem_3m, hdr(f)->mem_size = 3 << 20)
BYTES(types_swapped, hdr(f)->sect[1].type = 3)
BYTES(size_overflows, hdr(f)->sect[2].size = UINT64_MAX)
BYTES(overlap, hdr(f)->sect[1].off = hdr(f)->sect[0].off + 8)
BYTES(over_header, hdr(f)->sect[0].off = 0)
BYTES(pages_unaligned, hdr(f)->sect[4].off += 8)
BYTES(cut_cpu, *len = hdr(f)->sect[0].off + hdr(f)->sect[0].size - 1)
BYTES(cut_layout, *len = hdr(f)->sect[1].off + hdr(f)->sect[1].size - 1)
BYTES(cut_funcs, *len = hdr(f)->sect[2].off + hdr(f)->sect[2].size - 1)
BYTES(cut_runs, *len = hdr(f)->sect[3].off + hdr(f)->sect[3].size - 1)
BYTES(cut_pages, *len = hdr(f)->sect[4].off + hdr(f)->sect[4].size - 1)
BYTES(cpu_size, hdr(f)->sect[0].size = 5840)
BYTES(runs_size, hdr(f)->sect[3].size = 95)
BYTES(longer, *len += PAGE)
BYTES(file_size, hdr(f)->file_size++)
BYTES(flip_cpu, sect(f, S_CPU)[100] ^= 1)
BYTES(flip_layout, sect(f, S_LAYOUT)[8] ^= 1)
BYTES(flip_funcs, sect(f, S_FUNCS)[20] ^= 1)
BYTES(flip_runs, sect(f, S_RUNS)[0] ^= 1)
BYTES(flip_pages, sect(f, S_PAGES)[PAGE + 120] ^= 1)
SRC(layout_mem, s->layout.mem_size = 8 << 20)
SRC(layout_no_stack, s->layout.stack_size = 0)
SRC(layout_image_too_big, s->layout.image_hi = 0x500000)
SRC(layout_moved, s->layout.layout.in_addr += PAGE)
SRC(funcs_twice, s->funcs[1].name = "add")
BYTES(funcs_frame_short, ((struct vmlet_frame *)sect(f, S_FUNCS))->size -= 8)
BYTES(run_outside, ((struct vmlet_snapfmt_run *)sect(f, S_RUNS))[3].pg = 1024)
BYTES(run_empty, ((struct vmlet_snapfmt_run *)sect(f, S_RUNS))[0].npages = 0)
BYTES(runs_overlap, ((struct vmlet_snapfmt_run *)sect(f, S_RUNS))[1].pg = 2)
BYTES(runs_share_pages, ((struct vmlet_snapfmt_run *)sect(f, S_RUNS))[1].off =
				((struct vmlet_snapfmt_run *)sect(f, S_RUNS))[0].off)
BYTES(run_missing, hdr(f)->sect[3].size -= sizeof(struct vmlet_snapfmt_run))
SRC(rip_outside, s->cpu.regs.rip = 0x1000)
SRC(rsp_outside, s->cpu.regs.rsp = MEM + 8)
SRC(rflags_vm, s->cpu.regs.rflags = 0x20002)
SRC(cr0_no_pg, s->cpu.sregs.cr0 = 0x50033)
SRC(cr4_vmxe, s->cpu.sregs.cr4 |= 1 << 13)
SRC(efer_no_lma, s->cpu.sregs.efer = 0x901)
SRC(cr3_outside, s->cpu.sregs.cr3 = MEM)
SRC(cs_32bit, s->cpu.sregs.cs.l = 0)
SRC(tr_outside, s->cpu.sregs.tr.base = MEM - 0x10)
SRC(gdt_outside, s->cpu.sregs.gdt.base = MEM)
SRC(irq_pending, s->cpu.sregs.interrupt_bitmap[1] = 1)
SRC(exception_pending, s->cpu.events.exception.pending = 1)
SRC(xcr0_avx_no_sse, s->cpu.xcrs.xcrs[0].value = 5)
SRC(mxcsr, s->cpu.xsave[6] = 0x10000)
SRC(msr_efer, msr(&s->cpu, 0xc0000080, 0xd01))
SRC(msr_twice, msr(&s->cpu, MSR_STAR, 0))
SRC(lstar_noncanonical, msrs_of(&s->cpu)->entries[1].data = 1ULL << 47)
SRC(dr7_reserved, s->cpu.debugregs.dr7 = 1ULL << 32)
BYTES(header_hides_nx, hdr(f)->cpuid[VMLET_CPUID_81_EDX] &= ~(1U << 20))
SRC(host_without_spec_ctrl, msr(&s->cpu, MSR_SPEC_CTRL, 0); host_msrs(&s->load, MSR_SPEC_CTRL))
SRC(host_without_mtrr_bits, msr(&s->cpu, MSR_MTRR_BASE0 + 2, 1ULL << 40); s->load.phys_bits = 40)
SRC(mtrr_type_2, msr(&s->cpu, MSR_MTRR_DEFTYPE, 0x802))
SRC(mtrr_fixed_type_7, msr(&s->cpu, MSR_MTRR_FIX16K + 1, 0x0706060606060606ULL))
SRC(mtrr_base_reserved, msr(&s->cpu, MSR_MTRR_BASE0 + 4, 0x106))
SRC(mtrr_mask_reserved, msr(&s->cpu, MSR_MTRR_BASE0 + 5, 0x400))
SRC(mtrr_beyond_52_bits, msr(&s->cpu, MSR_MTRR_BASE0 + 1, 1ULL << 52))
SRC(tsc_aux_high, msr(&s->cpu, MSR_TSC_AUX, 1ULL << 32))
SRC(host_without_x2apic, s->cpu.sregs.apic_base |= 1 << 10;
    s->load.cpuid[VMLET_CPUID_1_ECX] &= ~(1U << 21))
SRC(host_without_x2apic_hdr, s->cpu.sregs.apic_base |= 1 << 10)
SRC(x2apic_disabled, s->cpu.sregs.apic_base = 0xfee00500)
BYTES(header_hides_x2apic, hdr(f)->cpuid[VMLET_CPUID_1_ECX] &= ~(1U << 21))
SRC(events_payload, s->cpu.events.flags = 0x10)

static const struct bad corpus[] = {
	{"empty file", NULL, empty, 0, -EINVAL, "not a vmlet snapshot file (bad magic)"},
	{"bad magic", NULL, bad_magic, 0, -EINVAL, "not a vmlet snapshot file (bad magic)"},
	{"an ELF file", NULL, elf_file, 0, -EINVAL, "not a vmlet snapshot file (bad magic)"},
	{"header cut short", NULL, short_header, 0, -EBADMSG,
	 "truncated: 100 bytes, the header takes 208"},
	{"format version 2", NULL, version_2, 0, -EPROTONOSUPPORT,
	 "format version 2, this library reads version 1"},
	{"header corrupted", NULL, header_flip, 0, -EBADMSG, "header checksum mismatch*"},
	{"another ABI", NULL, abi_2, 1, -VMLET_EABI,
	 "guest ABI version 2, this library runs version 1"},
	{"another vendor", intel_host, NULL, 0, -EOPNOTSUPP,
	 "saved on a AuthenticAMD CPU, this host's is GenuineIntel"},
	{"host without AVX state", host_without_avx_state, NULL, 0, -EOPNOTSUPP,
	 "XCR0 0x7 needs state components this host lacks (XCR0 0x3)"},
	{"host without SYSCALL", host_without_syscall, NULL, 0, -EOPNOTSUPP,
	 "this CPU lacks CPUID 80000001:EDX bit 11"},
	{"host without XCRs", host_without_xcrs, NULL, 0, -EOPNOTSUPP,
	 "the state keeps XCR0 and this host's KVM has no XCRs (KVM_CAP_XCRS)"},
	{"host without SSE state", host_without_sse_state, NULL, 0, -EOPNOTSUPP,
	 "XSAVE state 0x3 has components this host's KVM lacks (0x1)"},
	{"host without NX", host_without_nx, NULL, 0, -EOPNOTSUPP,
	 "this CPU lacks CPUID 80000001:EDX bit 20"},
	{"four sections", NULL, four_sections, 1, -EBADMSG, "header: 4 sections, the format has 5"},
	{"unknown flags", NULL, flags, 1, -EBADMSG, "header: unknown flags 0x1 or reserved 0"},
	{"3 MiB memory", NULL, mem_3m, 1, -EBADMSG,
	 "header: memory size 0x300000 is not a 2 MiB multiple up to 16 GiB"},
	{"section types swapped", NULL, types_swapped, 1, -EBADMSG,
	 "section 1 has type 3, expected 2 (layout)"},
	{"section size overflows", NULL, size_overflows, 1, -EBADMSG,
	 "section funcs: offset 0x1840 + size 0xffffffffffffffff overflows"},
	{"sections overlap", NULL, overlap, 1, -EBADMSG,
	 "section layout at 0xd8 overlaps cpu, which ends at 0x17a8"},
	{"section over the header", NULL, over_header, 1, -EBADMSG,
	 "section cpu at 0 overlaps the header, which ends at 0xd0"},
	{"pages not page aligned", NULL, pages_unaligned, 1, -EBADMSG,
	 "section pages at 0x2008 is not 4096-byte aligned"},
	{"truncated in cpu", NULL, cut_cpu, 0, -EBADMSG,
	 "truncated: section cpu (0xd0-0x17a8) ends past the end of the file (6055 bytes)"},
	{"truncated in layout", NULL, cut_layout, 0, -EBADMSG,
	 "truncated: section layout (0x17a8-0x1840) ends past the end of the file (6207 bytes)"},
	{"truncated in funcs", NULL, cut_funcs, 0, -EBADMSG,
	 "truncated: section funcs (0x1840-0x1880) ends past the end of the file (6271 bytes)"},
	{"truncated in runs", NULL, cut_runs, 0, -EBADMSG,
	 "truncated: section runs (0x1880-0x18e0) ends past the end of the file (6367 bytes)"},
	{"truncated in pages", NULL, cut_pages, 0, -EBADMSG,
	 "truncated: section pages (0x2000-0xa000) ends past the end of the file (40959 bytes)"},
	{"CPU section too small", NULL, cpu_size, 1, -EBADMSG,
	 "section cpu is 5840 bytes, the format's is 5848"},
	{"runs not whole", NULL, runs_size, 1, -EBADMSG,
	 "section runs is 95 bytes, not a multiple of 24"},
	{"bytes after the end", NULL, longer, 0, -EBADMSG,
	 "file is 45056 bytes, its header says 40960 and its sections end at 40960"},
	{"file size wrong", NULL, file_size, 1, -EBADMSG,
	 "file is 40960 bytes, its header says 40961 and its sections end at 40960"},
	{"cpu corrupted", NULL, flip_cpu, 0, -EBADMSG, "section cpu checksum mismatch*"},
	{"layout corrupted", NULL, flip_layout, 0, -EBADMSG, "section layout checksum mismatch*"},
	{"funcs corrupted", NULL, flip_funcs, 0, -EBADMSG, "section funcs checksum mismatch*"},
	{"runs corrupted", NULL, flip_runs, 0, -EBADMSG, "section runs checksum mismatch*"},
	{"pages corrupted", NULL, flip_pages, 0, -EBADMSG, "section pages checksum mismatch*"},
	{"layout of other memory", layout_mem, NULL, 0, -EBADMSG,
	 "layout: memory size 0x800000 (layout 0x400000), the header's is 0x400000"},
	{"layout without stack", layout_no_stack, NULL, 0, -EBADMSG,
	 "layout: stack 0, heap 0, in 0x10000, out 0x10000 is no valid config"},
	{"image too big", layout_image_too_big, NULL, 0, -EBADMSG,
	 "layout: image [0x100000, 0x500000) does not fit its config"},
	{"layout moved", layout_moved, NULL, 0, -EBADMSG,
	 "layout: the layout differs from the one its config and image give"},
	{"function twice", funcs_twice, NULL, 0, -EBADMSG, "function table is malformed"},
	{"function table short", NULL, funcs_frame_short, 1, -EBADMSG,
	 "function table: frame size 56, section size 64"},
	{"run outside memory", NULL, run_outside, 1, -EBADMSG,
	 "run 3: pages [0x400, +0x1) outside memory (0x400 pages)"},
	{"empty run", NULL, run_empty, 1, -EBADMSG,
	 "run 0: pages [0x1, +0) outside memory (0x400 pages)"},
	{"runs overlap in memory", NULL, runs_overlap, 1, -EBADMSG,
	 "run 1: page 0x2 overlaps or precedes run 0"},
	{"runs share file pages", NULL, runs_share_pages, 1, -EBADMSG,
	 "run 1: file offset 0x2000, expected 0x4000 (runs are packed in order in section pages)"},
	{"a run missing", NULL, run_missing, 1, -EBADMSG,
	 "runs cover 0x7000 bytes of section pages, which holds 0x8000"},
	{"RIP outside the image", rip_outside, NULL, 0, -EBADMSG,
	 "CPU: RIP 0x1000 outside the image [0x100000, 0x110000)"},
	{"RSP outside memory", rsp_outside, NULL, 0, -EBADMSG, "CPU: RSP 0x400008 outside memory"},
	{"RFLAGS.VM", rflags_vm, NULL, 0, -EBADMSG,
	 "CPU: RFLAGS 0x20002 has reserved bits or VM set"},
	{"CR0 without PG", cr0_no_pg, NULL, 0, -EBADMSG,
	 "CPU: CR0 0x50033 is not a long-mode value (PE and PG set, no reserved bits)"},
	{"CR4.VMXE", cr4_vmxe, NULL, 0, -EBADMSG,
	 "CPU: CR4 0x42620 is not a long-mode value (PAE set, OSXSAVE as XCR0 is saved, no "
	 "reserved or unsupported bits)"},
	{"EFER without LMA", efer_no_lma, NULL, 0, -EBADMSG,
	 "CPU: EFER 0x901 is not a long-mode value (LME and LMA set, no reserved bits)"},
	{"CR3 outside memory", cr3_outside, NULL, 0, -EBADMSG,
	 "CPU: CR3 0x400000: page tables outside memory"},
	{"32-bit CS", cs_32bit, NULL, 0, -EBADMSG,
	 "CPU: CS (selector 0x8, type 11) is not a present 64-bit ring-0 code segment"},
	{"TR outside memory", tr_outside, NULL, 0, -EBADMSG,
	 "CPU: TR (base 0x3ffff0, limit 0x67, type 11) is not a busy 64-bit TSS in memory"},
	{"GDT outside memory", gdt_outside, NULL, 0, -EBADMSG,
	 "CPU: GDT (base 0x400000, limit 0x27) lies outside memory"},
	{"interrupt pending", irq_pending, NULL, 0, -EBADMSG, "CPU: an interrupt is pending"},
	{"exception pending", exception_pending, NULL, 0, -EBADMSG,
	 "CPU: an exception, interrupt, NMI or SMI is pending or injected"},
	{"XCR0 AVX without SSE", xcr0_avx_no_sse, NULL, 0, -EBADMSG,
	 "CPU: XCR0 0x5 is invalid or not the header's 0x5"},
	{"MXCSR reserved bits", mxcsr, NULL, 0, -EBADMSG, "CPU: MXCSR 0x10000 has reserved bits"},
	{"MSR not kept", msr_efer, NULL, 0, -EBADMSG,
	 "CPU: MSR 0xc0000080 is not one a snapshot keeps"},
	{"MSR twice", msr_twice, NULL, 0, -EBADMSG, "CPU: MSR 0xc0000081 appears twice"},
	{"LSTAR not canonical", lstar_noncanonical, NULL, 0, -EBADMSG,
	 "CPU: MSR 0xc0000082 holds an invalid value 0x800000000000"},
	{"DR7 reserved bits", dr7_reserved, NULL, 0, -EBADMSG,
	 "CPU: DR6 0xffff0ff0 or DR7 0x100000000 has reserved bits set"},
	{"header hides NX", NULL, header_hides_nx, 1, -EBADMSG,
	 "CPU: the state needs CPUID 80000001:EDX bit 20, which the header does not name"},
	{"host without SPEC_CTRL", host_without_spec_ctrl, NULL, 0, -EOPNOTSUPP,
	 "MSR 0x48 (IA32_SPEC_CTRL) in the file is not supported by this host's KVM"},
	{"MTRR address beyond the host's", host_without_mtrr_bits, NULL, 0, -EOPNOTSUPP,
	 "MSR 0x202 (IA32_MTRR_PHYSBASE1) holds 0x10000000000, beyond this host's 40 physical "
	 "address bits"},
	{"MTRR type 2", mtrr_type_2, NULL, 0, -EBADMSG,
	 "CPU: MSR 0x2ff holds an invalid value 0x802"},
	{"fixed MTRR type 7", mtrr_fixed_type_7, NULL, 0, -EBADMSG,
	 "CPU: MSR 0x259 holds an invalid value 0x706060606060606"},
	{"MTRR base reserved bits", mtrr_base_reserved, NULL, 0, -EBADMSG,
	 "CPU: MSR 0x204 holds an invalid value 0x106"},
	{"MTRR mask reserved bits", mtrr_mask_reserved, NULL, 0, -EBADMSG,
	 "CPU: MSR 0x205 holds an invalid value 0x400"},
	{"MTRR past bit 51", mtrr_beyond_52_bits, NULL, 0, -EBADMSG,
	 "CPU: MSR 0x201 holds an invalid value 0x10000000000000"},
	{"TSC_AUX bits 63-32", tsc_aux_high, NULL, 0, -EBADMSG,
	 "CPU: MSR 0xc0000103 holds an invalid value 0x100000000"},
	{"host without x2APIC", host_without_x2apic, NULL, 0, -EOPNOTSUPP,
	 "this CPU lacks CPUID 1:ECX bit 21"},
	{"x2APIC mode, APIC disabled", x2apic_disabled, NULL, 0, -EBADMSG,
	 "CPU: APIC base 0xfee00500: x2APIC mode with the APIC disabled"},
	{"header hides x2APIC", host_without_x2apic_hdr, header_hides_x2apic, 1, -EBADMSG,
	 "CPU: the state needs CPUID 1:ECX bit 21, which the header does not name"},
	{"exception payload events", events_payload, NULL, 0, -EBADMSG,
	 "CPU: events: flags 0x10, shadow 0, or reserved fields not zero"},
};

START_TEST(broken_file_gets_its_exact_error)
{
	const struct bad *b = &corpus[_i];
	struct src s;
	char err[256] = "";
	size_t len, mlen = strlen(b->msg);
	uint8_t *file;
	int ret;

	src_init(&s);
	if (b->src)
		b->src(&s);
	file = build(&s, &len);
	if (b->bytes) {
		file = realloc(file, len + PAGE); /* room for "longer" */
		memset(file + len, 0, PAGE);
		b->bytes(file, &len);
	}
	if (b->fix)
		fixup(file, len);
	ret = parse(file, len, &s.load, err);
	if (ret != b->code ||
	    (b->msg[mlen - 1] == '*' ? strncmp(err, b->msg, mlen - 1) : strcmp(err, b->msg)))
		ck_abort_msg("%s: got %d \"%s\", want %d \"%s\"", b->what, ret, err, b->code,
			     b->msg);
	free(file);
	free(s.mem);
}
END_TEST

static int write_seed(const char *path)
{
	struct src s;
	size_t len;
	uint8_t *file;
	FILE *f;

	seed_mode = true;
	src_init(&s);
	file = build(&s, &len);
	f = fopen(path, "wb");
	if (!f || fwrite(file, 1, len, f) != len || fclose(f))
		return EXIT_FAILURE;
	free(file);
	free(s.mem);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("snapfmt");
	TCase *tc = tcase_create("snapfmt");

	if (argc == 3 && !strcmp(argv[1], "--write-seed"))
		return write_seed(argv[2]);
	tcase_add_test(tc, crc32c_is_castagnoli);
	tcase_add_test(tc, runs_group_nonzero_pages_and_skip_unmarked_ones);
	tcase_add_test(tc, valid_file_parses);
	tcase_add_test(tc, optional_msrs_need_the_hosts_kvm);
	tcase_add_loop_test(tc, broken_file_gets_its_exact_error, 0,
			    sizeof(corpus) / sizeof(corpus[0]));
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
