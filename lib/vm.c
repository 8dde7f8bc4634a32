// SPDX-License-Identifier: BSD-2-Clause
/*
 * VM and vCPU lifecycle and the run loop.
 *
 * kvm_run's synced registers (KVM_CAP_SYNC_REGS) are enabled for every
 * exit, so the loop reads the guest's port arguments from memory that KVM
 * already filled instead of issuing KVM_GET_REGS: a warm call is exactly
 * one KVM_RUN. Anything the guest hands over (addresses, lengths, its stack
 * pointer at a fault) is checked against the memslot before use.
 *
 * A run can be stopped from outside (lib/kick.c): vmlet_vm_interrupt()
 * marks it kicked and signals its thread; a deadline's timer signals it
 * too. Either way KVM_RUN returns -EINTR, and the loop ends the run only
 * if the kick or the deadline is for this run: a late signal from an
 * earlier one just goes round the loop again. KVM_RUN runs with the
 * thread's signal mask minus the kick (KVM_SET_SIGNAL_MASK, set again only
 * when the vCPU moves to a thread with another mask), so a thread that
 * blocks the signal can still be kicked. The hot path pays a few plain
 * stores and thread-local writes per run, and nothing at all per exit.
 *
 * Runs nest: a port handler (an inline host function) may run another
 * VM on the same thread. The inner run ends at the earliest deadline of
 * the runs it is nested in and when any of them is interrupted; when it
 * returns, the outer run's timer and kick binding are put back, and a
 * kick the outer run missed meanwhile ends it at its next KVM_RUN.
 *
 * Ports that higher layers serve (host calls, guest I/O) are a table of
 * handlers they register, as in Solo5's hvt: the loop only looks the port
 * up. Nothing outside this file touches kvm_run or the kick signal.
 */
#include <asm/kvm_para.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* The innermost run going on on this thread. */
static TLS struct vmlet_vm *running;

#include "cpustate.h"
#include "fdio.h"
#include "kick.h"
#include "kvm.h"
#include "vm.h"
#include "x86.h"

int vmlet_vm_create(struct vmlet_vm *vm, struct vmlet_mem *mem, uint32_t slot_flags)
{
	const struct vmlet_kvm *kvm;
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = slot_flags,
		.guest_phys_addr = 0,
		.memory_size = mem->size,
		.userspace_addr = (uintptr_t)mem->host,
	};
	int err, ring = 0;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = vm->vcpu_fd = -1;
	vm->mem = mem;
	/*
	 * The kick's signal handler, now rather than at the first interrupt
	 * or deadline, which may come on a thread that seccomp confined. Its
	 * error (-EBUSY) comes back from those, not from here.
	 */
	vmlet_kick_init();
	err = vmlet_kvm_get(&kvm);
	if (err)
		return err;
	vm->vm_fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto err_vm;
	/* The ring must be on before the vCPU exists. */
	if (slot_flags & KVM_MEM_LOG_DIRTY_PAGES) {
		ring = vmlet_dirty_enable(vm->vm_fd);
		if (ring < 0) {
			err = ring;
			goto err_close_vm;
		}
	}
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		goto err_vm;
	vm->run_size = (size_t)kvm->run_size;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		goto err_vcpu;
	vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	if (slot_flags & KVM_MEM_LOG_DIRTY_PAGES) {
		err = vmlet_dirty_init(&vm->dirty, vm->vcpu_fd, (size_t)ring,
				       mem->size / VMLET_PAGE_SIZE);
		if (err) {
			vmlet_vm_destroy(vm);
			return err;
		}
	}
	return 0;

err_vcpu:
	err = -errno;
	vm->run = NULL;
	close(vm->vcpu_fd);
	vm->vcpu_fd = -1;
	goto err_close_vm;
err_vm:
	err = -errno;
err_close_vm:
	close(vm->vm_fd);
	vm->vm_fd = -1;
	return err;
}

int vmlet_vm_complete_io(struct vmlet_vm *vm)
{
	int ret;

	/* What the entry stub would put back goes back now: the state is read next. */
	if (vm->entry) {
		ret = vmlet_cpustate_entry_settle(vm);
		if (ret)
			return ret;
	}
	vm->run->immediate_exit = 1;
	ret = ioctl(vm->vcpu_fd, KVM_RUN, 0);
	vm->run->immediate_exit = 0;
	vm->run->kvm_dirty_regs = 0;
	if (ret == 0 || errno != EINTR)
		return ret == 0 ? -EIO : -errno;
	return 0;
}

/*
 * KVM_RUNs that finishing one instruction can take: a string instruction
 * (rep ins/outs, rep movs on MMIO) goes back to the guest at least every
 * 1024 iterations (arch/x86/kvm/emulate.c), which ends the KVM_RUN here.
 */
#define SETTLE_MAX_RUNS 2048

int vmlet_vm_settle(struct vmlet_vm *vm)
{
	for (int i = 0; i < SETTLE_MAX_RUNS; i++) {
		int err;

		if (vm->run->exit_reason != KVM_EXIT_IO && vm->run->exit_reason != KVM_EXIT_MMIO)
			return 0;
		err = vmlet_vm_complete_io(vm);
		if (err != -EIO)
			return err;
		/* It wanted more I/O (the next piece of a string instruction): give it. */
	}
	return -EIO;
}

void vmlet_vm_destroy(struct vmlet_vm *vm)
{
	vmlet_dirty_free(&vm->dirty);
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->run = NULL;
	vm->vcpu_fd = vm->vm_fd = -1;
}

int vmlet_vm_guest_debug(struct vmlet_vm *vm, const struct kvm_guest_debug *dbg)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, dbg) < 0)
		return -errno;
	vm->single_step = (dbg->control & (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) ==
			  (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
	return 0;
}

int vmlet_vm_single_step(struct vmlet_vm *vm, bool on)
{
	struct kvm_guest_debug dbg = {
		.control = on ? KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP : 0,
	};

	return vmlet_vm_guest_debug(vm, &dbg);
}

int vmlet_vm_set_port(struct vmlet_vm *vm, unsigned int port, vmlet_port_fn *fn, void *ctx)
{
	if (port < VMLET_PORT_HOSTCALL || port >= VM_PORT_BASE + VM_NPORTS)
		return -EINVAL; /* below: the ports the loop serves itself */
	vm->ports[port - VM_PORT_BASE].fn = fn;
	vm->ports[port - VM_PORT_BASE].ctx = ctx;
	return 0;
}

#define RFLAGS_TF (1ULL << 8)

void vmlet_vm_set_call(struct vmlet_vm *vm, uint64_t rdi, uint64_t rsi, uint64_t rdx)
{
	struct kvm_regs *r = &vm->run->s.regs.regs;

	r->rdi = rdi;
	r->rsi = rsi;
	r->rdx = rdx;
	/* KVM hides TF from the registers it syncs out while stepping. */
	if (vm->single_step)
		r->rflags |= RFLAGS_TF;
	vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

void vmlet_vm_set_rax(struct vmlet_vm *vm, uint64_t rax)
{
	vm->run->s.regs.regs.rax = rax;
	vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

static int fail(struct vmlet_fault *f, int err, uint64_t rip, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct vmlet_fault *f, int err, uint64_t rip, const char *fmt, ...)
{
	va_list ap;

	f->error = err;
	f->rip = rip;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return err;
}

int vmlet_vm_interrupt(struct vmlet_vm *vm)
{
	unsigned int old = __atomic_fetch_or(&vm->kick, VM_KICKED, __ATOMIC_SEQ_CST);

	if (!(old & VM_RUNNING))
		return -ESRCH;
	return vmlet_kick(__atomic_load_n(&vm->tid, __ATOMIC_RELAXED));
}

int vmlet_vm_stopped(struct vmlet_vm *vm)
{
	uint64_t now = 0;

	for (; vm; vm = vm->outer) {
		if (__atomic_load_n(&vm->kick, __ATOMIC_RELAXED) & VM_KICKED)
			return -VMLET_EINTR;
		if (vm->deadline && !now)
			now = vmlet_now_ns();
		if (vm->deadline && now >= vm->deadline)
			return -VMLET_ETIMEDOUT;
	}
	return 0;
}

void vmlet_vm_wait_begin(struct vmlet_vm_wait *w)
{
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VMLET_KICK);
	sigemptyset(&w->old);			    /* the kernel fills 64 of its bits */
	pthread_sigmask(SIG_BLOCK, &kick, &w->old); /* fails only for a bad how */
	w->mask = w->old;
	sigdelset(&w->mask, VMLET_KICK);
}

void vmlet_vm_wait_end(struct vmlet_vm_wait *w)
{
	pthread_sigmask(SIG_SETMASK, &w->old, NULL);
}

static int stop(struct vmlet_vm *vm, int err, struct vmlet_fault *f)
{
	const struct kvm_regs *r = &vm->run->s.regs.regs;

	if (err == -VMLET_EINTR)
		return fail(f, err, r->rip, "interrupted at rip %#llx", (unsigned long long)r->rip);
	return fail(f, err, r->rip, "deadline of %llu us passed at rip %#llx",
		    (unsigned long long)(vm->timeout_ns / 1000), (unsigned long long)r->rip);
}

/*
 * The default print: what the process's stdout holds goes first, then
 * the guest's bytes with write(), the one call a confined thread may make
 * here (stdio's first use of a stream stats it, which the filter refuses,
 * or in VMLET_CONFINE_KILL mode kills the process for).
 */
static void print_stdout(const char *buf, size_t len)
{
	fflush(stdout);
	vmlet_write_all(STDOUT_FILENO, buf, len);
}

/* Deliver guest output up to the budget; past it, the run fails. */
static int print(struct vmlet_vm *vm, const struct kvm_regs *r, struct vmlet_fault *f)
{
	const char *buf = (const char *)vm->mem->host + r->rdi;
	uint64_t len = r->rsi, room = vm->print_limit - vm->printed;

	if (len > room)
		len = room;
	vm->printed += len;
	if (len && vm->print)
		vm->print(vm->print_ctx, buf, len);
	else if (len)
		print_stdout(buf, len);
	if (len < r->rsi) {
		f->code = (int64_t)vm->print_limit;
		return fail(f, -VMLET_EOUTPUT, r->rip, "guest output over the limit of %llu bytes",
			    (unsigned long long)vm->print_limit);
	}
	return 0;
}

/*
 * A #BP or #DB that reached the guest's own stub while a debugger runs
 * it: where KVM_GUESTDBG_USE_SW_BP does not intercept int3 (QEMU/TCG's
 * nested SVM delivers it to the guest), take the guest back to where the
 * exception struck, as if it had not been delivered (the stubs change
 * only rsp), and stop there as KVM would have.
 */
static int debug_trap(struct vmlet_vm *vm, const struct vmlet_xframe *x, struct vmlet_fault *f)
{
	struct kvm_regs r;
	int err = vmlet_vm_complete_io(vm); /* the stub's out, before rip moves */

	if (err && err != -EIO)
		return fail(f, err, x->rip, "cannot complete the fault report: %s", strerror(-err));
	r = vm->run->s.regs.regs;
	r.rip = x->rip;
	r.rsp = x->rsp;
	r.rflags = x->rflags;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return fail(f, -errno, x->rip, "KVM_SET_REGS: %s", strerror(errno));
	vm->run->s.regs.regs = r;
	memset(&vm->run->debug, 0, sizeof(vm->run->debug));
	vm->run->debug.arch.exception = (uint32_t)x->vector;
	vm->run->debug.arch.pc = x->rip;
	err = vm->debug(vm, vm->debug_ctx);
	if (err)
		return fail(f, err, r.rip, "killed by the debugger at rip %#llx",
			    (unsigned long long)vm->run->s.regs.regs.rip);
	return 0;
}

static int exception(struct vmlet_vm *vm, const struct kvm_regs *r, struct vmlet_fault *f)
{
	struct vmlet_xframe x;

	/* Only the stubs leave through this port, always on the IST stack. */
	if (r->rsp < VMLET_XSTACK_ADDR ||
	    r->rsp > VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE - sizeof(x))
		return fail(f, -VMLET_EPROTO, r->rip, "fault report with a bad stack");
	memcpy(&x, vm->mem->host + r->rsp, sizeof(x));
	if (vm->debug && (x.vector == 1 || x.vector == 3))
		return debug_trap(vm, &x, f);
	f->vector = (uint32_t)x.vector;
	f->error_code = x.error;
	if (x.vector == 14 && vmlet_x86_fault_address(vm, &f->address) < 0)
		f->address = 0;
	return fail(f, -VMLET_EEXCEPTION, x.rip, "exception %llu at rip %#llx",
		    (unsigned long long)x.vector, (unsigned long long)x.rip);
}

static int abort_report(struct vmlet_vm *vm, const struct kvm_regs *r, struct vmlet_fault *f)
{
	uint64_t len = r->rdx;

	f->code = (int64_t)r->rdi;
	if (len >= sizeof(f->message))
		len = sizeof(f->message) - 1;
	if (!vmlet_mem_range_ok(vm->mem, r->rsi, len))
		return fail(f, -VMLET_EABORT, r->rip, "guest aborted (message out of bounds)");
	f->error = -VMLET_EABORT;
	f->rip = r->rip;
	memcpy(f->message, vm->mem->host + r->rsi, len);
	f->message[len] = '\0';
	return -VMLET_EABORT;
}

static int io(struct vmlet_vm *vm, struct vmlet_fault *f)
{
	const struct kvm_regs *r = &vm->run->s.regs.regs;
	struct kvm_run *run = vm->run;
	int ret;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 1 || run->io.count != 1)
		return fail(f, -VMLET_EVMEXIT, r->rip, "I/O on port %#x", run->io.port);
	switch (run->io.port) {
	case VMLET_PORT_READY:
	case VMLET_PORT_RETURN:
		return run->io.port;
	case VMLET_PORT_PRINT:
		if (!vmlet_mem_range_ok(vm->mem, r->rdi, r->rsi))
			return fail(f, -VMLET_EPROTO, r->rip, "print buffer out of bounds");
		return print(vm, r, f);
	case VMLET_PORT_ABORT:
		return abort_report(vm, r, f);
	case VMLET_PORT_EXIT:
		f->code = (int64_t)r->rdi;
		return fail(f, -VMLET_EEXIT, r->rip, "guest exited with status %lld",
			    (long long)r->rdi);
	case VMLET_PORT_FAULT:
		return exception(vm, r, f);
	}
	if (run->io.port >= VM_PORT_BASE && run->io.port < VM_PORT_BASE + VM_NPORTS &&
	    vm->ports[run->io.port - VM_PORT_BASE].fn) {
		ret = vm->ports[run->io.port - VM_PORT_BASE].fn(
			vm, vm->ports[run->io.port - VM_PORT_BASE].ctx);
		if (ret == -VMLET_EINTR || ret == -VMLET_ETIMEDOUT)
			return stop(vm, ret, f);
		return ret;
	}
	return fail(f, -VMLET_EVMEXIT, r->rip, "I/O on port %#x", run->io.port);
}

/*
 * A guest WRMSR that the MSR filter sent here (lib/x86.c): note that
 * restore must put the MSRs back, and make the write as KVM would have:
 * with KVM_SET_MSRS, #GP (msr.error) where KVM refuses it. Steal time's
 * is refused: its record is where restore asks for the TLB flush
 * (lib/tlb.c), and no guest moves or stops it.
 */
static void wrmsr(struct vmlet_vm *vm)
{
	struct kvm_run *run = vm->run;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e = {.index = run->msr.index, .data = run->msr.data}};

	if (run->msr.index == MSR_KVM_STEAL_TIME) {
		run->msr.error = 1;
		return;
	}
	vm->msrs_written = true;
	run->msr.error = ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) != 1;
}

/*
 * Give KVM_RUN this thread's mask without the kick, if the vCPU has
 * another: a vCPU that moves between threads with one mask (a pool's
 * refill thread and its callers) sets it once. The thread's mask is read
 * again where asked, and on every run with a deadline.
 */
static int set_sigmask(struct vmlet_vm *vm, bool reread, struct vmlet_fault *f)
{
	_Alignas(struct kvm_signal_mask) uint8_t buf[sizeof(struct kvm_signal_mask) + 8];
	struct kvm_signal_mask *km = (struct kvm_signal_mask *)buf;
	uint64_t mask;
	int err = vmlet_kick_run_mask(reread || vm->timeout_ns != 0, &mask);

	if (!err && vm->sigmask_set && mask == vm->sigmask)
		return 0;
	km->len = sizeof(mask); /* the kernel's sigset_t, right after len */
	memcpy(km->sigset, &mask, sizeof(mask));
	if (!err && ioctl(vm->vcpu_fd, KVM_SET_SIGNAL_MASK, km) < 0)
		err = -errno;
	if (err)
		return fail(f, err, 0, "cannot set the vCPU's signal mask: %s", strerror(-err));
	vm->sigmask = mask;
	vm->sigmask_set = true;
	return 0;
}

static int run_loop(struct vmlet_vm *vm, struct vmlet_fault *f)
{
	struct kvm_run *run = vm->run;
	const struct kvm_regs *r = &run->s.regs.regs;
	int ret;

	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return fail(f, -errno, 0, "KVM_RUN: %s", strerror(errno));
			/* Cleared first: a kick from now on sets it again. */
			run->immediate_exit = 0;
			vmlet_kick_eat();
			ret = vmlet_vm_stopped(vm);
			if (ret)
				return stop(vm, ret, f);
			/*
			 * Not for this run: a late kick, or a signal the thread
			 * has blocked since its mask was read, which KVM_RUN
			 * lets in and which stays pending after it: the thread's
			 * mask as it is now, or the loop spins on it.
			 */
			ret = set_sigmask(vm, true, f);
			if (ret)
				return ret;
			continue;
		}
		/* The registers KVM synced out are current; nothing to write back. */
		run->kvm_dirty_regs = 0;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			ret = io(vm, f);
			if (ret)
				return ret;
			break;
		case KVM_EXIT_DEBUG:
			if (vm->debug) {
				ret = vm->debug(vm, vm->debug_ctx);
				if (ret)
					return fail(f, ret, r->rip,
						    "killed by the debugger at rip %#llx",
						    (unsigned long long)r->rip);
				break;
			}
			if (!vm->single_step)
				return fail(f, -VMLET_EVMEXIT, r->rip, "unexpected debug exit");
			vm->steps++;
			break;
		case KVM_EXIT_X86_WRMSR:
			if (!vm->msr_filter || run->msr.reason != KVM_MSR_EXIT_REASON_FILTER)
				return fail(f, -VMLET_EVMEXIT, r->rip, "unexpected WRMSR exit");
			wrmsr(vm);
			break;
		case KVM_EXIT_DIRTY_RING_FULL:
			/* Harvested into the set restore copies back, then reset. */
			ret = vmlet_dirty_ring_full(&vm->dirty, vm->vm_fd);
			if (ret == -EOVERFLOW)
				return fail(f, -VMLET_EVMEXIT, r->rip,
					    "KVM overran the dirty ring");
			if (ret)
				return fail(f, ret, r->rip, "dirty ring full: %s", strerror(-ret));
			break;
		case KVM_EXIT_SHUTDOWN:
			return fail(f, -VMLET_ESHUTDOWN, r->rip, "triple fault");
		case KVM_EXIT_HLT:
			return fail(f, -VMLET_EVMEXIT, r->rip, "guest halted");
		case KVM_EXIT_MMIO:
			f->address = run->mmio.phys_addr;
			return fail(f, -VMLET_EVMEXIT, r->rip, "MMIO access at %#llx",
				    (unsigned long long)run->mmio.phys_addr);
		case KVM_EXIT_FAIL_ENTRY:
			f->code = (int64_t)run->fail_entry.hardware_entry_failure_reason;
			return fail(f, -VMLET_EVMEXIT, r->rip, "VM entry failed (reason %#llx)",
				    (unsigned long long)f->code);
		case KVM_EXIT_INTERNAL_ERROR:
			f->code = run->internal.suberror;
			return fail(f, -VMLET_EVMEXIT, r->rip,
				    "KVM internal error %u at rip %#llx%s", run->internal.suberror,
				    (unsigned long long)r->rip,
				    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
					    ? " (KVM cannot emulate the instruction)"
					    : "");
		default:
			f->code = run->exit_reason;
			return fail(f, -VMLET_EVMEXIT, r->rip, "unexpected exit reason %u",
				    run->exit_reason);
		}
	}
}

/*
 * Give vm's run a deadline of vm->timeout_ns from now (none for 0) and
 * set the thread's timer, which stands at vm->armed, to the earlier of it
 * and the outer run's: 0 or -errno.
 */
static int arm_deadline(struct vmlet_vm *vm, uint64_t outer_armed)
{
	uint64_t was = vm->armed;
	int err;

	vm->deadline = 0;
	if (vm->timeout_ns && __builtin_add_overflow(vmlet_now_ns(), vm->timeout_ns, &vm->deadline))
		vm->deadline = UINT64_MAX;
	vm->armed = vm->deadline && (!outer_armed || vm->deadline < outer_armed) ? vm->deadline
										 : outer_armed;
	if (vm->armed == was)
		return 0;
	err = vmlet_kick_at(vm->armed);
	if (err) {
		vm->deadline = 0;
		vm->armed = was;
	}
	return err;
}

int vmlet_vm_restart_deadline(struct vmlet_vm *vm, uint64_t timeout_ns)
{
	vm->timeout_ns = timeout_ns;
	return arm_deadline(vm, vm->outer ? vm->outer->armed : 0);
}

int vmlet_vm_run(struct vmlet_vm *vm, struct vmlet_fault *f)
{
	struct vmlet_vm *outer = running;
	uint64_t outer_armed = outer ? outer->armed : 0;
	const struct vmlet_x86_state *entry = vm->entry;
	int ret;

	if (vmlet_vm_running(vm))
		return -EBUSY;
	ret = set_sigmask(vm, false, f);
	if (ret)
		return ret;
	vm->armed = outer_armed; /* where the thread's timer stands */
	ret = arm_deadline(vm, outer_armed);
	if (ret)
		return fail(f, ret, 0, "cannot arm the deadline: %s", strerror(-ret));
	vm->printed = 0;
	vm->outer = outer;
	running = vm;
	/*
	 * Release stores, no barrier: vmlet_vm_interrupt()'s read-modify-write
	 * of kick is ordered against them by kick alone, and sees tid when it
	 * sees VM_RUNNING. Whatever it sends a run that just ended is a late
	 * kick, which the next run's loop shrugs off.
	 */
	__atomic_store_n(&vm->tid, vmlet_kick_tid(), __ATOMIC_RELAXED);
	vmlet_kick_bind(vm->run);
	__atomic_store_n(&vm->kick, VM_RUNNING, __ATOMIC_RELEASE);
	/*
	 * A kick or timer signal before the bind went to another kvm_run (the
	 * outer run's, or none): a deadline already past (a tiny one, or the
	 * outer run's, passed in the host function that runs this one) or an
	 * outer run interrupted meanwhile ends the run before its guest does
	 * anything. One from now on finds this run bound.
	 */
	if (vmlet_vm_stopped(vm))
		vm->run->immediate_exit = 1;
	vm->entry = NULL; /* its stub runs first */
	ret = run_loop(vm, f);
	/*
	 * A failed run may have stopped in the stub, before it put the FPU
	 * and MSRs back: put them back now, so that nothing read after it (a
	 * core file) sees the last call's. The run has failed already; these
	 * are restore's own ioctls on the same vCPU.
	 */
	if (ret < 0 && entry)
		vmlet_cpustate_entry_unfinished(vm, entry);
	__atomic_store_n(&vm->kick, 0, __ATOMIC_RELEASE);
	vmlet_kick_bind(outer ? outer->run : NULL);
	running = outer;
	vm->outer = NULL;
	vm->run->immediate_exit = 0;
	if (vm->armed != outer_armed)
		vmlet_kick_at(outer_armed);
	/* A kick for the outer run landed in this one's kvm_run: pass it on. */
	if (outer && vmlet_vm_stopped(outer))
		outer->run->immediate_exit = 1;
	return ret;
}
