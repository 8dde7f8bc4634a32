/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ELF64 loader for static x86-64 guest images.
 *
 * The file is untrusted: every header, segment and size is validated
 * against the file and against the guest address range before anything is
 * copied. A bad image is -ENOEXEC with a reason; an image built for another
 * ABI version is -VMLET_EABI.
 */
#ifndef VMLET_ELF_H
#define VMLET_ELF_H

#include <stddef.h>
#include <stdint.h>
#include <vmlet.h>

#define VMLET_ELF_MAX_SEGS 16

struct vmlet_elf_seg {
	uint64_t vaddr;
	uint64_t memsz;
	uint64_t offset;
	uint64_t filesz;
	uint32_t flags; /* PF_R | PF_W | PF_X */
};

struct vmlet_elf {
	uint64_t entry;
	uint64_t lo, hi;    /* page-aligned span of the PT_LOAD segments */
	uint64_t phdr_addr; /* guest address of the program headers, or 0 */
	unsigned int phnum;
	unsigned int nsegs;
	struct vmlet_elf_seg segs[VMLET_ELF_MAX_SEGS]; /* sorted by vaddr */
	struct vmlet_note note;
};

/*
 * Validate an image of len bytes whose segments must lie in [base, limit)
 * (page-aligned bounds; every page a segment touches must be inside).
 * Rules: ELFCLASS64, little-endian, EV_CURRENT, ET_EXEC, EM_X86_64,
 * e_ehsize and e_phentsize of ELF64, 1..128 program headers inside the
 * file; no PT_INTERP or PT_DYNAMIC (static only); 1..VMLET_ELF_MAX_SEGS
 * non-empty PT_LOAD segments (empty ones are skipped) with filesz <= memsz,
 * file range inside the file, address range inside [base, limit) without
 * overflow, not writable and executable at once, and no two segments
 * sharing a page; PT_NOTE segments inside the file and well formed
 * (Elf64_Nhdr, name and descriptor each padded to 4 bytes); exactly one
 * note named "vmlet" of type VMLET_NOTE_TYPE, its descriptor a struct
 * vmlet_note with reserved 0; the entry point and the note's syscall entry
 * inside executable segments. An image whose note has another abi_version
 * is -VMLET_EABI, any other failure -ENOEXEC; *why (may be NULL) gets a
 * static reason either way. *elf is written only on success; phdr_addr is
 * nonzero when a PT_LOAD's file range holds all the program headers.
 */
int vmlet_elf_parse(const void *buf, size_t len, uint64_t base, uint64_t limit,
		    struct vmlet_elf *elf, const char **why);

/*
 * Copy a parsed image's segments into guest memory (mem maps guest address
 * 0, mem_size bytes) and zero the rest of each segment; bytes between
 * segments are left alone. -EINVAL, with nothing written, when a segment
 * does not fit mem_size or its file range is not inside len.
 */
int vmlet_elf_load(const struct vmlet_elf *elf, const void *buf, size_t len, void *mem,
		   uint64_t mem_size);

#endif /* VMLET_ELF_H */
