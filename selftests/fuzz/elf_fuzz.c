// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness for the ELF loader (lib/elf.c), which reads image
 * files nobody vouches for.
 *
 * The input goes the way an image goes in the library:
 * vmlet_image_from_memory() (validation against VMLET_MAX_MEM, on the
 * library's own exact-length copy), then what vmlet_sandbox_create() does
 * before it needs KVM: lay out a guest memory just big enough for the image
 * (default buffers and stack, minimum heap; at most FUZZ_MAX_MEM, beyond
 * which the default layout must refuse it), copy the segments in and build
 * the page tables. The memory is an anonymous mapping with an inaccessible
 * page after its end, so a write past it faults.
 *
 * Beyond not crashing, an image that parses must keep every promise
 * vmlet_elf_parse() makes (sorted segments in separate pages inside
 * [VMLET_IMAGE_BASE, VMLET_MAX_MEM), entry points in executable ones),
 * agree with its own headers as read here without the parser (entry,
 * machine and type, its segments exactly its non-empty PT_LOADs), its
 * bytes must land where its segments say, and the page tables must map
 * each of its pages with its segment's permissions and no others.
 *
 *   make fuzz                     (builds and runs every harness; FUZZ_SECS)
 *   $(O)/selftests/fuzz/elf_fuzz selftests/fuzz/corpus/elf
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "elf.h"
#include "fuzz.h"
#include "layout.h"
#include "mem.h"
#include "sandbox.h"

#define PAGE_MASK (VMLET_PAGE_SIZE - 1)
/*
 * Bigger images only check that the default layout refuses them: loading
 * megabytes of bss per input would slow the fuzzer down tenfold.
 */
#define FUZZ_MAX_MEM (8 * VMLET_MIB)

#define PTE_P	 (1ULL << 0)
#define PTE_W	 (1ULL << 1)
#define PTE_PS	 (1ULL << 7)
#define PTE_NX	 (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

/*
 * vmlet_image_close() drops the image's boot snapshots (lib/bootsnap.c),
 * which only sandboxes make: the harness makes none, and links without
 * the sandbox layers and KVM.
 */
void __vmlet_bootsnap_free(struct vmlet_image *img)
{
	(void)img;
}

static int in_exec(const struct vmlet_elf *elf, uint64_t addr)
{
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		if ((s->flags & PF_X) && addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return 1;
	}
	return 0;
}

static void check_parsed(const struct vmlet_elf *elf, size_t len)
{
	uint64_t prev_end = 0;

	check(elf->nsegs >= 1 && elf->nsegs <= VMLET_ELF_MAX_SEGS);
	check(elf->lo >= VMLET_IMAGE_BASE && elf->hi <= VMLET_MAX_MEM && elf->lo < elf->hi);
	check(!(elf->lo & PAGE_MASK) && !(elf->hi & PAGE_MASK));
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		check(s->memsz > 0 && s->filesz <= s->memsz);
		check(s->offset <= len && s->filesz <= len - s->offset);
		check((s->vaddr & ~PAGE_MASK) >= (i ? prev_end : elf->lo));
		check(s->vaddr + s->memsz <= elf->hi);
		check(!((s->flags & PF_W) && (s->flags & PF_X)));
		prev_end = (s->vaddr + s->memsz + PAGE_MASK) & ~PAGE_MASK;
	}
	check(prev_end == elf->hi);
	check(in_exec(elf, elf->entry) && in_exec(elf, elf->note.syscall_entry));
	check(elf->note.abi_version == VMLET_ABI_VERSION && elf->note.reserved == 0);
	check(elf->phnum >= 1);
}

/*
 * An accepted image against its own headers, read here without the
 * parser: an x86-64 ET_EXEC ELF64 whose entry is e_entry and whose
 * segments are exactly its non-empty PT_LOADs (each once, same vaddr,
 * offset, sizes and R/W/X flags), with no PT_INTERP or PT_DYNAMIC.
 */
static void check_headers(const uint8_t *data, size_t len, const struct vmlet_elf *elf)
{
	unsigned int loads = 0, matched = 0;
	Elf64_Ehdr eh;

	check(len >= sizeof(eh));
	memcpy(&eh, data, sizeof(eh));
	check(!memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	      eh.e_ident[EI_DATA] == ELFDATA2LSB);
	check(eh.e_machine == EM_X86_64 && eh.e_type == ET_EXEC);
	check(eh.e_entry == elf->entry);
	check(eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum >= 1);
	check(eh.e_phoff <= len && (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) <= len - eh.e_phoff);
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		check(ph.p_type != PT_INTERP && ph.p_type != PT_DYNAMIC);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		loads++;
		for (unsigned int j = 0; j < elf->nsegs; j++) {
			const struct vmlet_elf_seg *s = &elf->segs[j];

			if (s->vaddr == ph.p_vaddr && s->offset == ph.p_offset &&
			    s->filesz == ph.p_filesz && s->memsz == ph.p_memsz &&
			    s->flags == (ph.p_flags & (PF_R | PF_W | PF_X)))
				matched++;
		}
	}
	check(loads == elf->nsegs && matched == loads);
}

/* The leaf entry mapping addr, or 0; every table walked must be in memory. */
static uint64_t walk(const uint8_t *mem, uint64_t size, uint64_t addr)
{
	uint64_t e = VMLET_PT_ADDR | PTE_P;

	for (int level = 3; level >= 0; level--) {
		uint64_t table = e & PTE_ADDR, idx = (addr >> (12 + 9 * level)) & 511;

		check(table >= VMLET_PT_ADDR && table < VMLET_IMAGE_BASE && table < size);
		memcpy(&e, mem + table + idx * 8, 8);
		if (!(e & PTE_P))
			return 0;
		if (level == 1 && (e & PTE_PS)) {
			check((e & PTE_ADDR) == (addr & ~(VMLET_HUGE_SIZE - 1)));
			return e;
		}
		check(!(e & PTE_PS));
	}
	check((e & PTE_ADDR) == (addr & ~PAGE_MASK));
	return e;
}

/* Page tables as they must be: the image's own permissions, holes unmapped. */
static void check_tables(const uint8_t *mem, const struct vmlet_layout *l,
			 const struct vmlet_elf *elf)
{
	uint64_t e;

	check(walk(mem, l->mem_size, 0) == 0);
	check(walk(mem, l->mem_size, l->guard_addr) == 0);
	e = walk(mem, l->mem_size, l->in_addr);
	check((e & PTE_P) && !(e & PTE_W) && (e & PTE_NX));
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];
		uint64_t end = s->vaddr + s->memsz;

		for (uint64_t a = s->vaddr & ~PAGE_MASK; a < end; a += VMLET_PAGE_SIZE) {
			e = walk(mem, l->mem_size, a);
			check(e & PTE_P);
			check(!(e & PTE_W) == !(s->flags & PF_W));
			check(!(e & PTE_NX) == !!(s->flags & PF_X));
		}
	}
}

/* Guest memory of size bytes with a page after it that faults. */
static uint8_t *mem_map(uint64_t size)
{
	uint8_t *p = mmap(NULL, size + VMLET_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	check(p != MAP_FAILED);
	check(mprotect(p + size, VMLET_PAGE_SIZE, PROT_NONE) == 0);
	return p;
}

static void run_image(const struct vmlet_image *img)
{
	static const uint8_t zero[VMLET_PAGE_SIZE];
	const struct vmlet_elf *elf = &img->elf;
	const struct vmlet_elf_seg *last = &elf->segs[elf->nsegs - 1];
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct vmlet_layout l;
	struct vmlet_mem mem = {.fd = -1};
	uint64_t need;

	check(vmlet_config_normalize(&cfg, &cfg) == 0);
	need = elf->hi + cfg.in_size + cfg.out_size + VMLET_PAGE_SIZE + cfg.stack_size +
	       VMLET_MIN_HEAP;
	cfg.mem_size = (need + VMLET_HUGE_SIZE - 1) & ~(VMLET_HUGE_SIZE - 1);
	if (cfg.mem_size > FUZZ_MAX_MEM) {
		/* Too big for the default 4 MiB: the layout says so, nothing else. */
		cfg.mem_size = 0;
		check(vmlet_config_normalize(&cfg, &cfg) == 0);
		check(vmlet_layout_compute(&cfg, elf->lo, elf->hi, &l) == -E2BIG);
		return;
	}
	check(vmlet_config_normalize(&cfg, &cfg) == 0);
	check(vmlet_layout_compute(&cfg, elf->lo, elf->hi, &l) == 0);
	check(l.in_addr == elf->hi && l.heap_hi == cfg.mem_size);

	mem.size = l.mem_size;
	mem.host = mem_map(mem.size);
	/* Memory one byte short of the last segment's end is refused. */
	check(vmlet_elf_load(elf, img->data, img->len, mem.host, last->vaddr + last->memsz - 1) ==
	      -EINVAL);
	check(vmlet_elf_load(elf, img->data, img->len, mem.host, mem.size) == 0);
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];

		check(!memcmp(mem.host + s->vaddr, img->data + s->offset, s->filesz));
		for (uint64_t b = s->filesz; b < s->memsz; b += sizeof(zero)) {
			uint64_t n = s->memsz - b < sizeof(zero) ? s->memsz - b : sizeof(zero);

			check(!memcmp(mem.host + s->vaddr + b, zero, n));
		}
	}
	check(vmlet_mem_build_page_tables(&mem, &l, elf) == VMLET_PT_ADDR);
	check_tables(mem.host, &l, elf);
	check(munmap(mem.host, mem.size + VMLET_PAGE_SIZE) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmlet_image *img = NULL;
	struct vmlet_elf elf;
	const char *why = NULL;
	int err, err2;

	err = vmlet_image_from_memory(data, size, &img);
	/* The same verdict straight from the parser, with a reason. */
	err2 = vmlet_elf_parse(data, size, VMLET_IMAGE_BASE, VMLET_MAX_MEM, &elf, &why);
	check(err == err2);
	if (err) {
		check(err == -ENOEXEC || err == -VMLET_EABI);
		check(img == NULL && why != NULL && why[0] != '\0');
		return 0;
	}
	check(img != NULL && img->len == size && img->elf.nsegs == elf.nsegs);
	check(img->elf.entry == elf.entry && img->elf.lo == elf.lo && img->elf.hi == elf.hi);
	check_parsed(&img->elf, size);
	check_headers(data, size, &img->elf);
	run_image(img);
	vmlet_image_close(img);
	return 0;
}
