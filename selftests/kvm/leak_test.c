// SPDX-License-Identifier: BSD-2-Clause
/*
 * Creating and destroying sandboxes returns every file descriptor and the
 * memory they took.
 */
#include <errno.h>
#include <vmlet.h>

#include "util.h"

/*
 * VMLET_LEAK_CYCLES overrides the 1000 cycles. Under ASan the sanitizer
 * runtime's own anonymous mappings grow by some KiB per cycle (not its
 * heap, not its shadow, and not vmlet's: the same loop stays under the
 * bound without ASan), so there the RSS bound is not checked and
 * LeakSanitizer checks the heap instead (kselftest.h).
 */
TEST(create_destroy_1000_sandboxes_leaks_nothing)
{
	struct vmlet_image *img = test_image(GUEST("types"));
	struct vmlet_value r;
	struct footprint before, after;
	int n = 1000;

	if (!img)
		return;
	/* Warm up the process-wide state (the /dev/kvm handle, libc caches). */
	for (int i = 0; i < 10; i++) {
		struct vmlet_sandbox *sb = test_sandbox(img, NULL);

		if (!sb)
			return;
		vmlet_sandbox_destroy(sb);
	}
	if (getenv("VMLET_LEAK_CYCLES"))
		n = atoi(getenv("VMLET_LEAK_CYCLES"));
	printf("# %d create/call/destroy cycles\n", n);
	before = footprint_take();
	for (int i = 0; i < n; i++) {
		struct vmlet_sandbox *sb = test_sandbox(img, NULL);

		if (!sb)
			return;
		ASSERT_OK(vmlet_sandbox_call(sb, "count", NULL, 0, &r));
		ASSERT_EQ(r.u64, 1);
		vmlet_sandbox_destroy(sb);
		if (i % 10 == 9) {
			printf("# %d\n", i + 1);
			fflush(stdout);
		}
	}
	after = footprint_take();
	/* One leaked sandbox would hold at least its 4 MiB memfd pages touched. */
	EXPECT_FOOTPRINT_BACK(before, after, 512);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
