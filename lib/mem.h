/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Guest memory: one memfd, mapped once into the host, covered by one KVM
 * memslot; and the identity-mapped page tables inside it.
 */
#ifndef VMLET_MEM_H
#define VMLET_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <vmlet.h>

#include "elf.h"
#include "layout.h"

struct vmlet_mem {
	int fd;
	uint8_t *host; /* host mapping of guest address 0 */
	uint64_t size;
	enum vmlet_backing backing; /* what was actually used */
};

/*
 * Create size bytes of guest memory. AUTO takes the best backing the
 * system has (hugetlb, then THP on shmem, then 4 KiB) and records the
 * choice in mem->backing; an explicit backing that is unavailable is an
 * error (-ENOMEM for hugetlb without free pages, -EOPNOTSUPP for THP when
 * shmem THP is disabled).
 */
int vmlet_mem_create(uint64_t size, enum vmlet_backing backing, struct vmlet_mem *mem);
void vmlet_mem_destroy(struct vmlet_mem *mem);

/* /proc/self/pagemap, opened once (DROP restore reads it), or -1. */
int vmlet_mem_pagemap_fd(void);

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP	   (1ULL << 62)
#define PM_FILE	   (1ULL << 61)

/*
 * Whether a pagemap entry of the private mapping of the snapshot's memfd
 * is a page written since the snapshot: a private copy, which DROP must
 * drop (fs/proc/task_mmu.c says how entries read).
 *
 * PTE- and PMD-mapped (4 KiB and THP backing), an entry is one of:
 *  - 0: nothing mapped: never touched, or the file's page unmapped after
 *    reclaim (shmem swaps its page cache from the file, leaving no entry
 *    here): the snapshot's, nothing to drop;
 *  - PM_PRESENT | PM_FILE: the snapshot's page, mapped for reading;
 *  - PM_PRESENT: a private copy (anonymous), mapped;
 *  - PM_SWAP: a private copy swapped out or under migration (a migration
 *    entry names an anonymous page), or a poisoned or failed swap-in
 *    copy's marker: all private, all must go;
 *  - PM_SWAP | PM_FILE: the snapshot's page under migration.
 * So written means PM_PRESENT or PM_SWAP, without PM_FILE. Testing
 * PM_PRESENT alone missed swapped copies: the next call swapped the last
 * call's data back in.
 *
 * hugetlb entries say PM_PRESENT (and PM_FILE) or nothing: a copy under
 * migration or poisoned reads 0 like an untouched page. So there anything
 * but the snapshot's mapped page is dropped; dropping an untouched 2 MiB
 * page unmaps nothing and costs no fault.
 */
static inline bool vmlet_mem_pm_written(uint64_t pm, bool hugetlb)
{
	if (hugetlb)
		return !(pm & PM_FILE);
	return (pm & (PM_PRESENT | PM_SWAP)) && !(pm & PM_FILE);
}

/*
 * Set bit pg of bits (zeroed by the caller) for each 4 KiB page of
 * [host, host + size) that is anonymous: a private mapping's copy of a
 * page written since it was mapped, present or swapped out
 * (vmlet_mem_pm_written() of a 4 KiB mapping). 0, or -EOPNOTSUPP without pagemap.
 */
int vmlet_mem_anon_pages(const uint8_t *host, uint64_t size, uint64_t *bits);

/*
 * Pages [pg, pg + npages) of guest memory are fd's bytes from off, mapped
 * over a layer below: a live snapshot's memfd holds its pages at their
 * own offsets (off == pg * VMLET_PAGE_SIZE), a snapshot file its runs
 * wherever the file puts them (page aligned).
 */
struct vmlet_mem_run {
	uint64_t pg, npages;
	uint64_t off;
	int fd;
};

/*
 * The most runs a snapshot's memory is made of over its base. Each is a
 * mapping in every sandbox of it, and a process has vm.max_map_count of
 * them (65530 by default); a snapshot whose pages would take more holds
 * them itself instead (lib/livesnap.c, lib/snapfile.c).
 */
#define VMLET_MEM_MAX_RUNS 256

/*
 * Map size bytes of base_fd with prot and flags (MAP_SHARED or
 * MAP_PRIVATE), then each run over it with MAP_FIXED: memory whose pages
 * come from several memfds, one VMA per run (a KVM memslot may span
 * them). Stores the mapping in *out; 0 or a negative errno (-ENOMEM when
 * the address space or the map count runs out, -EINVAL for a run that
 * is empty or does not lie within size).
 */
int vmlet_mem_map_layers(int base_fd, uint64_t size, const struct vmlet_mem_run *runs,
			 unsigned int nruns, int prot, int flags, uint8_t **out);

/* Whether shmem transparent hugepages are enabled now (VMLET_BACKING_THP works). */
bool vmlet_mem_thp_enabled(void);

/*
 * What AUTO would choose now for size bytes of memory, and the count of
 * hugetlb pages a new mapping can get: free ones that no mapping reserved.
 */
enum vmlet_backing vmlet_mem_best_backing(uint64_t size, long *hugepages_free);

/* True when [addr, addr + len) lies inside guest memory; never wraps. */
static inline int vmlet_mem_range_ok(const struct vmlet_mem *mem, uint64_t addr, uint64_t len)
{
	return addr <= mem->size && len <= mem->size - addr;
}

/*
 * Build identity-mapped 4-level page tables at VMLET_PT_ADDR for layout l
 * and image elf: page 0 and the guard pages unmapped, each image segment
 * with its ELF permissions, the system pages, buffers, stack and heap as
 * abi.h describes, no-execute everywhere else. 2 MiB pages wherever a
 * 2 MiB region has one permission throughout, 4 KiB pages elsewhere.
 * Returns the CR3 value, or a negative error (-E2BIG when the tables do
 * not fit their area).
 */
int64_t vmlet_mem_build_page_tables(struct vmlet_mem *mem, const struct vmlet_layout *l,
				    const struct vmlet_elf *elf);

#endif /* VMLET_MEM_H */
