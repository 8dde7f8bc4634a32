// SPDX-License-Identifier: BSD-2-Clause
/*
 * Sandboxes: boot one (memory, image, page tables, VM, run to the
 * guest's ready point), call its functions, destroy it; and the
 * references of snapshots. This is the bottom of the sandbox objects:
 * snapshot.c, livesnap.c, bootsnap.c and pool.c build on it, never the
 * other way (vmlet_sandbox_create(), which picks the boot snapshot or a
 * boot, is bootsnap.c's).
 *
 * The call path is: check the arguments against the signature the guest
 * registered, encode the frame straight into the guest's input buffer,
 * one KVM_RUN, decode the return frame in place. No allocation, no ioctl
 * besides KVM_RUN. A guest that fails in any way other than refusing a
 * call leaves the sandbox dead: its memory can no longer be trusted.
 *
 * Creation and calls fire the USDT probes of lib/probes.h; the public
 * functions are thin wrappers that fire begin and end around the work,
 * so that every exit path is traced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backtrace.h"
#include "core.h"
#include "entropy.h"
#include "frame.h"
#include "hostcall.h"
#include "hostio.h"
#include "service.h"
#include "probes.h"
#include "sandbox.h"
#include "x86.h"

int __vmlet_sandbox_vm_create(struct vmlet_sandbox *sb, uint32_t slot_flags)
{
	struct vmlet_vm *vm = &sb->vm;
	int err;

	sb->in = sb->mem.host + sb->layout.in_addr;
	sb->out = sb->mem.host + sb->layout.out_addr;
	sb->host.mem = &sb->mem;
	sb->host.out = sb->out;
	sb->host.out_addr = sb->layout.out_addr;
	sb->host.out_size = sb->layout.out_size;
	err = vmlet_vm_create(vm, &sb->mem, slot_flags);
	if (err)
		return err;
	vm->print = sb->cfg.print;
	vm->print_ctx = sb->cfg.print_ctx;
	vm->print_limit = sb->cfg.print_limit;
	vm->timeout_ns = vmlet_timeout_ns(sb->cfg.timeout_us);
	err = vmlet_hostcall_attach(vm, &sb->host);
	if (!err)
		err = vmlet_hostio_attach(vm, &sb->host);
	return err;
}

static int boot(struct vmlet_sandbox *sb, vmlet_port_fn *talk, void *ctx)
{
	struct vmlet_image *img = sb->image;
	int64_t cr3;
	int ret;

	ret = vmlet_elf_load(&img->elf, img->data, img->len, sb->mem.host, sb->mem.size);
	if (ret)
		return ret;
	cr3 = vmlet_mem_build_page_tables(&sb->mem, &sb->layout, &img->elf);
	if (cr3 < 0)
		return (int)cr3;
	ret = __vmlet_sandbox_vm_create(sb, 0);
	if (!ret && talk)
		ret = vmlet_vm_set_port(&sb->vm, VMLET_PORT_HOSTCALL, talk, ctx);
	if (!ret && talk)
		ret = vmlet_vm_set_port(&sb->vm, VMLET_PORT_IO, talk, ctx);
	if (ret)
		return ret;
	__atomic_add_fetch(&img->boots, 1, __ATOMIC_RELAXED);
	ret = vmlet_x86_boot(&sb->vm, &sb->layout, &img->elf, (uint64_t)cr3);
	if (ret)
		return ret;
	ret = vmlet_vm_run(&sb->vm, &sb->fault);
	if (ret < 0) {
		__vmlet_sandbox_symbolize(sb);
		return ret;
	}
	if (ret != VMLET_PORT_READY)
		return -VMLET_EPROTO;
	return vmlet_frame_decode_table(sb->out, sb->layout.out_size, &sb->funcs, &sb->nfuncs);
}

uint64_t __vmlet_sandbox_next_id(void)
{
	static uint64_t last;

	return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

int __vmlet_sandbox_new(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			struct vmlet_sandbox **out)
{
	struct vmlet_sandbox *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return -ENOMEM;
	sb->id = id;
	sb->image = img;
	sb->cfg = *cfg;
	sb->vm.vm_fd = sb->vm.vcpu_fd = -1;
	sb->mem.fd = -1;
	vmlet_service_get(sb->cfg.host);
	sb->host.id = id;
	sb->host.service = sb->cfg.host;
	sb->host.funcs = sb->cfg.host_funcs;
	sb->host.nfuncs = sb->cfg.nhost_funcs;
	*out = sb;
	return 0;
}

int __vmlet_sandbox_boot(struct vmlet_image *img, const struct vmlet_config *cfg, uint64_t id,
			 vmlet_port_fn *talk, void *ctx, struct vmlet_sandbox **out)
{
	struct vmlet_sandbox *sb;
	int err = __vmlet_sandbox_new(img, cfg, id, &sb);

	if (err)
		return err;
	err = vmlet_layout_compute(&sb->cfg, img->elf.lo, img->elf.hi, &sb->layout);
	if (!err)
		err = vmlet_mem_create(sb->layout.mem_size, sb->cfg.backing, &sb->mem);
	if (!err)
		err = boot(sb, talk, ctx);
	if (err) {
		vmlet_sandbox_destroy(sb);
		return err;
	}
	sb->state = SANDBOX_READY;
	*out = sb;
	return 0;
}

/*
 * A snapshot's references, here below the code that takes and uses them
 * (lib/snapshot.c, livesnap.c, bootsnap.c, pool.c): a cold sandbox drops
 * its boot snapshot's in vmlet_sandbox_destroy().
 */
void __vmlet_snapshot_get(struct vmlet_snapshot *snap)
{
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
}

VMLET_API void vmlet_snapshot_destroy(struct vmlet_snapshot *snap)
{
	/* The last reference goes: the creator's, a child's or a pool's. */
	if (!snap || __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL))
		return;
	vmlet_mem_destroy(&snap->mem);
	vmlet_service_put(snap->cfg.host);
	free(snap->funcs);
	free(snap->runs);
	if (snap->file_fd > 0)
		close(snap->file_fd);
	vmlet_snapshot_destroy(snap->parent);
	free(snap);
}

VMLET_API uint64_t vmlet_sandbox_id(const struct vmlet_sandbox *sb)
{
	return sb ? sb->id : 0;
}

VMLET_API void vmlet_sandbox_destroy(struct vmlet_sandbox *sb)
{
	if (!sb)
		return;
	vmlet_vm_destroy(&sb->vm);
	/* A request still in flight may write there: leave it mapped, lost. */
	if (!sb->host.lost)
		vmlet_mem_destroy(&sb->mem);
	if (!sb->snap && !sb->boot)
		free(sb->funcs);
	vmlet_hoststate_free(&sb->host);
	vmlet_service_put(sb->cfg.host);
	vmlet_snapshot_destroy(sb->boot);
	free(sb);
}

VMLET_API const void *vmlet_sandbox_memory(const struct vmlet_sandbox *sb, size_t *size)
{
	if (size)
		*size = sb ? sb->mem.size : 0;
	return sb ? sb->mem.host : NULL;
}

VMLET_API int vmlet_sandbox_nfuncs(const struct vmlet_sandbox *sb)
{
	return sb ? (int)sb->nfuncs : -EINVAL;
}

VMLET_API const struct vmlet_func *vmlet_sandbox_func_at(const struct vmlet_sandbox *sb,
							 unsigned int index)
{
	return sb && index < sb->nfuncs ? &sb->funcs[index] : NULL;
}

VMLET_API int vmlet_sandbox_func(const struct vmlet_sandbox *sb, const char *name)
{
	if (!sb || !name)
		return -EINVAL;
	for (unsigned int i = 0; i < sb->nfuncs; i++)
		if (!strcmp(sb->funcs[i].name, name))
			return (int)i;
	return -ENOENT;
}

VMLET_API const struct vmlet_fault *vmlet_sandbox_fault(const struct vmlet_sandbox *sb)
{
	return sb ? &sb->fault : NULL;
}

VMLET_API enum vmlet_backing vmlet_sandbox_backing(const struct vmlet_sandbox *sb)
{
	return sb ? sb->mem.backing : VMLET_BACKING_AUTO;
}

VMLET_API int vmlet_sandbox_interrupt(struct vmlet_sandbox *sb)
{
	if (!sb)
		return -EINVAL;
	return vmlet_vm_interrupt(&sb->vm);
}

VMLET_API int vmlet_sandbox_set_timeout(struct vmlet_sandbox *sb, uint64_t timeout_us)
{
	if (!sb || timeout_us > VMLET_TIMEOUT_MAX_US)
		return -EINVAL;
	sb->vm.timeout_ns = vmlet_timeout_ns(timeout_us);
	return 0;
}

/*
 * KVM sets the trap flag for single-stepping only while rip is the one it
 * saw at KVM_SET_GUEST_DEBUG (singlestep_rip), and takes it away when
 * registers are set at any other rip. A restore leaves the snapshot's
 * registers pending in kvm_run until the next KVM_RUN: turned on there,
 * stepping recorded the last call's rip, the snapshot's registers then
 * cleared the flag, and the next call ran unstepped and counted 0 (every
 * sandbox from a pool starts that way). So pending registers go to KVM
 * first, with a KVM_RUN that runs no guest code.
 */
VMLET_API int vmlet_sandbox_count_insns(struct vmlet_sandbox *sb, bool on)
{
	int err;

	if (!sb)
		return -EINVAL;
	if (on && sb->vm.run->kvm_dirty_regs) {
		err = vmlet_vm_complete_io(&sb->vm);
		if (err)
			return err;
	}
	return vmlet_vm_single_step(&sb->vm, on);
}

VMLET_API uint64_t vmlet_sandbox_insns(const struct vmlet_sandbox *sb)
{
	return sb ? sb->vm.steps : 0;
}

/*
 * Name where a failed run left the guest: its rip (the fault's, or the
 * vCPU's) and the frames above it. The exception stubs touch only rsp,
 * so rbp is still the faulting function's. Failures only, never calls.
 */
void __vmlet_sandbox_symbolize(struct vmlet_sandbox *sb)
{
	const struct kvm_regs *r;
	struct vmlet_xframe x;
	uint64_t rsp;

	sb->fault.nframes = 0;
	if (!sb->fault.rip || !sb->vm.run)
		return;
	r = vmlet_vm_regs(&sb->vm);
	rsp = r->rsp;
	/* An exception: the guest's rsp is in the frame the stub left (checked as in vm.c). */
	if (sb->fault.error == -VMLET_EEXCEPTION && r->rsp >= VMLET_XSTACK_ADDR &&
	    r->rsp <= VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE - sizeof(x)) {
		memcpy(&x, sb->mem.host + r->rsp, sizeof(x));
		rsp = x.rsp;
	}
	/* A loaded snapshot's sandbox has no image, so no symbols. */
	vmlet_backtrace_fault(&sb->mem, sb->image ? &sb->image->syms : NULL, sb->fault.rip, rsp,
			      r->rbp, &sb->fault);
}

/* The call of function index failed: the sandbox is dead; name where, write its core. */
static int die(struct vmlet_sandbox *sb, unsigned int index, int err)
{
	sb->state = SANDBOX_DEAD;
	if (!sb->fault.error)
		sb->fault.error = err;
	__vmlet_sandbox_symbolize(sb);
	__vmlet_core_dump(sb, sb->funcs[index].name);
	return err;
}

/* The guest broke the call protocol: the sandbox is dead, and this is why. */
static int broke(struct vmlet_sandbox *sb, unsigned int index, const char *why)
{
	sb->fault.rip = sb->vm.run->s.regs.regs.rip;
	snprintf(sb->fault.message, sizeof(sb->fault.message), "%s", why);
	return die(sb, index, -VMLET_EPROTO);
}

/*
 * What differs between calls on VMs of one snapshot (abi.h, "Call
 * entry"): fresh entropy, and the wall clock. Both cost no system call
 * in the common case (lib/entropy.c, the vDSO).
 */
static int enter(struct vmlet_sandbox *sb)
{
	struct timespec ts;
	uint64_t seed[2];
	int err = vmlet_entropy_get(seed);

	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &ts);
	vmlet_vm_set_call(&sb->vm, seed[0], seed[1],
			  (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
	return 0;
}

int __vmlet_sandbox_may_call(const struct vmlet_sandbox *sb, unsigned int index,
			     const struct vmlet_value *args, unsigned int nargs)
{
	const struct vmlet_func *fn;

	if (sb->state != SANDBOX_READY)
		return -VMLET_EDEAD;
	/* A host function of this very call: its frames are in use. */
	if (vmlet_vm_running(&sb->vm))
		return -EBUSY;
	if (index >= sb->nfuncs)
		return -ENOENT;
	fn = &sb->funcs[index];
	if (nargs != fn->nargs || (nargs && !args))
		return -EINVAL;
	for (unsigned int i = 0; i < nargs; i++)
		if (args[i].type != fn->args[i])
			return -EINVAL;
	return 0;
}

static int call(struct vmlet_sandbox *sb, unsigned int index, const struct vmlet_value *args,
		unsigned int nargs, struct vmlet_value *ret)
{
	const struct vmlet_func *fn;
	struct vmlet_value v;
	int64_t size;
	int32_t status;
	int err;

	err = __vmlet_sandbox_may_call(sb, index, args, nargs);
	if (err)
		return err;
	fn = &sb->funcs[index];
	size = vmlet_frame_encode_call(sb->in, sb->layout.in_size, index, args, nargs);
	if (size < 0)
		return (int)size;
	if ((uint64_t)size > sb->in_used)
		sb->in_used = (uint64_t)size;

	err = enter(sb);
	if (err)
		return err;
	sb->fault.error = 0; /* core_error is 0 here: only die() sets it, and restore clears it */
	sb->vm.steps = 0;
	err = vmlet_vm_run(&sb->vm, &sb->fault);
	if (err == VMLET_PORT_READY)
		return broke(sb, index, "the guest reported ready again during a call");
	if (err != VMLET_PORT_RETURN)
		return die(sb, index, err);
	err = vmlet_frame_decode_ret(sb->out, sb->layout.out_size, index, fn->ret, &v, &status);
	if (err == -VMLET_EREFUSED) {
		sb->fault.error = err;
		sb->fault.code = status;
		snprintf(sb->fault.message, sizeof(sb->fault.message), "guest refused the call: %s",
			 vmlet_strerror(status));
		return err;
	}
	if (err == -VMLET_EFAIL) {
		/* The guest is back at its serving loop: the sandbox lives on. */
		sb->fault.error = err;
		sb->fault.code = status;
		sb->fault.rip = 0;
		snprintf(sb->fault.message, sizeof(sb->fault.message), "%.*s",
			 (int)(v.buf.len < sizeof(sb->fault.message) ? v.buf.len
								     : sizeof(sb->fault.message)),
			 (const char *)v.buf.ptr);
		return err;
	}
	if (err)
		return broke(sb, index, "malformed return frame");
	if (ret)
		*ret = v;
	return 0;
}

VMLET_API int vmlet_sandbox_call_index(struct vmlet_sandbox *sb, unsigned int index,
				       const struct vmlet_value *args, unsigned int nargs,
				       struct vmlet_value *ret)
{
	const char *name;
	int err;

	if (!sb)
		return -EINVAL;
	name = index < sb->nfuncs ? sb->funcs[index].name : NULL;
	vmlet_probe_call_begin(sb->id, (uint32_t)index, name);
	err = call(sb, index, args, nargs, ret);
	vmlet_probe_call_end(sb->id, (uint32_t)index, (int32_t)err);
	return err;
}

int __vmlet_sandbox_warm_up(struct vmlet_sandbox *sb)
{
	int64_t size;
	int32_t status;
	struct vmlet_value v;
	int err;

	size = vmlet_frame_encode_call(sb->in, sb->layout.in_size, sb->nfuncs, NULL, 0);
	if (size < 0)
		return (int)size;
	sb->in_used = (uint64_t)size;
	err = vmlet_vm_run(&sb->vm, &sb->fault);
	if (err != VMLET_PORT_RETURN)
		return err < 0 ? err : -VMLET_EPROTO;
	err = vmlet_frame_decode_ret(sb->out, sb->layout.out_size, sb->nfuncs, VMLET_VOID, &v,
				     &status);
	return err == -VMLET_EREFUSED ? 0 : -VMLET_EPROTO;
}

VMLET_API int vmlet_sandbox_call(struct vmlet_sandbox *sb, const char *name,
				 const struct vmlet_value *args, unsigned int nargs,
				 struct vmlet_value *ret)
{
	int index = vmlet_sandbox_func(sb, name);

	if (index < 0)
		return index;
	return vmlet_sandbox_call_index(sb, (unsigned int)index, args, nargs, ret);
}

VMLET_API int vmlet_sandbox_add_host_func(struct vmlet_sandbox *sb,
					  const struct vmlet_host_func *fn)
{
	if (!sb)
		return -EINVAL;
	return vmlet_hoststate_add_func(&sb->host, fn);
}

VMLET_API int vmlet_sandbox_grant_fd(struct vmlet_sandbox *sb, int guest_fd, int host_fd,
				     unsigned int mode, const char *path)
{
	if (!sb)
		return -EINVAL;
	return vmlet_hoststate_grant(&sb->host, guest_fd, host_fd, mode, path);
}
