// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/mem.c: the page tables give every page the
 * permission abi.h promises, with 2 MiB pages where a region is uniform;
 * layers map their runs over the memory and nowhere else.
 */
#define _GNU_SOURCE
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem.h"
#include "unit.h"

#define P 0x1ULL
#define W 0x2ULL
#define PS 0x80ULL
#define NX (1ULL << 63)
#define ADDR 0x000ffffffffff000ULL

static uint8_t *host;
static struct vmlet_mem mem;
static struct vmlet_layout lay;
static struct vmlet_elf elf;

/* Walk the tables like the CPU: the leaf entry for addr, 0 if not present. */
static uint64_t walk(uint64_t addr, int *large)
{
	uint64_t *pml4 = (uint64_t *)(host + VMLET_PT_ADDR), e;

	e = pml4[(addr >> 39) & 511];
	if (!(e & P))
		return 0;
	e = ((uint64_t *)(host + (e & ADDR)))[(addr >> 30) & 511];
	if (!(e & P))
		return 0;
	e = ((uint64_t *)(host + (e & ADDR)))[(addr >> 21) & 511];
	if (!(e & P))
		return 0;
	*large = !!(e & PS);
	if (e & PS)
		return e;
	return ((uint64_t *)(host + (e & ADDR)))[(addr >> 12) & 511];
}

static void setup(void)
{
	struct vmlet_config c;

	mem.size = 8 << 20;
	host = calloc(1, mem.size);
	mem.host = host;
	ck_assert_int_eq(vmlet_config_normalize(&(struct vmlet_config){ .sz = sizeof(c),
							    .mem_size = 8 << 20 }, &c), 0);
	memset(&elf, 0, sizeof(elf));
	elf.nsegs = 3;
	elf.segs[0] = (struct vmlet_elf_seg){ .vaddr = 0x100000, .memsz = 0x300, .flags = PF_R };
	elf.segs[1] = (struct vmlet_elf_seg){ .vaddr = 0x101000, .memsz = 0x5000, .flags = PF_R | PF_X };
	elf.segs[2] = (struct vmlet_elf_seg){ .vaddr = 0x106fc0, .memsz = 0x2000, .flags = PF_R | PF_W };
	ck_assert_int_eq(vmlet_layout_compute(&c, 0x100000, 0x109000, &lay), 0);
	ck_assert_int_eq(vmlet_mem_build_page_tables(&mem, &lay, &elf), VMLET_PT_ADDR);
}

static void teardown(void)
{
	free(host);
}

static void expect(uint64_t addr, int present, int writable, int exec)
{
	int large = 0;
	uint64_t e = walk(addr, &large);

	ck_assert_msg(!!(e & P) == present, "%#lx present %d", (unsigned long)addr, present);
	if (!present)
		return;
	ck_assert_msg(((large ? e & ~(PS | 0x1fffffULL) : e) & ADDR) == (addr & (large ? ~0x1fffffULL : ~0xfffULL)),
		      "%#lx not identity mapped", (unsigned long)addr);
	ck_assert_msg(!!(e & W) == writable, "%#lx writable %d", (unsigned long)addr, writable);
	ck_assert_msg((!(e & NX)) == exec, "%#lx exec %d", (unsigned long)addr, exec);
}

START_TEST(page_zero_and_guards_are_unmapped)
{
	expect(0, 0, 0, 0);
	expect(0xfff, 0, 0, 0);
	expect(0x4000, 0, 0, 0); /* under the exception stack */
	expect(lay.guard_addr, 0, 0, 0);
	expect(lay.guard_addr + 0xfff, 0, 0, 0);
}
END_TEST

START_TEST(system_pages_have_their_permissions)
{
	expect(VMLET_BOOT_ADDR, 1, 0, 0);
	expect(VMLET_GDT_ADDR, 1, 0, 0);
	expect(VMLET_STUB_ADDR, 1, 0, 1);
	expect(VMLET_XSTACK_ADDR, 1, 1, 0);
	expect(VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE - 1, 1, 1, 0);
	expect(VMLET_PT_ADDR, 1, 0, 0);
}
END_TEST

START_TEST(image_segments_keep_elf_permissions)
{
	expect(0x100000, 1, 0, 0);
	expect(0x101000, 1, 0, 1);
	expect(0x105fff, 1, 0, 1);
	expect(0x106000, 1, 1, 0); /* the data segment's first, partial page */
	expect(0x108fff, 1, 1, 0);
}
END_TEST

START_TEST(buffers_stack_and_heap)
{
	int large = 0;

	expect(lay.in_addr, 1, 0, 0);
	expect(lay.out_addr, 1, 1, 0);
	expect(lay.stack_lo, 1, 1, 0);
	expect(lay.stack_hi - 1, 1, 1, 0);
	expect(lay.heap_hi - 1, 1, 1, 0);
	/* The top 2 MiB regions are uniform heap: one large page each. */
	ck_assert_uint_ne(walk(6 << 20, &large), 0);
	ck_assert_int_eq(large, 1);
	/* Page 0 is not mapped: a null dereference faults. */
	ck_assert_uint_eq(walk(0, &large), 0);
	expect(8 << 20, 0, 0, 0); /* beyond memory */
}
END_TEST

START_TEST(layout_that_disagrees_with_memory_is_einval)
{
	struct vmlet_layout l = lay;

	l.mem_size = 4 << 20;
	ck_assert_int_eq(vmlet_mem_build_page_tables(&mem, &l, &elf), -EINVAL);
}
END_TEST

/* A memfd of npages pages, each filled with its number plus fill. */
static int pages_fd(unsigned int npages, uint8_t fill)
{
	int fd = memfd_create("mem_test", MFD_CLOEXEC);
	uint8_t page[VMLET_PAGE_SIZE];

	ck_assert_int_ge(fd, 0);
	for (unsigned int i = 0; i < npages; i++) {
		memset(page, (int)(i + fill), sizeof(page));
		ck_assert_int_eq(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
	}
	return fd;
}

START_TEST(layers_map_their_runs_over_the_memory)
{
	int base = pages_fd(4, 0), layer = pages_fd(2, 0x10);
	struct vmlet_mem_run run = {.pg = 1, .npages = 2, .off = 0, .fd = layer};
	uint8_t *p;

	ck_assert_int_eq(vmlet_mem_map_layers(base, 4 * VMLET_PAGE_SIZE, &run, 1, PROT_READ,
					      MAP_SHARED, &p),
			 0);
	ck_assert_uint_eq(p[0], 0);
	ck_assert_uint_eq(p[1 * VMLET_PAGE_SIZE], 0x10);
	ck_assert_uint_eq(p[2 * VMLET_PAGE_SIZE], 0x11);
	ck_assert_uint_eq(p[3 * VMLET_PAGE_SIZE], 3);
	munmap(p, 4 * VMLET_PAGE_SIZE);
	close(base);
	close(layer);
}
END_TEST

/* A run past the memory would map over whatever follows it in the process. */
START_TEST(runs_outside_the_memory_are_einval)
{
	int base = pages_fd(4, 0), layer = pages_fd(2, 0x10);
	const struct vmlet_mem_run bad[] = {
		{.pg = 3, .npages = 2, .fd = layer},		/* past the end */
		{.pg = 4, .npages = 1, .fd = layer},		/* at the end */
		{.pg = 1ULL << 60, .npages = 1, .fd = layer},	/* far away */
		{.pg = 1, .npages = ~0ULL, .fd = layer},	/* wraps */
		{.pg = 1, .npages = 0, .fd = layer},		/* empty */
	};
	uint8_t *p = NULL;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(vmlet_mem_map_layers(base, 4 * VMLET_PAGE_SIZE, &bad[i], 1,
						      PROT_READ, MAP_SHARED, &p),
				 -EINVAL);
	ck_assert_ptr_null(p);
	close(base);
	close(layer);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mem");
	TCase *tc = tcase_create("page tables");
	TCase *layers = tcase_create("layers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, page_zero_and_guards_are_unmapped);
	tcase_add_test(tc, system_pages_have_their_permissions);
	tcase_add_test(tc, image_segments_keep_elf_permissions);
	tcase_add_test(tc, buffers_stack_and_heap);
	tcase_add_test(tc, layout_that_disagrees_with_memory_is_einval);
	suite_add_tcase(s, tc);
	tcase_add_test(layers, layers_map_their_runs_over_the_memory);
	tcase_add_test(layers, runs_outside_the_memory_are_einval);
	suite_add_tcase(s, layers);
	return unit_run(s, CK_FORK_GETENV);
}
