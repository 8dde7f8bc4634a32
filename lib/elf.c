// SPDX-License-Identifier: BSD-2-Clause
/*
 * ELF64 loader for guest images.
 *
 * Everything in the file is untrusted. Headers are copied out with memcpy
 * (the buffer need not be aligned), every offset and size is checked
 * against the file, and every address range against [base, limit), with
 * overflow-safe arithmetic before anything is copied into guest memory.
 * Section headers are never read: the program headers are what a loader
 * needs and all it can trust the linker to have got right.
 *
 * Segments are checked at page granularity because the page tables give
 * each page one set of permissions: two segments in one page would have
 * to share them, so a W^X image could become writable and executable.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "elf.h"

#define PAGE_MASK (VMLET_PAGE_SIZE - 1)

/*
 * Linux reads at most a page of program headers (73 of them); static
 * images have fewer than a dozen. Also rules out PN_XNUM, the escape to a
 * count in section header 0, which we do not follow.
 */
#define MAX_PHNUM 128 /* elf.h says so too */

/* Compared with its NUL: n_namesz counts it. */
static const char note_name[] = VMLET_NOTE_NAME;

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -ENOEXEC;
}

/* Is [off, off + size) inside a file of len bytes? No sum, so no wrap. */
static int in_file(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

static uint64_t page_down(uint64_t a)
{
	return a & ~PAGE_MASK;
}

/* Round up to a page; false when that passes 2^64. */
static int page_up(uint64_t a, uint64_t *out)
{
	if (__builtin_add_overflow(a, PAGE_MASK, out))
		return 0;
	*out &= ~PAGE_MASK;
	return 1;
}

struct notes {
	unsigned int found;
	uint64_t at; /* file offset of the vmlet note's header */
	struct vmlet_note note;
};

/*
 * Walk the notes in [off, off + size) of the file (already checked to be
 * inside it) and pick up the vmlet note. Each note is an Elf64_Nhdr, the
 * name and the descriptor, both padded to 4 bytes. Returns 0 or -ENOEXEC.
 */
static int notes_scan(const uint8_t *p, uint64_t off, uint64_t size, struct notes *n,
		      const char **why)
{
	const uint64_t end = off + size;

	while (off < end) {
		uint64_t name, desc, next;
		Elf64_Nhdr nh;

		if (end - off < sizeof(nh))
			return bad(why, "malformed note");
		memcpy(&nh, p + off, sizeof(nh));
		/* 32-bit sizes padded in 64 bits: no sum below can wrap. */
		name = off + sizeof(nh);
		desc = name + (((uint64_t)nh.n_namesz + 3) & ~3ULL);
		next = desc + (((uint64_t)nh.n_descsz + 3) & ~3ULL);
		if (next > end)
			return bad(why, "malformed note");
		if (nh.n_namesz == sizeof(note_name) && nh.n_type == VMLET_NOTE_TYPE &&
		    !memcmp(p + name, note_name, sizeof(note_name))) {
			if (nh.n_descsz != sizeof(n->note))
				return bad(why, "bad vmlet note size");
			/* Two PT_NOTE headers may cover the same note: count it once. */
			if (n->found && n->at != off)
				return bad(why, "more than one vmlet note");
			memcpy(&n->note, p + desc, sizeof(n->note));
			n->at = off;
			n->found = 1;
		}
		off = next;
	}
	return 0;
}

static int in_exec_seg(const struct vmlet_elf *elf, uint64_t addr)
{
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		if ((s->flags & PF_X) && addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return 1;
	}
	return 0;
}

/* Check one PT_LOAD and insert it into elf->segs, kept sorted by vaddr. */
static int seg_add(struct vmlet_elf *elf, const Elf64_Phdr *ph, uint64_t len, uint64_t base,
		   uint64_t limit, const char **why)
{
	struct vmlet_elf_seg *s, *prev, *next;
	uint64_t end, hi, prev_hi;
	unsigned int i;

	if (ph->p_filesz > ph->p_memsz)
		return bad(why, "filesz larger than memsz");
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return bad(why, "segment outside the file");
	/* Nothing to map; ld does not emit these but they are harmless. */
	if (ph->p_memsz == 0)
		return 0;
	if (__builtin_add_overflow(ph->p_vaddr, ph->p_memsz, &end) || !page_up(end, &hi) ||
	    page_down(ph->p_vaddr) < base || hi > limit)
		return bad(why, "segment outside guest memory");
	if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
		return bad(why, "writable and executable segment");
	if (elf->nsegs == VMLET_ELF_MAX_SEGS)
		return bad(why, "too many segments");

	for (i = elf->nsegs; i > 0 && elf->segs[i - 1].vaddr > ph->p_vaddr; i--)
		;
	prev = i > 0 ? &elf->segs[i - 1] : NULL;
	next = i < elf->nsegs ? &elf->segs[i] : NULL;
	/* Bytes in common first, then pages in common: the first is worse. */
	if ((prev && prev->vaddr + prev->memsz > ph->p_vaddr) || (next && end > next->vaddr))
		return bad(why, "segments overlap");
	/* Checked when prev went in: its page end does not wrap. */
	prev_hi = prev ? page_down(prev->vaddr + prev->memsz + PAGE_MASK) : 0;
	if ((prev && prev_hi > page_down(ph->p_vaddr)) || (next && hi > page_down(next->vaddr)))
		return bad(why, "segments share a page");

	memmove(&elf->segs[i + 1], &elf->segs[i], (elf->nsegs - i) * sizeof(elf->segs[0]));
	s = &elf->segs[i];
	*s = (struct vmlet_elf_seg){
		.vaddr = ph->p_vaddr,
		.memsz = ph->p_memsz,
		.offset = ph->p_offset,
		.filesz = ph->p_filesz,
		.flags = ph->p_flags & (PF_R | PF_W | PF_X),
	};
	elf->nsegs++;
	return 0;
}

/* The guest address of the program headers when a PT_LOAD carries them. */
static uint64_t phdr_addr(const struct vmlet_elf *elf, uint64_t phoff, uint64_t phsize)
{
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		if (phoff >= s->offset && phoff - s->offset <= s->filesz &&
		    phsize <= s->filesz - (phoff - s->offset))
			return s->vaddr + (phoff - s->offset);
	}
	return 0;
}

static int ehdr_check(const uint8_t *p, uint64_t len, Elf64_Ehdr *eh, const char **why)
{
	if (len < SELFMAG || memcmp(p, ELFMAG, SELFMAG))
		return bad(why, "not an ELF file");
	if (len < sizeof(*eh))
		return bad(why, "truncated ELF header");
	memcpy(eh, p, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return bad(why, "not ELFCLASS64");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return bad(why, "not little-endian");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return bad(why, "not EV_CURRENT");
	if (eh->e_machine != EM_X86_64)
		return bad(why, "not x86-64");
	if (eh->e_type != ET_EXEC)
		return bad(why, "not ET_EXEC");
	if (eh->e_ehsize != sizeof(*eh))
		return bad(why, "bad e_ehsize");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return bad(why, "bad e_phentsize");
	if (eh->e_phnum == 0)
		return bad(why, "no program headers");
	if (eh->e_phnum > MAX_PHNUM)
		return bad(why, "too many program headers");
	/* e_phnum <= MAX_PHNUM: the product is small. */
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return bad(why, "program headers outside the file");
	return 0;
}

int vmlet_elf_parse(const void *buf, size_t len, uint64_t base, uint64_t limit,
		    struct vmlet_elf *elf, const char **why)
{
	const uint8_t *p = buf;
	struct vmlet_elf e = {0};
	struct notes notes = {0};
	uint64_t phsize;
	Elf64_Ehdr eh;
	int err;

	err = ehdr_check(p, len, &eh, why);
	if (err)
		return err;
	phsize = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, p + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		switch (ph.p_type) {
		case PT_LOAD:
			err = seg_add(&e, &ph, len, base, limit, why);
			break;
		case PT_INTERP:
		case PT_DYNAMIC:
			err = bad(why, "dynamic executable");
			break;
		case PT_NOTE:
			if (!in_file(ph.p_offset, ph.p_filesz, len))
				err = bad(why, "note outside the file");
			else
				err = notes_scan(p, ph.p_offset, ph.p_filesz, &notes, why);
			break;
		default:
			/* GNU_STACK, GNU_RELRO, TLS...: nothing for us to do. */
			break;
		}
		if (err)
			return err;
	}

	if (e.nsegs == 0)
		return bad(why, "no loadable segments");
	if (!notes.found)
		return bad(why, "no vmlet note");
	/* Before the entry checks: another ABI may mean other rules for them. */
	if (notes.note.abi_version != VMLET_ABI_VERSION) {
		if (why)
			*why = "built for another vmlet ABI version";
		return -VMLET_EABI;
	}
	if (notes.note.reserved != 0)
		return bad(why, "vmlet note reserved field not zero");
	if (!in_exec_seg(&e, eh.e_entry))
		return bad(why, "entry point outside executable segments");
	if (!in_exec_seg(&e, notes.note.syscall_entry))
		return bad(why, "syscall entry outside executable segments");

	e.entry = eh.e_entry;
	e.note = notes.note;
	e.phnum = eh.e_phnum;
	e.phdr_addr = phdr_addr(&e, eh.e_phoff, phsize);
	e.lo = page_down(e.segs[0].vaddr);
	/* seg_add checked that this page end neither wraps nor passes limit. */
	e.hi = page_down(e.segs[e.nsegs - 1].vaddr + e.segs[e.nsegs - 1].memsz + PAGE_MASK);
	*elf = e;
	return 0;
}

int vmlet_elf_load(const struct vmlet_elf *elf, const void *buf, size_t len, void *mem,
		   uint64_t mem_size)
{
	const uint8_t *src = buf;
	uint8_t *dst = mem;
	uint64_t end;

	if (elf->nsegs > VMLET_ELF_MAX_SEGS)
		return -EINVAL;
	/* All segments first, so a failure leaves guest memory untouched. */
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		if (__builtin_add_overflow(s->vaddr, s->memsz, &end) || end > mem_size ||
		    s->filesz > s->memsz || !in_file(s->offset, s->filesz, len))
			return -EINVAL;
	}
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		memcpy(dst + s->vaddr, src + s->offset, s->filesz);
		memset(dst + s->vaddr + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}
