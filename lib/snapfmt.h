/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The snapshot file format (man/man5/vmlet-snapshot.5): its structures, a
 * builder of everything but the memory pages, and the parser that
 * validates a file before any of it is used.
 *
 * Pure code over byte buffers, with no KVM: unit-tested (snapfmt_test)
 * and fuzzed (snapfile_fuzz). lib/snapfmt.c has the container (header,
 * sections, layout, functions, runs), lib/snapcpu.c the CPU section;
 * lib/snapfile.c writes and maps files with them.
 * All integers are little-endian; every structure is naturally aligned and
 * its padding is zero.
 */
#ifndef VMLET_SNAPFMT_H
#define VMLET_SNAPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmlet.h>

#include "layout.h"
#include "snapcpu.h"

#define VMLET_SNAPFMT_VERSION 1

enum vmlet_snapfmt_sect {
	VMLET_SNAPFMT_CPU = 1, /* struct vmlet_x86_state */
	VMLET_SNAPFMT_LAYOUT,  /* struct vmlet_snapfmt_layout */
	VMLET_SNAPFMT_FUNCS,   /* the guest's function table frame (vmlet/abi.h) */
	VMLET_SNAPFMT_RUNS,    /* struct vmlet_snapfmt_run[] */
	VMLET_SNAPFMT_PAGES,   /* the runs' pages, page aligned */
	VMLET_SNAPFMT_NSECT = VMLET_SNAPFMT_PAGES,
};

struct vmlet_snapfmt_section {
	uint32_t type; /* enum vmlet_snapfmt_sect: section i has type i + 1 */
	uint32_t crc;  /* CRC32C of its bytes */
	uint64_t off, size;
};

struct vmlet_snapfmt_header {
	char magic[8];			    /* VMLET_SNAPSHOT_MAGIC */
	uint32_t version;		    /* VMLET_SNAPFMT_VERSION */
	uint32_t abi_version;		    /* VMLET_ABI_VERSION of the guest in it */
	char vendor[12];		    /* CPUID vendor of the host that saved it */
	uint32_t nsections;		    /* VMLET_SNAPFMT_NSECT */
	uint64_t xcr0;			    /* XCR0 the state runs with */
	uint32_t cpuid[VMLET_CPUID_NWORDS]; /* features the state needs */
	uint32_t flags;			    /* 0 */
	uint64_t mem_size;		    /* guest memory */
	uint64_t file_size;
	struct vmlet_snapfmt_section sect[VMLET_SNAPFMT_NSECT];
	uint32_t reserved; /* 0 */
	uint32_t crc;	   /* CRC32C of the header up to here */
};

/* The config a snapshot's memory was laid out with, and the layout. */
struct vmlet_snapfmt_layout {
	uint64_t mem_size, stack_size, heap_size, in_size, out_size;
	uint64_t image_lo, image_hi;
	struct vmlet_layout layout;
};

/* Guest pages [pg, pg + npages) are the file's bytes at off (page aligned). */
struct vmlet_snapfmt_run {
	uint64_t pg, npages, off;
};

/* A validated file: copies of its fixed parts, pointers into it for the rest. */
struct vmlet_snapfmt {
	struct vmlet_snapfmt_header hdr;
	struct vmlet_x86_state cpu;
	struct vmlet_snapfmt_layout layout;
	const void *funcs; /* the table frame */
	uint64_t funcs_size;
	const struct vmlet_snapfmt_run *runs;
	uint64_t nruns;
};

/* CRC32C (Castagnoli), as iSCSI and ext4 use it: crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t vmlet_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The pages of mem (size bytes) that are not zero, as runs with off unset.
 * Only the pages marked in maybe (a bit per page) are read, all when it
 * is NULL: the others are known to be zero.
 */
int vmlet_snapfmt_runs(const uint8_t *mem, uint64_t size, const uint64_t *maybe,
		       struct vmlet_snapfmt_run **runs, uint64_t *nruns);

/*
 * Build the metadata of a file: header, CPU, layout, function table and
 * runs sections, then zeros up to the page-aligned start of the pages.
 * Sets each run's off; mem supplies the pages' bytes for their checksum.
 * *meta (malloc()ed, *meta_len bytes) goes at the start of the file, run
 * i's pages at runs[i].off; the file is hdr->file_size bytes. 0, -EINVAL
 * for a table that does not encode, -ENOMEM.
 */
int vmlet_snapfmt_build(const struct vmlet_snapfmt_host *host, const struct vmlet_x86_state *cpu,
			const struct vmlet_snapfmt_layout *layout, const struct vmlet_func *funcs,
			unsigned int nfuncs, const uint8_t *mem, struct vmlet_snapfmt_run *runs,
			uint64_t nruns, uint8_t **meta, size_t *meta_len);

/*
 * Validate the len bytes of a snapshot file at buf against host and fill
 * *out. Returns 0, or a negative code with a message naming what is wrong
 * in err (errlen bytes, NUL-terminated, may be cut short):
 *  -EINVAL           not a snapshot file (magic);
 *  -EPROTONOSUPPORT  another format version;
 *  -VMLET_EABI       a guest of another ABI version;
 *  -EOPNOTSUPP       another CPU vendor, or something the vCPU state
 *                    needs that this host's KVM lacks: XCR0 components,
 *                    XCRs, XSAVE components, CPUID features, an MSR
 *                    not in host->msrs, or an MTRR address beyond
 *                    host->phys_bits;
 *  -EBADMSG          truncated, corrupted (checksum), or a field out of
 *                    range: sizes, offsets, overlaps, layout, function
 *                    table, registers and control registers.
 */
int vmlet_snapfmt_parse(const void *buf, size_t len, const struct vmlet_snapfmt_host *host,
			struct vmlet_snapfmt *out, char *err, size_t errlen);

/*
 * Check n runs against header h as vmlet_snapfmt_parse() does: within
 * memory, in order, packed in the pages section and covering it. 0, or
 * -EBADMSG with a message in err.
 */
int vmlet_snapfmt_check_runs(const struct vmlet_snapfmt_run *runs, uint64_t n,
			     const struct vmlet_snapfmt_header *h, char *err, size_t errlen);

#endif /* VMLET_SNAPFMT_H */
