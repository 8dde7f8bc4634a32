// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest I/O: read, write, pread, pwrite on descriptors the embedder
 * granted, and sleep, issued as io_uring operations on this thread's
 * ring with the guest's own memory as the buffer (after a bounds check:
 * no copy). Not granted: -EBADF; outside guest memory or overflowing:
 * -EFAULT (checks: lib/hostreq.c). The result goes to the guest's rax.
 * A kick during the wait cancels the request and ends the run; the
 * guest never sees it (lib/ring.c).
 */
#include "hostio.h"
#include "ring.h"

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
		return vmlet_ioreq_open(&rq, hs->grants, hs->ngrants, mem, hs->mem->size);
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
