// SPDX-License-Identifier: BSD-2-Clause
/*
 * Seccomp confinement of the threads that run sandboxes.
 *
 * A seccomp filter belongs to one thread and can never be taken off, so a
 * library must not put one on its caller's threads behind its back. The
 * embedder opts in per thread with vmlet_thread_confine(), on threads it
 * dedicates to running sandboxes, after the setup they need (images,
 * snapshots, pools, host-call services, grants): from then on the thread
 * may make the system calls of calls, host calls (as the vCPU side),
 * restore, pool acquire/call/release and sandbox destroy, and nothing
 * else. The list is built from the syscalls those paths were seen to make
 * (strace -f of selftests/kvm/confine_test with the filter in LOG mode):
 *
 *   ioctl        by request number only: KVM_RUN, KVM_GET_SREGS (the
 *                address of a guest #PF), KVM_SET_GUEST_DEBUG (instruction
 *                counts), KVM_GET_DIRTY_LOG or KVM_RESET_DIRTY_RINGS,
 *                KVM_SET_XSAVE, KVM_SET_XCRS, KVM_SET_MSRS,
 *                KVM_SET_DEBUGREGS (restore), KVM_SET_SREGS (restore's
 *                TLB flush where KVM has no PV flush, lib/tlb.c),
 *                KVM_SET_SIGNAL_MASK
 *                (the kick, when a vCPU moves to another thread)
 *   io_uring_enter     host calls, on the thread's ring
 *   pread64      on /proc/self/pagemap only (DROP restore)
 *   write, writev      on fds 1 and 2 only (the default print)
 *   futex, sched_yield, clock_gettime, gettimeofday, nanosleep,
 *   clock_nanosleep, getpid, gettid, tgkill (own process), rt_sigreturn,
 *   rt_sigprocmask, rt_sigtimedwait (a kick), restart_syscall, exit, exit_group
 *   timer_create, timer_settime, timer_delete: call deadlines (lib/kick.c)
 *   brk, mmap (anonymous), mremap, munmap, madvise, mprotect: what malloc
 *                and free do; never PROT_EXEC
 *   close        destroy, and a pool discarding a sandbox it cannot restore
 *   getrandom    each call's entropy (lib/entropy.c), once per 255 calls
 *   fstat        guest I/O on granted descriptors (lib/hostio.c: a file's
 *                size, an opened file's type; grants, lib/hoststate.c)
 *   ftruncate    to length 0 only: open() of a granted file with O_TRUNC
 *
 * fstat and ftruncate cannot be held to the granted descriptors: seccomp
 * sees a descriptor's number, not what it is, and grants come and go on
 * a confined thread after the filter went on. So a confined thread keeps
 * two rights over every descriptor of the process: fstat (type, size,
 * owner, times) and truncation to zero of one open for writing. Growing
 * or cutting a file to another length is refused.
 *
 * openat2, with which the guest opens files beneath a granted directory,
 * is allowed only with VMLET_CONFINE_OPEN: seccomp cannot see that it
 * stays beneath (RESOLVE_BENEATH is in memory it cannot read), so with it
 * the thread could open any file the process may. Without it such an
 * open() fails with -EPERM; granted files work as everywhere.
 *
 * VMLET_CONFINE_CREATE adds vmlet_sandbox_create_from(): KVM_CREATE_VM,
 * KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_SET_CPUID2 and
 * KVM_ENABLE_CAP (KVM_CAP_ENFORCE_PV_FEATURE_CPUID on the vCPU,
 * KVM_CAP_DIRTY_LOG_RING and KVM_CAP_X86_USER_SPACE_MSR on the VM),
 * KVM_X86_SET_MSR_FILTER, and mmap of descriptors (the
 * snapshot's memfd, the vCPU's kvm_run and dirty ring). Cold
 * creation (vmlet_sandbox_create) and snapshots read files and are not
 * allowed on a confined thread. Everything else fails with EPERM, or
 * kills the process (VMLET_CONFINE_KILL, SECCOMP_RET_KILL_PROCESS); in
 * VMLET_CONFINE_LOG mode everything runs and what the filter would refuse
 * is logged by the kernel (audit, type 1326), to find what a new path
 * needs.
 *
 * seccomp cannot see io_uring operations, so the thread's host-call ring
 * is made anew here, before the filter goes on, restricted
 * (IORING_REGISTER_RESTRICTIONS) to the operations hostcall.c issues:
 * read, write, timeout, MSG_RING and the cancellation of an I/O request
 * that a kick stops; io_uring_setup and io_uring_register
 * are refused afterwards. The one-time setup these paths do lazily (the
 * /dev/kvm descriptor, /proc/self/pagemap) is done here as well.
 *
 * Embedder code that runs on a confined thread is confined too: the print
 * callback and VMLET_HOST_INLINE host functions. Host functions that need
 * more belong on the host-call service, whose threads are never confined
 * (they exist to run embedder code). The library's own pool refill thread
 * runs only library code and confines itself (VMLET_CONFINE_CREATE, no
 * ring) unless the pool is made with VMLET_POOL_UNCONFINED.
 *
 * Sanitized builds (make SAN=..., which defines VMLET_SAN) also allow what
 * the ASan/UBSan runtimes do on a confined thread: sigaltstack at thread
 * exit, and, to write a symbolized report, open/openat read-only, read,
 * pread, lseek, fcntl, readlink, fstat, getrlimit, sched_getaffinity,
 * mmap of descriptors and the TCGETS ioctl (seen with strace on a heap
 * overflow in a confined thread). That looser filter is for testing only;
 * the figures and the guarantees are for normal builds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"
#include "mem.h"
#include "ring.h"
#include "confine.h"

#define CONFINE_FLAGS                                                                              \
	(VMLET_CONFINE_KILL | VMLET_CONFINE_LOG | VMLET_CONFINE_CREATE | VMLET_CONFINE_OPEN)

static __thread bool confined;
static __thread unsigned int confined_flags;

static const int plain[] = {
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(futex),
	SCMP_SYS(sched_yield),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigtimedwait), /* a kick the thread blocks (lib/kick.c) */
	/* Deadlines (lib/kick.c): the thread's timer, made on first use. */
	SCMP_SYS(timer_create),
	SCMP_SYS(timer_settime),
	SCMP_SYS(timer_delete),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(brk),
	SCMP_SYS(mremap),
	SCMP_SYS(munmap),
	SCMP_SYS(madvise),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	/* Per-call entropy (lib/entropy.c). */
	SCMP_SYS(getrandom),
};

static const unsigned long run_ioctls[] = {
	KVM_RUN,       KVM_GET_SREGS, KVM_SET_GUEST_DEBUG, KVM_GET_DIRTY_LOG, KVM_RESET_DIRTY_RINGS,
	KVM_SET_XSAVE, KVM_SET_XCRS,  KVM_SET_MSRS,	   KVM_SET_DEBUGREGS, KVM_SET_SIGNAL_MASK,
	KVM_SET_SREGS,
};

static const unsigned long create_ioctls[] = {
	KVM_CREATE_VM,	KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_SET_CPUID2,
	KVM_ENABLE_CAP, KVM_X86_SET_MSR_FILTER,
};

#ifdef VMLET_SAN
/* What the ASan/UBSan runtimes need to write a full report (see the top). */
static const int san[] = {
	SCMP_SYS(sigaltstack), SCMP_SYS(read),	    SCMP_SYS(pread64),
	SCMP_SYS(lseek),       SCMP_SYS(fcntl),	    SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),  SCMP_SYS(fstat),	    SCMP_SYS(newfstatat),
	SCMP_SYS(getrlimit),   SCMP_SYS(prlimit64), SCMP_SYS(sched_getaffinity),
};

static int allow_san(scmp_filter_ctx ctx)
{
	const scmp_datum_t wr = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	int err = 0;

	for (unsigned int i = 0; !err && i < sizeof(san) / sizeof(san[0]); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, san[i], 0);
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, wr, O_RDONLY));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, wr, O_RDONLY));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, TCGETS));
	return err;
}
#endif

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int allow(scmp_filter_ctx ctx, int nr, unsigned int n, const struct scmp_arg_cmp *cmp)
{
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *req, unsigned int n)
{
	int err = 0;

	for (unsigned int i = 0; !err && i < n; i++)
		err = allow(ctx, SCMP_SYS(ioctl), 1, &SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req[i]));
	return err;
}

static int add_rules(scmp_filter_ctx ctx, unsigned int flags)
{
	const struct scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	const struct scmp_arg_cmp anon = SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS);
	int pagemap = vmlet_mem_pagemap_fd();
	int err = 0;

	for (unsigned int i = 0; !err && i < NELEM(plain); i++)
		err = allow(ctx, plain[i], 0, NULL);
	if (!err)
		err = allow_ioctls(ctx, run_ioctls, NELEM(run_ioctls));
	if (!err && (flags & VMLET_CONFINE_CREATE))
		err = allow_ioctls(ctx, create_ioctls, NELEM(create_ioctls));
	for (int fd = 1; !err && fd <= 2; fd++) {
		err = allow(ctx, SCMP_SYS(write), 1, &SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
		if (!err)
			err = allow(ctx, SCMP_SYS(writev), 1,
				    &SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
	}
	if (!err && pagemap >= 0)
		err = allow(ctx, SCMP_SYS(pread64), 1,
			    &SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pagemap));
	if (!err)
		err = allow(ctx, SCMP_SYS(tgkill), 1,
			    &SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (!err)
		err = allow(ctx, SCMP_SYS(mprotect), 1, &no_exec);
	if (!err) /* O_TRUNC on a granted file (lib/hostio.c) */
		err = allow(ctx, SCMP_SYS(ftruncate), 1, &SCMP_A1(SCMP_CMP_EQ, 0));
#ifdef VMLET_SAN
	flags |= VMLET_CONFINE_CREATE; /* for mmap: the runtime maps the executable */
	if (!err)
		err = allow_san(ctx);
#endif
	if (!err && (flags & VMLET_CONFINE_OPEN))
		err = allow(ctx, SCMP_SYS(openat2), 0, NULL);
	if (!err && (flags & VMLET_CONFINE_CREATE))
		err = allow(ctx, SCMP_SYS(mmap), 1, &no_exec);
	else if (!err)
		err = allow(ctx, SCMP_SYS(mmap), 2, (struct scmp_arg_cmp[]){no_exec, anon});
	return err;
}

int __vmlet_thread_confine(unsigned int flags, bool ring)
{
	uint32_t action = SCMP_ACT_ERRNO(EPERM);
	const struct vmlet_kvm *kvm;
	scmp_filter_ctx ctx;
	int err;

	if ((flags & ~CONFINE_FLAGS) || (flags & (VMLET_CONFINE_KILL | VMLET_CONFINE_LOG)) ==
						(VMLET_CONFINE_KILL | VMLET_CONFINE_LOG))
		return -EINVAL;
	if (confined)
		return -EALREADY;
	if (flags & VMLET_CONFINE_KILL)
		action = SCMP_ACT_KILL_PROCESS;
	else if (flags & VMLET_CONFINE_LOG)
		action = SCMP_ACT_LOG;
	/* What the confined paths would otherwise set up lazily, with open(2). */
	if (flags & VMLET_CONFINE_CREATE) {
		err = vmlet_kvm_get(&kvm);
		if (err)
			return err;
	}
	if (ring) {
		err = vmlet_ring_confine();
		if (err)
			return err;
	}
	ctx = seccomp_init(action);
	if (!ctx)
		return -ENOMEM;
	/* Other ABIs (int 0x80, x32) get the same answer as unlisted calls. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, action);
	/* The kernel's own error from seccomp_load(), not -ECANCELED. */
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (!err)
		err = add_rules(ctx, flags);
	if (!err)
		err = seccomp_load(ctx); /* this thread only: no SCMP_FLTATR_CTL_TSYNC */
	seccomp_release(ctx);
	if (!err) {
		confined = true;
		confined_flags = flags;
	}
	return err;
}

bool __vmlet_thread_refuses(unsigned int flag)
{
	return confined && !(confined_flags & (flag | VMLET_CONFINE_LOG));
}

VMLET_API int vmlet_thread_confine(unsigned int flags)
{
	return __vmlet_thread_confine(flags, true);
}
