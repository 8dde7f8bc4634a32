// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/elf.c: a minimal image built in memory parses and
 * loads byte for byte, and each way of breaking it is refused with the
 * exact code and reason.
 *
 * The builder keeps headers as structs the tests edit freely and writes
 * them at fixed file offsets, so a test can put nonsense in e_phoff or
 * p_offset without the builder following it. Images are parsed from heap
 * copies of exactly their length, so a read one byte past the end is
 * caught by AddressSanitizer or valgrind.
 *
 * File layout of the default image (3 PT_LOAD, 1 PT_NOTE):
 *   0x0000  Elf64_Ehdr
 *   0x0040  program headers (PH_MAX slots, unused ones PT_NULL)
 *   0x0500  the vmlet note (36 bytes)
 *           LOAD  0x0000-0x0540 -> 0x100000  R     (headers and note)
 *   0x1000  LOAD  0x100 bytes   -> 0x101000  R X   (text)
 *   0x2000  LOAD  0x80 bytes    -> 0x102000  RW, memsz 0x1800 (data, bss)
 *   0x2080  end of file
 */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"
#include "unit.h"

#define PH_MAX 24
#define PH_OFF 0x40
#define NOTE_OFF 0x500
#define NOTE2_OFF 0x600
#define TEXT_OFF 0x1000
#define DATA_OFF 0x2000
#define FILE_CAP 0x3000

#define BASE VMLET_IMAGE_BASE
#define LIMIT (1ULL << 30)
#define TEXT_VA 0x101000ULL
#define DATA_VA 0x102000ULL
#define ENTRY (TEXT_VA + 0x10)
#define SYSCALL_ENTRY (TEXT_VA + 0x20)
#define MEM_SIZE (4ULL << 20)

enum { PH_HDRS, PH_TEXT, PH_DATA, PH_NOTE, PH_DEFAULT };

struct vnote {
	Elf64_Nhdr nh;
	char name[8];
	struct vmlet_note desc;
} __attribute__((packed));

struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[PH_MAX];
	struct vnote note;
	int note2; /* also write the note at NOTE2_OFF */
	size_t len;
};

static struct img im;

static uint8_t text_byte(size_t i)
{
	return (uint8_t)(0x90 + i * 7);
}

static uint8_t data_byte(size_t i)
{
	return (uint8_t)(0x11 + i * 13);
}

static void img_default(void)
{
	memset(&im, 0, sizeof(im));
	memcpy(im.eh.e_ident, ELFMAG, SELFMAG);
	im.eh.e_ident[EI_CLASS] = ELFCLASS64;
	im.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im.eh.e_ident[EI_VERSION] = EV_CURRENT;
	im.eh.e_type = ET_EXEC;
	im.eh.e_machine = EM_X86_64;
	im.eh.e_version = EV_CURRENT;
	im.eh.e_entry = ENTRY;
	im.eh.e_phoff = PH_OFF;
	im.eh.e_ehsize = sizeof(Elf64_Ehdr);
	im.eh.e_phentsize = sizeof(Elf64_Phdr);
	im.eh.e_phnum = PH_DEFAULT;

	im.ph[PH_HDRS] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R, .p_offset = 0,
				       .p_vaddr = BASE, .p_filesz = 0x540, .p_memsz = 0x540,
				       .p_align = 0x1000 };
	im.ph[PH_TEXT] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
				       .p_offset = TEXT_OFF, .p_vaddr = TEXT_VA,
				       .p_filesz = 0x100, .p_memsz = 0x100, .p_align = 0x1000 };
	im.ph[PH_DATA] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W,
				       .p_offset = DATA_OFF, .p_vaddr = DATA_VA,
				       .p_filesz = 0x80, .p_memsz = 0x1800, .p_align = 0x1000 };
	im.ph[PH_NOTE] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = NOTE_OFF,
				       .p_vaddr = BASE + NOTE_OFF, .p_filesz = sizeof(im.note),
				       .p_memsz = sizeof(im.note), .p_align = 4 };

	im.note.nh.n_namesz = sizeof(VMLET_NOTE_NAME);
	im.note.nh.n_descsz = sizeof(struct vmlet_note);
	im.note.nh.n_type = VMLET_NOTE_TYPE;
	memcpy(im.note.name, VMLET_NOTE_NAME, sizeof(VMLET_NOTE_NAME));
	im.note.desc.abi_version = VMLET_ABI_VERSION;
	im.note.desc.syscall_entry = SYSCALL_ENTRY;
	im.len = DATA_OFF + 0x80;
}

/* The image's bytes in a heap buffer of exactly im.len bytes. */
static uint8_t *img_build(void)
{
	static uint8_t file[FILE_CAP];
	uint8_t *p;

	ck_assert_uint_le(im.len, FILE_CAP);
	memset(file, 0, sizeof(file));
	memcpy(file, &im.eh, sizeof(im.eh));
	memcpy(file + PH_OFF, im.ph, sizeof(im.ph));
	memcpy(file + NOTE_OFF, &im.note, sizeof(im.note));
	if (im.note2)
		memcpy(file + NOTE2_OFF, &im.note, sizeof(im.note));
	for (size_t i = 0; i < 0x100; i++)
		file[TEXT_OFF + i] = text_byte(i);
	for (size_t i = 0; i < 0x80; i++)
		file[DATA_OFF + i] = data_byte(i);
	p = malloc(im.len ? im.len : 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, file, im.len);
	return p;
}

struct result {
	int err;
	const char *why;
	struct vmlet_elf elf;
};

static struct result parse_limit(uint64_t limit)
{
	struct result r = { .why = NULL };
	uint8_t *p = img_build();

	memset(&r.elf, 0xab, sizeof(r.elf));
	r.err = vmlet_elf_parse(p, im.len, BASE, limit, &r.elf, &r.why);
	free(p);
	return r;
}

static struct result parse(void)
{
	return parse_limit(LIMIT);
}

/* Refused with this code and reason, and *elf left alone. */
static void expect(int err, const char *why)
{
	struct result r = parse();
	uint8_t untouched[sizeof(r.elf)];

	ck_assert_int_eq(r.err, err);
	ck_assert_ptr_nonnull(r.why);
	ck_assert_str_eq(r.why, why);
	memset(untouched, 0xab, sizeof(untouched));
	ck_assert_mem_eq(&r.elf, untouched, sizeof(untouched));
}

static void expect_bad(const char *why)
{
	expect(-ENOEXEC, why);
}

static void expect_ok(void)
{
	struct result r = parse();

	ck_assert_msg(r.err == 0, "parse: %d (%s)", r.err, r.why ? r.why : "no reason");
}

static void setup(void)
{
	img_default();
}

/* ------------------------------------------------------------------------ */
/* The valid image */

START_TEST(valid_image_parses)
{
	struct result r = parse();

	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.elf.entry, ENTRY);
	ck_assert_uint_eq(r.elf.lo, BASE);
	ck_assert_uint_eq(r.elf.hi, 0x104000);
	ck_assert_uint_eq(r.elf.phdr_addr, BASE + PH_OFF);
	ck_assert_uint_eq(r.elf.phnum, PH_DEFAULT);
	ck_assert_uint_eq(r.elf.nsegs, 3);

	ck_assert_uint_eq(r.elf.segs[0].vaddr, BASE);
	ck_assert_uint_eq(r.elf.segs[0].memsz, 0x540);
	ck_assert_uint_eq(r.elf.segs[0].offset, 0);
	ck_assert_uint_eq(r.elf.segs[0].filesz, 0x540);
	ck_assert_uint_eq(r.elf.segs[0].flags, PF_R);
	ck_assert_uint_eq(r.elf.segs[1].vaddr, TEXT_VA);
	ck_assert_uint_eq(r.elf.segs[1].memsz, 0x100);
	ck_assert_uint_eq(r.elf.segs[1].offset, TEXT_OFF);
	ck_assert_uint_eq(r.elf.segs[1].filesz, 0x100);
	ck_assert_uint_eq(r.elf.segs[1].flags, PF_R | PF_X);
	ck_assert_uint_eq(r.elf.segs[2].vaddr, DATA_VA);
	ck_assert_uint_eq(r.elf.segs[2].memsz, 0x1800);
	ck_assert_uint_eq(r.elf.segs[2].offset, DATA_OFF);
	ck_assert_uint_eq(r.elf.segs[2].filesz, 0x80);
	ck_assert_uint_eq(r.elf.segs[2].flags, PF_R | PF_W);

	ck_assert_uint_eq(r.elf.note.abi_version, VMLET_ABI_VERSION);
	ck_assert_uint_eq(r.elf.note.reserved, 0);
	ck_assert_uint_eq(r.elf.note.syscall_entry, SYSCALL_ENTRY);
}
END_TEST

START_TEST(why_may_be_null)
{
	uint8_t *p = img_build();
	struct vmlet_elf elf;

	ck_assert_int_eq(vmlet_elf_parse(p, im.len, BASE, LIMIT, &elf, NULL), 0);
	p[0] = 0;
	ck_assert_int_eq(vmlet_elf_parse(p, im.len, BASE, LIMIT, &elf, NULL), -ENOEXEC);
	free(p);
	ck_assert_int_eq(vmlet_elf_parse(NULL, 0, BASE, LIMIT, &elf, NULL), -ENOEXEC);
}
END_TEST

START_TEST(segments_sorted_whatever_the_header_order)
{
	Elf64_Phdr t = im.ph[PH_HDRS];
	struct result r;

	im.ph[PH_HDRS] = im.ph[PH_DATA];
	im.ph[PH_DATA] = t;
	r = parse();
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.elf.segs[0].vaddr, BASE);
	ck_assert_uint_eq(r.elf.segs[1].vaddr, TEXT_VA);
	ck_assert_uint_eq(r.elf.segs[2].vaddr, DATA_VA);
}
END_TEST

START_TEST(phdr_addr_zero_when_not_loaded)
{
	struct result r;

	/* The first segment now starts at the note: headers are not loaded. */
	im.ph[PH_HDRS].p_offset = NOTE_OFF;
	im.ph[PH_HDRS].p_vaddr = BASE + NOTE_OFF;
	im.ph[PH_HDRS].p_filesz = im.ph[PH_HDRS].p_memsz = 0x40;
	r = parse();
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.elf.phdr_addr, 0);
	ck_assert_uint_eq(r.elf.lo, BASE);

	/* Loaded but cut off before the last header: still not all there. */
	img_default();
	im.ph[PH_HDRS].p_filesz = PH_OFF + PH_DEFAULT * sizeof(Elf64_Phdr) - 1;
	r = parse();
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.elf.phdr_addr, 0);
	im.ph[PH_HDRS].p_filesz++;
	r = parse();
	ck_assert_uint_eq(r.elf.phdr_addr, BASE + PH_OFF);
}
END_TEST

START_TEST(other_program_headers_ignored)
{
	struct result r;

	im.ph[PH_DEFAULT] = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W };
	im.ph[PH_DEFAULT + 1] = (Elf64_Phdr){ .p_type = PT_GNU_RELRO, .p_offset = DATA_OFF,
					      .p_vaddr = DATA_VA, .p_filesz = 0x40,
					      .p_memsz = 0x40 };
	/* An empty PT_LOAD maps nothing, wherever it claims to be. */
	im.ph[PH_DEFAULT + 2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X,
					      .p_vaddr = 0 };
	im.eh.e_phnum = PH_DEFAULT + 3;
	r = parse();
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.elf.nsegs, 3);
	ck_assert_uint_eq(r.elf.phnum, PH_DEFAULT + 3);
}
END_TEST

START_TEST(segment_may_end_at_limit)
{
	struct result r = parse_limit(0x104000);

	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.elf.hi, 0x104000);
}
END_TEST

START_TEST(sixteen_segments_fit)
{
	/* Three plus thirteen one-page data segments above the image. */
	for (unsigned int i = 0; i < VMLET_ELF_MAX_SEGS - 3; i++)
		im.ph[PH_DEFAULT + i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R,
						      .p_vaddr = 0x110000 + i * 0x1000ULL,
						      .p_memsz = 0x10 };
	im.eh.e_phnum = PH_DEFAULT + VMLET_ELF_MAX_SEGS - 3;
	expect_ok();
	im.ph[im.eh.e_phnum] = im.ph[im.eh.e_phnum - 1];
	im.ph[im.eh.e_phnum].p_vaddr += 0x1000;
	im.eh.e_phnum++;
	expect_bad("too many segments");
}
END_TEST

START_TEST(same_note_in_two_pt_notes_counts_once)
{
	im.ph[PH_DEFAULT] = im.ph[PH_NOTE];
	im.eh.e_phnum = PH_DEFAULT + 1;
	expect_ok();
}
END_TEST

START_TEST(other_notes_skipped)
{
	struct result r;

	/* A GNU note first, then ours, in one PT_NOTE. */
	struct {
		Elf64_Nhdr nh;
		char name[4];
		uint8_t desc[8];
		struct vnote v;
	} __attribute__((packed)) two = {
		.nh = { 4, 5, NT_GNU_BUILD_ID }, .name = "GNU", .desc = { 1, 2, 3, 4, 5 },
	};
	uint8_t *p;

	two.v = im.note;
	im.ph[PH_NOTE].p_filesz = sizeof(two);
	p = img_build();
	memcpy(p + NOTE_OFF, &two, sizeof(two));
	ck_assert_int_eq(vmlet_elf_parse(p, im.len, BASE, LIMIT, &r.elf, &r.why), 0);
	ck_assert_uint_eq(r.elf.note.syscall_entry, SYSCALL_ENTRY);
	free(p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Loading */

#define NONE SIZE_MAX

/* The first address in [from, to) not holding byte, or NONE. */
static size_t first_not(const uint8_t *mem, size_t from, size_t to, uint8_t byte)
{
	for (size_t a = from; a < to; a++)
		if (mem[a] != byte)
			return a;
	return NONE;
}

START_TEST(load_copies_and_zeroes_bss)
{
	struct result r = parse();
	uint8_t *mem = malloc(MEM_SIZE), *file = img_build();

	ck_assert_int_eq(r.err, 0);
	ck_assert_ptr_nonnull(mem);
	memset(mem, 0xcc, MEM_SIZE);
	ck_assert_int_eq(vmlet_elf_load(&r.elf, file, im.len, mem, MEM_SIZE), 0);

	ck_assert_mem_eq(mem + BASE, file, 0x540);
	ck_assert_mem_eq(mem + TEXT_VA, file + TEXT_OFF, 0x100);
	ck_assert_uint_eq(mem[TEXT_VA + 0xff], text_byte(0xff));
	ck_assert_mem_eq(mem + DATA_VA, file + DATA_OFF, 0x80);
	ck_assert_uint_eq(mem[DATA_VA + 0x7f], data_byte(0x7f));
	ck_assert_uint_eq(first_not(mem, DATA_VA + 0x80, DATA_VA + 0x1800, 0), NONE);
	/* Nothing outside the segments is written. */
	ck_assert_uint_eq(first_not(mem, 0, BASE, 0xcc), NONE);
	ck_assert_uint_eq(first_not(mem, BASE + 0x540, TEXT_VA, 0xcc), NONE);
	ck_assert_uint_eq(first_not(mem, TEXT_VA + 0x100, DATA_VA, 0xcc), NONE);
	ck_assert_uint_eq(first_not(mem, DATA_VA + 0x1800, MEM_SIZE, 0xcc), NONE);
	free(file);
	free(mem);
}
END_TEST

START_TEST(load_into_exact_memory)
{
	struct result r = parse();
	uint64_t size = DATA_VA + 0x1800;
	uint8_t *mem = malloc(size), *file = img_build();

	ck_assert_int_eq(vmlet_elf_load(&r.elf, file, im.len, mem, size), 0);
	ck_assert_uint_eq(mem[size - 1], 0);
	free(file);
	free(mem);
}
END_TEST

START_TEST(load_refuses_what_does_not_fit)
{
	struct result r = parse();
	uint8_t *mem = malloc(MEM_SIZE), *file = img_build();
	struct vmlet_elf e;

	memset(mem, 0xcc, MEM_SIZE);
	/* Memory ends one byte before the bss does: nothing is written. */
	ck_assert_int_eq(vmlet_elf_load(&r.elf, file, im.len, mem, DATA_VA + 0x17ff), -EINVAL);
	ck_assert_uint_eq(first_not(mem, 0, MEM_SIZE, 0xcc), NONE);
	/* A file shorter than the one parsed. */
	ck_assert_int_eq(vmlet_elf_load(&r.elf, file, im.len - 1, mem, MEM_SIZE), -EINVAL);
	/* Hand-made descriptions no parse would produce. */
	e = r.elf;
	e.segs[2].vaddr = UINT64_MAX - 0x100;
	ck_assert_int_eq(vmlet_elf_load(&e, file, im.len, mem, MEM_SIZE), -EINVAL);
	e = r.elf;
	e.segs[1].offset = UINT64_MAX;
	ck_assert_int_eq(vmlet_elf_load(&e, file, im.len, mem, MEM_SIZE), -EINVAL);
	e = r.elf;
	e.segs[1].filesz = e.segs[1].memsz + 1;
	ck_assert_int_eq(vmlet_elf_load(&e, file, im.len, mem, MEM_SIZE), -EINVAL);
	e = r.elf;
	e.nsegs = VMLET_ELF_MAX_SEGS + 1;
	ck_assert_int_eq(vmlet_elf_load(&e, file, im.len, mem, MEM_SIZE), -EINVAL);
	ck_assert_uint_eq(first_not(mem, 0, MEM_SIZE, 0xcc), NONE);
	free(file);
	free(mem);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Broken images */

START_TEST(truncated_at_every_length)
{
	size_t full = im.len;

	size_t bad = NONE;

	/* Assert once at the end: check's assertions are slow in a loop. */
	for (size_t len = 0; len < full && bad == NONE; len++) {
		struct result r;

		im.len = len;
		r = parse();
		if (r.err != -ENOEXEC || !r.why || !*r.why)
			bad = len;
	}
	ck_assert_uint_eq(bad, NONE);
	im.len = 3;
	expect_bad("not an ELF file");
	im.len = sizeof(Elf64_Ehdr) - 1;
	expect_bad("truncated ELF header");
	im.len = PH_OFF + 2 * sizeof(Elf64_Phdr);
	expect_bad("program headers outside the file");
	im.len = full - 1;
	expect_bad("segment outside the file");
}
END_TEST

START_TEST(bad_magic)
{
	im.eh.e_ident[EI_MAG1] = 'e';
	expect_bad("not an ELF file");
}
END_TEST

START_TEST(elfclass32)
{
	im.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_bad("not ELFCLASS64");
}
END_TEST

START_TEST(big_endian)
{
	im.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect_bad("not little-endian");
}
END_TEST

START_TEST(bad_version)
{
	im.eh.e_ident[EI_VERSION] = EV_NONE;
	expect_bad("not EV_CURRENT");
	img_default();
	im.eh.e_version = 2;
	expect_bad("not EV_CURRENT");
}
END_TEST

START_TEST(wrong_machine)
{
	im.eh.e_machine = EM_386;
	expect_bad("not x86-64");
	im.eh.e_machine = EM_AARCH64;
	expect_bad("not x86-64");
}
END_TEST

START_TEST(not_et_exec)
{
	im.eh.e_type = ET_DYN;
	expect_bad("not ET_EXEC");
	im.eh.e_type = ET_REL;
	expect_bad("not ET_EXEC");
	im.eh.e_type = ET_CORE;
	expect_bad("not ET_EXEC");
}
END_TEST

START_TEST(bad_ehsize)
{
	im.eh.e_ehsize = 52;
	expect_bad("bad e_ehsize");
}
END_TEST

START_TEST(wrong_phentsize)
{
	im.eh.e_phentsize = sizeof(Elf32_Phdr);
	expect_bad("bad e_phentsize");
	im.eh.e_phentsize = sizeof(Elf64_Phdr) + 8;
	expect_bad("bad e_phentsize");
}
END_TEST

START_TEST(phnum_phentsize_overflow)
{
	/* The product would be near 2^32: refused before any arithmetic. */
	im.eh.e_phentsize = 0xffff;
	im.eh.e_phnum = 0xffff;
	expect_bad("bad e_phentsize");
	/* And e_phoff plus the table must not wrap around 2^64. */
	img_default();
	im.eh.e_phoff = UINT64_MAX - 2 * sizeof(Elf64_Phdr) + 1;
	expect_bad("program headers outside the file");
	im.eh.e_phoff = UINT64_MAX;
	expect_bad("program headers outside the file");
}
END_TEST

START_TEST(bad_phnum)
{
	im.eh.e_phnum = 0;
	expect_bad("no program headers");
	im.eh.e_phnum = 129;
	expect_bad("too many program headers");
	im.eh.e_phnum = PN_XNUM;
	expect_bad("too many program headers");
}
END_TEST

START_TEST(phoff_past_the_end)
{
	im.eh.e_phoff = im.len;
	expect_bad("program headers outside the file");
	im.eh.e_phoff = im.len - PH_DEFAULT * sizeof(Elf64_Phdr) + 1;
	expect_bad("program headers outside the file");
	im.eh.e_phoff = 1ULL << 40;
	expect_bad("program headers outside the file");
}
END_TEST

START_TEST(segment_past_the_file)
{
	im.ph[PH_DATA].p_filesz = 0x81;
	expect_bad("segment outside the file");
	img_default();
	im.ph[PH_DATA].p_offset = im.len + 1;
	im.ph[PH_DATA].p_filesz = 0;
	expect_bad("segment outside the file");
	img_default();
	/* offset + filesz wraps to a small number. */
	im.ph[PH_TEXT].p_offset = UINT64_MAX - 0x7f;
	expect_bad("segment outside the file");
}
END_TEST

START_TEST(filesz_over_memsz)
{
	im.ph[PH_TEXT].p_memsz = 0xff;
	expect_bad("filesz larger than memsz");
}
END_TEST

START_TEST(vaddr_below_base)
{
	im.ph[PH_HDRS].p_vaddr = BASE - 0x1000;
	expect_bad("segment outside guest memory");
	img_default();
	im.ph[PH_HDRS].p_vaddr = 0;
	expect_bad("segment outside guest memory");
}
END_TEST

START_TEST(vaddr_memsz_beyond_limit)
{
	struct result r = parse_limit(0x103fff);

	ck_assert_int_eq(r.err, -ENOEXEC);
	ck_assert_str_eq(r.why, "segment outside guest memory");
	r = parse_limit(0x103000);
	ck_assert_int_eq(r.err, -ENOEXEC);
	ck_assert_str_eq(r.why, "segment outside guest memory");
	im.ph[PH_DATA].p_vaddr = LIMIT - 0x1000;
	expect_bad("segment outside guest memory");
}
END_TEST

START_TEST(vaddr_memsz_overflow)
{
	im.ph[PH_DATA].p_vaddr = UINT64_MAX - 0xfff;
	expect_bad("segment outside guest memory");
	/* Ends just below 2^64: the page end is what wraps. */
	im.ph[PH_DATA].p_vaddr = UINT64_MAX - 0x1800;
	ck_assert_str_eq(parse_limit(UINT64_MAX).why, "segment outside guest memory");
	im.ph[PH_DATA].p_memsz = UINT64_MAX;
	im.ph[PH_DATA].p_vaddr = DATA_VA;
	expect_bad("segment outside guest memory");
}
END_TEST

START_TEST(segments_overlap)
{
	im.ph[PH_DATA].p_vaddr = TEXT_VA + 0x80;
	expect_bad("segments overlap");
	/* Same start. */
	im.ph[PH_DATA].p_vaddr = TEXT_VA;
	expect_bad("segments overlap");
	/* The later header lies below: its bss runs into the text. */
	img_default();
	im.ph[PH_DATA].p_vaddr = BASE + 0x600;
	expect_bad("segments overlap");
	/* One inside another. */
	img_default();
	im.ph[PH_DATA].p_vaddr = BASE;
	im.ph[PH_DATA].p_memsz = 0x10000;
	expect_bad("segments overlap");
}
END_TEST

START_TEST(two_segments_in_one_page)
{
	/* Text ends at 0x101100; data starts later in the same page. */
	im.ph[PH_DATA].p_vaddr = TEXT_VA + 0x800;
	im.ph[PH_DATA].p_memsz = 0x80;
	expect_bad("segments share a page");
	/* Data right after the headers, in their page. */
	im.ph[PH_DATA].p_vaddr = BASE + 0x800;
	expect_bad("segments share a page");

	/*
	 * Data below a segment met earlier: move the text up to 0x105800 and
	 * end the data in the text's first page, without touching its bytes.
	 */
	img_default();
	im.ph[PH_TEXT].p_vaddr = 0x105800;
	im.eh.e_entry = 0x105810;
	im.note.desc.syscall_entry = 0x105820;
	expect_ok();
	im.ph[PH_DATA].p_vaddr = 0x104000;
	im.ph[PH_DATA].p_memsz = 0x1100;
	expect_bad("segments share a page");
	/* Ending exactly at the page boundary is fine. */
	im.ph[PH_DATA].p_memsz = 0x1000;
	expect_ok();
}
END_TEST

START_TEST(writable_and_executable)
{
	im.ph[PH_DATA].p_flags = PF_R | PF_W | PF_X;
	expect_bad("writable and executable segment");
	im.ph[PH_DATA].p_flags = PF_W | PF_X;
	expect_bad("writable and executable segment");
}
END_TEST

START_TEST(entry_outside_exec)
{
	im.eh.e_entry = 0x200000;
	expect_bad("entry point outside executable segments");
	im.eh.e_entry = 0;
	expect_bad("entry point outside executable segments");
	im.eh.e_entry = TEXT_VA + 0x100; /* one past the end */
	expect_bad("entry point outside executable segments");
	im.eh.e_entry = TEXT_VA + 0xff;
	expect_ok();
	im.eh.e_entry = TEXT_VA;
	expect_ok();
	im.eh.e_entry = TEXT_VA - 1;
	expect_bad("entry point outside executable segments");
}
END_TEST

START_TEST(entry_in_non_exec_segment)
{
	im.eh.e_entry = DATA_VA + 0x10;
	expect_bad("entry point outside executable segments");
	im.eh.e_entry = BASE;
	expect_bad("entry point outside executable segments");
}
END_TEST

START_TEST(syscall_entry_outside_exec)
{
	im.note.desc.syscall_entry = DATA_VA;
	expect_bad("syscall entry outside executable segments");
	im.note.desc.syscall_entry = 0;
	expect_bad("syscall entry outside executable segments");
}
END_TEST

START_TEST(pt_interp_present)
{
	im.ph[PH_DEFAULT] = (Elf64_Phdr){ .p_type = PT_INTERP, .p_offset = 0x540,
					  .p_filesz = 0x10 };
	im.eh.e_phnum = PH_DEFAULT + 1;
	expect_bad("dynamic executable");
	im.ph[PH_DEFAULT].p_type = PT_DYNAMIC;
	expect_bad("dynamic executable");
}
END_TEST

START_TEST(no_loadable_segments)
{
	im.ph[PH_HDRS].p_type = PT_NULL;
	im.ph[PH_TEXT].p_type = PT_NULL;
	im.ph[PH_DATA].p_type = PT_NULL;
	expect_bad("no loadable segments");
}
END_TEST

START_TEST(missing_note)
{
	im.ph[PH_NOTE].p_type = PT_NULL;
	expect_bad("no vmlet note");
	/* Present, but some other vendor's. */
	img_default();
	memcpy(im.note.name, "vmlex", 6);
	expect_bad("no vmlet note");
	img_default();
	im.note.nh.n_namesz = 5; /* "vmlet" without its NUL */
	expect_bad("no vmlet note");
	img_default();
	im.note.nh.n_type = VMLET_NOTE_TYPE + 1;
	expect_bad("no vmlet note");
	/* In the file, but no PT_NOTE points at it. */
	img_default();
	im.ph[PH_NOTE].p_offset = NOTE2_OFF;
	expect_bad("no vmlet note");
}
END_TEST

START_TEST(note_wrong_descsz)
{
	im.note.nh.n_descsz = 8;
	im.ph[PH_NOTE].p_filesz = 12 + 8 + 8;
	expect_bad("bad vmlet note size");
	im.note.nh.n_descsz = 24;
	im.ph[PH_NOTE].p_filesz = 12 + 8 + 24;
	expect_bad("bad vmlet note size");
	im.note.nh.n_descsz = 0;
	im.ph[PH_NOTE].p_filesz = 12 + 8;
	expect_bad("bad vmlet note size");
}
END_TEST

START_TEST(malformed_notes)
{
	/* Descriptor runs past the PT_NOTE. */
	im.note.nh.n_descsz = 0x1000;
	expect_bad("malformed note");
	img_default();
	im.note.nh.n_descsz = UINT32_MAX;
	expect_bad("malformed note");
	img_default();
	im.note.nh.n_namesz = UINT32_MAX;
	expect_bad("malformed note");
	/* A tail too short for a note header. */
	img_default();
	im.ph[PH_NOTE].p_filesz += 4;
	expect_bad("malformed note");
	/* PT_NOTE itself past the file. */
	img_default();
	im.ph[PH_NOTE].p_offset = im.len - 8;
	expect_bad("note outside the file");
	im.ph[PH_NOTE].p_offset = UINT64_MAX - 8;
	expect_bad("note outside the file");
}
END_TEST

START_TEST(two_vmlet_notes)
{
	im.note2 = 1;
	im.ph[PH_DEFAULT] = im.ph[PH_NOTE];
	im.ph[PH_DEFAULT].p_offset = NOTE2_OFF;
	im.eh.e_phnum = PH_DEFAULT + 1;
	expect_bad("more than one vmlet note");
}
END_TEST

START_TEST(note_other_abi_version)
{
	im.note.desc.abi_version = VMLET_ABI_VERSION + 1;
	expect(-VMLET_EABI, "built for another vmlet ABI version");
	im.note.desc.abi_version = 0;
	expect(-VMLET_EABI, "built for another vmlet ABI version");
	/* Reported even when the rest would be wrong for this ABI. */
	im.note.desc.syscall_entry = 0;
	im.eh.e_entry = 0;
	expect(-VMLET_EABI, "built for another vmlet ABI version");
}
END_TEST

START_TEST(note_reserved_not_zero)
{
	im.note.desc.reserved = 1;
	expect_bad("vmlet note reserved field not zero");
}
END_TEST

START_TEST(too_many_segments)
{
	for (unsigned int i = 0; i < PH_MAX - PH_DEFAULT; i++)
		im.ph[PH_DEFAULT + i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R,
						      .p_vaddr = 0x200000 + i * 0x1000ULL,
						      .p_memsz = 0x1000 };
	im.eh.e_phnum = PH_MAX;
	expect_bad("too many segments");
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *elf_suite(void)
{
	Suite *s = suite_create("elf");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, valid_image_parses);
	tcase_add_test(tc, why_may_be_null);
	tcase_add_test(tc, segments_sorted_whatever_the_header_order);
	tcase_add_test(tc, phdr_addr_zero_when_not_loaded);
	tcase_add_test(tc, other_program_headers_ignored);
	tcase_add_test(tc, segment_may_end_at_limit);
	tcase_add_test(tc, sixteen_segments_fit);
	tcase_add_test(tc, same_note_in_two_pt_notes_counts_once);
	tcase_add_test(tc, other_notes_skipped);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, load_copies_and_zeroes_bss);
	tcase_add_test(tc, load_into_exact_memory);
	tcase_add_test(tc, load_refuses_what_does_not_fit);
	suite_add_tcase(s, tc);

	tc = tcase_create("broken");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60); /* the truncation loop under valgrind */
	tcase_add_test(tc, truncated_at_every_length);
	tcase_add_test(tc, bad_magic);
	tcase_add_test(tc, elfclass32);
	tcase_add_test(tc, big_endian);
	tcase_add_test(tc, bad_version);
	tcase_add_test(tc, wrong_machine);
	tcase_add_test(tc, not_et_exec);
	tcase_add_test(tc, bad_ehsize);
	tcase_add_test(tc, wrong_phentsize);
	tcase_add_test(tc, phnum_phentsize_overflow);
	tcase_add_test(tc, bad_phnum);
	tcase_add_test(tc, phoff_past_the_end);
	tcase_add_test(tc, segment_past_the_file);
	tcase_add_test(tc, filesz_over_memsz);
	tcase_add_test(tc, vaddr_below_base);
	tcase_add_test(tc, vaddr_memsz_beyond_limit);
	tcase_add_test(tc, vaddr_memsz_overflow);
	tcase_add_test(tc, segments_overlap);
	tcase_add_test(tc, two_segments_in_one_page);
	tcase_add_test(tc, writable_and_executable);
	tcase_add_test(tc, entry_outside_exec);
	tcase_add_test(tc, entry_in_non_exec_segment);
	tcase_add_test(tc, syscall_entry_outside_exec);
	tcase_add_test(tc, pt_interp_present);
	tcase_add_test(tc, no_loadable_segments);
	tcase_add_test(tc, missing_note);
	tcase_add_test(tc, note_wrong_descsz);
	tcase_add_test(tc, malformed_notes);
	tcase_add_test(tc, two_vmlet_notes);
	tcase_add_test(tc, note_other_abi_version);
	tcase_add_test(tc, note_reserved_not_zero);
	tcase_add_test(tc, too_many_segments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(elf_suite(), CK_FORK_GETENV);
}
