// SPDX-License-Identifier: BSD-2-Clause
/*
 * Calls into a real VM: every argument and result type, argument register
 * assignment, guest output, many calls and many sandboxes, and the errors
 * the host returns for calls that do not match the guest's signatures.
 */
#include <errno.h>
#include <math.h>
#include <vmlet.h>

#include "../hugepages.h"
#include "util.h"

struct capture {
	char buf[4096];
	size_t len;
};

static void capture(void *ctx, const char *buf, size_t len)
{
	struct capture *c = ctx;

	if (len > sizeof(c->buf) - 1 - c->len)
		len = sizeof(c->buf) - 1 - c->len;
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	c->buf[c->len] = '\0';
}

static struct vmlet_image *img;
static struct vmlet_sandbox *sb;

static int setup(void)
{
	img = test_image(GUEST("types"));
	sb = test_sandbox(img, NULL);
	return sb ? 0 : -1;
}

static int call1(const char *fn, struct vmlet_value arg, struct vmlet_value *ret)
{
	return vmlet_sandbox_call(sb, fn, &arg, 1, ret);
}

TEST(scalars_round_trip)
{
	struct vmlet_value r;

	if (setup())
		return;
	ASSERT_OK(call1("id_bool", vmlet_bool(true), &r));
	EXPECT_EQ(r.type, VMLET_BOOL);
	EXPECT_EQ(r.b, true);
	ASSERT_OK(call1("id_bool", vmlet_bool(false), &r));
	EXPECT_EQ(r.b, false);
	ASSERT_OK(call1("id_i32", vmlet_i32(INT32_MIN), &r));
	EXPECT_EQ(r.type, VMLET_I32);
	EXPECT_EQ(r.i32, INT32_MIN);
	ASSERT_OK(call1("id_i32", vmlet_i32(-1), &r));
	EXPECT_EQ(r.i32, -1);
	ASSERT_OK(call1("id_u32", vmlet_u32(UINT32_MAX), &r));
	EXPECT_EQ(r.type, VMLET_U32);
	EXPECT_EQ(r.u32, UINT32_MAX);
	ASSERT_OK(call1("id_i64", vmlet_i64(INT64_MIN), &r));
	EXPECT_EQ(r.type, VMLET_I64);
	EXPECT_EQ(r.i64, INT64_MIN);
	ASSERT_OK(call1("id_u64", vmlet_u64(UINT64_MAX), &r));
	EXPECT_EQ(r.type, VMLET_U64);
	EXPECT_TRUE(r.u64 == UINT64_MAX);
	ASSERT_OK(call1("id_f32", vmlet_f32(-1.5f), &r));
	EXPECT_EQ(r.type, VMLET_F32);
	EXPECT_TRUE(r.f32 == -1.5f);
	ASSERT_OK(call1("id_f64", vmlet_f64(M_PI), &r));
	EXPECT_EQ(r.type, VMLET_F64);
	EXPECT_TRUE(r.f64 == M_PI);
	ASSERT_OK(call1("id_f64", vmlet_f64(-0.0), &r));
	EXPECT_TRUE(signbit(r.f64) && r.f64 == 0.0);
	ASSERT_OK(call1("id_f64", vmlet_f64(INFINITY), &r));
	EXPECT_TRUE(isinf(r.f64));
}

TEST(strings_and_bytes_round_trip)
{
	static const uint8_t bin[] = { 0, 1, 2, 0xff, 0, 'a' };
	struct vmlet_value r;

	if (setup())
		return;
	ASSERT_OK(call1("id_str", vmlet_str("hello, vm"), &r));
	EXPECT_EQ(r.type, VMLET_STRING);
	EXPECT_EQ(r.buf.len, 9);
	EXPECT_STREQ(r.buf.ptr, "hello, vm");
	ASSERT_OK(call1("id_str", vmlet_str(""), &r));
	EXPECT_EQ(r.buf.len, 0);
	EXPECT_STREQ(r.buf.ptr, "");
	ASSERT_OK(call1("id_bytes", vmlet_bytes(bin, sizeof(bin)), &r));
	EXPECT_EQ(r.type, VMLET_BYTES);
	ASSERT_EQ(r.buf.len, sizeof(bin));
	EXPECT_EQ(memcmp(r.buf.ptr, bin, sizeof(bin)), 0);
	ASSERT_OK(call1("id_bytes", vmlet_bytes(NULL, 0), &r));
	EXPECT_EQ(r.buf.len, 0);
}

TEST(void_result_and_no_arguments)
{
	struct vmlet_value r = { .type = VMLET_I32 };

	if (setup())
		return;
	ASSERT_OK(vmlet_sandbox_call(sb, "nothing", NULL, 0, &r));
	EXPECT_EQ(r.type, VMLET_VOID);
	ASSERT_OK(vmlet_sandbox_call(sb, "nothing", NULL, 0, NULL));
}

TEST(mixed_arguments_land_in_their_registers)
{
	static const uint8_t b[] = { 7, 8, 9 };
	struct vmlet_value args[] = {
		vmlet_i32(-3), vmlet_f64(0.25), vmlet_str("four"), vmlet_bytes(b, sizeof(b)),
		vmlet_u64(5), vmlet_f32(0.5f),
	};
	struct vmlet_value ten[] = {
		vmlet_i32(1), vmlet_i32(2), vmlet_i32(3), vmlet_i32(4), vmlet_i32(5),
		vmlet_i32(6), vmlet_f64(7), vmlet_f64(8), vmlet_f64(9), vmlet_f64(10),
	};
	struct vmlet_value r;

	if (setup())
		return;
	ASSERT_OK(vmlet_sandbox_call(sb, "mix", args, 6, &r));
	EXPECT_TRUE(r.f64 == -3 + 0.25 + 4 * 1000 + 3 * 100000 + 7 * 1e7 + 5 * 1e9 + 0.5);
	ASSERT_OK(vmlet_sandbox_call(sb, "ten", ten, 10, &r));
	EXPECT_TRUE(r.f64 == 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 81 + 100);
}

TEST(guest_output_reaches_print_callback)
{
	struct capture cap = { .len = 0 };
	struct vmlet_config cfg = { .sz = sizeof(cfg), .print = capture, .print_ctx = &cap };
	struct vmlet_sandbox *s;

	img = test_image(GUEST("types"));
	s = test_sandbox(img, &cfg);
	if (!s)
		return;
	sb = s;
	ASSERT_OK(call1("say", vmlet_str("first"), NULL));
	ASSERT_OK(call1("say", vmlet_str("second"), NULL));
	EXPECT_STREQ(cap.buf, "first\nerr:first\nsecond\nerr:second\n");
}

TEST(signature_mismatch_is_rejected_on_the_host)
{
	struct vmlet_value two[] = { vmlet_i32(1), vmlet_i32(2) };
	struct vmlet_value r;

	if (setup())
		return;
	EXPECT_EQ(vmlet_sandbox_call(sb, "no_such_function", NULL, 0, &r), -ENOENT);
	EXPECT_EQ(vmlet_sandbox_call(sb, "id_i32", two, 2, &r), -EINVAL);
	EXPECT_EQ(vmlet_sandbox_call(sb, "id_i32", NULL, 0, &r), -EINVAL);
	EXPECT_EQ(call1("id_i32", vmlet_u32(1), &r), -EINVAL);
	EXPECT_EQ(call1("id_str", vmlet_i64(1), &r), -EINVAL);
	EXPECT_EQ(vmlet_sandbox_call_index(sb, 9999, NULL, 0, &r), -ENOENT);
	/* None of that reached the guest: it still works. */
	ASSERT_OK(call1("id_i32", vmlet_i32(77), &r));
	EXPECT_EQ(r.i32, 77);
}

TEST(oversized_result_is_refused_and_sandbox_lives)
{
	struct vmlet_value r;

	if (setup())
		return;
	EXPECT_EQ(call1("bigstr", vmlet_u32(100000), &r), -VMLET_EREFUSED);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->code, -E2BIG);
	ASSERT_OK(call1("bigstr", vmlet_u32(1000), &r));
	EXPECT_EQ(r.buf.len, 1000);
	ASSERT_OK(call1("id_i32", vmlet_i32(5), &r));
	EXPECT_EQ(r.i32, 5);
}

TEST(oversized_argument_is_e2big)
{
	static char big[128 * 1024];
	struct vmlet_value r;

	if (setup())
		return;
	memset(big, 'a', sizeof(big) - 1);
	EXPECT_EQ(call1("id_str", vmlet_strn(big, sizeof(big) - 1), &r), -E2BIG);
	ASSERT_OK(call1("id_i32", vmlet_i32(5), &r));
}

TEST(thousand_sequential_calls_keep_state)
{
	struct vmlet_value r;

	if (setup())
		return;
	for (uint64_t i = 1; i <= 1000; i++) {
		ASSERT_OK(vmlet_sandbox_call(sb, "count", NULL, 0, &r));
		ASSERT_EQ(r.u64, i);
	}
}

TEST(fifty_sandboxes_alive_at_once)
{
	struct vmlet_sandbox *sbs[50];
	struct vmlet_value r;
	int n;

	img = test_image(GUEST("types"));
	if (!img)
		return;
	for (n = 0; n < 50; n++) {
		sbs[n] = test_sandbox(img, NULL);
		if (!sbs[n])
			return;
	}
	/* Each has its own memory: counters advance independently. */
	for (int round = 1; round <= 3; round++) {
		for (int i = 0; i < n; i++) {
			if (i % 2 && round == 3)
				continue;
			ASSERT_OK(vmlet_sandbox_call(sbs[i], "count", NULL, 0, &r));
			ASSERT_EQ(r.u64, (uint64_t)round);
		}
	}
	for (int i = 0; i < n; i++) {
		ASSERT_OK(vmlet_sandbox_call(sbs[i], "count", NULL, 0, &r));
		ASSERT_EQ(r.u64, (uint64_t)(i % 2 ? 3 : 4));
		vmlet_sandbox_destroy(sbs[i]);
	}
}

TEST(demo_functions)
{
	struct vmlet_value r, args[2] = { vmlet_i32(2), vmlet_i32(40) };
	struct vmlet_image *demo = test_image(DEMO_ELF);
	struct vmlet_sandbox *s = test_sandbox(demo, NULL);

	if (!s)
		return;
	ASSERT_OK(vmlet_sandbox_call(s, "add", args, 2, &r));
	EXPECT_EQ(r.i32, 42);
	args[0] = vmlet_str("stressed");
	ASSERT_OK(vmlet_sandbox_call(s, "reverse", args, 1, &r));
	EXPECT_STREQ(r.buf.ptr, "desserts");
	args[0] = vmlet_bytes("\x01\x02\xff", 3);
	ASSERT_OK(vmlet_sandbox_call(s, "sum", args, 1, &r));
	EXPECT_EQ(r.u64, 258);
	args[0] = vmlet_f64(3);
	args[1] = vmlet_f64(4);
	ASSERT_OK(vmlet_sandbox_call(s, "hypot", args, 2, &r));
	EXPECT_TRUE(r.f64 == 5.0);
	EXPECT_EQ(vmlet_sandbox_nfuncs(s), 14);
	EXPECT_STREQ(vmlet_sandbox_func_at(s, 0)->name, "add");
	EXPECT_EQ(vmlet_sandbox_func_at(s, 0)->nargs, 2);
	EXPECT_EQ(vmlet_sandbox_func_at(s, 0)->args[1], VMLET_I32);
	EXPECT_TRUE(vmlet_sandbox_func_at(s, 14) == NULL);
}

/*
 * The backing VMLET_BACKING_AUTO picks follows what the system offers. The
 * test sets what it offers (root only: vm.nr_hugepages for the free 2 MiB
 * pages, shmem_enabled for shmem THP), rather than computing its
 * expectation from the same sysfs files the library reads, and puts both
 * back.
 */
static const char shmem_enabled[] = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";

static int write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(s, f) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

/* The bracketed word of shmem_enabled ("never", "advise", ...), or "". */
static void shmem_mode(char *out, size_t len)
{
	char buf[256] = "", *a, *b;
	FILE *f = fopen(shmem_enabled, "r");

	out[0] = '\0';
	if (f && fgets(buf, sizeof(buf), f) && (a = strchr(buf, '[')) && (b = strchr(a, ']'))) {
		*b = '\0';
		snprintf(out, len, "%s", a + 1);
	}
	if (f)
		fclose(f);
}

/* Make a sandbox of the demo with this backing; its backing, or the error. */
static int backing_of(struct vmlet_image *image, enum vmlet_backing b)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .backing = b};
	struct vmlet_sandbox *s;
	int err = vmlet_sandbox_create(image, &cfg, &s);

	if (err)
		return err;
	b = vmlet_sandbox_backing(s);
	vmlet_sandbox_destroy(s);
	return (int)b;
}

/* What the library picks and reports with free hugepages and shmem THP as given. */
static void backing_case(struct vmlet_image *image, long free_, const char *thp)
{
	enum vmlet_backing best = free_ >= 2		    ? VMLET_BACKING_HUGETLB
				  : strcmp(thp, "never") ? VMLET_BACKING_THP
							 : VMLET_BACKING_4K;
	struct vmlet_platform p;

	if (set_free_hugepages(free_)) {
		ksft_fail_at("cannot make %ld hugetlb pages free", free_);
		return;
	}
	if (write_str(shmem_enabled, thp)) {
		ksft_fail_at("cannot write %s to %s", thp, shmem_enabled);
		return;
	}
	printf("# %ld free hugetlb pages, shmem THP %s: want %s\n", free_, thp,
	       vmlet_backing_name(best));
	ASSERT_OK(vmlet_platform_query(&p));
	EXPECT_EQ(p.backing, best);
	EXPECT_EQ(p.hugepages_free, free_);
	EXPECT_EQ(backing_of(image, VMLET_BACKING_AUTO), best);
	EXPECT_EQ(backing_of(image, VMLET_BACKING_4K), VMLET_BACKING_4K);
	EXPECT_EQ(backing_of(image, VMLET_BACKING_HUGETLB),
		  free_ >= 2 ? VMLET_BACKING_HUGETLB : -ENOMEM);
	EXPECT_EQ(backing_of(image, VMLET_BACKING_THP),
		  strcmp(thp, "never") ? VMLET_BACKING_THP : -EOPNOTSUPP);
}

TEST(backing_is_the_best_the_system_offers_and_a_forced_one_holds)
{
	struct vmlet_image *image = test_image(DEMO_ELF);
	long old_nr = meminfo_kib("HugePages_Total");
	char old_thp[32], buf[32];

	ASSERT_TRUE(image);
	shmem_mode(old_thp, sizeof(old_thp));
	if (getuid() != 0 || old_nr < 0 || !old_thp[0] || access(shmem_enabled, W_OK) ||
	    access(nr_hugepages, W_OK))
		SKIP("needs root, hugetlb and shmem THP to set what the system offers");
	backing_case(image, 4, "always"); /* a default 4 MiB sandbox takes 2 */
	backing_case(image, 1, "always"); /* one is not enough: neither says hugetlb */
	backing_case(image, 0, "always");
	backing_case(image, 0, "advise");
	backing_case(image, 0, "never");
	snprintf(buf, sizeof(buf), "%ld\n", old_nr);
	EXPECT_EQ(write_str(nr_hugepages, buf), 0);
	EXPECT_EQ(write_str(shmem_enabled, old_thp), 0);
	vmlet_image_close(image);
}

int main(void)
{
	return ksft_run();
}
