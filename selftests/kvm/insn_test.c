// SPDX-License-Identifier: BSD-2-Clause
/*
 * Instruction counting by single-step: exact and repeatable, and it grows
 * by exactly two per iteration of a two-instruction loop.
 */
#include <errno.h>
#include <vmlet.h>

#include "util.h"

static uint64_t count(struct vmlet_sandbox *sb, uint32_t n)
{
	struct vmlet_value a = vmlet_u32(n), r;
	int err = vmlet_sandbox_call(sb, "loop", &a, 1, &r);

	if (err || r.u32 != n) {
		ksft_fail_at("loop(%u): %d", n, err);
		return 0;
	}
	return vmlet_sandbox_insns(sb);
}

TEST(insn_count_is_repeatable_and_exact)
{
	struct vmlet_sandbox *sb = test_sandbox(test_image(GUEST("types")), NULL);
	uint64_t c1, c1b, c101, c1001;

	if (!sb)
		return;
	ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
	/* The first call after the ready point runs one more instruction (the
	 * jump into the dispatch loop): start counting from the second. */
	count(sb, 1);
	c1 = count(sb, 1);
	c1b = count(sb, 1);
	c101 = count(sb, 101);
	c1001 = count(sb, 1001);
	printf("# loop(1): %llu instructions\n", (unsigned long long)c1);
	ASSERT_NE(c1, 0);
	EXPECT_EQ(c1, c1b);
	EXPECT_EQ(c101 - c1, 200);
	EXPECT_EQ(c1001 - c1, 2000);
	ASSERT_OK(vmlet_sandbox_count_insns(sb, false));
	count(sb, 5);
	EXPECT_EQ(vmlet_sandbox_insns(sb), 0);
}

TEST(warm_add_takes_under_150_instructions)
{
	struct vmlet_sandbox *sb = test_sandbox(test_image(DEMO_ELF), NULL);
	struct vmlet_value a[2] = { vmlet_i32(1), vmlet_i32(2) }, r;

	if (!sb)
		return;
	ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
	ASSERT_OK(vmlet_sandbox_call(sb, "add", a, 2, &r));
	printf("# add: %llu guest instructions\n", (unsigned long long)vmlet_sandbox_insns(sb));
	EXPECT_LT(vmlet_sandbox_insns(sb), 150);
	EXPECT_EQ(r.i32, 3);
}

int main(void)
{
	return ksft_run();
}
