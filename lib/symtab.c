// SPDX-License-Identifier: BSD-2-Clause
/*
 * Function symbols of a guest image, from its section headers.
 *
 * The loader (lib/elf.c) never reads section headers; this file does, only
 * to name addresses, and trusts nothing it finds there: the section header
 * table, the symbol table and its string table must lie inside the file,
 * entries must have the ELF64 sizes, and names must end inside the string
 * table. Whatever does not hold empties the table with a reason (st->why)
 * and the image loads anyway: a wrong name is worse than none, and none
 * only costs the reader the function names.
 *
 * Only defined STT_FUNC symbols are kept, sorted by address, with their
 * names copied into one allocation so the image's bytes need not stay
 * around. Lookups are a binary search; they happen on faults only.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symtab.h"

/* Bounds on what one image may make us allocate: 16 M symbols, 64 MiB of names. */
#define MAX_SYMS  (1U << 24)
#define MAX_NAMES (64U << 20)

static int in_file(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

static int empty(struct vmlet_symtab *st, const char *why)
{
	free(st->syms);
	free(st->names);
	st->syms = NULL;
	st->names = NULL;
	st->nsyms = 0;
	st->why = why;
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct vmlet_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Of aliases, the one with a size first, then by name offset: stable. */
	if ((x->size != 0) != (y->size != 0))
		return x->size ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Find the section header of the symbol table and of its strings. */
static const char *find_tables(const uint8_t *p, size_t len, Elf64_Shdr *sym, Elf64_Shdr *str)
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return "file shorter than an ELF header";
	memcpy(&eh, p, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return "not an ELF64 file";
	if (!eh.e_shoff || !eh.e_shnum)
		return "no section headers";
	if (eh.e_shentsize != sizeof(Elf64_Shdr))
		return "bad section header size";
	if (!in_file(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), len))
		return "section headers outside the file";
	for (unsigned int i = 0; i < eh.e_shnum; i++) {
		memcpy(sym, p + eh.e_shoff + (uint64_t)i * sizeof(*sym), sizeof(*sym));
		if (sym->sh_type != SHT_SYMTAB)
			continue;
		if (sym->sh_link == 0 || sym->sh_link >= eh.e_shnum)
			return "symbol table names no string table";
		memcpy(str, p + eh.e_shoff + (uint64_t)sym->sh_link * sizeof(*str), sizeof(*str));
		if (str->sh_type != SHT_STRTAB)
			return "symbol table's strings are not a string table";
		if (sym->sh_entsize != sizeof(Elf64_Sym))
			return "bad symbol size";
		if (!in_file(sym->sh_offset, sym->sh_size, len) || sym->sh_size % sizeof(Elf64_Sym))
			return "symbol table outside the file";
		if (!in_file(str->sh_offset, str->sh_size, len) || !str->sh_size)
			return "string table outside the file";
		return NULL;
	}
	return "no symbol table (stripped)";
}

int vmlet_symtab_load(const void *buf, size_t len, struct vmlet_symtab *st)
{
	const uint8_t *p = buf;
	Elf64_Shdr symsh, strsh;
	const char *strs, *why;
	uint64_t nents, n = 0, names = 0;

	memset(st, 0, sizeof(*st));
	why = buf ? find_tables(p, len, &symsh, &strsh) : "no image";
	if (why)
		return empty(st, why);
	nents = symsh.sh_size / sizeof(Elf64_Sym);
	strs = (const char *)p + strsh.sh_offset;
	/* Pass 1: count the function symbols and the bytes of their names. */
	for (uint64_t i = 0; i < nents; i++) {
		Elf64_Sym s;
		const char *nul;

		memcpy(&s, p + symsh.sh_offset + i * sizeof(s), sizeof(s));
		if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF)
			continue;
		if (s.st_name >= strsh.sh_size)
			return empty(st, "symbol name outside the string table");
		nul = memchr(strs + s.st_name, '\0', strsh.sh_size - s.st_name);
		if (!nul)
			return empty(st, "symbol name not terminated");
		if (nul == strs + s.st_name)
			continue; /* nameless: nothing to say about it */
		n++;
		names += (uint64_t)(nul - (strs + s.st_name)) + 1;
	}
	if (!n)
		return empty(st, "no function symbols");
	if (n > MAX_SYMS || names > MAX_NAMES)
		return empty(st, "symbol table too large");
	st->syms = calloc(n, sizeof(*st->syms));
	st->names = malloc(names);
	if (!st->syms || !st->names) {
		empty(st, "out of memory");
		return -ENOMEM;
	}
	/* Pass 2: copy them (the same checks passed above). */
	names = 0;
	for (uint64_t i = 0; i < nents; i++) {
		Elf64_Sym s;
		size_t nl;

		memcpy(&s, p + symsh.sh_offset + i * sizeof(s), sizeof(s));
		if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF)
			continue;
		nl = strlen(strs + s.st_name);
		if (!nl)
			continue;
		st->syms[st->nsyms++] = (struct vmlet_sym){
			.addr = s.st_value,
			.size = s.st_size,
			.name = (uint32_t)names,
		};
		memcpy(st->names + names, strs + s.st_name, nl + 1);
		names += nl + 1;
	}
	qsort(st->syms, st->nsyms, sizeof(*st->syms), by_addr);
	return 0;
}

void vmlet_symtab_free(struct vmlet_symtab *st)
{
	empty(st, NULL);
}

const char *vmlet_symtab_lookup(const struct vmlet_symtab *st, uint64_t pc, uint64_t *offset)
{
	size_t lo = 0, hi = st->nsyms;
	const struct vmlet_sym *s, *next;

	/* The last symbol at or below pc; of aliases, the first (by_addr). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->syms[mid].addr <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = &st->syms[lo - 1];
	while (s > st->syms && s[-1].addr == s->addr)
		s--;
	next = lo < st->nsyms ? &st->syms[lo] : NULL;
	/* A sized symbol covers [addr, addr + size); an unsized one up to the next. */
	if (s->size ? pc - s->addr >= s->size : !next)
		return NULL;
	if (offset)
		*offset = pc - s->addr;
	return st->names + s->name;
}
