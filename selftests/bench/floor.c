// SPDX-License-Identifier: BSD-2-Clause
/*
 * The raw KVM floor: what no VMM on this machine can beat, measured with
 * raw ioctls on a hand-written guest of two real-mode instructions
 * (`1: out %al, $0x10; jmp 1b`) in one page.
 *
 * - create: KVM_CREATE_VM, one memslot, KVM_CREATE_VCPU, the kvm_run
 *   mapping and the registers: the least a VM costs before its first run.
 * - out: one KVM_RUN that enters the guest, executes `out` and comes back
 *   to user space with KVM_EXIT_IO: the least any call or hypercall costs.
 * - reentry: one KVM_RUN with kvm_run.immediate_exit set, which KVM
 *   answers with -EINTR before entering the guest: the cost of the ioctl
 *   and of loading and putting the vCPU, without the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define CREATES	    100
#define MIN_CREATES 10
#define BUDGET_NS   10000000000ULL
#define TRIPS	    5000
#define COUNTED	    1000
#define MEM	    0x2000

struct floor_vm {
	int vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	void *mem;
};

/* Make the floor VM in f, which must be empty; on failure f holds what was made. */
static int floor_create(int kvm, struct floor_vm *f)
{
	static const uint8_t code[] = {0xe6, 0x10, 0xeb, 0xfc}; /* 1: out; jmp 1b */
	struct kvm_userspace_memory_region r;
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
	struct kvm_sregs sregs;
	int err;

	f->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (f->vm < 0)
		return -errno;
	f->mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f->mem == MAP_FAILED)
		return -errno;
	memcpy((uint8_t *)f->mem + 0x1000, code, sizeof(code));
	r = (struct kvm_userspace_memory_region){
		.slot = 0, .memory_size = MEM, .userspace_addr = (uintptr_t)f->mem};
	if (ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	if (f->vcpu < 0)
		return -errno;
	err = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (err < 0)
		return -errno;
	f->run_size = (size_t)err;
	f->run = mmap(NULL, f->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->vcpu, 0);
	if (f->run == MAP_FAILED)
		return -errno;
	if (ioctl(f->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(f->vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(f->vcpu, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

/* Put f away (whatever floor_create() got to) and leave it empty. */
static void floor_destroy(struct floor_vm *f)
{
	if (f->run != MAP_FAILED)
		munmap(f->run, f->run_size);
	if (f->mem != MAP_FAILED)
		munmap(f->mem, MEM);
	if (f->vcpu >= 0)
		close(f->vcpu);
	if (f->vm >= 0)
		close(f->vm);
	*f = (struct floor_vm){.vm = -1, .vcpu = -1, .run = MAP_FAILED, .mem = MAP_FAILED};
}

static int trip(struct floor_vm *f)
{
	if (ioctl(f->vcpu, KVM_RUN, 0) < 0)
		return -errno;
	if (f->run->exit_reason != KVM_EXIT_IO || f->run->io.port != 0x10)
		return -EIO;
	return 0;
}

static int reentry(struct floor_vm *f)
{
	int ret = ioctl(f->vcpu, KVM_RUN, 0);

	if (ret == 0)
		return -EIO; /* it entered the guest */
	return errno == EINTR ? 0 : -errno;
}

static int measure(struct fig *fig, struct floor_vm *f, int (*op)(struct floor_vm *))
{
	struct counters c;
	int err;

	for (int i = 0; i < 100; i++)
		op(f);
	for (int i = 0; i < TRIPS; i++) {
		uint64_t t = now_ns();

		err = op(f);
		fig_add(fig, (double)(now_ns() - t));
		if (err) {
			fig_fail(fig, "KVM_RUN: %s", strerror(-err));
			return err;
		}
	}
	ctr_open(&c, false);
	ctr_start(&c);
	for (int i = 0; i < COUNTED; i++)
		op(f);
	ctr_stop(&c, fig->counts, COUNTED);
	ctr_close(&c);
	return 0;
}

/* A floor VM of the caller's own, for figures measured right beside it. */
int floor_vm_open(struct floor_vm **out)
{
	struct floor_vm *f = malloc(sizeof(*f));
	int kvm, err;

	if (!f)
		return -ENOMEM;
	*f = (struct floor_vm){.vm = -1, .vcpu = -1, .run = MAP_FAILED, .mem = MAP_FAILED};
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	err = kvm < 0 ? -errno : floor_create(kvm, f);
	if (kvm >= 0)
		close(kvm);
	if (err) {
		floor_vm_close(f);
		return err;
	}
	*out = f;
	return 0;
}

/* n out round trips in a row: 0 or -errno. */
int floor_vm_trips(struct floor_vm *f, int n)
{
	int err = 0;

	for (int i = 0; !err && i < n; i++)
		err = trip(f);
	return err;
}

void floor_vm_close(struct floor_vm *f)
{
	if (!f)
		return;
	floor_destroy(f);
	free(f);
}

/*
 * The floors (b->floor_create and b->floor_out stay for the ratios of
 * later groups). With create false, only the round trips: inside the
 * vmtest VM, for the host-call figures, creating VMs costs seconds.
 */
static int floors(struct bench *b, bool create)
{
	struct floor_vm f = {.vm = -1, .vcpu = -1, .run = MAP_FAILED, .mem = MAP_FAILED};
	struct fig *fc = NULL, *fo, *fr;
	struct counters c;
	uint64_t t0;
	int kvm, err = 0;

	section("floor: raw KVM (us)");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		err = -errno;
	if (create) {
		fc = fig_new("create", CREATES, "floor: create VM+vCPU+memslot");
		t0 = now_ns();
		for (int i = 0; !err && more(i, MIN_CREATES, CREATES, t0, BUDGET_NS); i++) {
			uint64_t t = now_ns();

			err = floor_create(kvm, &f);
			fig_add(fc, (double)(now_ns() - t));
			floor_destroy(&f);
		}
		if (!err) {
			ctr_open(&c, false);
			ctr_start(&c);
			err = floor_create(kvm, &f);
			ctr_stop(&c, fc->counts, 1);
			ctr_close(&c);
			floor_destroy(&f);
		}
		if (err)
			fig_fail(fc, "%s", strerror(-err));
		fig_emit(b->j, fc);
	}
	fo = fig_new("out", TRIPS, "floor: out round trip (KVM_RUN)");
	fr = fig_new("reentry", TRIPS, "floor: KVM_RUN, immediate_exit");
	if (!err)
		err = floor_create(kvm, &f);
	if (err) {
		fig_fail(fo, "a VM with one vCPU: %s", strerror(-err));
		fig_fail(fr, "a VM with one vCPU: %s", strerror(-err));
	} else if (!measure(fo, &f, trip)) {
		f.run->immediate_exit = 1;
		measure(fr, &f, reentry);
	}
	floor_destroy(&f);
	if (kvm >= 0)
		close(kvm);
	fig_emit(b->j, fo);
	fig_emit(b->j, fr);
	b->floor_reentry = fr;
	b->floor_create = fc;
	b->floor_out = fo;
	return fig_ok(fo) ? 0 : -EIO;
}

int bench_floor(struct bench *b, bool create)
{
	int err;

	json_obj(b->j, "floor");
	err = floors(b, create);
	json_end(b->j);
	return err;
}
