// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest I/O: read, write, pread, pwrite on descriptors the embedder
 * granted, and sleep, issued as io_uring operations on this thread's
 * ring with the guest's own memory as the buffer (after a bounds check:
 * no copy). Not granted: -EBADF; outside guest memory or overflowing:
 * -EFAULT (checks: lib/hostreq.c). The result goes to the guest's rax.
 * A kick during the wait cancels the request and ends the run; the
 * guest never sees it (lib/ring.c).
 *
 * open, size and close are plain system calls on this thread (openat2,
 * fstat, ftruncate, close; lib/confine.c allows all but openat2): they
 * do not wait for long, since a file beneath a granted directory is
 * opened with O_NONBLOCK and RESOLVE_BENEATH and kept only when it is a
 * regular file. fstat is the system call itself: glibc's fstat() is
 * newfstatat, which would let a confined thread stat any path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine.h"
#include "hostio.h"
#include "ring.h"

/* open(): a granted file, or a regular file beneath a granted directory. */
static int64_t io_open(struct vmlet_hoststate *hs, const struct vmlet_ioreq *rq)
{
	struct vmlet_openat at;
	struct open_how how = {0};
	int64_t res =
		vmlet_ioreq_open(rq, hs->grants, hs->ngrants, hs->mem->host, hs->mem->size, &at);
	struct stat st;
	int fd;

	if (res > 0 && (at.flags & O_TRUNC))
		return ftruncate(at.grant->host_fd, 0) ? -errno : res;
	if (res)
		return res;
	if (__vmlet_thread_refuses(VMLET_CONFINE_OPEN))
		return -EPERM;
	how.flags = (uint64_t)at.flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	how.mode = at.flags & O_CREAT ? 0644 : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, at.grant->host_fd, at.rel, &how, sizeof(how));
	if (fd < 0)
		return errno == EXDEV ? -EACCES : -errno; /* EXDEV: it leads out */
	res = syscall(SYS_fstat, fd, &st) ? -errno : S_ISREG(st.st_mode) ? 0 : -EACCES;
	if (!res)
		res = vmlet_hoststate_adopt(hs, fd, at.mode);
	if (res < 0)
		close(fd);
	return res;
}

static int64_t io_size(struct vmlet_hoststate *hs, uint64_t fd)
{
	const struct vmlet_grant *g = vmlet_grant_find(hs->grants, hs->ngrants, fd);
	struct stat st;

	if (!g)
		return -EBADF;
	if (syscall(SYS_fstat, g->host_fd, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? -EISDIR : st.st_size;
}

static int64_t io_op(struct vmlet_hoststate *hs, const struct kvm_regs *r, struct vmlet_vm *vm)
{
	struct vmlet_ioreq rq = {
		.op = r->rdi, .fd = r->rsi, .addr = r->rdx, .len = r->rcx, .off = r->r8};
	uint8_t *mem = hs->mem->host;
	struct __kernel_timespec ts;
	struct io_uring_sqe *sqe;
	struct vmlet_ring *ring;
	int err, res;

	if (rq.op == VMLET_IO_OPEN)
		return io_open(hs, &rq);
	if (rq.op == VMLET_IO_SIZE)
		return io_size(hs, rq.fd);
	if (rq.op == VMLET_IO_CLOSE)
		return vmlet_hoststate_close(hs, rq.fd);
	/* Every check before an SQE is taken: a taken SQE is always submitted. */
	err = vmlet_ioreq_check(&rq, hs->grants, hs->ngrants, hs->mem->size);
	if (err)
		return err;
	err = vmlet_ring_get(&ring);
	if (err)
		return err;
	sqe = vmlet_ring_sqe(&ring->uring);
	if (!sqe)
		return -EAGAIN;
	if (rq.op == VMLET_IO_SLEEP) {
		ts.tv_sec = (long long)(rq.off / 1000000000);
		ts.tv_nsec = (long long)(rq.off % 1000000000);
		io_uring_prep_timeout(sqe, &ts, 0, 0);
	} else if (rq.op == VMLET_IO_READ || rq.op == VMLET_IO_PREAD) {
		io_uring_prep_read(sqe, rq.grant->host_fd, mem + rq.addr, (unsigned int)rq.len,
				   rq.off);
		vmlet_hoststate_wrote(hs, rq.addr, rq.len);
	} else {
		io_uring_prep_write(sqe, rq.grant->host_fd, mem + rq.addr, (unsigned int)rq.len,
				    rq.off);
	}
	err = vmlet_ring_wait_io(ring, vm, sqe, &res);
	if (err == -EIO && ring->broken)
		hs->lost = true; /* the read may still land in guest memory */
	if (err)
		return err;
	if (rq.op == VMLET_IO_SLEEP && res == -ETIME)
		res = 0;
	return res;
}

static int hostio(struct vmlet_vm *vm, void *ctx)
{
	int64_t res = io_op(ctx, vmlet_vm_regs(vm), vm);

	if (res == -VMLET_EINTR || res == -VMLET_ETIMEDOUT)
		return (int)res; /* the run ends: the guest never sees it */
	if (res == -EIO && ((struct vmlet_hoststate *)ctx)->lost)
		return -EIO;
	vmlet_vm_set_rax(vm, (uint64_t)res);
	return 0;
}

int vmlet_hostio_attach(struct vmlet_vm *vm, struct vmlet_hoststate *hs)
{
	return vmlet_vm_set_port(vm, VMLET_PORT_IO, hostio, hs);
}
