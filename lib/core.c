// SPDX-License-Identifier: BSD-2-Clause
/*
 * Core files of failed guests, for gdb: `gdb IMAGE.elf CORE` shows the
 * backtrace, registers and variables of the call that failed.
 *
 * A sandbox whose config names a core_path writes one when a call fails
 * by the guest's doing (want()), from die() in sandbox.c: on the failing
 * thread, after the fault record and its backtrace are complete, with no
 * lock held, so other sandboxes run on. Boots write none: the image's
 * shared boot runs under the image's lock, and a failed creation leaves
 * no sandbox to report on. Whatever goes wrong here goes to
 * fault.core_error; the fault record itself is never touched.
 *
 * The file is an ELF64 ET_CORE as Linux writes them for x86-64:
 *
 *   PT_NOTE   "CORE" NT_PRSTATUS: the general registers (user_regs_struct)
 *             where the guest failed, and the signal gdb names (sig());
 *             "CORE" NT_PRPSINFO: the called function's name;
 *             "CORE" NT_FPREGSET: x87 and SSE state (KVM_GET_FPU, in the
 *             FXSAVE layout of user_fpregs_struct);
 *             "VMLET" VMLET_CORE_NOTE_FAULT: the fault's message, and
 *             whether memory was left out
 *   PT_LOAD   guest memory, one segment per run of pages that are not all
 *             zero, at their guest addresses: the page tables map guest
 *             memory one to one (lib/mem.c), so a guest address is both
 *             the virtual and the physical one. Page 0 is never mapped
 *             and never written.
 *
 * For an exception, the vCPU stands in the stub on the exception stack;
 * the stubs save nothing and touch only rsp, so every register but rip,
 * rsp, rflags, cs and ss is the faulting code's, and those five come from
 * the frame the CPU pushed (struct vmlet_xframe), as in backtrace.c.
 *
 * Size: core_limit (VMLET_CORE_LIMIT by default) bounds the guest memory
 * written; zero pages cost nothing. The stack from rsp up goes in first,
 * so that the frames gdb walks are there, then the rest of memory from
 * the bottom up. Pages past the limit (or past VMLET_CORE_MAX_RUNS
 * segments) are left out: the core is still written, its VMLET note says
 * so, and core_error is -EFBIG. Finding the zero pages reads all of guest
 * memory once.
 *
 * Written with open/write/close, which vmlet_thread_confine() refuses,
 * as it does KVM_GET_FPU: a confined thread gets core_error -EPERM.
 */
#define _GNU_SOURCE /* mkostemp */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/procfs.h>
#include <sys/user.h>
#include <unistd.h>

#include "confine.h"
#include "core.h"
#include "fdio.h"
#include "sandbox.h"

#define PAGE VMLET_PAGE_SIZE

_Static_assert(sizeof(struct user_regs_struct) == sizeof(elf_gregset_t), "prstatus registers");
_Static_assert(sizeof(struct user_fpregs_struct) == 512, "FXSAVE layout");

/* The failures that leave a guest worth looking at: those the guest caused. */
static bool want(int err)
{
	switch (-err) {
	case VMLET_EEXCEPTION:
	case VMLET_EABORT:
	case VMLET_EEXIT:
	case VMLET_ESHUTDOWN:
	case VMLET_EPROTO:
	case VMLET_EVMEXIT:
	case VMLET_EINTR:
	case VMLET_ETIMEDOUT:
	case VMLET_EOUTPUT:
		return true;
	}
	return false;
}

/* The signal a Linux process would have died of (what gdb prints). */
static int sig(const struct vmlet_fault *f)
{
	switch (-f->error) {
	case VMLET_EEXCEPTION:
		switch (f->vector) {
		case 0:	 /* #DE */
		case 16: /* #MF */
		case 19: /* #XM */
			return SIGFPE;
		case 1: /* #DB */
		case 3: /* #BP */
			return SIGTRAP;
		case 6: /* #UD */
			return SIGILL;
		case 17: /* #AC */
			return SIGBUS;
		}
		return SIGSEGV;
	case VMLET_EABORT:
		return SIGABRT;
	case VMLET_EEXIT:
		return SIGTERM;
	case VMLET_EINTR:
		return SIGINT;
	case VMLET_ETIMEDOUT:
		return SIGXCPU;
	case VMLET_EOUTPUT:
		return SIGXFSZ;
	}
	return SIGSEGV; /* a triple fault, a protocol break, an odd exit */
}

struct core_regs {
	struct user_regs_struct r;
	struct user_fpregs_struct fp;
};

static int read_regs(struct vmlet_sandbox *sb, struct core_regs *c)
{
	const struct kvm_regs *k = vmlet_vm_regs(&sb->vm);
	struct user_regs_struct *r = &c->r;
	struct kvm_sregs s;
	struct kvm_fpu fpu;
	struct vmlet_xframe x;

	if (ioctl(sb->vm.vcpu_fd, KVM_GET_SREGS, &s) < 0 ||
	    ioctl(sb->vm.vcpu_fd, KVM_GET_FPU, &fpu) < 0)
		return -errno;
	*r = (struct user_regs_struct){
		.r15 = k->r15,
		.r14 = k->r14,
		.r13 = k->r13,
		.r12 = k->r12,
		.rbp = k->rbp,
		.rbx = k->rbx,
		.r11 = k->r11,
		.r10 = k->r10,
		.r9 = k->r9,
		.r8 = k->r8,
		.rax = k->rax,
		.rcx = k->rcx,
		.rdx = k->rdx,
		.rsi = k->rsi,
		.rdi = k->rdi,
		.orig_rax = (unsigned long long)-1,
		.rip = k->rip,
		.cs = s.cs.selector,
		.eflags = k->rflags,
		.rsp = k->rsp,
		.ss = s.ss.selector,
		.fs_base = s.fs.base,
		.gs_base = s.gs.base,
		.ds = s.ds.selector,
		.es = s.es.selector,
		.fs = s.fs.selector,
		.gs = s.gs.selector,
	};
	/* An exception: the faulting context is in the frame the CPU pushed (checked as in vm.c).
	 */
	if (sb->fault.error == -VMLET_EEXCEPTION && k->rsp >= VMLET_XSTACK_ADDR &&
	    k->rsp <= VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE - sizeof(x)) {
		memcpy(&x, sb->mem.host + k->rsp, sizeof(x));
		r->rip = x.rip;
		r->cs = x.cs;
		r->eflags = x.rflags;
		r->rsp = x.rsp;
		r->ss = x.ss;
	}
	c->fp = (struct user_fpregs_struct){
		.cwd = fpu.fcw,
		.swd = fpu.fsw,
		.ftw = fpu.ftwx,
		.fop = fpu.last_opcode,
		.rip = fpu.last_ip,
		.rdp = fpu.last_dp,
		.mxcsr = fpu.mxcsr,
		.mxcr_mask = 0xffff,
	};
	memcpy(c->fp.st_space, fpu.fpr, sizeof(fpu.fpr));
	memcpy(c->fp.xmm_space, fpu.xmm, sizeof(fpu.xmm));
	return 0;
}

/* An ELF note: header, name and descriptor, each padded to 4 bytes. */
static size_t note(uint8_t *buf, const char *name, uint32_t type, const void *desc, size_t len)
{
	Elf64_Nhdr h = {
		.n_namesz = (Elf64_Word)strlen(name) + 1,
		.n_descsz = (Elf64_Word)len,
		.n_type = type,
	};
	size_t n = 0, name_len = (h.n_namesz + 3) & ~3u;

	if (buf) {
		memcpy(buf, &h, sizeof(h));
		memset(buf + sizeof(h), 0, name_len);
		memcpy(buf + sizeof(h), name, h.n_namesz);
	}
	n = sizeof(h) + name_len;
	if (buf) {
		memset(buf + n, 0, (len + 3) & ~(size_t)3);
		memcpy(buf + n, desc, len);
	}
	return n + ((len + 3) & ~(size_t)3);
}

static bool zero_page(const uint8_t *p)
{
	const uint64_t *w = (const void *)p;

	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/*
 * Which pages go in: a bitmap of guest pages, the live stack first, then
 * the rest from the bottom up, until limit bytes. *truncated when a page
 * that is not zero was left out.
 */
static uint64_t *choose(const struct vmlet_sandbox *sb, uint64_t rsp, uint64_t limit,
			bool *truncated)
{
	uint64_t pages = sb->mem.size / PAGE, used = 0, lo = 0, hi = 0;
	uint64_t *map = calloc((pages + 63) / 64, sizeof(*map));

	if (!map)
		return NULL;
	if (rsp >= sb->layout.stack_lo && rsp < sb->layout.stack_hi) {
		lo = rsp / PAGE;
		hi = sb->layout.stack_hi / PAGE;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t p = pass ? 1 : lo; p < (pass ? pages : hi); p++) {
			if (pass && p >= lo && p < hi)
				continue;
			if (zero_page(sb->mem.host + p * PAGE))
				continue;
			if (used + PAGE > limit) {
				*truncated = true;
				continue;
			}
			map[p / 64] |= 1ULL << (p % 64);
			used += PAGE;
		}
	}
	return map;
}

static bool in(const uint64_t *map, uint64_t p)
{
	return map[p / 64] >> (p % 64) & 1;
}

/* The runs of chosen pages, at most max: [first, end) pairs into runs. */
static unsigned int runs_of(const uint64_t *map, uint64_t pages, uint64_t (*runs)[2],
			    unsigned int max, bool *truncated)
{
	unsigned int n = 0;

	for (uint64_t p = 0; p < pages; p++) {
		if (!in(map, p))
			continue;
		if (n == max) {
			*truncated = true;
			break;
		}
		runs[n][0] = p;
		while (p < pages && in(map, p))
			p++;
		runs[n++][1] = p;
	}
	return n;
}

static int write_core(struct vmlet_sandbox *sb, int fd, const char *func)
{
	uint64_t limit = sb->cfg.core_limit ? sb->cfg.core_limit : VMLET_CORE_LIMIT;
	uint64_t pages = sb->mem.size / PAGE, (*runs)[2] = NULL, *map = NULL;
	bool truncated = false;
	struct core_regs regs;
	prstatus_t pr = {0};
	prpsinfo_t ps = {0};
	char text[sizeof(sb->fault.message) + 128];
	uint8_t *head = NULL;
	size_t notes_len, head_len, off;
	unsigned int nruns;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	int err = read_regs(sb, &regs);

	if (err)
		return err;
	map = choose(sb, regs.r.rsp, limit, &truncated);
	runs = calloc(VMLET_CORE_MAX_RUNS, sizeof(*runs));
	err = -ENOMEM;
	if (!map || !runs)
		goto out;
	nruns = runs_of(map, pages, runs, VMLET_CORE_MAX_RUNS, &truncated);

	pr.pr_info.si_signo = pr.pr_cursig = (short)sig(&sb->fault);
	pr.pr_pid = (pid_t)sb->id;
	memcpy(&pr.pr_reg, &regs.r, sizeof(regs.r));
	pr.pr_fpvalid = 1;
	ps.pr_sname = 'R';
	ps.pr_pid = (pid_t)sb->id;
	snprintf(ps.pr_fname, sizeof(ps.pr_fname), "%s", func);
	snprintf(ps.pr_psargs, sizeof(ps.pr_psargs), "%s", func);
	snprintf(text, sizeof(text), "%s: %s%s", vmlet_strerror(sb->fault.error), sb->fault.message,
		 truncated ? "; guest memory past core_limit left out of this core" : "");

	notes_len = note(NULL, "CORE", NT_PRSTATUS, &pr, sizeof(pr)) +
		    note(NULL, "CORE", NT_PRPSINFO, &ps, sizeof(ps)) +
		    note(NULL, "CORE", NT_FPREGSET, &regs.fp, sizeof(regs.fp)) +
		    note(NULL, VMLET_CORE_NOTE_NAME, VMLET_CORE_NOTE_FAULT, text, strlen(text) + 1);
	off = sizeof(*eh) + (1 + nruns) * sizeof(*ph);
	head_len = (off + notes_len + PAGE - 1) & ~(PAGE - 1);
	head = calloc(1, head_len);
	if (!head)
		goto out;
	eh = (Elf64_Ehdr *)head;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_ident[EI_OSABI] = ELFOSABI_SYSV;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (Elf64_Half)(1 + nruns);
	ph = (Elf64_Phdr *)(head + sizeof(*eh));
	ph[0] = (Elf64_Phdr){
		.p_type = PT_NOTE, .p_offset = off, .p_filesz = notes_len, .p_align = 4};
	off += note(head + off, "CORE", NT_PRSTATUS, &pr, sizeof(pr));
	off += note(head + off, "CORE", NT_PRPSINFO, &ps, sizeof(ps));
	off += note(head + off, "CORE", NT_FPREGSET, &regs.fp, sizeof(regs.fp));
	note(head + off, VMLET_CORE_NOTE_NAME, VMLET_CORE_NOTE_FAULT, text, strlen(text) + 1);
	off = head_len;
	for (unsigned int i = 0; i < nruns; i++) {
		uint64_t size = (runs[i][1] - runs[i][0]) * PAGE;

		ph[1 + i] = (Elf64_Phdr){
			.p_type = PT_LOAD,
			.p_flags = PF_R | PF_W | PF_X,
			.p_offset = off,
			.p_vaddr = runs[i][0] * PAGE,
			.p_paddr = runs[i][0] * PAGE,
			.p_filesz = size,
			.p_memsz = size,
			.p_align = PAGE,
		};
		off += size;
	}
	err = vmlet_write_all(fd, head, head_len);
	for (unsigned int i = 0; !err && i < nruns; i++)
		err = vmlet_write_all(fd, sb->mem.host + runs[i][0] * PAGE,
				      (runs[i][1] - runs[i][0]) * PAGE);
	if (!err && truncated)
		err = -EFBIG;
out:
	free(head);
	free(runs);
	free(map);
	return err;
}

void __vmlet_core_dump(struct vmlet_sandbox *sb, const char *func)
{
	char path[4096], tmp[sizeof(path) + 8];
	int fd, err;

	sb->fault.core_error = 0;
	if (!sb->cfg.core_path || !want(sb->fault.error))
		return;
	err = vmlet_core_path(sb->cfg.core_path, sb->id, path, sizeof(path));
	if (!err && __vmlet_thread_refuses(0))
		err = -EPERM; /* open(2) and KVM_GET_FPU are refused here */
	if (err)
		goto out;
	/*
	 * A new file of its own beside path (mode 0600, O_EXCL), renamed over
	 * it when written: a link or a file someone else made at path is
	 * replaced, never written through, and nobody sees half a core.
	 */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = write_core(sb, fd, func ? func : "");
	if (close(fd) < 0 && !err)
		err = -errno;
	if ((!err || err == -EFBIG) && rename(tmp, path) < 0)
		err = -errno;
	if (err && err != -EFBIG)
		unlink(tmp);
out:
	sb->fault.core_error = err;
}
