// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest memory backing and page tables.
 *
 * Backing: a memfd, so that later a snapshot can be shared copy-on-write
 * between sandboxes. hugetlb 2 MiB pages when the system has free ones
 * (fewer TLB misses and EPT/NPT entries), else shmem with MADV_HUGEPAGE
 * when shmem THP is enabled for madvise, else plain 4 KiB shmem. The choice
 * is reported through vmlet_sandbox_backing() and `vmlet info`.
 *
 * Page tables: the permission of every 4 KiB page is worked out first,
 * then each 2 MiB region becomes one large page when it is uniform, or a
 * page table when it is not. Accessed and dirty bits are preset so the
 * CPU never writes the (read-only) tables.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <elf.h>

#include "mem.h"

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)
#endif

#define PTE_P  (1ULL << 0)
#define PTE_W  (1ULL << 1)
#define PTE_A  (1ULL << 5)
#define PTE_D  (1ULL << 6)
#define PTE_PS (1ULL << 7)
#define PTE_NX (1ULL << 63)

enum {
	PERM_NONE = 0,
	PERM_R = 1,
	PERM_W = 2,
	PERM_X = 4,
};

static long read_long(const char *path)
{
	char buf[32];
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/* shmem THP honours MADV_HUGEPAGE unless shmem_enabled is never/deny. */
bool vmlet_mem_thp_enabled(void)
{
	char buf[128];
	int ok = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");

	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		ok = !strstr(buf, "[never]") && !strstr(buf, "[deny]");
	fclose(f);
	return ok;
}

/*
 * A hugetlb mapping reserves its pages when it is made and takes them from
 * free_hugepages only as it touches them: the pages a new mapping can get
 * are the free ones less those reserved (resv_hugepages).
 */
enum vmlet_backing vmlet_mem_best_backing(uint64_t size, long *hugepages_free)
{
	long n = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	long resv = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages");

	if (n > 0 && resv > 0)
		n = resv < n ? n - resv : 0;
	if (hugepages_free)
		*hugepages_free = n < 0 ? 0 : n;
	/* What AUTO would get: hugetlb only with a free 2 MiB page for every 2 MiB. */
	if (n > 0 && (uint64_t)n >= size / VMLET_HUGE_SIZE)
		return VMLET_BACKING_HUGETLB;
	return vmlet_mem_thp_enabled() ? VMLET_BACKING_THP : VMLET_BACKING_4K;
}

static int map(struct vmlet_mem *mem, unsigned int mfd_flags)
{
	void *p;
	int fd, err;

	fd = memfd_create("vmlet", MFD_CLOEXEC | MFD_ALLOW_SEALING | mfd_flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)mem->size) < 0)
		goto err_fd;
	/* For hugetlb, mmap reserves the pages: this is where a shortage shows. */
	p = mmap(NULL, mem->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err_fd;
	mem->fd = fd;
	mem->host = p;
	return 0;

err_fd:
	err = errno;
	close(fd);
	return err == EINVAL || err == ENOMEM ? -ENOMEM : -err;
}

int vmlet_mem_create(uint64_t size, enum vmlet_backing backing, struct vmlet_mem *mem)
{
	int err;

	mem->size = size;
	mem->fd = -1;
	mem->host = NULL;
	if (backing == VMLET_BACKING_AUTO || backing == VMLET_BACKING_HUGETLB) {
		err = map(mem, MFD_HUGETLB | MFD_HUGE_2MB);
		if (!err) {
			mem->backing = VMLET_BACKING_HUGETLB;
			return 0;
		}
		if (backing == VMLET_BACKING_HUGETLB)
			return err;
	}
	if (backing == VMLET_BACKING_THP && !vmlet_mem_thp_enabled())
		return -EOPNOTSUPP;
	err = map(mem, 0);
	if (err)
		return err;
	mem->backing = VMLET_BACKING_4K;
	if ((backing == VMLET_BACKING_AUTO || backing == VMLET_BACKING_THP) &&
	    vmlet_mem_thp_enabled() && madvise(mem->host, size, MADV_HUGEPAGE) == 0)
		mem->backing = VMLET_BACKING_THP;
	return 0;
}

static int pagemap_fd = -1;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;

static void pagemap_open(void)
{
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

int vmlet_mem_pagemap_fd(void)
{
	pthread_once(&pagemap_once, pagemap_open);
	return pagemap_fd;
}

int vmlet_mem_anon_pages(const uint8_t *host, uint64_t size, uint64_t *bits)
{
	uint64_t first = (uintptr_t)host / VMLET_PAGE_SIZE, npages = size / VMLET_PAGE_SIZE;
	uint64_t pm[512];
	int fd = vmlet_mem_pagemap_fd();

	if (fd < 0)
		return -EOPNOTSUPP;
	for (uint64_t pg = 0; pg < npages;) {
		uint64_t n = npages - pg < 512 ? npages - pg : 512;
		off_t off = (off_t)((first + pg) * sizeof(pm[0]));
		ssize_t got = pread(fd, pm, n * sizeof(pm[0]), off);

		if (got != (ssize_t)(n * sizeof(pm[0])))
			return got < 0 ? -errno : -EIO;
		for (uint64_t i = 0; i < n; i++, pg++)
			if (vmlet_mem_pm_written(pm[i], false))
				bits[pg / 64] |= 1ULL << (pg % 64);
	}
	return 0;
}

int vmlet_mem_map_layers(int base_fd, uint64_t size, const struct vmlet_mem_run *runs,
			 unsigned int nruns, int prot, int flags, uint8_t **out)
{
	uint64_t npages = size / VMLET_PAGE_SIZE;
	uint8_t *p;
	int err;

	/* Runs come from files: none may map anywhere but over this memory. */
	for (unsigned int i = 0; i < nruns; i++)
		if (!runs[i].npages || runs[i].pg >= npages || runs[i].npages > npages - runs[i].pg)
			return -EINVAL;
	p = mmap(NULL, size, prot, flags, base_fd, 0);
	if (p == MAP_FAILED)
		goto err;
	for (unsigned int i = 0; i < nruns; i++) {
		uint8_t *at = p + runs[i].pg * VMLET_PAGE_SIZE;

		if (mmap(at, runs[i].npages * VMLET_PAGE_SIZE, prot, flags | MAP_FIXED, runs[i].fd,
			 (off_t)runs[i].off) == MAP_FAILED) {
			err = errno;
			munmap(p, size);
			errno = err;
			goto err;
		}
	}
	*out = p;
	return 0;

err:
	return errno == EINVAL || errno == ENOMEM ? -ENOMEM : -errno;
}

void vmlet_mem_destroy(struct vmlet_mem *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	mem->host = NULL;
	mem->fd = -1;
}

static void set_perm(uint8_t *perm, uint64_t lo, uint64_t hi, uint8_t p)
{
	for (uint64_t pg = lo / VMLET_PAGE_SIZE; pg < (hi + VMLET_PAGE_SIZE - 1) / VMLET_PAGE_SIZE;
	     pg++)
		perm[pg] = p;
}

static uint64_t leaf(uint64_t addr, uint8_t p)
{
	uint64_t e = addr | PTE_P | PTE_A | PTE_D;

	if (p & PERM_W)
		e |= PTE_W;
	if (!(p & PERM_X))
		e |= PTE_NX;
	return e;
}

int64_t vmlet_mem_build_page_tables(struct vmlet_mem *mem, const struct vmlet_layout *l,
				    const struct vmlet_elf *elf)
{
	const uint64_t per_region = VMLET_HUGE_SIZE / VMLET_PAGE_SIZE;
	uint64_t npages = l->mem_size / VMLET_PAGE_SIZE, nregions = l->mem_size / VMLET_HUGE_SIZE;
	uint64_t npd = (nregions + 511) / 512, next, *pml4, *pdpt;
	uint8_t *perm;
	int64_t ret;

	if (l->mem_size != mem->size || nregions == 0)
		return -EINVAL;
	perm = calloc(npages, 1);
	if (!perm)
		return -ENOMEM;
	set_perm(perm, VMLET_BOOT_ADDR, VMLET_BOOT_ADDR + VMLET_PAGE_SIZE, PERM_R);
	set_perm(perm, VMLET_GDT_ADDR, VMLET_GDT_ADDR + VMLET_PAGE_SIZE, PERM_R);
	set_perm(perm, VMLET_STUB_ADDR, VMLET_STUB_ADDR + VMLET_PAGE_SIZE, PERM_R | PERM_X);
	set_perm(perm, VMLET_XSTACK_ADDR, VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE, PERM_R | PERM_W);
	set_perm(perm, VMLET_PT_ADDR, VMLET_IMAGE_BASE, PERM_R);
	for (unsigned int i = 0; i < elf->nsegs; i++) {
		const struct vmlet_elf_seg *s = &elf->segs[i];
		uint8_t p = PERM_R;

		if (s->flags & PF_W)
			p |= PERM_W;
		if (s->flags & PF_X)
			p |= PERM_X;
		set_perm(perm, s->vaddr & ~(VMLET_PAGE_SIZE - 1), s->vaddr + s->memsz, p);
	}
	set_perm(perm, l->in_addr, l->in_addr + l->in_size, PERM_R);
	set_perm(perm, l->out_addr, l->out_addr + l->out_size, PERM_R | PERM_W);
	set_perm(perm, l->stack_lo, l->heap_hi, PERM_R | PERM_W);

	/* PML4, PDPT, then the page directories, then page tables on demand. */
	pml4 = (uint64_t *)(mem->host + VMLET_PT_ADDR);
	pdpt = pml4 + 512;
	next = VMLET_PT_ADDR + (2 + npd) * VMLET_PAGE_SIZE;
	ret = -E2BIG;
	if (npd > 512 || next > VMLET_IMAGE_BASE)
		goto out;
	memset(pml4, 0, (2 + npd) * VMLET_PAGE_SIZE);
	pml4[0] = (VMLET_PT_ADDR + VMLET_PAGE_SIZE) | PTE_P | PTE_W | PTE_A;
	for (uint64_t i = 0; i < npd; i++)
		pdpt[i] = (VMLET_PT_ADDR + (2 + i) * VMLET_PAGE_SIZE) | PTE_P | PTE_W | PTE_A;
	for (uint64_t r = 0; r < nregions; r++) {
		uint64_t *pde = (uint64_t *)(mem->host + VMLET_PT_ADDR + 2 * VMLET_PAGE_SIZE) + r;
		const uint8_t *rp = perm + r * per_region;
		uint64_t base = r * VMLET_HUGE_SIZE, *pt;
		int uniform = 1;

		for (uint64_t i = 1; i < per_region && uniform; i++)
			uniform = rp[i] == rp[0];
		if (uniform) {
			*pde = rp[0] ? leaf(base, rp[0]) | PTE_PS : 0;
			continue;
		}
		if (next >= VMLET_IMAGE_BASE)
			goto out;
		pt = (uint64_t *)(mem->host + next);
		for (uint64_t i = 0; i < per_region; i++)
			pt[i] = rp[i] ? leaf(base + i * VMLET_PAGE_SIZE, rp[i]) : 0;
		*pde = next | PTE_P | PTE_W | PTE_A;
		next += VMLET_PAGE_SIZE;
	}
	ret = VMLET_PT_ADDR;
out:
	free(perm);
	return ret;
}
