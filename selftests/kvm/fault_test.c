// SPDX-License-Identifier: BSD-2-Clause
/*
 * Every way a guest can fail is reported with its details, the failed
 * sandbox refuses further calls (-VMLET_EDEAD), and the host carries on:
 * a new sandbox of the same image works.
 */
#include <errno.h>
#include <vmlet.h>

#include "util.h"

#define PF_ERR_PRESENT 0x1
#define PF_ERR_WRITE 0x2

static struct vmlet_image *img;

static uint64_t site(struct vmlet_sandbox *sb, const char *name)
{
	struct vmlet_value r, a = vmlet_str(name);

	if (vmlet_sandbox_call(sb, "site", &a, 1, &r))
		return 0;
	return r.u64;
}

/* Call fn, expect err, then check the sandbox is dead and a new one works. */
static const struct vmlet_fault *fail_call(struct vmlet_sandbox *sb, const char *fn,
					   struct vmlet_value *arg, int err)
{
	struct vmlet_value r, two[] = { vmlet_i32(20), vmlet_i32(22) };
	struct vmlet_sandbox *fresh;
	int got = vmlet_sandbox_call(sb, fn, arg, arg ? 1 : 0, &r);

	if (got != err) {
		ksft_fail_at("%s: got %d (%s), want %d (%s)", fn, got, vmlet_strerror(got), err,
			     vmlet_strerror(err));
		return NULL;
	}
	if (vmlet_sandbox_fault(sb)->error != err)
		ksft_fail_at("%s: fault->error %d", fn, vmlet_sandbox_fault(sb)->error);
	got = vmlet_sandbox_call(sb, "add", two, 2, &r);
	if (got != -VMLET_EDEAD)
		ksft_fail_at("%s: call after failure gave %d, want -VMLET_EDEAD", fn, got);
	fresh = test_sandbox(img, NULL);
	if (!fresh)
		return NULL;
	got = vmlet_sandbox_call(fresh, "add", two, 2, &r);
	if (got || r.i32 != 42)
		ksft_fail_at("%s: a new sandbox after the failure does not work: %d", fn, got);
	vmlet_sandbox_destroy(fresh);
	return vmlet_sandbox_fault(sb);
}

static struct vmlet_sandbox *setup(void)
{
	img = test_image(GUEST("fault"));
	return test_sandbox(img, NULL);
}

TEST(guest_null_deref_reports_pf)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;
	uint64_t rip;

	if (!sb)
		return;
	rip = site(sb, "null");
	EXPECT_NE(rip, 0);
	f = fail_call(sb, "null_read", NULL, -VMLET_EEXCEPTION);
	if (!f)
		return;
	EXPECT_EQ(f->vector, 14);
	EXPECT_EQ(f->address, 0);
	EXPECT_EQ(f->error_code & PF_ERR_WRITE, 0);
	EXPECT_EQ(f->error_code & PF_ERR_PRESENT, 0);
	EXPECT_GE(f->rip, VMLET_IMAGE_BASE);
	EXPECT_EQ(f->rip, rip); /* the load itself */
	vmlet_sandbox_destroy(sb);
}

TEST(guest_write_to_rodata_reports_pf)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;
	uint64_t addr;

	if (!sb)
		return;
	addr = site(sb, "rodata");
	ASSERT_NE(addr, 0);
	f = fail_call(sb, "ro_write", NULL, -VMLET_EEXCEPTION);
	if (!f)
		return;
	EXPECT_EQ(f->vector, 14);
	EXPECT_EQ(f->address, addr);
	EXPECT_EQ(f->error_code & (PF_ERR_WRITE | PF_ERR_PRESENT), PF_ERR_WRITE | PF_ERR_PRESENT);
	vmlet_sandbox_destroy(sb);
}

TEST(guest_ud2_reports_ud)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;
	uint64_t rip;

	if (!sb)
		return;
	rip = site(sb, "ud");
	f = fail_call(sb, "ud", NULL, -VMLET_EEXCEPTION);
	if (!f)
		return;
	EXPECT_EQ(f->vector, 6);
	EXPECT_EQ(f->rip, rip);
	vmlet_sandbox_destroy(sb);
}

TEST(guest_divide_by_zero_reports_de)
{
	struct vmlet_sandbox *sb = setup();
	struct vmlet_value zero = vmlet_u32(0);
	const struct vmlet_fault *f;
	uint64_t rip;

	if (!sb)
		return;
	rip = site(sb, "div");
	f = fail_call(sb, "div0", &zero, -VMLET_EEXCEPTION);
	if (!f)
		return;
	EXPECT_EQ(f->vector, 0);
	EXPECT_EQ(f->rip, rip);
	vmlet_sandbox_destroy(sb);
}

TEST(guest_stack_overflow_hits_guard_page)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;
	uint64_t guard;

	if (!sb)
		return;
	guard = site(sb, "guard");
	ASSERT_NE(guard, 0);
	f = fail_call(sb, "overflow", NULL, -VMLET_EEXCEPTION);
	if (!f)
		return;
	EXPECT_EQ(f->vector, 14);
	EXPECT_GE(f->address, guard);
	EXPECT_LT(f->address, guard + VMLET_PAGE_SIZE);
	EXPECT_EQ(f->error_code & PF_ERR_WRITE, PF_ERR_WRITE);
	vmlet_sandbox_destroy(sb);
}

TEST(guest_abort_reports_code_and_message)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;

	if (!sb)
		return;
	f = fail_call(sb, "die", NULL, -VMLET_EABORT);
	if (!f)
		return;
	EXPECT_EQ(f->code, 42);
	EXPECT_STREQ(f->message, "boom: the guest gave up");
	vmlet_sandbox_destroy(sb);
}

TEST(guest_libc_abort_reports_sigabrt)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;

	if (!sb)
		return;
	f = fail_call(sb, "libc_abort", NULL, -VMLET_EABORT);
	if (!f)
		return;
	EXPECT_EQ(f->code, 128 + SIGABRT);
	EXPECT_STREQ(f->message, "killed by signal 06");
	vmlet_sandbox_destroy(sb);
}

TEST(guest_exit_reports_status)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;

	if (!sb)
		return;
	f = fail_call(sb, "quit", NULL, -VMLET_EEXIT);
	if (!f)
		return;
	EXPECT_EQ(f->code, 3);
	vmlet_sandbox_destroy(sb);
}

TEST(guest_triple_fault_reports_shutdown)
{
	struct vmlet_sandbox *sb = setup();

	if (!sb)
		return;
	fail_call(sb, "triple", NULL, -VMLET_ESHUTDOWN);
	vmlet_sandbox_destroy(sb);
}

TEST(guest_stray_port_io_is_unexpected_exit)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;

	if (!sb)
		return;
	f = fail_call(sb, "port", NULL, -VMLET_EVMEXIT);
	if (!f)
		return;
	EXPECT_STREQ(f->message, "I/O on port 0x80");
	vmlet_sandbox_destroy(sb);
}

TEST(guest_hlt_is_unexpected_exit)
{
	struct vmlet_sandbox *sb = setup();
	const struct vmlet_fault *f;

	if (!sb)
		return;
	f = fail_call(sb, "halt", NULL, -VMLET_EVMEXIT);
	if (!f)
		return;
	EXPECT_STREQ(f->message, "guest halted");
	vmlet_sandbox_destroy(sb);
}

int main(void)
{
	return ksft_run();
}
