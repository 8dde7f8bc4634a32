// SPDX-License-Identifier: BSD-2-Clause
/*
 * The snapshot file format: build a file's metadata, and validate a whole
 * file before anything in it is used (man/man5/vmlet-snapshot.5).
 *
 * A file is untrusted input. The parser checks, in this order, so that
 * the message names the first thing wrong: magic, format version, the
 * header's checksum, guest ABI, CPU vendor, XCR0 and CPUID features
 * against this host, the header's fields, each section's place (in order,
 * inside the file, no overlap, aligned) and size, each section's
 * checksum, then the contents: layout (recomputed from its config and
 * image span, and compared), function table (the guest table decoder of
 * lib/frame.c, which is fuzzed too), memory runs (inside memory, in
 * order, packed in the pages section) and the vCPU state: every register
 * a later KVM_SET_* takes is checked against what a long-mode guest at
 * CPL 0 of this ABI can hold, and what of it depends on the host against
 * what this host's KVM takes (XCRs, XSAVE components, each MSR, MTRR
 * addresses against its physical address width, the CPUID features
 * behind CR4, EFER and x2APIC mode), so that a bad file, or one this
 * host cannot run, fails here with a message rather than in KVM with an
 * errno when a sandbox is made of it.
 *
 * CRC32C rather than a cryptographic hash: the checksums catch truncation
 * and corruption, not an attacker, who can recompute them; the
 * validation is what stands between a hostile file and the host, and it
 * does not depend on them (the fuzzer fixes the checksums up to reach it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "snapfmt.h"

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
#define CR0_OK                                                                                     \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | \
	 CR0_PG)
#define CR4_VME	       (1ULL << 0)
#define CR4_PVI	       (1ULL << 1)
#define CR4_TSD	       (1ULL << 2)
#define CR4_DE	       (1ULL << 3)
#define CR4_PSE	       (1ULL << 4)
#define CR4_PAE	       (1ULL << 5)
#define CR4_MCE	       (1ULL << 6)
#define CR4_PGE	       (1ULL << 7)
#define CR4_PCE	       (1ULL << 8)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_UMIP       (1ULL << 11)
#define CR4_FSGSBASE   (1ULL << 16)
#define CR4_PCIDE      (1ULL << 17)
#define CR4_OSXSAVE    (1ULL << 18)
#define CR4_SMEP       (1ULL << 20)
#define CR4_SMAP       (1ULL << 21)
#define CR4_OK                                                                                     \
	(CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE |  \
	 CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP | CR4_FSGSBASE | CR4_PCIDE | CR4_OSXSAVE |         \
	 CR4_SMEP | CR4_SMAP)
#define EFER_SCE     (1ULL << 0)
#define EFER_LME     (1ULL << 8)
#define EFER_LMA     (1ULL << 10)
#define EFER_NXE     (1ULL << 11)
#define EFER_OK	     (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)
#define RFLAGS_FIXED (1ULL << 1)
#define RFLAGS_VM    (1ULL << 17)
/* Bits 3, 5, 15 and 22-63 are reserved; VM has no place in long mode. */
#define RFLAGS_BAD (~0x3fffffULL | (1ULL << 3) | (1ULL << 5) | (1ULL << 15) | RFLAGS_VM)

#define XFEATURE_X87 (1ULL << 0)
#define XFEATURE_SSE (1ULL << 1)
#define XFEATURE_AVX (1ULL << 2)
/*
 * KVM_GET_XSAVE names PKRU in XSTATE_BV wherever the host has protection
 * keys, whatever the guest's XCR0: it is the one component beyond XCR0
 * the area may hold (and the loading host's KVM must take it).
 */
#define XFEATURE_PKRU (1ULL << 9)

#define APIC_BASE     0xfee00000ULL
#define APIC_EXTD     (1ULL << 10) /* x2APIC mode */
#define APIC_EN	      (1ULL << 11)
#define APIC_FLAGS_OK ((1ULL << 8) | APIC_EXTD | APIC_EN) /* and BSP */
#define PAGE_MASK     (VMLET_PAGE_SIZE - 1)
#define XSAVE_MXCSR   6	  /* in 32-bit words */
#define XSAVE_HDR     512 /* bytes: XSTATE_BV, XCOMP_BV, reserved */
#define XSAVE_HDR_END 576
/*
 * KVM_VCPUEVENT_VALID_*: NMI_PENDING, SIPI_VECTOR, SHADOW, SMM. KVM
 * refuses PAYLOAD and TRIPLE_FAULT in a VM without the capabilities that
 * enable them, which vmlet does not (and its snapshots never hold them).
 */
#define VCPUEVENT_FLAGS_OK 0xf

_Static_assert(sizeof(struct vmlet_snapfmt_header) == 208, "the header's size is the format's");
_Static_assert(sizeof(struct vmlet_x86_state) == 5848, "the CPU section's size is the format's");
_Static_assert(sizeof(struct vmlet_snapfmt_layout) == 152, "the layout's size is the format's");

static const char *const sect_names[VMLET_SNAPFMT_NSECT] = {"cpu", "layout", "funcs", "runs",
							    "pages"};
static const char *const cpuid_names[VMLET_CPUID_NWORDS] = {"1:ECX", "1:EDX", "7:EBX", "7:ECX",
							    "80000001:EDX"};

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & -(crc & 1));
	}
	return crc;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							    size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	for (; len; p++, len--)
		crc = __builtin_ia32_crc32qi(crc, *p);
	return crc;
}

uint32_t vmlet_crc32c(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
	if (__builtin_cpu_supports("sse4.2"))
		crc = crc32c_hw(crc, buf, len);
	else
		crc = crc32c_sw(crc, buf, len);
	return ~crc;
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static inline bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v; /* bits 63-47 all equal */
}

static const struct kvm_msrs *msrs_of(const struct vmlet_x86_state *cpu)
{
	return (const struct kvm_msrs *)cpu->msrs;
}

void vmlet_snapfmt_needs(const struct vmlet_x86_state *cpu, uint32_t need[VMLET_CPUID_NWORDS])
{
	uint64_t cr4 = cpu->sregs.cr4, efer = cpu->sregs.efer;

	memset(need, 0, VMLET_CPUID_NWORDS * sizeof(*need));
	/* FPU, TSC, MSR, PAE, CX8, FXSR, SSE, SSE2: what every vmlet guest runs with. */
	need[VMLET_CPUID_1_EDX] =
		1U << 0 | 1U << 4 | 1U << 5 | 1U << 6 | 1U << 8 | 1U << 24 | 1U << 25 | 1U << 26;
	need[VMLET_CPUID_81_EDX] = 1U << 29; /* LM */
	if (cr4 & CR4_VME)
		need[VMLET_CPUID_1_EDX] |= 1U << 1;
	if (cr4 & CR4_DE)
		need[VMLET_CPUID_1_EDX] |= 1U << 2;
	if (cr4 & CR4_PSE)
		need[VMLET_CPUID_1_EDX] |= 1U << 3;
	if (cr4 & CR4_MCE)
		need[VMLET_CPUID_1_EDX] |= 1U << 7;
	if (cr4 & CR4_PGE)
		need[VMLET_CPUID_1_EDX] |= 1U << 13;
	if (cr4 & CR4_PCIDE)
		need[VMLET_CPUID_1_ECX] |= 1U << 17;
	if (cr4 & CR4_FSGSBASE)
		need[VMLET_CPUID_7_EBX] |= 1U << 0;
	if (cr4 & CR4_SMEP)
		need[VMLET_CPUID_7_EBX] |= 1U << 7;
	if (cr4 & CR4_SMAP)
		need[VMLET_CPUID_7_EBX] |= 1U << 20;
	if (cr4 & CR4_UMIP)
		need[VMLET_CPUID_7_ECX] |= 1U << 2;
	if (efer & EFER_SCE)
		need[VMLET_CPUID_81_EDX] |= 1U << 11;
	if (efer & EFER_NXE)
		need[VMLET_CPUID_81_EDX] |= 1U << 20;
	/* KVM_SET_SREGS takes x2APIC mode only where the vCPU's CPUID has it. */
	if (cpu->sregs.apic_base & APIC_EXTD)
		need[VMLET_CPUID_1_ECX] |= 1U << 21;
}

int vmlet_snapfmt_runs(const uint8_t *mem, uint64_t size, const uint64_t *maybe,
		       struct vmlet_snapfmt_run **out, uint64_t *nout)
{
	static const uint8_t zero[VMLET_PAGE_SIZE];
	struct vmlet_snapfmt_run *runs = NULL;
	uint64_t n = 0, max = 0, npages = size / VMLET_PAGE_SIZE;

	for (uint64_t pg = 0; pg < npages; pg++) {
		if (maybe && !(maybe[pg / 64] & 1ULL << (pg % 64)))
			continue;
		if (!memcmp(mem + pg * VMLET_PAGE_SIZE, zero, VMLET_PAGE_SIZE))
			continue;
		if (n && runs[n - 1].pg + runs[n - 1].npages == pg) {
			runs[n - 1].npages++;
			continue;
		}
		if (n == max) {
			struct vmlet_snapfmt_run *r;

			max = max ? 2 * max : 64;
			r = realloc(runs, max * sizeof(*r));
			if (!r) {
				free(runs);
				return -ENOMEM;
			}
			runs = r;
		}
		runs[n++] = (struct vmlet_snapfmt_run){.pg = pg, .npages = 1};
	}
	*out = runs;
	*nout = n;
	return 0;
}

/* The guest's table frame (vmlet/abi.h) for funcs, at buf (NULL: just its size). */
static uint64_t table_encode(uint8_t *buf, const struct vmlet_func *funcs, unsigned int n)
{
	uint64_t off = sizeof(struct vmlet_frame);

	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(funcs[i].name);
		struct vmlet_fdesc d = {
			.size = (uint32_t)vmlet_align8(sizeof(d) + len + 1),
			.ret = (uint8_t)funcs[i].ret,
			.nargs = (uint8_t)funcs[i].nargs,
		};

		for (unsigned int a = 0; a < funcs[i].nargs && a < VMLET_MAX_ARGS; a++)
			d.args[a] = (uint8_t)funcs[i].args[a];
		if (buf) {
			memcpy(buf + off, &d, sizeof(d));
			memcpy(buf + off + sizeof(d), funcs[i].name, len);
		}
		off += d.size;
	}
	if (buf) {
		struct vmlet_frame f = {.size = (uint32_t)off, .nargs = n};

		memcpy(buf, &f, sizeof(f));
	}
	return off;
}

int vmlet_snapfmt_build(const struct vmlet_snapfmt_host *host, const struct vmlet_x86_state *cpu,
			const struct vmlet_snapfmt_layout *layout, const struct vmlet_func *funcs,
			unsigned int nfuncs, const uint8_t *mem, struct vmlet_snapfmt_run *runs,
			uint64_t nruns, uint8_t **meta, size_t *meta_len)
{
	struct vmlet_snapfmt_header h = {
		.version = VMLET_SNAPFMT_VERSION,
		.abi_version = VMLET_ABI_VERSION,
		.nsections = VMLET_SNAPFMT_NSECT,
		.xcr0 = cpu->xcrs.nr_xcrs ? cpu->xcrs.xcrs[0].value : XFEATURE_X87 | XFEATURE_SSE,
		.mem_size = layout->layout.mem_size,
	};
	uint64_t sizes[VMLET_SNAPFMT_NSECT], off = sizeof(h), pages = 0;
	struct vmlet_snapfmt_section *s = h.sect;
	uint32_t crc = 0;
	uint8_t *buf;

	if (nfuncs > VMLET_FRAME_MAX_FUNCS)
		return -EINVAL;
	memcpy(h.magic, VMLET_SNAPSHOT_MAGIC, sizeof(h.magic));
	memcpy(h.vendor, host->vendor, sizeof(h.vendor));
	vmlet_snapfmt_needs(cpu, h.cpuid);
	for (uint64_t i = 0; i < nruns; i++)
		pages += runs[i].npages;
	sizes[0] = sizeof(*cpu);
	sizes[1] = sizeof(*layout);
	sizes[2] = table_encode(NULL, funcs, nfuncs);
	sizes[3] = nruns * sizeof(*runs);
	sizes[4] = pages * VMLET_PAGE_SIZE;
	for (unsigned int i = 0; i < VMLET_SNAPFMT_NSECT; i++) {
		off = align_up(off, i == VMLET_SNAPFMT_PAGES - 1 ? VMLET_PAGE_SIZE : 8);
		s[i] = (struct vmlet_snapfmt_section){.type = i + 1, .off = off, .size = sizes[i]};
		off += sizes[i];
	}
	h.file_size = off;
	for (uint64_t i = 0, at = s[4].off; i < nruns; i++) {
		runs[i].off = at;
		crc = vmlet_crc32c(crc, mem + runs[i].pg * VMLET_PAGE_SIZE,
				   runs[i].npages * VMLET_PAGE_SIZE);
		at += runs[i].npages * VMLET_PAGE_SIZE;
	}
	buf = calloc(1, s[4].off);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + s[0].off, cpu, sizeof(*cpu));
	memcpy(buf + s[1].off, layout, sizeof(*layout));
	table_encode(buf + s[2].off, funcs, nfuncs);
	if (nruns) /* runs may be NULL then */
		memcpy(buf + s[3].off, runs, sizes[3]);
	for (unsigned int i = 0; i < VMLET_SNAPFMT_PAGES - 1; i++)
		s[i].crc = vmlet_crc32c(0, buf + s[i].off, s[i].size);
	s[4].crc = crc;
	h.crc = vmlet_crc32c(0, &h, offsetof(struct vmlet_snapfmt_header, crc));
	memcpy(buf, &h, sizeof(h));
	*meta = buf;
	*meta_len = s[4].off;
	return 0;
}

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int code,
						      const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

#define BAD(...) fail(err, errlen, -EBADMSG, __VA_ARGS__)

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* The first bit of need missing from have, as "CPUID 1:ECX bit 28", or 0. */
static int missing_feature(const uint32_t *need, const uint32_t *have, unsigned int *word,
			   unsigned int *bit)
{
	for (unsigned int w = 0; w < VMLET_CPUID_NWORDS; w++) {
		uint32_t miss = need[w] & ~have[w];

		if (miss) {
			*word = w;
			*bit = (unsigned int)__builtin_ctz(miss);
			return 1;
		}
	}
	return 0;
}

static int check_header(const uint8_t *buf, size_t len, const struct vmlet_snapfmt_host *host,
			struct vmlet_snapfmt_header *h, char *err, size_t errlen)
{
	unsigned int w, b;
	uint32_t crc;

	if (len < sizeof(h->magic) || memcmp(buf, VMLET_SNAPSHOT_MAGIC, sizeof(h->magic)))
		return fail(err, errlen, -EINVAL, "not a vmlet snapshot file (bad magic)");
	if (len < sizeof(*h))
		return BAD("truncated: %zu bytes, the header takes %zu", len, sizeof(*h));
	memcpy(h, buf, sizeof(*h));
	if (h->version != VMLET_SNAPFMT_VERSION)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "format version %u, this library reads version %u", h->version,
			    VMLET_SNAPFMT_VERSION);
	crc = vmlet_crc32c(0, h, offsetof(struct vmlet_snapfmt_header, crc));
	if (crc != h->crc)
		return BAD("header checksum mismatch (stored %#x, computed %#x)", h->crc, crc);
	if (h->abi_version != VMLET_ABI_VERSION)
		return fail(err, errlen, -VMLET_EABI,
			    "guest ABI version %u, this library runs version %u", h->abi_version,
			    VMLET_ABI_VERSION);
	if (memcmp(h->vendor, host->vendor, sizeof(h->vendor)))
		return fail(err, errlen, -EOPNOTSUPP, "saved on a %.12s CPU, this host's is %.12s",
			    h->vendor, host->vendor);
	if (h->xcr0 & ~host->xcr0)
		return fail(err, errlen, -EOPNOTSUPP,
			    "XCR0 %#llx needs state components this host lacks (XCR0 %#llx)",
			    (unsigned long long)h->xcr0, (unsigned long long)host->xcr0);
	if (missing_feature(h->cpuid, host->cpuid, &w, &b))
		return fail(err, errlen, -EOPNOTSUPP, "this CPU lacks CPUID %s bit %u",
			    cpuid_names[w], b);
	if (h->nsections != VMLET_SNAPFMT_NSECT)
		return BAD("header: %u sections, the format has %u", h->nsections,
			   VMLET_SNAPFMT_NSECT);
	if (h->flags || h->reserved)
		return BAD("header: unknown flags %#x or reserved %#x", h->flags, h->reserved);
	if (!h->mem_size || h->mem_size % VMLET_HUGE_SIZE || h->mem_size > VMLET_MAX_MEM)
		return BAD("header: memory size %#llx is not a 2 MiB multiple up to 16 GiB",
			   (unsigned long long)h->mem_size);
	return 0;
}

static int check_sections(const uint8_t *buf, size_t len, const struct vmlet_snapfmt_header *h,
			  char *err, size_t errlen)
{
	static const uint64_t fixed[VMLET_SNAPFMT_NSECT] = {sizeof(struct vmlet_x86_state),
							    sizeof(struct vmlet_snapfmt_layout)};
	uint64_t prev_end = sizeof(*h);

	for (unsigned int i = 0; i < VMLET_SNAPFMT_NSECT; i++) {
		const struct vmlet_snapfmt_section *s = &h->sect[i];
		const char *name = sect_names[i];
		uint64_t end, align = i == VMLET_SNAPFMT_PAGES - 1 ? VMLET_PAGE_SIZE : 8;

		if (s->type != i + 1)
			return BAD("section %u has type %u, expected %u (%s)", i, s->type, i + 1,
				   name);
		if (__builtin_add_overflow(s->off, s->size, &end))
			return BAD("section %s: offset %#llx + size %#llx overflows", name,
				   (unsigned long long)s->off, (unsigned long long)s->size);
		if (s->off < prev_end)
			return BAD("section %s at %#llx overlaps %s, which ends at %#llx", name,
				   (unsigned long long)s->off, i ? sect_names[i - 1] : "the header",
				   (unsigned long long)prev_end);
		if (s->off % align)
			return BAD("section %s at %#llx is not %llu-byte aligned", name,
				   (unsigned long long)s->off, (unsigned long long)align);
		if (end > len)
			return BAD(
				"truncated: section %s (%#llx-%#llx) ends past the end of the file "
				"(%zu bytes)",
				name, (unsigned long long)s->off, (unsigned long long)end, len);
		if (fixed[i] && s->size != fixed[i])
			return BAD("section %s is %llu bytes, the format's is %llu", name,
				   (unsigned long long)s->size, (unsigned long long)fixed[i]);
		prev_end = end;
	}
	if (h->sect[3].size % sizeof(struct vmlet_snapfmt_run))
		return BAD("section runs is %llu bytes, not a multiple of %zu",
			   (unsigned long long)h->sect[3].size, sizeof(struct vmlet_snapfmt_run));
	if (h->sect[4].size % VMLET_PAGE_SIZE)
		return BAD("section pages is %llu bytes, not a multiple of the page size",
			   (unsigned long long)h->sect[4].size);
	if (h->file_size != prev_end || len != prev_end)
		return BAD("file is %zu bytes, its header says %llu and its sections end at %llu",
			   len, (unsigned long long)h->file_size, (unsigned long long)prev_end);
	for (unsigned int i = 0; i < VMLET_SNAPFMT_NSECT; i++) {
		const struct vmlet_snapfmt_section *s = &h->sect[i];
		uint32_t crc = vmlet_crc32c(0, buf + s->off, s->size);

		if (crc != s->crc)
			return BAD("section %s checksum mismatch (stored %#x, computed %#x)",
				   sect_names[i], s->crc, crc);
	}
	return 0;
}

static int check_layout(const struct vmlet_snapfmt_layout *f, uint64_t mem_size, char *err,
			size_t errlen)
{
	struct vmlet_config in = {
		.sz = sizeof(in),
		.mem_size = f->mem_size,
		.stack_size = f->stack_size,
		.heap_size = f->heap_size,
		.in_size = f->in_size,
		.out_size = f->out_size,
	};
	struct vmlet_config c;
	struct vmlet_layout l;

	if (f->mem_size != mem_size || f->layout.mem_size != mem_size)
		return BAD("layout: memory size %#llx (layout %#llx), the header's is %#llx",
			   (unsigned long long)f->mem_size, (unsigned long long)f->layout.mem_size,
			   (unsigned long long)mem_size);
	if (!f->stack_size || !f->in_size || !f->out_size || vmlet_config_normalize(&in, &c))
		return BAD(
			"layout: stack %#llx, heap %#llx, in %#llx, out %#llx is no valid config",
			(unsigned long long)f->stack_size, (unsigned long long)f->heap_size,
			(unsigned long long)f->in_size, (unsigned long long)f->out_size);
	if (f->image_lo < VMLET_IMAGE_BASE || f->image_hi <= f->image_lo ||
	    (f->image_lo | f->image_hi) & PAGE_MASK ||
	    vmlet_layout_compute(&c, f->image_lo, f->image_hi, &l))
		return BAD("layout: image [%#llx, %#llx) does not fit its config",
			   (unsigned long long)f->image_lo, (unsigned long long)f->image_hi);
	if (memcmp(&l, &f->layout, sizeof(l)))
		return BAD("layout: the layout differs from the one its config and image give");
	return 0;
}

static int check_runs(const struct vmlet_snapfmt_run *runs, uint64_t n,
		      const struct vmlet_snapfmt_header *h, char *err, size_t errlen)
{
	uint64_t npages = h->mem_size / VMLET_PAGE_SIZE, next_pg = 0;
	uint64_t at = h->sect[4].off, end = h->sect[4].off + h->sect[4].size;

	for (uint64_t i = 0; i < n; i++) {
		struct vmlet_snapfmt_run r;

		memcpy(&r, &runs[i], sizeof(r));
		if (!r.npages || r.pg >= npages || r.npages > npages - r.pg)
			return BAD("run %llu: pages [%#llx, +%#llx) outside memory (%#llx pages)",
				   (unsigned long long)i, (unsigned long long)r.pg,
				   (unsigned long long)r.npages, (unsigned long long)npages);
		if (r.pg < next_pg)
			return BAD("run %llu: page %#llx overlaps or precedes run %llu",
				   (unsigned long long)i, (unsigned long long)r.pg,
				   (unsigned long long)i - 1);
		if (r.off != at)
			return BAD(
				"run %llu: file offset %#llx, expected %#llx (runs are packed in "
				"order in section pages)",
				(unsigned long long)i, (unsigned long long)r.off,
				(unsigned long long)at);
		if (r.npages > (end - at) / VMLET_PAGE_SIZE)
			return BAD("run %llu: %#llx pages at %#llx run past section pages",
				   (unsigned long long)i, (unsigned long long)r.npages,
				   (unsigned long long)r.off);
		next_pg = r.pg + r.npages;
		at += r.npages * VMLET_PAGE_SIZE;
	}
	if (at != end)
		return BAD("runs cover %#llx bytes of section pages, which holds %#llx",
			   (unsigned long long)(at - h->sect[4].off),
			   (unsigned long long)h->sect[4].size);
	return 0;
}

/* Whether [base, base + limit] lies inside memory. */
static bool in_mem(uint64_t base, uint64_t limit, uint64_t mem_size)
{
	return base < mem_size && limit < mem_size - base;
}

static int check_segments(const struct kvm_sregs *s, uint64_t mem, char *err, size_t errlen)
{
	const struct kvm_segment *data[] = {&s->ds, &s->es, &s->fs, &s->gs, &s->ss};
	const char *names[] = {"DS", "ES", "FS", "GS", "SS"};
	const struct kvm_segment *cs = &s->cs, *tr = &s->tr, *ldt = &s->ldt;

	if (!cs->present || !cs->s || !(cs->type & 8) || !cs->l || cs->db || cs->dpl ||
	    cs->unusable || cs->padding)
		return BAD("CPU: CS (selector %#x, type %u) is not a present 64-bit ring-0 code "
			   "segment",
			   cs->selector, cs->type);
	for (unsigned int i = 0; i < 5; i++) {
		const struct kvm_segment *d = data[i];

		if (d->padding || (!d->unusable && d->present && (!d->s || (d->type & 8))) ||
		    !canonical(d->base))
			return BAD(
				"CPU: %s (selector %#x, type %u, base %#llx) is not a data segment",
				names[i], d->selector, d->type, (unsigned long long)d->base);
	}
	if (s->ss.dpl)
		return BAD("CPU: SS has DPL %u, the guest runs at CPL 0", s->ss.dpl);
	if (!tr->present || tr->s || tr->type != 11 || tr->unusable || tr->padding ||
	    !in_mem(tr->base, tr->limit, mem))
		return BAD("CPU: TR (base %#llx, limit %#x, type %u) is not a busy 64-bit TSS in "
			   "memory",
			   (unsigned long long)tr->base, tr->limit, tr->type);
	if (ldt->padding || (!ldt->unusable && !in_mem(ldt->base, ldt->limit, mem)))
		return BAD("CPU: LDT (base %#llx, limit %#x) lies outside memory",
			   (unsigned long long)ldt->base, ldt->limit);
	if (!in_mem(s->gdt.base, s->gdt.limit, mem) ||
	    !all_zero(s->gdt.padding, sizeof(s->gdt.padding)))
		return BAD("CPU: GDT (base %#llx, limit %#x) lies outside memory",
			   (unsigned long long)s->gdt.base, s->gdt.limit);
	if (!in_mem(s->idt.base, s->idt.limit, mem) ||
	    !all_zero(s->idt.padding, sizeof(s->idt.padding)))
		return BAD("CPU: IDT (base %#llx, limit %#x) lies outside memory",
			   (unsigned long long)s->idt.base, s->idt.limit);
	return 0;
}

static int check_sregs(const struct kvm_sregs *s, bool xcrs, uint64_t mem, char *err, size_t errlen)
{
	int ret = check_segments(s, mem, err, errlen);

	if (ret)
		return ret;
	if ((s->cr0 & ~CR0_OK) || !(s->cr0 & CR0_PE) || !(s->cr0 & CR0_PG) ||
	    ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD)))
		return BAD("CPU: CR0 %#llx is not a long-mode value (PE and PG set, no reserved "
			   "bits)",
			   (unsigned long long)s->cr0);
	if ((s->cr4 & ~CR4_OK) || !(s->cr4 & CR4_PAE) || !(s->cr4 & CR4_OSXSAVE) != !xcrs)
		return BAD("CPU: CR4 %#llx is not a long-mode value (PAE set, OSXSAVE as XCR0 is "
			   "saved, no reserved or unsupported bits)",
			   (unsigned long long)s->cr4);
	if ((s->efer & ~EFER_OK) || !(s->efer & EFER_LME) || !(s->efer & EFER_LMA))
		return BAD("CPU: EFER %#llx is not a long-mode value (LME and LMA set, no reserved "
			   "bits)",
			   (unsigned long long)s->efer);
	if ((s->cr3 >> 52) || (s->cr3 & ~PAGE_MASK) >= mem)
		return BAD("CPU: CR3 %#llx: page tables outside memory",
			   (unsigned long long)s->cr3);
	if (s->cr8 > 15)
		return BAD("CPU: CR8 %#llx is not a task priority", (unsigned long long)s->cr8);
	if ((s->apic_base & ~(VMLET_PAGE_SIZE - 1)) != APIC_BASE ||
	    (s->apic_base & PAGE_MASK & ~APIC_FLAGS_OK))
		return BAD("CPU: APIC base %#llx is not the default one",
			   (unsigned long long)s->apic_base);
	if ((s->apic_base & (APIC_EXTD | APIC_EN)) == APIC_EXTD)
		return BAD("CPU: APIC base %#llx: x2APIC mode with the APIC disabled",
			   (unsigned long long)s->apic_base);
	if (!all_zero(s->interrupt_bitmap, sizeof(s->interrupt_bitmap)))
		return BAD("CPU: an interrupt is pending");
	return 0;
}

static int check_events(const struct kvm_vcpu_events *e, char *err, size_t errlen)
{
	if (e->exception.injected || e->exception.pending || e->exception_has_payload ||
	    e->interrupt.injected || e->nmi.injected || e->nmi.pending || e->smi.smm ||
	    e->smi.pending || e->smi.latched_init || e->triple_fault.pending)
		return BAD("CPU: an exception, interrupt, NMI or SMI is pending or injected");
	if ((e->flags & ~VCPUEVENT_FLAGS_OK) || e->interrupt.shadow > 3 || e->nmi.masked > 1 ||
	    e->nmi.pad || !all_zero(e->reserved, sizeof(e->reserved)))
		return BAD("CPU: events: flags %#x, shadow %u, or reserved fields not zero",
			   e->flags, e->interrupt.shadow);
	return 0;
}

static int check_fpu(const struct vmlet_x86_state *cpu, uint64_t xcr0, char *err, size_t errlen)
{
	const uint8_t *x = (const uint8_t *)cpu->xsave;
	uint64_t bv, comp;

	if (cpu->xsave[XSAVE_MXCSR] >> 16)
		return BAD("CPU: MXCSR %#x has reserved bits", cpu->xsave[XSAVE_MXCSR]);
	memcpy(&bv, x + XSAVE_HDR, 8);
	memcpy(&comp, x + XSAVE_HDR + 8, 8);
	if (bv & ~(xcr0 | XFEATURE_PKRU) || comp ||
	    !all_zero(x + XSAVE_HDR + 16, XSAVE_HDR_END - XSAVE_HDR - 16))
		return BAD("CPU: XSAVE header (XSTATE_BV %#llx, XCOMP_BV %#llx) does not fit XCR0 "
			   "%#llx",
			   (unsigned long long)bv, (unsigned long long)comp,
			   (unsigned long long)xcr0);
	return 0;
}

static bool msr_known(uint32_t index)
{
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		if (index >= r->first && index - r->first < r->n)
			return true;
	}
	return false;
}

/* MTRR memory types KVM takes: UC, WC, WT, WP, WB. */
static bool mtrr_type_ok(uint64_t t)
{
	return t < 8 && ((1U << t) & 0x73);
}

static bool mtrr_fixed(uint32_t index)
{
	return index == MSR_MTRR_FIX64K || index - MSR_MTRR_FIX16K < 2 ||
	       index - MSR_MTRR_FIX4K < 8;
}

/* Bits 52-63 are reserved everywhere; bits from the host's MAXPHYADDR up, check_msrs(). */
#define MTRR_VAR_RESERVED(index) (~0ULL << 52 | ((index)&1 ? 0x7ffULL : 0xf00ULL))

static bool msr_value_ok(uint32_t index, uint64_t v)
{
	if (mtrr_fixed(index)) {
		for (int i = 0; i < 8; i++)
			if (!mtrr_type_ok((v >> (8 * i)) & 0xff))
				return false;
		return true;
	}
	if (index - MSR_MTRR_BASE0 < 16) /* even: PHYSBASE, odd: PHYSMASK */
		return !(v & MTRR_VAR_RESERVED(index)) && (index & 1 || mtrr_type_ok(v & 0xff));
	switch (index) {
	case MSR_MTRR_DEFTYPE:
		return !(v & ~0xcffULL) && mtrr_type_ok(v & 0xff);
	case MSR_TSC_AUX:
		return !(v >> 32); /* KVM refuses bits 63-32 on Intel; AMD has none */
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		return canonical(v);
	case MSR_PAT:
		for (int i = 0; i < 8; i++) {
			uint8_t t = (uint8_t)(v >> (8 * i));

			if (t > 7 || t == 2 || t == 3)
				return false;
		}
		return true;
	default:
		return true; /* any value KVM_SET_MSRS takes */
	}
}

/* A state MSR's name (lib/x86.h), as the SDM spells it. */
static const char *msr_name(uint32_t index, char *buf, size_t len)
{
	static const struct {
		uint32_t index;
		const char *name;
	} names[] = {
		{MSR_STAR, "STAR"},
		{MSR_LSTAR, "LSTAR"},
		{MSR_CSTAR, "CSTAR"},
		{MSR_SFMASK, "FMASK"},
		{MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE"},
		{MSR_PAT, "IA32_PAT"},
		{MSR_IA32_TSC, "IA32_TIME_STAMP_COUNTER"},
		{MSR_SYSENTER_CS, "IA32_SYSENTER_CS"},
		{MSR_SYSENTER_ESP, "IA32_SYSENTER_ESP"},
		{MSR_SYSENTER_EIP, "IA32_SYSENTER_EIP"},
		{MSR_TSC_AUX, "IA32_TSC_AUX"},
		{MSR_TSC_ADJUST, "IA32_TSC_ADJUST"},
		{MSR_SPEC_CTRL, "IA32_SPEC_CTRL"},
		{MSR_MISC_ENABLE, "IA32_MISC_ENABLE"},
		{MSR_DEBUGCTL, "IA32_DEBUGCTL"},
		{MSR_MTRR_DEFTYPE, "IA32_MTRR_DEF_TYPE"},
		{MSR_MTRR_FIX64K, "IA32_MTRR_FIX64K_00000"},
		{MSR_MTRR_FIX16K, "IA32_MTRR_FIX16K_80000"},
		{MSR_MTRR_FIX16K + 1, "IA32_MTRR_FIX16K_A0000"},
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].index == index)
			return names[i].name;
	if (index - MSR_MTRR_FIX4K < 8)
		snprintf(buf, len, "IA32_MTRR_FIX4K_%c%c000", "CCDDEEFF"[index - MSR_MTRR_FIX4K],
			 index & 1 ? '8' : '0');
	else if (index - MSR_MTRR_BASE0 < 16)
		snprintf(buf, len, "IA32_MTRR_PHYS%s%u", index & 1 ? "MASK" : "BASE",
			 (index - MSR_MTRR_BASE0) / 2);
	else
		snprintf(buf, len, "unknown");
	return buf;
}

static bool host_has_msr(const struct vmlet_snapfmt_host *host, uint32_t index)
{
	for (uint32_t i = 0; i < host->nmsrs && i < VMLET_X86_NMSRS; i++)
		if (host->msrs[i] == index)
			return true;
	return false;
}

static int check_msrs(const struct vmlet_x86_state *cpu, const struct vmlet_snapfmt_host *host,
		      char *err, size_t errlen)
{
	const struct kvm_msrs *m = msrs_of(cpu);
	uint32_t n = m->nmsrs;
	char name[32];

	if (n > VMLET_X86_NMSRS || m->pad)
		return BAD("CPU: %u MSRs, at most %u", n, VMLET_X86_NMSRS);
	for (uint32_t i = 0; i < VMLET_X86_NMSRS; i++) {
		const struct kvm_msr_entry *e = &m->entries[i];

		if (i >= n) {
			if (!all_zero(e, sizeof(*e)))
				return BAD("CPU: MSR slot %u past the %u used is not zero", i, n);
			continue;
		}
		if (!msr_known(e->index) || e->reserved)
			return BAD("CPU: MSR %#x is not one a snapshot keeps", e->index);
		for (uint32_t j = 0; j < i; j++)
			if (m->entries[j].index == e->index)
				return BAD("CPU: MSR %#x appears twice", e->index);
		if (!msr_value_ok(e->index, e->data))
			return BAD("CPU: MSR %#x holds an invalid value %#llx", e->index,
				   (unsigned long long)e->data);
		if (!host_has_msr(host, e->index))
			return fail(err, errlen, -EOPNOTSUPP,
				    "MSR %#x (%s) in the file is not supported by this host's KVM",
				    e->index, msr_name(e->index, name, sizeof(name)));
		/* KVM takes no MTRR address at or above the vCPU's MAXPHYADDR. */
		if (e->index - MSR_MTRR_BASE0 < 16 && host->phys_bits < 52 &&
		    e->data >> host->phys_bits)
			return fail(err, errlen, -EOPNOTSUPP,
				    "MSR %#x (%s) holds %#llx, beyond this host's %u physical "
				    "address bits",
				    e->index, msr_name(e->index, name, sizeof(name)),
				    (unsigned long long)e->data, host->phys_bits);
	}
	return 0;
}

static int check_cpu(const struct vmlet_x86_state *cpu, const struct vmlet_snapfmt_header *h,
		     const struct vmlet_snapfmt_layout *f, const struct vmlet_snapfmt_host *host,
		     char *err, size_t errlen)
{
	const struct kvm_regs *r = &cpu->regs;
	const struct kvm_xcrs *x = &cpu->xcrs;
	const struct kvm_debugregs *d = &cpu->debugregs;
	uint32_t need[VMLET_CPUID_NWORDS];
	unsigned int w, b;
	uint64_t xcr0, bv;
	int ret;

	if (r->rip < f->image_lo || r->rip >= f->image_hi)
		return BAD("CPU: RIP %#llx outside the image [%#llx, %#llx)",
			   (unsigned long long)r->rip, (unsigned long long)f->image_lo,
			   (unsigned long long)f->image_hi);
	if (!r->rsp || r->rsp > h->mem_size)
		return BAD("CPU: RSP %#llx outside memory", (unsigned long long)r->rsp);
	if ((r->rflags & RFLAGS_BAD) || !(r->rflags & RFLAGS_FIXED))
		return BAD("CPU: RFLAGS %#llx has reserved bits or VM set",
			   (unsigned long long)r->rflags);
	if (x->nr_xcrs > 1 || x->flags || !all_zero(x->padding, sizeof(x->padding)) ||
	    !all_zero(&x->xcrs[x->nr_xcrs], sizeof(x->xcrs) - x->nr_xcrs * sizeof(x->xcrs[0])) ||
	    (x->nr_xcrs && (x->xcrs[0].xcr || x->xcrs[0].reserved)))
		return BAD("CPU: %u XCRs or reserved fields set: only XCR0 is kept", x->nr_xcrs);
	xcr0 = x->nr_xcrs ? x->xcrs[0].value : XFEATURE_X87 | XFEATURE_SSE;
	if (xcr0 != h->xcr0 || !(xcr0 & XFEATURE_X87) ||
	    (xcr0 & ~(XFEATURE_X87 | XFEATURE_SSE | XFEATURE_AVX)) ||
	    ((xcr0 & XFEATURE_AVX) && !(xcr0 & XFEATURE_SSE)))
		return BAD("CPU: XCR0 %#llx is invalid or not the header's %#llx",
			   (unsigned long long)xcr0, (unsigned long long)h->xcr0);
	ret = check_sregs(&cpu->sregs, x->nr_xcrs, h->mem_size, err, errlen);
	if (!ret)
		ret = check_events(&cpu->events, err, errlen);
	if (!ret)
		ret = check_fpu(cpu, xcr0, err, errlen);
	if (ret)
		return ret;
	if (x->nr_xcrs && !host->xcrs)
		return fail(err, errlen, -EOPNOTSUPP,
			    "the state keeps XCR0 and this host's KVM has no XCRs (KVM_CAP_XCRS)");
	memcpy(&bv, (const uint8_t *)cpu->xsave + XSAVE_HDR, sizeof(bv));
	if (bv & ~host->xfeatures)
		return fail(err, errlen, -EOPNOTSUPP,
			    "XSAVE state %#llx has components this host's KVM lacks (%#llx)",
			    (unsigned long long)bv, (unsigned long long)host->xfeatures);
	if (d->dr6 >> 32 || d->dr7 >> 32 || d->flags || !all_zero(d->reserved, sizeof(d->reserved)))
		return BAD("CPU: DR6 %#llx or DR7 %#llx has reserved bits set",
			   (unsigned long long)d->dr6, (unsigned long long)d->dr7);
	ret = check_msrs(cpu, host, err, errlen);
	if (ret)
		return ret;
	vmlet_snapfmt_needs(cpu, need);
	if (missing_feature(need, h->cpuid, &w, &b))
		return BAD("CPU: the state needs CPUID %s bit %u, which the header does not name",
			   cpuid_names[w], b);
	return 0;
}

int vmlet_snapfmt_parse(const void *buf, size_t len, const struct vmlet_snapfmt_host *host,
			struct vmlet_snapfmt *out, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	struct vmlet_snapfmt f = {0};
	struct vmlet_func *funcs;
	struct vmlet_frame frame;
	unsigned int nfuncs;
	int ret;

	ret = check_header(p, len, host, &f.hdr, err, errlen);
	if (!ret)
		ret = check_sections(p, len, &f.hdr, err, errlen);
	if (ret)
		return ret;
	memcpy(&f.cpu, p + f.hdr.sect[0].off, sizeof(f.cpu));
	memcpy(&f.layout, p + f.hdr.sect[1].off, sizeof(f.layout));
	f.funcs = p + f.hdr.sect[2].off;
	f.funcs_size = f.hdr.sect[2].size;
	f.runs = (const struct vmlet_snapfmt_run *)(p + f.hdr.sect[3].off);
	f.nruns = f.hdr.sect[3].size / sizeof(*f.runs);

	ret = check_layout(&f.layout, f.hdr.mem_size, err, errlen);
	if (ret)
		return ret;
	if (f.funcs_size < sizeof(frame))
		return BAD("function table: %llu bytes, less than its header",
			   (unsigned long long)f.funcs_size);
	memcpy(&frame, f.funcs, sizeof(frame));
	if (frame.size != f.funcs_size)
		return BAD("function table: frame size %u, section size %llu", frame.size,
			   (unsigned long long)f.funcs_size);
	ret = vmlet_frame_decode_table(f.funcs, f.funcs_size, &funcs, &nfuncs);
	if (ret == -ENOMEM)
		return fail(err, errlen, ret, "out of memory");
	if (ret)
		return BAD("function table is malformed");
	free(funcs);
	ret = check_runs(f.runs, f.nruns, &f.hdr, err, errlen);
	if (!ret)
		ret = check_cpu(&f.cpu, &f.hdr, &f.layout, host, err, errlen);
	if (ret)
		return ret;
	if (errlen)
		err[0] = '\0';
	*out = f;
	return 0;
}
