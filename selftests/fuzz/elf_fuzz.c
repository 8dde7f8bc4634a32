// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness for the ELF loader (lib/elf.c), which reads image
 * files nobody vouches for.
 *
 * Guest memory is 4 MiB, as for a default sandbox. An image that parses
 * must keep every promise vmlet_elf_parse() makes to the code after it
 * (sorted segments in separate pages inside [base, limit), entry points in
 * executable ones), and must load into that memory without complaint.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Ilib/include -iquote lib \
 *	lib/elf.c selftests/fuzz/elf_fuzz.c -o elf_fuzz
 *   ./elf_fuzz selftests/fuzz/corpus/elf
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"

#define MEM_SIZE (4ULL << 20)
#define PAGE_MASK (VMLET_PAGE_SIZE - 1)

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

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
	check(elf->lo >= VMLET_IMAGE_BASE && elf->hi <= MEM_SIZE && elf->lo < elf->hi);
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
	check(elf->note.abi_version == VMLET_ABI_VERSION);
	check(elf->phnum >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	struct vmlet_elf elf;
	const char *why = NULL;
	int err;

	if (!mem) {
		mem = malloc(MEM_SIZE);
		check(mem != NULL);
	}
	err = vmlet_elf_parse(data, size, VMLET_IMAGE_BASE, MEM_SIZE, &elf, &why);
	if (err) {
		check(err == -ENOEXEC || err == -VMLET_EABI);
		check(why != NULL && why[0] != '\0');
		return 0;
	}
	check_parsed(&elf, size);
	check(vmlet_elf_load(&elf, data, size, mem, MEM_SIZE) == 0);
	for (unsigned int i = 0; i < elf.nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf.segs[i];

		check(!memcmp(mem + s->vaddr, data + s->offset, s->filesz));
		check(s->filesz == s->memsz || mem[s->vaddr + s->memsz - 1] == 0);
	}
	/* Memory one byte short of the last segment's end is refused. */
	{
		const struct vmlet_elf_seg *last = &elf.segs[elf.nsegs - 1];

		check(vmlet_elf_load(&elf, data, size, mem, last->vaddr + last->memsz - 1) ==
		      -EINVAL);
	}
	return 0;
}
