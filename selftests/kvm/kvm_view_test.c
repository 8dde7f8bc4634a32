// SPDX-License-Identifier: BSD-2-Clause
/*
 * README's "one memory slot, one vCPU" for a sandbox's VM, asked of KVM
 * rather than of the library's bookkeeping: the process holds exactly one
 * KVM VM descriptor and one vCPU descriptor (id 0) per sandbox; slot 0 of
 * the VM is the sandbox's memory, exactly (setting it again to the same
 * region is a no-op KVM accepts, while a region KVM did not have would
 * overlap the one the guest runs in and fail); and no other user memory
 * slot exists in any address space (deleting one that does not exist is
 * EINVAL, deleting one that does succeeds and fails the test).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <vmlet.h>

#include "util.h"

TEST(a_sandbox_is_one_kvm_vm_with_one_vcpu_and_one_memslot)
{
	struct vmlet_image *img = test_image(GUEST("fault"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct vmlet_value two[] = {vmlet_i32(20), vmlet_i32(22)}, r;
	int vm = -1, vcpu = -1, nslots, nspaces, others = 0;
	char path[64], link[64];
	ssize_t len;
	size_t size;
	void *mem;

	ASSERT_TRUE(sb);
	ASSERT_EQ(kvm_fds("anon_inode:kvm-vm", &vm, 1), 1);
	ASSERT_EQ(kvm_fds("anon_inode:kvm-vcpu:", &vcpu, 1), 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", vcpu);
	len = readlink(path, link, sizeof(link) - 1);
	ASSERT_GE(len, 0);
	link[len] = '\0';
	EXPECT_STREQ(link, "anon_inode:kvm-vcpu:0");

	/* Slot 0 is the sandbox's memory at guest-physical 0. */
	mem = (void *)vmlet_sandbox_memory(sb, &size);
	{
		struct kvm_userspace_memory_region same = {
			.slot = 0, .memory_size = size, .userspace_addr = (uintptr_t)mem};

		EXPECT_EQ(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &same), 0);
	}

	/* No other slot, in any address space. */
	nslots = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	nspaces = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	if (nspaces < 1)
		nspaces = 1;
	ASSERT_GE(nslots, 1);
	printf("# %d user slots in each of %d address spaces\n", nslots, nspaces);
	for (int as = 0; as < nspaces; as++) {
		for (int slot = as ? 0 : 1; slot < nslots; slot++) {
			struct kvm_userspace_memory_region del = {.slot = (uint32_t)(as << 16 | slot)};

			errno = 0;
			if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &del) == 0 || errno != EINVAL) {
				if (others++ < 4)
					ksft_fail_at("address space %d slot %d: deleting it gave %s", as,
						     slot, errno ? strerror(errno) : "success");
			}
		}
	}
	EXPECT_EQ(others, 0);

	/* The sandbox runs on, its slot untouched. */
	ASSERT_OK(vmlet_sandbox_call(sb, "add", two, 2, &r));
	EXPECT_EQ(r.i32, 42);
	vmlet_sandbox_destroy(sb);
	EXPECT_EQ(kvm_fds("anon_inode:kvm-vm", &vm, 1), 0);
	EXPECT_EQ(kvm_fds("anon_inode:kvm-vcpu:", &vcpu, 1), 0);
	vmlet_image_close(img);
}

/* Two sandboxes: two VMs, each with its one vCPU 0. */
TEST(each_sandbox_has_its_own_vm_and_vcpu)
{
	struct vmlet_image *img = test_image(GUEST("fault"));
	struct vmlet_sandbox *a = test_sandbox(img, NULL), *b = test_sandbox(img, NULL);
	int fds[4];

	ASSERT_TRUE(a && b);
	EXPECT_EQ(kvm_fds("anon_inode:kvm-vm", fds, 4), 2);
	EXPECT_EQ(kvm_fds("anon_inode:kvm-vcpu:0", fds, 4), 2);
	EXPECT_EQ(kvm_fds("anon_inode:kvm-vcpu:", fds, 4), 2);
	vmlet_sandbox_destroy(a);
	vmlet_sandbox_destroy(b);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
