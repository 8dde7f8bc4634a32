// SPDX-License-Identifier: BSD-2-Clause
/*
 * kvm-probe: exit 0 if /dev/kvm can really run a guest, else print one line
 * saying why on stderr and exit 1. Used by scripts/vmtest.sh, which builds
 * it on the fly. It creates a VM with one page of memory at guest physical
 * 0x1000 holding "pxor; addsd; mov $0x42,%al; out %al,$0x10; hlt", runs one
 * vCPU from there in real mode and expects a port 0x10 write of 0x42. Raw
 * ioctls only. The SSE instructions are there because ordinary guests (musl's
 * printf, any floating point) need them, and a KVM that runs guest code
 * through its instruction emulator (no VMX/SVM under it) cannot execute
 * them: such a /dev/kvm is not usable for vmlet's tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define GUEST_SIZE 0x1000
#define PROBE_PORT 0x10
#define PROBE_BYTE 0x42

static int fail(const char *what)
{
	fprintf(stderr, "kvm-probe: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	static const unsigned char code[] = {
		0x66, 0x0f, 0xef, 0xc0, /* pxor %xmm0,%xmm0 */
		0xf2, 0x0f, 0x58, 0xc0, /* addsd %xmm0,%xmm0 */
		0xb0, PROBE_BYTE, /* mov $0x42,%al */
		0xe6, PROBE_PORT, /* out %al,$0x10 */
		0xf4,		  /* hlt */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, ret, size;
	unsigned char *mem, data;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	ret = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (ret < 0)
		return fail("KVM_GET_API_VERSION");
	if (ret != 12) {
		fprintf(stderr, "kvm-probe: KVM API version %d, not 12\n", ret);
		return 1;
	}
	do
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
	while (vm < 0 && errno == EINTR);
	if (vm < 0)
		return fail("KVM_CREATE_VM");

	mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	memcpy(mem, code, sizeof(code));
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = GUEST_ADDR;
	region.memory_size = GUEST_SIZE;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	if ((size_t)size < sizeof(*run)) {
		fprintf(stderr, "kvm-probe: KVM_GET_VCPU_MMAP_SIZE says %d bytes, too small\n",
			size);
		return 1;
	}
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.cr4 |= 1 << 9; /* OSFXSR: SSE on */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_ADDR;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	do
		ret = ioctl(vcpu, KVM_RUN, 0);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return fail("KVM_RUN");

	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
		fprintf(stderr,
			"kvm-probe: KVM_RUN failed to enter the guest (hardware reason %#llx)\n",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return 1;
	}
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		fprintf(stderr, "kvm-probe: KVM cannot execute SSE instructions "
				"(it emulates guest code; internal error %u)\n",
			run->internal.suberror);
		return 1;
	}
	if (run->exit_reason != KVM_EXIT_IO) {
		fprintf(stderr,
			"kvm-probe: the guest exited with reason %u, not KVM_EXIT_IO (%u)\n",
			run->exit_reason, KVM_EXIT_IO);
		return 1;
	}
	data = *((unsigned char *)run + run->io.data_offset);
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != PROBE_PORT ||
	    run->io.size != 1 || run->io.count != 1 || data != PROBE_BYTE) {
		fprintf(stderr,
			"kvm-probe: the guest did %s port %#x (size %u, count %u, data %#x), "
			"expected an out of %#x to port %#x\n",
			run->io.direction == KVM_EXIT_IO_OUT ? "out to" : "in from", run->io.port,
			run->io.size, run->io.count, data, PROBE_BYTE, PROBE_PORT);
		return 1;
	}
	return 0;
}
