// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshot files: save a snapshot to a file, and load one back, in this
 * process or another (format: lib/snapfmt.h, man/man5/vmlet-snapshot.5).
 *
 * Decisions:
 *  - Memory is stored sparsely, as runs of pages that are not zero, each
 *    at a page-aligned offset. Loading maps each run of the file over an
 *    empty sealed memfd (zeros that cost nothing) exactly as a live
 *    snapshot's layer is mapped over its parent (vmlet_mem_map_layers()
 *    with a run offset), MAP_PRIVATE for sandboxes and MAP_SHARED,
 *    PROT_READ for the view restore copies from. Nothing is copied: a new
 *    process calls as soon as the file is validated, its idle sandboxes
 *    cost what those of an in-memory snapshot cost, and the page cache
 *    shares the pages between processes that load one file.
 *  - The file is untrusted and validated whole before anything in it is
 *    used (lib/snapfmt.c), its pages' checksum included: a load reads
 *    every stored page once. The CPU state and the function table are
 *    copied out of it; the memory stays the file's. That memory is
 *    guest memory, which the host never trusts anyway, so a file changed
 *    after the load can change what the guest sees but no host decision.
 *    A file truncated after the load, though, turns host reads of guest
 *    memory into SIGBUS, as it would for any mapped file (a shared
 *    library): the file must stay as it is while the snapshot lives,
 *    which vmlet_snapshot_load(3) says.
 *  - What the vCPU state needs of the host is checked at load, against
 *    what this host's KVM offers (host_get()): vendor, XCR0 and XSAVE
 *    components, CPUID features, and each MSR (KVM_GET_MSR_INDEX_LIST,
 *    lib/x86.h) and MTRR address width. A file that loads is one a
 *    sandbox can be made of here, not one whose first KVM_SET_MSRS fails
 *    with -EIO. KVM's answers are read once per process (lib/kvm.c):
 *    no VM is made to ask.
 *  - A loaded snapshot has no image (image == NULL): the file holds
 *    everything a sandbox made from a snapshot needs. What it does not
 *    hold is the host side: print, host functions, service, deadline,
 *    print limit and restore method come from the config given to the
 *    load. Its memory sizes are the file's; a config that names others
 *    is an error, not a silent override.
 *  - Saving writes from offset 0 with pwritev() (the metadata, then every
 *    run straight from the snapshot's view, up to IOV_MAX at a time) and
 *    truncates the file to its size, so a file can be saved over.
 *  - The reason for a rejection is a thread-local string, as dlerror()
 *    is: the error code says what kind of problem, the string which field.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "entry.h"
#include "frame.h"
#include "kvm.h"
#include "sandbox.h"
#include "service.h"
#include "snapfmt.h"

#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static __thread char load_error[256];

VMLET_API const char *vmlet_snapshot_load_error(void)
{
	return load_error;
}

__attribute__((format(printf, 2, 3))) static int load_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(load_error, sizeof(load_error), fmt, ap);
	va_end(ap);
	return err;
}

/* Register reg (0 EAX, 1 EBX, 2 ECX, 3 EDX) of leaf fn, subleaf 0; 0 when absent. */
static uint32_t cpuid_word(const struct kvm_cpuid2 *c, uint32_t fn, int reg)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		const uint32_t regs[4] = {e->eax, e->ebx, e->ecx, e->edx};

		if (e->function == fn && e->index == 0)
			return regs[reg];
	}
	return 0;
}

/* What this host's KVM offers guests, as the format names it. */
static int host_get(struct vmlet_snapfmt_host *h)
{
	const struct vmlet_kvm *kvm;
	int err = vmlet_kvm_get(&kvm);

	if (err)
		return err;
	memcpy(h->vendor, kvm->vendor, sizeof(h->vendor));
	h->xcr0 = kvm->xcrs ? kvm->xcr0 : 3;
	h->cpuid[VMLET_CPUID_1_ECX] = cpuid_word(kvm->cpuid, 1, 2);
	h->cpuid[VMLET_CPUID_1_EDX] = cpuid_word(kvm->cpuid, 1, 3);
	h->cpuid[VMLET_CPUID_7_EBX] = cpuid_word(kvm->cpuid, 7, 1);
	h->cpuid[VMLET_CPUID_7_ECX] = cpuid_word(kvm->cpuid, 7, 2);
	h->cpuid[VMLET_CPUID_81_EDX] = cpuid_word(kvm->cpuid, 0x80000001, 3);
	h->xfeatures = cpuid_word(kvm->cpuid, 0xd, 0) | (uint64_t)cpuid_word(kvm->cpuid, 0xd, 3)
								<< 32;
	h->xcrs = kvm->xcrs;
	h->phys_bits = kvm->phys_bits;
	h->nmsrs = 0;
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		for (uint32_t m = r->first; m < r->first + r->n; m++)
			if (vmlet_x86_msr_supported(kvm, m) && h->nmsrs < VMLET_X86_NMSRS)
				h->msrs[h->nmsrs++] = m;
	}
	return 0;
}

static void mark(uint64_t *bits, uint64_t pg, uint64_t n)
{
	for (; n; pg++, n--)
		bits[pg / 64] |= 1ULL << (pg % 64);
}

/*
 * The pages of snap that may hold data: its runs, and the root memfd's
 * data (SEEK_DATA). Reading a hole through the view would fill it, and
 * a saved snapshot would then hold all its memory.
 */
static int data_pages(const struct vmlet_snapshot *snap, uint64_t **out)
{
	const struct vmlet_snapshot *root = snap;
	uint64_t npages = snap->mem.size / VMLET_PAGE_SIZE;
	uint64_t *bits = calloc((npages + 63) / 64, sizeof(*bits));
	off_t data = 0, hole;

	if (!bits)
		return -ENOMEM;
	while (root->parent)
		root = root->parent;
	for (unsigned int i = 0; i < snap->nruns; i++)
		mark(bits, snap->runs[i].pg, snap->runs[i].npages);
	for (;;) {
		data = lseek(root->mem.fd, data, SEEK_DATA);
		if (data < 0)
			break;
		hole = lseek(root->mem.fd, data, SEEK_HOLE);
		if (hole < 0)
			break;
		data = (off_t)((uint64_t)data & ~(VMLET_PAGE_SIZE - 1));
		mark(bits, (uint64_t)data / VMLET_PAGE_SIZE,
		     ((uint64_t)hole - (uint64_t)data + VMLET_PAGE_SIZE - 1) / VMLET_PAGE_SIZE);
		data = hole;
	}
	if (errno != ENXIO) {
		/* No SEEK_DATA here: every page may hold data. */
		memset(bits, 0xff, (npages + 63) / 64 * sizeof(*bits));
	}
	*out = bits;
	return 0;
}

/* Write iov[0..n) at off, all of it. */
static int write_all(int fd, struct iovec *iov, int n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n > IOV_MAX ? IOV_MAX : n, off);

		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += w;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * -EBUSY when fd is the file a layer of snap was loaded from: its pages
 * are mapped from it, into snap's sandboxes too, and writing it would
 * change them under them, and the save read from what it overwrites.
 */
static int in_use(const struct vmlet_snapshot *snap, int fd)
{
	struct stat st, lst;

	if (fstat(fd, &st) < 0)
		return -errno;
	for (; snap; snap = snap->parent)
		if (snap->file_fd > 0 && fstat(snap->file_fd, &lst) == 0 &&
		    lst.st_dev == st.st_dev && lst.st_ino == st.st_ino)
			return -EBUSY;
	return 0;
}

VMLET_API int vmlet_snapshot_save(const struct vmlet_snapshot *snap, int fd)
{
	const struct vmlet_config *c;
	struct vmlet_snapfmt_layout layout;
	struct vmlet_snapfmt_host host;
	struct vmlet_snapfmt_run *runs;
	uint64_t *maybe, file_size;
	struct iovec *iov;
	uint64_t nruns;
	uint8_t *meta;
	size_t meta_len;
	int err;

	if (!snap || fd < 0)
		return -EINVAL;
	/* pwritev() at offset 0 appends instead on such an fd: a corrupt file. */
	err = fcntl(fd, F_GETFL);
	if (err < 0)
		return -errno;
	if (err & O_APPEND)
		return -EINVAL;
	err = in_use(snap, fd);
	if (err)
		return err;
	c = &snap->cfg;
	layout = (struct vmlet_snapfmt_layout){
		.mem_size = c->mem_size,
		.stack_size = c->stack_size,
		.heap_size = c->heap_size,
		.in_size = c->in_size,
		.out_size = c->out_size,
		.image_lo = snap->layout.image_lo,
		.image_hi = snap->layout.image_hi,
		.layout = snap->layout,
	};
	err = host_get(&host);
	if (err)
		return err;
	err = data_pages(snap, &maybe);
	if (err)
		return err;
	err = vmlet_snapfmt_runs(snap->mem.host, snap->mem.size, maybe, &runs, &nruns);
	free(maybe);
	if (err)
		return err;
	err = vmlet_snapfmt_build(&host, &snap->cpu, &layout, snap->funcs, snap->nfuncs,
				  snap->mem.host, runs, nruns, &meta, &meta_len);
	if (err)
		goto out_runs;
	err = -ENOMEM;
	iov = malloc((nruns + 1) * sizeof(*iov));
	if (!iov)
		goto out_meta;
	memcpy(&file_size, meta + offsetof(struct vmlet_snapfmt_header, file_size),
	       sizeof(file_size));
	iov[0] = (struct iovec){meta, meta_len};
	for (uint64_t i = 0; i < nruns; i++)
		iov[i + 1] = (struct iovec){snap->mem.host + runs[i].pg * VMLET_PAGE_SIZE,
					    runs[i].npages * VMLET_PAGE_SIZE};
	err = write_all(fd, iov, (int)(nruns + 1), 0);
	if (!err && ftruncate(fd, (off_t)file_size) < 0)
		err = -errno;
	free(iov);
out_meta:
	free(meta);
out_runs:
	free(runs);
	return err;
}

/*
 * The config of a loaded snapshot: cfg's host side, the file's sizes.
 * Sizes cfg names must be the file's.
 */
static int load_config(const struct vmlet_config *cfg, const struct vmlet_snapfmt_layout *f,
		       struct vmlet_config *c)
{
	static const char *const names[] = {"mem_size", "stack_size", "heap_size", "in_size",
					    "out_size"};
	const uint64_t file[] = {f->mem_size, f->stack_size, f->heap_size, f->in_size, f->out_size};
	struct vmlet_config raw = {0};
	int err = vmlet_config_normalize(cfg, c);

	if (err)
		return load_fail(err, "the config is invalid");
	if (cfg)
		memcpy(&raw, cfg, cfg->sz); /* normalize checked sz */
	{
		const uint64_t want[] = {raw.mem_size, raw.stack_size, raw.heap_size, raw.in_size,
					 raw.out_size};

		for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (want[i] && want[i] != file[i])
				return load_fail(-EINVAL,
						 "config %s %#llx differs from the file's %#llx",
						 names[i], (unsigned long long)want[i],
						 (unsigned long long)file[i]);
	}
	if (c->backing != VMLET_BACKING_AUTO && c->backing != VMLET_BACKING_4K)
		return load_fail(-EINVAL,
				 "config backing %s: a loaded snapshot is the file's pages",
				 vmlet_backing_name(c->backing));
	c->mem_size = f->mem_size;
	c->stack_size = f->stack_size;
	c->heap_size = f->heap_size;
	c->in_size = f->in_size;
	c->out_size = f->out_size;
	c->backing = VMLET_BACKING_4K;
	if (c->restore == VMLET_RESTORE_AUTO)
		c->restore = VMLET_RESTORE_COPY;
	if (c->restore == VMLET_RESTORE_DROP && vmlet_mem_pagemap_fd() < 0)
		return load_fail(-ENOTSUP, "DROP restore needs /proc/self/pagemap");
	return 0;
}

/*
 * The memfd under the runs, sealed: zeros that cost nothing or, for a
 * file of more runs than VMLET_MEM_MAX_RUNS (each a mapping in every
 * sandbox), the runs' pages copied from the file at buf, and no run left.
 */
static int base_memfd(uint64_t size, const uint8_t *buf, const struct vmlet_snapfmt_run *runs,
		      uint64_t nruns)
{
	int fd = memfd_create("vmlet", MFD_CLOEXEC | MFD_ALLOW_SEALING), err;

	if (fd < 0)
		return -errno;
	err = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	for (uint64_t i = 0; !err && nruns > VMLET_MEM_MAX_RUNS && i < nruns; i++) {
		struct iovec iov = {.iov_base = (void *)(buf + runs[i].off),
				    .iov_len = runs[i].npages * VMLET_PAGE_SIZE};

		err = write_all(fd, &iov, 1, (off_t)(runs[i].pg * VMLET_PAGE_SIZE));
	}
	if (!err && fcntl(fd, F_ADD_SEALS, SEALS) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int from_mapping(int fd, const struct vmlet_config *cfg, const void *buf, size_t len,
			struct vmlet_snapshot **out)
{
	struct vmlet_snapfmt_run *runs = NULL;
	struct vmlet_snapfmt_host host;
	struct vmlet_snapshot *snap;
	struct vmlet_snapfmt f;
	int err;

	err = host_get(&host);
	if (err)
		return load_fail(err, "no KVM: %s", vmlet_strerror(err));
	err = vmlet_snapfmt_parse(buf, len, &host, &f, load_error, sizeof(load_error));
	if (err)
		return err;
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return load_fail(-ENOMEM, "out of memory");
	snap->refs = 1;
	snap->mem.fd = -1;
	err = load_config(cfg, &f.layout, &snap->cfg);
	if (err) {
		free(snap);
		return err;
	}
	vmlet_service_get(snap->cfg.host);
	snap->restore = snap->cfg.restore;
	snap->layout = f.layout.layout;
	snap->cpu = f.cpu;
	snap->mem.size = f.hdr.mem_size;
	snap->mem.backing = VMLET_BACKING_4K;
	err = vmlet_frame_decode_table(f.funcs, f.funcs_size, &snap->funcs, &snap->nfuncs);
	if (err)
		goto err_snap;
	snap->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (snap->file_fd < 0) {
		err = -errno;
		snap->file_fd = 0;
		goto err_snap;
	}
	err = -ENOMEM;
	runs = malloc((f.nruns ? f.nruns : 1) * sizeof(*runs));
	snap->runs = calloc(f.nruns ? f.nruns : 1, sizeof(*snap->runs));
	if (!runs || !snap->runs)
		goto err_snap;
	/*
	 * The file is shared: another process may have changed the runs
	 * since parsing checked them. Read them once, and check what was read.
	 */
	memcpy(runs, f.runs, f.nruns * sizeof(*runs));
	err = vmlet_snapfmt_check_runs(runs, f.nruns, &f.hdr, load_error, sizeof(load_error));
	if (err) {
		free(runs);
		vmlet_snapshot_destroy(snap);
		return err;
	}
	snap->mem.fd = base_memfd(snap->mem.size, buf, runs, f.nruns);
	if (snap->mem.fd < 0) {
		err = snap->mem.fd;
		goto err_snap;
	}
	/* Past VMLET_MEM_MAX_RUNS, base_memfd() copied the pages: no run left. */
	snap->nruns = f.nruns > VMLET_MEM_MAX_RUNS ? 0 : (unsigned int)f.nruns;
	for (unsigned int i = 0; i < snap->nruns; i++)
		snap->runs[i] = (struct vmlet_mem_run){.pg = runs[i].pg,
						       .npages = runs[i].npages,
						       .off = runs[i].off,
						       .fd = snap->file_fd};
	free(runs);
	runs = NULL;
	err = __vmlet_snapshot_map(snap, PROT_READ, MAP_SHARED, &snap->mem.host);
	if (err)
		goto err_snap;
	/* A file written before the stub (or by another host's) restores by ioctl. */
	snap->entry = vmlet_entry_present(snap->mem.host, &snap->cpu);
	snap->ground = snap->entry; /* where it stood when saved, as far as a file says */
	*out = snap;
	return 0;

err_snap:
	free(runs);
	vmlet_snapshot_destroy(snap);
	return load_fail(err, "loading: %s", vmlet_strerror(err));
}

VMLET_API int vmlet_snapshot_load(int fd, const struct vmlet_config *cfg,
				  struct vmlet_snapshot **out)
{
	struct stat st;
	void *buf = NULL;
	int err;

	load_error[0] = '\0';
	if (fd < 0 || !out)
		return load_fail(-EINVAL, "no file descriptor or no out pointer");
	if (fstat(fd, &st) < 0)
		return load_fail(-errno, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return load_fail(-EINVAL, "not a regular file");
	if (st.st_size > 0) {
		buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (buf == MAP_FAILED)
			return load_fail(-errno, "mmap: %s", strerror(errno));
	}
	err = from_mapping(fd, cfg, buf, (size_t)st.st_size, out);
	if (buf)
		munmap(buf, (size_t)st.st_size);
	return err;
}
