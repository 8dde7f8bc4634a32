// SPDX-License-Identifier: BSD-2-Clause
/*
 * The snapshot file format: build a file's metadata, and validate a whole
 * file before anything in it is used (man/man5/vmlet-snapshot.5). This is
 * the container: header, sections, layout, function table and memory
 * runs; the CPU section, the vCPU state, is lib/snapcpu.c's.
 *
 * A file is untrusted input. The parser checks, in this order, so that
 * the message names the first thing wrong: magic, format version, the
 * header's checksum, guest ABI, CPU vendor, XCR0 and CPUID features
 * against this host, the header's fields, each section's place (in order,
 * inside the file, no overlap, aligned) and size, each section's
 * checksum, then the contents: layout (recomputed from its config and
 * image span, and compared), function table (the guest table decoder of
 * lib/frame.c, which is fuzzed too), memory runs (inside memory, in
 * order, packed in the pages section) and last the vCPU state
 * (vmlet_snapfmt_check_cpu()), so that a bad file, or one this host
 * cannot run, fails here with a message rather than in KVM with an errno
 * when a sandbox is made of it.
 *
 * CRC32C rather than a cryptographic hash: the checksums catch truncation
 * and corruption, not an attacker, who can recompute them; the
 * validation is what stands between a hostile file and the host, and it
 * does not depend on them (the fuzzer fixes the checksums up to reach it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "snapfmt.h"

#define PAGE_MASK (VMLET_PAGE_SIZE - 1)
#define BAD(...)  vmlet_snapfmt_fail(err, errlen, -EBADMSG, __VA_ARGS__)

_Static_assert(sizeof(struct vmlet_snapfmt_header) == 208, "the header's size is the format's");
_Static_assert(sizeof(struct vmlet_x86_state) == 5848, "the CPU section's size is the format's");
_Static_assert(sizeof(struct vmlet_snapfmt_layout) == 152, "the layout's size is the format's");

static const char *const sect_names[VMLET_SNAPFMT_NSECT] = {"cpu", "layout", "funcs", "runs",
							    "pages"};

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
		.xcr0 = vmlet_snapfmt_xcr0(cpu),
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

static int check_header(const uint8_t *buf, size_t len, const struct vmlet_snapfmt_host *host,
			struct vmlet_snapfmt_header *h, char *err, size_t errlen)
{
	const char *word;
	unsigned int bit;
	uint32_t crc;

	if (len < sizeof(h->magic) || memcmp(buf, VMLET_SNAPSHOT_MAGIC, sizeof(h->magic)))
		return vmlet_snapfmt_fail(err, errlen, -EINVAL,
					  "not a vmlet snapshot file (bad magic)");
	if (len < sizeof(*h))
		return BAD("truncated: %zu bytes, the header takes %zu", len, sizeof(*h));
	memcpy(h, buf, sizeof(*h));
	if (h->version != VMLET_SNAPFMT_VERSION)
		return vmlet_snapfmt_fail(err, errlen, -EPROTONOSUPPORT,
					  "format version %u, this library reads version %u",
					  h->version, VMLET_SNAPFMT_VERSION);
	crc = vmlet_crc32c(0, h, offsetof(struct vmlet_snapfmt_header, crc));
	if (crc != h->crc)
		return BAD("header checksum mismatch (stored %#x, computed %#x)", h->crc, crc);
	if (h->abi_version != VMLET_ABI_VERSION)
		return vmlet_snapfmt_fail(err, errlen, -VMLET_EABI,
					  "guest ABI version %u, this library runs version %u",
					  h->abi_version, VMLET_ABI_VERSION);
	if (memcmp(h->vendor, host->vendor, sizeof(h->vendor)))
		return vmlet_snapfmt_fail(err, errlen, -EOPNOTSUPP,
					  "saved on a %.12s CPU, this host's is %.12s", h->vendor,
					  host->vendor);
	if (h->xcr0 & ~host->xcr0)
		return vmlet_snapfmt_fail(
			err, errlen, -EOPNOTSUPP,
			"XCR0 %#llx needs state components this host lacks (XCR0 %#llx)",
			(unsigned long long)h->xcr0, (unsigned long long)host->xcr0);
	if (vmlet_snapfmt_missing(h->cpuid, host->cpuid, &word, &bit))
		return vmlet_snapfmt_fail(err, errlen, -EOPNOTSUPP,
					  "this CPU lacks CPUID %s bit %u", word, bit);
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

int vmlet_snapfmt_check_runs(const struct vmlet_snapfmt_run *runs, uint64_t n,
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

int vmlet_snapfmt_parse(const void *buf, size_t len, const struct vmlet_snapfmt_host *host,
			struct vmlet_snapfmt *out, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	struct vmlet_snapfmt_claims claims;
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
		return vmlet_snapfmt_fail(err, errlen, ret, "out of memory");
	if (ret)
		return BAD("function table is malformed");
	free(funcs);
	ret = vmlet_snapfmt_check_runs(f.runs, f.nruns, &f.hdr, err, errlen);
	claims = (struct vmlet_snapfmt_claims){
		.xcr0 = f.hdr.xcr0,
		.cpuid = f.hdr.cpuid,
		.mem_size = f.hdr.mem_size,
		.image_lo = f.layout.image_lo,
		.image_hi = f.layout.image_hi,
	};
	if (!ret)
		ret = vmlet_snapfmt_check_cpu(&f.cpu, &claims, host, err, errlen);
	if (ret)
		return ret;
	if (errlen)
		err[0] = '\0';
	*out = f;
	return 0;
}
