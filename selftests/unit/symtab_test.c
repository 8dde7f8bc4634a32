// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/symtab.c: function symbols of an image built in
 * memory are found by address, with sizes, aliases and unsized symbols;
 * a stripped image and each way of breaking the section headers or the
 * tables they point at give an empty table with the exact reason, never
 * an error and never a read outside the file (images are heap copies of
 * exactly their length, for AddressSanitizer).
 *
 * File layout: Elf64_Ehdr, then the string table at STR_OFF, symbols at
 * SYM_OFF, section headers (null, .symtab, .strtab) at SH_OFF.
 */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symtab.h"
#include "unit.h"

#define STR_OFF	 0x40
#define SYM_OFF	 0x100
#define NSYMS	 8
#define SH_OFF	 (SYM_OFF + NSYMS * sizeof(Elf64_Sym))
#define FILE_LEN (SH_OFF + 3 * sizeof(Elf64_Shdr))

static const char strs[] = "\0main\0add\0add_alias\0data\0undef\0tail\0unsized\0after";
#define N_MAIN	   1
#define N_ADD	   6
#define N_ALIAS	   10
#define N_DATA	   20
#define N_UNDEF	   25
#define N_TAIL	   31
#define N_UNSIZED  36
#define N_AFTER	   44

struct img {
	Elf64_Ehdr eh;
	Elf64_Sym sym[NSYMS];
	Elf64_Shdr sh[3];
	char str[sizeof(strs)];
};

static Elf64_Sym func(uint32_t name, uint64_t addr, uint64_t size)
{
	return (Elf64_Sym){
		.st_name = name,
		.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
		.st_shndx = 1,
		.st_value = addr,
		.st_size = size,
	};
}

static void img_init(struct img *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_shoff = SH_OFF;
	m->eh.e_shentsize = sizeof(Elf64_Shdr);
	m->eh.e_shnum = 3;
	memcpy(m->str, strs, sizeof(strs));
	m->sym[0] = (Elf64_Sym){0};
	m->sym[1] = func(N_MAIN, 0x101000, 0x40);
	m->sym[2] = func(N_ADD, 0x101100, 0x10);
	m->sym[3] = func(N_ALIAS, 0x101100, 0); /* an alias without size */
	m->sym[4] = (Elf64_Sym){.st_name = N_DATA,
				.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
				.st_shndx = 2,
				.st_value = 0x101200,
				.st_size = 0x100};
	m->sym[5] = func(N_UNDEF, 0x101300, 0x10);
	m->sym[5].st_shndx = SHN_UNDEF;
	m->sym[6] = func(N_UNSIZED, 0x101400, 0);
	m->sym[7] = func(N_AFTER, 0x101500, 0x20);
	m->sh[1] = (Elf64_Shdr){.sh_type = SHT_SYMTAB,
				.sh_offset = SYM_OFF,
				.sh_size = NSYMS * sizeof(Elf64_Sym),
				.sh_link = 2,
				.sh_entsize = sizeof(Elf64_Sym)};
	m->sh[2] = (Elf64_Shdr){.sh_type = SHT_STRTAB, .sh_offset = STR_OFF, .sh_size = sizeof(strs)};
}

/* Lay the image out at its file offsets in a heap buffer of exactly len bytes. */
static uint8_t *img_bytes(const struct img *m, size_t len)
{
	uint8_t *full = calloc(1, FILE_LEN), *p = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(full);
	ck_assert_ptr_nonnull(p);
	memcpy(full, &m->eh, sizeof(m->eh));
	memcpy(full + STR_OFF, m->str, sizeof(m->str));
	memcpy(full + SYM_OFF, m->sym, sizeof(m->sym));
	memcpy(full + SH_OFF, m->sh, sizeof(m->sh));
	memcpy(p, full, len < FILE_LEN ? len : FILE_LEN);
	free(full);
	return p;
}

static void load_expect(const struct img *m, size_t len, const char *why, size_t nsyms)
{
	uint8_t *p = img_bytes(m, len);
	struct vmlet_symtab st;

	ck_assert_int_eq(vmlet_symtab_load(p, len, &st), 0);
	if (why)
		ck_assert_str_eq(st.why, why);
	else
		ck_assert_ptr_null(st.why);
	ck_assert_uint_eq(st.nsyms, nsyms);
	vmlet_symtab_free(&st);
	free(p);
}

START_TEST(functions_are_found_by_address)
{
	struct img m;
	struct vmlet_symtab st;
	uint8_t *p;
	uint64_t off = 99;

	img_init(&m);
	p = img_bytes(&m, FILE_LEN);
	ck_assert_int_eq(vmlet_symtab_load(p, FILE_LEN, &st), 0);
	free(p); /* names are copied: the file may go */
	ck_assert_ptr_null(st.why);
	ck_assert_uint_eq(st.nsyms, 5); /* not the object, the undefined one, the null one */
	ck_assert_str_eq(vmlet_symtab_lookup(&st, 0x101000, &off), "main");
	ck_assert_uint_eq(off, 0);
	ck_assert_str_eq(vmlet_symtab_lookup(&st, 0x10103f, &off), "main");
	ck_assert_uint_eq(off, 0x3f);
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0x101040, &off)); /* past main's size */
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0xfff, &off));     /* below every symbol */
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0, &off));
	/* Of two names for one address, the one with a size. */
	ck_assert_str_eq(vmlet_symtab_lookup(&st, 0x101105, &off), "add");
	ck_assert_uint_eq(off, 5);
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0x101200, &off)); /* data: not a function */
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0x101300, &off)); /* undefined */
	/* Unsized: up to the next symbol. */
	ck_assert_str_eq(vmlet_symtab_lookup(&st, 0x1014ff, &off), "unsized");
	ck_assert_uint_eq(off, 0xff);
	ck_assert_str_eq(vmlet_symtab_lookup(&st, 0x10151f, &off), "after");
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0x101520, &off));
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, UINT64_MAX, &off));
	vmlet_symtab_free(&st);
	ck_assert_uint_eq(st.nsyms, 0);
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0x101000, &off)); /* freed: empty */
}
END_TEST

START_TEST(stripped_image_has_an_empty_table)
{
	struct img m;

	img_init(&m);
	m.eh.e_shnum = 0;
	m.eh.e_shoff = 0;
	load_expect(&m, FILE_LEN, "no section headers", 0);
	img_init(&m);
	m.sh[1].sh_type = SHT_PROGBITS; /* strip keeps sections, drops .symtab */
	load_expect(&m, FILE_LEN, "no symbol table (stripped)", 0);
	img_init(&m);
	for (int i = 1; i < NSYMS; i++)
		m.sym[i].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
	load_expect(&m, FILE_LEN, "no function symbols", 0);
}
END_TEST

START_TEST(broken_tables_give_an_empty_table_and_why)
{
	struct img m;

	img_init(&m);
	load_expect(&m, 10, "file shorter than an ELF header", 0);

	img_init(&m);
	m.eh.e_ident[EI_CLASS] = ELFCLASS32;
	load_expect(&m, FILE_LEN, "not an ELF64 file", 0);

	img_init(&m);
	m.eh.e_shentsize = 40;
	load_expect(&m, FILE_LEN, "bad section header size", 0);

	img_init(&m);
	load_expect(&m, FILE_LEN - 1, "section headers outside the file", 0);

	img_init(&m);
	m.eh.e_shoff = UINT64_MAX - 8;
	load_expect(&m, FILE_LEN, "section headers outside the file", 0);

	img_init(&m);
	m.eh.e_shnum = 0xffff;
	load_expect(&m, FILE_LEN, "section headers outside the file", 0);

	img_init(&m);
	m.sh[1].sh_link = 3;
	load_expect(&m, FILE_LEN, "symbol table names no string table", 0);

	img_init(&m);
	m.sh[1].sh_link = 0;
	load_expect(&m, FILE_LEN, "symbol table names no string table", 0);

	img_init(&m);
	m.sh[2].sh_type = SHT_PROGBITS;
	load_expect(&m, FILE_LEN, "symbol table's strings are not a string table", 0);

	img_init(&m);
	m.sh[1].sh_entsize = 16;
	load_expect(&m, FILE_LEN, "bad symbol size", 0);

	img_init(&m);
	m.sh[1].sh_size += sizeof(Elf64_Sym) * 100;
	load_expect(&m, FILE_LEN, "symbol table outside the file", 0);

	img_init(&m);
	m.sh[1].sh_size -= 1;
	load_expect(&m, FILE_LEN, "symbol table outside the file", 0);

	img_init(&m);
	m.sh[1].sh_offset = UINT64_MAX;
	load_expect(&m, FILE_LEN, "symbol table outside the file", 0);

	img_init(&m);
	m.sh[2].sh_size = FILE_LEN;
	load_expect(&m, FILE_LEN, "string table outside the file", 0);

	img_init(&m);
	m.sh[2].sh_size = 0;
	load_expect(&m, FILE_LEN, "string table outside the file", 0);

	img_init(&m);
	m.sym[2].st_name = sizeof(strs);
	load_expect(&m, FILE_LEN, "symbol name outside the string table", 0);

	/* The last name loses its NUL: the string table ends inside it. */
	img_init(&m);
	m.sh[2].sh_size = sizeof(strs) - 1;
	load_expect(&m, FILE_LEN, "symbol name not terminated", 0);
}
END_TEST

START_TEST(null_image_is_empty)
{
	struct vmlet_symtab st;

	ck_assert_int_eq(vmlet_symtab_load(NULL, 0, &st), 0);
	ck_assert_str_eq(st.why, "no image");
	ck_assert_ptr_null(vmlet_symtab_lookup(&st, 0x101000, NULL));
	vmlet_symtab_free(&st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("symtab");
	TCase *tc = tcase_create("symtab");

	tcase_add_test(tc, functions_are_found_by_address);
	tcase_add_test(tc, stripped_image_has_an_empty_table);
	tcase_add_test(tc, broken_tables_give_an_empty_table_and_why);
	tcase_add_test(tc, null_image_is_empty);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
