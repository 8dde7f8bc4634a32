// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host calls: guests calling functions of the embedder.
 *
 * At VMLET_PORT_HOSTCALL the guest has put a host-call frame (function
 * name, arguments) in its output buffer. The name must be one the
 * embedder registered (on the config or the sandbox) and the arguments
 * must match its signature, or the guest gets -ENOENT or -EINVAL; a
 * malformed frame is -EINVAL too (decoding: lib/hostreq.c). An inline
 * function runs right here on the vCPU thread; any other goes to the
 * host-call service (lib/service.c) through this thread's ring. Either
 * way the answer frame replaces the request in the output buffer, and the
 * pages it covers are recorded for COPY restore, since KVM's dirty log
 * sees only the guest's own writes.
 */
#include <stddef.h>
#include <string.h>

#include "frame.h"
#include "hostcall.h"
#include "probes.h"
#include "service.h"

/* Run rq on the sandbox's service. */
static int64_t on_service(struct vmlet_hoststate *hs, const struct vmlet_service_req *in)
{
	struct vmlet_service_req *rq;
	struct vmlet_ring *r;
	int64_t size;
	int err;

	err = vmlet_ring_get(&r);
	if (err)
		return err;
	rq = vmlet_service_req(r);
	if (!rq)
		return -ENOMEM;
	*rq = *in;
	size = vmlet_service_call(hs->service, r, rq);
	if (size == -EIO)
		hs->lost = true; /* the service may still write the buffer */
	return size;
}

static int hostcall(struct vmlet_vm *vm, void *ctx)
{
	struct vmlet_hoststate *hs = ctx;
	struct vmlet_service_req rq = {.out = hs->out, .out_size = hs->out_size};
	struct vmlet_frame f = {.func = VMLET_HOSTCALL_FUNC};
	const char *name;
	uint32_t func;
	int64_t size;
	uint32_t status = 0;
	int err;

	(void)vm;
	if (hs->out_size >= sizeof(f))
		memcpy(&status, (const uint8_t *)hs->out + offsetof(struct vmlet_frame, status),
		       sizeof(status));
	err = vmlet_hostreq_decode(hs->out, hs->out_size, &name, rq.args, &rq.nargs);
	if (!err) {
		rq.fn = vmlet_hoststate_lookup(hs, name);
		/* Not inline and no service to run it: callable by no one, probed or called. */
		if (!rq.fn || (!(rq.fn->flags & VMLET_HOST_INLINE) && !hs->service))
			err = -ENOENT;
		else if (!vmlet_hostreq_types_match(rq.fn, rq.args, rq.nargs))
			err = -EINVAL;
		else if ((status & ~0xffU) == VMLET_HOSTCALL_PROBE && rq.fn->ret != (status & 0xff))
			err = -EINVAL;
	}
	func = vmlet_hoststate_func_index(hs, rq.fn);
	vmlet_probe_hostcall_begin(hs->id, func);
	if (!err && (status & ~0xffU) == VMLET_HOSTCALL_PROBE) {
		/* Asked, not called: a bare answer, as for an error. */
		f.status = 0;
		f.size = sizeof(f);
		memcpy(hs->out, &f, sizeof(f));
		size = sizeof(f);
	} else if (err)
		size = err;
	else if (rq.fn->flags & VMLET_HOST_INLINE)
		size = vmlet_service_run(&rq);
	else
		size = on_service(hs, &rq);
	if (size == -EIO && hs->lost)
		return -EIO; /* the run ends: the buffer is not ours to answer in */
	if (size < 0) {
		f.status = (int32_t)size;
		f.size = sizeof(f);
		memcpy(hs->out, &f, sizeof(f));
		size = sizeof(f);
	}
	vmlet_probe_hostcall_end(hs->id, func, ((struct vmlet_frame *)hs->out)->status);
	vmlet_hoststate_wrote(hs, hs->out_addr, (uint64_t)size);
	return 0;
}

int vmlet_hostcall_attach(struct vmlet_vm *vm, struct vmlet_hoststate *hs)
{
	return vmlet_vm_set_port(vm, VMLET_PORT_HOSTCALL, hostcall, hs);
}
