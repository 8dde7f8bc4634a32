/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One KVM VM with one vCPU over one memslot, and the loop that runs it.
 *
 * The run loop serves the exits the ABI defines on the spot (guest print)
 * and stops at the two that end a step of work: the guest's ready point
 * and a call's return. Every other way out of the guest (exception stubs,
 * abort, exit, triple fault, stray I/O or MMIO) ends the run with a
 * negative VMLET_E* code and the details in a struct vmlet_fault.
 */
#ifndef VMLET_VM_H
#define VMLET_VM_H

#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmlet.h>

#include "dirty.h"
#include "mem.h"

struct vmlet_vm;
struct vmlet_x86_state;

/*
 * A handler for a guest port that a higher layer serves (VMLET_PORT_HOSTCALL,
 * VMLET_PORT_IO): 0 to resume the guest, or a negative error that ends the
 * run (-VMLET_EINTR and -VMLET_ETIMEDOUT when a kick stopped it meanwhile).
 */
typedef int vmlet_port_fn(struct vmlet_vm *vm, void *ctx);

/*
 * A debugger's handler for KVM_EXIT_DEBUG (lib/gdbstub.c): run->debug
 * says why the guest stopped. 0 resumes the guest, a negative error ends
 * the run with it.
 */
typedef int vmlet_debug_fn(struct vmlet_vm *vm, void *ctx);

#define VM_PORT_BASE VMLET_PORT_READY
#define VM_NPORTS    16

struct vmlet_vm {
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct vmlet_mem *mem;	  /* borrowed from the owner */
	struct vmlet_dirty dirty; /* with KVM_MEM_LOG_DIRTY_PAGES: what the guest wrote */
	bool single_step;
	bool msr_filter;   /* guest writes of the snapshot's MSRs exit here (lib/x86.c) */
	bool msrs_written; /* and one did since the last full MSR restore */
	int entry_ok;	   /* what restore may leave to the entry stub (VMLET_ENTRY_*) */
	bool tlb_pv;	   /* restore flushes the guest TLB through KVM's steal time (lib/tlb.c) */
	uint64_t tlb_resets; /* or resets KVM's MMU context: how many times */
	/* The state whose entry stub the next run starts in, or NULL. */
	const struct vmlet_x86_state *entry;
	uint64_t steps;	       /* KVM_EXIT_DEBUG exits counted */
	vmlet_debug_fn *debug; /* or NULL: debug exits are counted steps */
	void *debug_ctx;
	void (*print)(void *ctx, const char *buf, size_t len);
	void *print_ctx;
	uint64_t print_limit; /* bytes of guest output per run */
	uint64_t printed;     /* in the run going on */
	struct {
		vmlet_port_fn *fn;
		void *ctx;
	} ports[VM_NPORTS]; /* VM_PORT_BASE + i, set by vmlet_vm_set_port() */
	/* Stopping a run from outside (lib/kick.h). */
	uint64_t timeout_ns; /* each run's deadline from its start; 0: none */
	uint64_t deadline;   /* of the run going on (CLOCK_MONOTONIC), or 0 */
	uint64_t armed;	     /* the thread's timer: this or an outer run's deadline */
	unsigned int kick;   /* VM_RUNNING | VM_KICKED, atomic */
	int tid;	     /* the thread in vmlet_vm_run(), while VM_RUNNING */
	bool sigmask_set;    /* KVM_RUN runs with sigmask (lib/kick.h) */
	uint64_t sigmask;
	struct vmlet_vm *outer; /* the run this one is nested in, while running */
};

/*
 * Create the VM, map mem as memslot 0 at guest address 0 with slot_flags
 * (KVM_MEM_LOG_DIRTY_PAGES or 0), create vCPU 0. With dirty logging,
 * vm->dirty tracks the pages the guest writes (ring or log, lib/dirty.h).
 */
int vmlet_vm_create(struct vmlet_vm *vm, struct vmlet_mem *mem, uint32_t slot_flags);
void vmlet_vm_destroy(struct vmlet_vm *vm);

/*
 * Finish the port I/O the vCPU last exited on (KVM steps over the OUT only
 * at the next KVM_RUN) without running guest code: KVM_RUN with
 * immediate_exit set. After it, the vCPU state is consistent to save.
 */
int vmlet_vm_complete_io(struct vmlet_vm *vm);

/*
 * Let KVM finish whatever instruction the vCPU last exited on, if it
 * exited for port I/O or MMIO, without running guest code. After a failed
 * call the vCPU can be stopped in the middle of an instruction (an MMIO
 * read, a rep insb) that KVM would complete at the next KVM_RUN, on top
 * of any state loaded meanwhile: its register write and rip would land
 * in the restored guest. Returns 0, or -EIO when KVM keeps asking for I/O.
 */
int vmlet_vm_settle(struct vmlet_vm *vm);

/*
 * Run the vCPU until it reports at VMLET_PORT_READY or VMLET_PORT_RETURN
 * and return that port, or return a negative error with *fault filled:
 * also -VMLET_EINTR after vmlet_vm_interrupt() and -VMLET_ETIMEDOUT
 * when vm->timeout_ns passed. A run may nest in another on the same
 * thread (from a port handler): it ends at the outer run's deadline too,
 * and the outer run's deadline and kicks survive it. -EBUSY (no fault)
 * when vm itself is running.
 */
int vmlet_vm_run(struct vmlet_vm *vm, struct vmlet_fault *fault);

/*
 * Make the run going on in another thread (or this one, from a host
 * function) end with -VMLET_EINTR: 0, or -ESRCH when no run is going on.
 * Thread-safe; vm must stay alive meanwhile. A run nested in it (an
 * inline host function that calls another sandbox) ends too.
 */
int vmlet_vm_interrupt(struct vmlet_vm *vm);

/*
 * Whether the run must end now: -VMLET_EINTR (it or a run it is nested
 * in was interrupted), -VMLET_ETIMEDOUT (a deadline of theirs passed) or
 * 0. For code that waits on the vCPU thread during a run (lib/ring.c).
 */
int vmlet_vm_stopped(struct vmlet_vm *vm);

/*
 * Serve port (one of VM_NPORTS from VM_PORT_BASE that the run loop does
 * not serve itself) with fn(vm, ctx), or stop serving it (fn NULL).
 */
int vmlet_vm_set_port(struct vmlet_vm *vm, unsigned int port, vmlet_port_fn *fn, void *ctx);

/* The guest's general registers at the exit being served. */
static inline const struct kvm_regs *vmlet_vm_regs(const struct vmlet_vm *vm)
{
	return &vm->run->s.regs.regs;
}

/*
 * A call's entry values (abi.h, "Call entry"): rdi, rsi and rdx of the
 * guest when it resumes from the ready point's or the last return's
 * `out`. Keeps single-stepping on: KVM drops the trap flag when it loads
 * registers at another rip than the one stepping was armed at.
 */
void vmlet_vm_set_call(struct vmlet_vm *vm, uint64_t rdi, uint64_t rsi, uint64_t rdx);

/* Set the guest's rax before it resumes (a port handler's result). */
void vmlet_vm_set_rax(struct vmlet_vm *vm, uint64_t rax);

/*
 * Block on the vCPU thread during a run the way ppoll() does: between
 * begin and end the kick is blocked, except inside a wait that takes
 * w->mask, which then returns -EINTR; vmlet_vm_stopped() says whether the
 * run must end. No kick is lost between that check and the wait.
 */
struct vmlet_vm_wait {
	sigset_t old;
	sigset_t mask; /* old without the kick */
};
void vmlet_vm_wait_begin(struct vmlet_vm_wait *w);
void vmlet_vm_wait_end(struct vmlet_vm_wait *w);

#define VM_RUNNING 1U
#define VM_KICKED  2U

/* Whether vm runs now (on this thread: a port handler of its own run asks). */
static inline bool vmlet_vm_running(const struct vmlet_vm *vm)
{
	return __atomic_load_n(&vm->kick, __ATOMIC_RELAXED) & VM_RUNNING;
}

/* Single-step the guest and count its instructions (KVM_GUESTDBG_SINGLESTEP). */
int vmlet_vm_single_step(struct vmlet_vm *vm, bool on);

/*
 * From vm->debug, during the run: the rest of the run has a deadline of
 * timeout_ns from now (0: none), which also becomes vm->timeout_ns; the
 * outer run's deadline still holds. 0 or -errno.
 */
int vmlet_vm_restart_deadline(struct vmlet_vm *vm, uint64_t timeout_ns);

/* KVM_SET_GUEST_DEBUG with dbg, for a debugger (vm->debug serves the exits). */
int vmlet_vm_guest_debug(struct vmlet_vm *vm, const struct kvm_guest_debug *dbg);

#endif /* VMLET_VM_H */
