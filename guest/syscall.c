// SPDX-License-Identifier: BSD-2-Clause
/*
 * The syscall shim: the few Linux calls musl needs, served inside the VM.
 *
 *   write, writev (fd 1, 2)    the host's print callback
 *   read, write, readv, writev, pread64, pwrite64 (fd >= 3), open, openat,
 *   close, fstat, newfstatat(fd, "", AT_EMPTY_PATH), nanosleep,
 *   clock_nanosleep
 *                              VMLET_PORT_IO: descriptors the host granted
 *                              (open finds one by path, or opens a file
 *                              beneath a granted directory; fstat gives
 *                              a regular file's size), and sleeping
 *   brk, mmap, munmap          pages of the guest heap
 *   mprotect, madvise          accepted, no effect
 *   exit, exit_group           end the call with -VMLET_EEXIT
 *   kill, tkill, tgkill        end the call with -VMLET_EABORT (abort())
 *   clock_gettime, gettimeofday, time   from the TSC; CLOCK_REALTIME (and
 *                              gettimeofday, time) from the host's wall
 *                              clock at call entry (or boot) plus the TSC
 *   arch_prctl(ARCH_SET_FS/GET_FS), set_tid_address, gettid, getpid,
 *   rt_sigprocmask, rt_sigaction, ioctl(TIOCGWINSZ) on fd 1 and 2
 * Everything else fails with -ENOSYS, and nothing leaves the VM but the
 * print, I/O, exit and abort hypercalls.
 *
 * This file is built with -mgeneral-regs-only and calls no libc function:
 * the caller's SSE registers must survive a syscall, and entry.S does not
 * save them.
 *
 * The heap is one bitmap of 4 KiB pages kept at the top of the heap. brk
 * grows up from the bottom, mmap takes the highest free run; pages are
 * zeroed when freed, so a new mapping is always zero as Linux promises.
 */
#include <errno.h>
#include <stdint.h>
#include <vmlet/abi.h>

#include "call.h"
#include "hypercall.h"

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_fstat 5
#define SYS_newfstatat 262
#define SYS_pread64 17
#define SYS_pwrite64 18
#define SYS_readv 19
#define SYS_nanosleep 35
#define SYS_clock_nanosleep 230
#define SYS_openat 257
#define SYS_mmap 9
#define SYS_mprotect 10
#define SYS_munmap 11
#define SYS_brk 12
#define SYS_rt_sigaction 13
#define SYS_rt_sigprocmask 14
#define SYS_ioctl 16
#define SYS_writev 20
#define SYS_madvise 28
#define SYS_getpid 39
#define SYS_exit 60
#define SYS_kill 62
#define SYS_gettimeofday 96
#define SYS_arch_prctl 158
#define SYS_gettid 186
#define SYS_tkill 200
#define SYS_time 201
#define SYS_set_tid_address 218
#define SYS_clock_gettime 228
#define SYS_exit_group 231
#define SYS_tgkill 234

#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define TIOCGWINSZ 0x5413
#define MSR_FS_BASE 0xc0000100
#define PAGE VMLET_PAGE_SIZE

struct iovec_ {
	const void *base;
	uint64_t len;
};

struct timespec_ {
	int64_t sec, nsec;
};

long vmlet_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

static const struct vmlet_boot *const boot = (const struct vmlet_boot *)VMLET_BOOT_ADDR;

static struct {
	uint64_t lo, hi;	/* pages the allocator owns */
	uint64_t npages;
	uint8_t *bitmap;	/* one bit per page, 1 = in use */
	uint64_t brk;		/* current break, brk_min..brk_max */
} heap;

static void zero(uint64_t addr, uint64_t len)
{
	__asm__ volatile("rep stosb" : "+D"(addr), "+c"(len) : "a"(0) : "memory");
}

static int used(uint64_t pg)
{
	return heap.bitmap[pg / 8] & (1U << (pg % 8));
}

static void mark(uint64_t pg, uint64_t n, int on)
{
	for (; n; n--, pg++) {
		if (on)
			heap.bitmap[pg / 8] |= (uint8_t)(1U << (pg % 8));
		else
			heap.bitmap[pg / 8] &= (uint8_t)~(1U << (pg % 8));
	}
}

static int heap_init(void)
{
	uint64_t bytes;

	if (heap.bitmap)
		return 0;
	heap.lo = boot->heap_lo;
	heap.npages = (boot->heap_hi - boot->heap_lo) / PAGE;
	bytes = (heap.npages / 8 + 1 + PAGE - 1) & ~(PAGE - 1);
	if (bytes / PAGE >= heap.npages)
		return -ENOMEM;
	heap.hi = boot->heap_hi;
	heap.bitmap = (uint8_t *)(heap.hi - bytes);
	mark(heap.npages - bytes / PAGE, bytes / PAGE, 1);
	heap.brk = heap.lo;
	return 0;
}

static uint64_t page_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

static long sys_brk(uint64_t want)
{
	uint64_t cur = page_up(heap.brk), next;

	if (heap_init() || want < heap.lo || want > heap.hi)
		return (long)heap.brk;
	next = page_up(want);
	if (next > cur) {
		for (uint64_t a = cur; a < next; a += PAGE)
			if (used((a - heap.lo) / PAGE))
				return (long)heap.brk;
		mark((cur - heap.lo) / PAGE, (next - cur) / PAGE, 1);
	} else if (next < cur) {
		zero(next, cur - next);
		mark((next - heap.lo) / PAGE, (cur - next) / PAGE, 0);
	}
	heap.brk = want;
	return (long)want;
}

static long sys_mmap(uint64_t addr, uint64_t len, long flags, long fd)
{
	uint64_t n, run = 0;

	(void)addr;
	if (!(flags & MAP_ANONYMOUS) || fd != -1)
		return -ENODEV;
	if ((flags & MAP_FIXED) || len == 0)
		return -EINVAL;
	if (len > (1ULL << 40)) /* more than any guest has, as Linux says it */
		return -ENOMEM;
	if (heap_init())
		return -ENOMEM;
	n = page_up(len) / PAGE;
	/* Highest free run first: keep away from the growing break. */
	for (uint64_t pg = heap.npages; pg-- > 0;) {
		if (used(pg)) {
			run = 0;
			continue;
		}
		if (++run == n) {
			mark(pg, n, 1);
			return (long)(heap.lo + pg * PAGE);
		}
	}
	return -ENOMEM;
}

static long sys_munmap(uint64_t addr, uint64_t len)
{
	uint64_t end;

	if (addr & (PAGE - 1) || len == 0 || heap_init())
		return -EINVAL;
	end = page_up(addr + len);
	if (addr < page_up(heap.brk) || end < addr || end > (uint64_t)heap.bitmap)
		return -EINVAL;
	zero(addr, end - addr);
	mark((addr - heap.lo) / PAGE, (end - addr) / PAGE, 0);
	return 0;
}

static long sys_write(long fd, const void *buf, uint64_t len)
{
	if (fd >= 3)
		return vmlet_hypercall_io(VMLET_IO_WRITE, (uint64_t)fd, (uint64_t)buf, len, 0);
	if (fd != 1 && fd != 2)
		return -EBADF;
	vmlet_hypercall(VMLET_PORT_PRINT, (uint64_t)buf, len, 0);
	return (long)len;
}

/* readv, or writev on a granted descriptor: one hypercall per buffer. */
static long sys_rwv(uint64_t op, long fd, const struct iovec_ *iov, long cnt)
{
	long total = 0, n;

	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	for (long i = 0; i < cnt; i++) {
		if (!iov[i].len)
			continue;
		n = vmlet_hypercall_io(op, (uint64_t)fd, (uint64_t)iov[i].base, iov[i].len, 0);
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((uint64_t)n < iov[i].len)
			break;
	}
	return total;
}

static long sys_open(const char *path, long flags)
{
	uint64_t len = 0;

	while (len < 4097 && path[len])
		len++;
	return vmlet_hypercall_io(VMLET_IO_OPEN, 0, (uint64_t)path, len, (uint64_t)flags);
}

/* Linux's struct stat on x86-64 (musl's struct kstat): a regular file and its size. */
static long sys_fstat(long fd, uint8_t *st)
{
	long size = fd >= 3 ? vmlet_hypercall_io(VMLET_IO_SIZE, (uint64_t)fd, 0, 0, 0) : -EBADF;
	uint32_t mode = 0100644; /* S_IFREG */

	if (fd >= 0 && fd <= 2) {
		size = 0;
		mode = 0020620; /* S_IFCHR */
	}
	if (size < 0)
		return size;
	zero((uint64_t)st, 144);
	*(uint64_t *)(st + 16) = 1;	 /* st_nlink */
	*(uint32_t *)(st + 24) = mode;	 /* st_mode */
	*(int64_t *)(st + 48) = size;	 /* st_size */
	*(int64_t *)(st + 56) = 4096;	 /* st_blksize */
	*(int64_t *)(st + 64) = (size + 511) / 512; /* st_blocks */
	return 0;
}

static long sys_sleep(const struct timespec_ *ts)
{
	if (ts->sec < 0 || ts->nsec < 0 || ts->nsec >= 1000000000)
		return -EINVAL;
	if ((uint64_t)ts->sec > UINT64_MAX / 1000000000 - 1)
		return -EINVAL;
	return vmlet_hypercall_io(VMLET_IO_SLEEP, 0, 0, 0,
				  (uint64_t)ts->sec * 1000000000 + (uint64_t)ts->nsec);
}

static long sys_writev(long fd, const struct iovec_ *iov, long cnt)
{
	long total = 0;

	if (fd >= 3)
		return sys_rwv(VMLET_IO_WRITE, fd, iov, cnt);
	if (fd != 1 && fd != 2)
		return -EBADF;
	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	for (long i = 0; i < cnt; i++) {
		if (iov[i].len)
			vmlet_hypercall(VMLET_PORT_PRINT, (uint64_t)iov[i].base, iov[i].len, 0);
		total += (long)iov[i].len;
	}
	return total;
}

static _Noreturn void leave(uint8_t port, uint64_t code, const char *msg, uint64_t len)
{
	vmlet_hypercall(port, code, (uint64_t)msg, len);
	for (;;)
		__asm__ volatile("hlt");
}

static long sys_kill(long sig)
{
	static char msg[] = "killed by signal   ";

	if (sig == 0)
		return 0;
	msg[17] = (char)('0' + (sig / 10) % 10);
	msg[18] = (char)('0' + sig % 10);
	leave(VMLET_PORT_ABORT, 128 + (uint64_t)sig, msg, sizeof(msg) - 1);
}

static uint64_t tsc_ns(uint64_t tsc)
{
	uint64_t khz = boot->tsc_khz;

	return tsc / khz * 1000000 + tsc % khz * 1000000 / khz;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t now_ns(void)
{
	return tsc_ns(rdtsc());
}

/* The host's wall clock: at this call's entry, or at boot (the TSC starts at 0). */
static uint64_t realtime_ns(void)
{
	const struct vmlet_call_state *c = vmlet_call_state;

	if (!c)
		return boot->realtime_ns + now_ns();
	return c->realtime_ns + tsc_ns(rdtsc() - c->tsc);
}

#define CLOCK_REALTIME 0
#define CLOCK_REALTIME_COARSE 5

static long sys_clock_gettime(long clock, struct timespec_ *ts)
{
	uint64_t ns;

	if (!boot->tsc_khz)
		return -ENOSYS;
	if (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)
		ns = realtime_ns();
	else
		ns = now_ns();
	ts->sec = (int64_t)(ns / 1000000000);
	ts->nsec = (int64_t)(ns % 1000000000);
	return 0;
}

static long sys_arch_prctl(long code, uint64_t addr)
{
	uint32_t lo, hi;

	switch (code) {
	case ARCH_SET_FS:
		__asm__ volatile("wrmsr" : : "c"(MSR_FS_BASE), "a"((uint32_t)addr),
				 "d"((uint32_t)(addr >> 32)));
		return 0;
	case ARCH_GET_FS:
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_FS_BASE));
		*(uint64_t *)addr = ((uint64_t)hi << 32) | lo;
		return 0;
	}
	return -EINVAL;
}

long vmlet_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	(void)a6;
	switch (nr) {
	case SYS_read:
		return vmlet_hypercall_io(VMLET_IO_READ, (uint64_t)a1, (uint64_t)a2, (uint64_t)a3, 0);
	case SYS_readv:
		return sys_rwv(VMLET_IO_READ, a1, (const struct iovec_ *)a2, a3);
	case SYS_pread64:
		return vmlet_hypercall_io(VMLET_IO_PREAD, (uint64_t)a1, (uint64_t)a2, (uint64_t)a3,
					  (uint64_t)a4);
	case SYS_pwrite64:
		return vmlet_hypercall_io(VMLET_IO_PWRITE, (uint64_t)a1, (uint64_t)a2, (uint64_t)a3,
					  (uint64_t)a4);
	case SYS_open:
		return sys_open((const char *)a1, a2);
	case SYS_openat:
		return a1 == -100 /* AT_FDCWD */ ? sys_open((const char *)a2, a3) : -EBADF;
	case SYS_close:
		return a1 >= 3 ? vmlet_hypercall_io(VMLET_IO_CLOSE, (uint64_t)a1, 0, 0, 0) : -EBADF;
	case SYS_fstat:
		return sys_fstat(a1, (uint8_t *)a2);
	case SYS_newfstatat:
		/* fstat() as musl makes it; no paths. */
		if (a4 != 0x1000 /* AT_EMPTY_PATH */ || *(const char *)a2)
			return -ENOSYS;
		return sys_fstat(a1, (uint8_t *)a3);
	case SYS_nanosleep:
		return sys_sleep((const struct timespec_ *)a1);
	case SYS_clock_nanosleep:
		return a2 ? -EINVAL : sys_sleep((const struct timespec_ *)a3); /* no TIMER_ABSTIME */
	case SYS_write:
		return sys_write(a1, (const void *)a2, (uint64_t)a3);
	case SYS_writev:
		return sys_writev(a1, (const struct iovec_ *)a2, a3);
	case SYS_brk:
		return sys_brk((uint64_t)a1);
	case SYS_mmap:
		return sys_mmap((uint64_t)a1, (uint64_t)a2, a4, a5);
	case SYS_munmap:
		return sys_munmap((uint64_t)a1, (uint64_t)a2);
	case SYS_mprotect:
	case SYS_madvise:
	case SYS_rt_sigaction:
	case SYS_rt_sigprocmask:
		return 0;
	case SYS_ioctl:
		return (a1 == 1 || a1 == 2) && a2 == TIOCGWINSZ ? 0 : -ENOTTY;
	case SYS_exit:
	case SYS_exit_group:
		leave(VMLET_PORT_EXIT, (uint64_t)a1, 0, 0);
	case SYS_kill:
		return sys_kill(a2);
	case SYS_tkill:
		return sys_kill(a2);
	case SYS_tgkill:
		return sys_kill(a3);
	case SYS_clock_gettime:
		return sys_clock_gettime(a1, (struct timespec_ *)a2);
	case SYS_gettimeofday:
		if (!boot->tsc_khz)
			return -ENOSYS;
		if (a1) {
			uint64_t ns = realtime_ns();

			((int64_t *)a1)[0] = (int64_t)(ns / 1000000000);
			((int64_t *)a1)[1] = (int64_t)(ns % 1000000000 / 1000);
		}
		return 0;
	case SYS_time:
		if (!boot->tsc_khz)
			return -ENOSYS;
		return (long)(realtime_ns() / 1000000000);
	case SYS_arch_prctl:
		return sys_arch_prctl(a1, (uint64_t)a2);
	case SYS_set_tid_address:
	case SYS_gettid:
	case SYS_getpid:
		return 1;
	}
	return -ENOSYS;
}
