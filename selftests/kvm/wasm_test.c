// SPDX-License-Identifier: BSD-2-Clause
/*
 * Wasm guests: modules in selftests/kvm/wasm/, compiled ahead of time by
 * vmlet-wasm-cc (wasm2c and libvmlet-wasm.a). Exports registered with
 * their vmlet types; every trap kind (an uncaught exception too) fails
 * the call with -VMLET_EFAIL and its message, after which the next call
 * works; WASI files made, truncated and seeked in granted directories, and
 * ENOSYS for the WASI calls the runtime lacks; the boundaries of linear
 * memory; hostile modules (4 GiB of memory, an endless loop, endless
 * recursion, endless output); host imports, checked when the sandbox
 * is created.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

#define MODULE(name) WASM_DIR "/" name ".elf"

static int twice_calls;

static int twice(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	twice_calls++;
	r->i64 = a[0].i64 * 2;
	return 0;
}

static int neg(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	r->f64 = -a[0].f64;
	return 0;
}

static const struct vmlet_host_func host_funcs[] = {
	{.name = "twice",
	 .ret = VMLET_I64,
	 .nargs = 1,
	 .args = {VMLET_I64},
	 .fn = twice,
	 .flags = VMLET_HOST_INLINE},
	{.name = "neg",
	 .ret = VMLET_F64,
	 .nargs = 1,
	 .args = {VMLET_F64},
	 .fn = neg,
	 .flags = VMLET_HOST_INLINE},
};

/* Output of the WASI programs, captured. */
struct out {
	char buf[4096];
	size_t len;
};

static void capture(void *ctx, const char *buf, size_t len)
{
	struct out *o = ctx;

	if (len > sizeof(o->buf) - 1 - o->len)
		len = sizeof(o->buf) - 1 - o->len;
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	o->buf[o->len] = '\0';
}

static struct vmlet_image *img;
static struct vmlet_sandbox *sb;

static struct vmlet_sandbox *open_module(const char *name, struct vmlet_config *cfg)
{
	img = test_image(name);
	sb = test_sandbox(img, cfg);
	return sb;
}

static void close_module(void)
{
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
	sb = NULL;
	img = NULL;
}

static int call_i32(const char *fn, int32_t a, int32_t b, unsigned int nargs, int32_t *out)
{
	struct vmlet_value args[2] = {vmlet_i32(a), vmlet_i32(b)}, r = {0};
	int err = vmlet_sandbox_call(sb, fn, args, nargs, &r);

	if (!err && out)
		*out = r.type == VMLET_I32 ? r.i32 : INT32_MIN;
	return err;
}

static void expect_add_works(void)
{
	int32_t r = 0;

	EXPECT_EQ(call_i32("add", 40, 2, 2, &r), 0);
	EXPECT_EQ(r, 42);
}

TEST(exports_registered_with_their_types)
{
	struct vmlet_value args[2], r;
	int32_t s = 0;
	int i;

	if (!open_module(MODULE("traps"), NULL))
		return;
	i = vmlet_sandbox_func(sb, "mulf");
	ASSERT_GE(i, 0);
	{
		const struct vmlet_func *f = vmlet_sandbox_func_at(sb, (unsigned int)i);

		ASSERT_TRUE(f != NULL);
		EXPECT_EQ(f->ret, VMLET_F64);
		EXPECT_EQ(f->nargs, 2);
		EXPECT_EQ(f->args[0], VMLET_F64);
		EXPECT_EQ(f->args[1], VMLET_F32);
	}
	EXPECT_EQ(call_i32("add", 2, 3, 2, &s), 0);
	EXPECT_EQ(s, 5);
	EXPECT_EQ(call_i32("add", INT32_MAX, 1, 2, &s), 0);
	EXPECT_EQ(s, INT32_MIN);
	args[0] = vmlet_i64(1LL << 40);
	args[1] = vmlet_i64(-1);
	ASSERT_OK(vmlet_sandbox_call(sb, "add64", args, 2, &r));
	EXPECT_EQ(r.type, VMLET_I64);
	EXPECT_EQ(r.i64, (1LL << 40) - 1);
	args[0] = vmlet_f64(1.5);
	args[1] = vmlet_f32(-4.0f);
	ASSERT_OK(vmlet_sandbox_call(sb, "mulf", args, 2, &r));
	EXPECT_TRUE(r.type == VMLET_F64 && r.f64 == -6.0);
	/* Globals and the memory are exports too, but not functions. */
	EXPECT_EQ(vmlet_sandbox_func(sb, "memory"), -ENOENT);
	close_module();
}

static const struct trap {
	const char *fn;
	int32_t a, b;
	unsigned int nargs;
	int code; /* wasm_rt_trap_t */
	const char *msg;
} traps[] = {
	{"div", 7, 0, 2, 3, "wasm trap: integer divide by zero"},
	{"div", INT32_MIN, -1, 2, 2, "wasm trap: integer overflow"},
	{"load8", 65536, 0, 1, 1, "wasm trap: out of bounds memory access"},
	{"load32", 65533, 0, 1, 1, "wasm trap: out of bounds memory access"},
	{"load32", -1, 0, 1, 1, "wasm trap: out of bounds memory access"},
	{"unreachable", 0, 0, 0, 5, "wasm trap: unreachable"},
	{"call_indirect", 5, 1, 2, 6, "wasm trap: indirect call type mismatch"},
	{"call_indirect", 5, 2, 2, 6, "wasm trap: indirect call type mismatch"},
	{"call_indirect", 5, 3, 2, 6, "wasm trap: indirect call type mismatch"},
	{"recurse", 0, 0, 1, 8, "wasm trap: call stack exhausted"},
};

TEST(every_trap_fails_the_call_and_the_next_call_works)
{
	if (!open_module(MODULE("traps"), NULL))
		return;
	for (unsigned int i = 0; i < sizeof(traps) / sizeof(traps[0]); i++) {
		const struct trap *t = &traps[i];
		const struct vmlet_fault *f;

		printf("# %s(%d, %d)\n", t->fn, t->a, t->b);
		EXPECT_EQ(call_i32(t->fn, t->a, t->b, t->nargs, NULL), -VMLET_EFAIL);
		f = vmlet_sandbox_fault(sb);
		ASSERT_TRUE(f != NULL);
		EXPECT_EQ(f->error, -VMLET_EFAIL);
		EXPECT_EQ(f->code, t->code);
		EXPECT_STREQ(f->message, t->msg);
		expect_add_works();
	}
	close_module();
}

TEST(uncaught_exception_is_a_trap_and_a_caught_one_is_not)
{
	int32_t r = 0;

	if (!open_module(MODULE("exc"), NULL))
		return;
	EXPECT_EQ(call_i32("caught", 41, 0, 1, &r), 0);
	EXPECT_EQ(r, 42);
	EXPECT_EQ(call_i32("throw", 7, 0, 1, NULL), -VMLET_EFAIL);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->code, 7); /* WASM_RT_TRAP_UNCAUGHT_EXCEPTION */
	EXPECT_STREQ(vmlet_sandbox_fault(sb)->message, "wasm trap: uncaught exception");
	expect_add_works();
	EXPECT_EQ(call_i32("caught", 1, 0, 1, &r), 0);
	EXPECT_EQ(r, 2);
	close_module();
}

TEST(trunc_of_nan_is_an_invalid_conversion)
{
	struct vmlet_value a = vmlet_f64(__builtin_nan("")), r;

	if (!open_module(MODULE("traps"), NULL))
		return;
	EXPECT_EQ(vmlet_sandbox_call(sb, "trunc", &a, 1, &r), -VMLET_EFAIL);
	EXPECT_STREQ(vmlet_sandbox_fault(sb)->message, "wasm trap: invalid conversion to integer");
	a = vmlet_f64(-7.9);
	ASSERT_OK(vmlet_sandbox_call(sb, "trunc", &a, 1, &r));
	EXPECT_EQ(r.i32, -7);
	close_module();
}

TEST(memory_last_byte_in_first_byte_out)
{
	int32_t r = 0;

	if (!open_module(MODULE("traps"), NULL))
		return;
	EXPECT_EQ(call_i32("store8", 65535, 0xab, 2, NULL), 0);
	EXPECT_EQ(call_i32("load8", 65535, 0, 1, &r), 0);
	EXPECT_EQ(r, 0xab);
	EXPECT_EQ(call_i32("load32", 65532, 0, 1, &r), 0);
	EXPECT_EQ((uint32_t)r, 0xab000000u);
	EXPECT_EQ(call_i32("store8", 65536, 1, 2, NULL), -VMLET_EFAIL);
	EXPECT_EQ(call_i32("load8", 65536, 0, 1, NULL), -VMLET_EFAIL);
	close_module();
}

TEST(memory_grow_past_max_returns_minus_one)
{
	int32_t r = 0;

	if (!open_module(MODULE("traps"), NULL))
		return;
	EXPECT_EQ(call_i32("grow", 2, 0, 1, &r), 0);
	EXPECT_EQ(r, -1);
	EXPECT_EQ(call_i32("grow", 1, 0, 1, &r), 0);
	EXPECT_EQ(r, 1);
	EXPECT_EQ(call_i32("size", 0, 0, 0, &r), 0);
	EXPECT_EQ(r, 2);
	/* The new page is there, zeroed, and the one after it is not. */
	EXPECT_EQ(call_i32("load8", 131071, 0, 1, &r), 0);
	EXPECT_EQ(r, 0);
	EXPECT_EQ(call_i32("load8", 131072, 0, 1, NULL), -VMLET_EFAIL);
	EXPECT_EQ(call_i32("grow", 1, 0, 1, &r), 0);
	EXPECT_EQ(r, -1);
	close_module();
}

TEST(memory_grow_stops_at_the_guest_heap)
{
	int32_t r = 0;

	if (!open_module(MODULE("unbounded"), NULL))
		return;
	/* 64 MiB in a 4 MiB guest, then 4 GiB: -1, and memory is as it was. */
	EXPECT_EQ(call_i32("grow", 1024, 0, 1, &r), 0);
	EXPECT_EQ(r, -1);
	EXPECT_EQ(call_i32("grow", 65535, 0, 1, &r), 0);
	EXPECT_EQ(r, -1);
	EXPECT_EQ(call_i32("size", 0, 0, 0, &r), 0);
	EXPECT_EQ(r, 1);
	EXPECT_EQ(call_i32("grow", 2, 0, 1, &r), 0);
	EXPECT_EQ(r, 1);
	close_module();
}

/* VmRSS or VmHWM (the peak since the last clear_refs 5) of this process, in KiB, or -1. */
static long status_kib(const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Reset VmHWM to VmRSS (proc(5), clear_refs): 0, or -errno. */
static int reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "5", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

/*
 * The module asks for 65536 pages (4 GiB) in a guest of 8 MiB: the guest's
 * calloc fails, the sandbox does not start, and the host's resident
 * memory at its peak, from before vmlet_sandbox_create() to after it, grew
 * by at most twice the guest memory (the image's boot snapshot and the
 * sandbox's copy of it) and 4 MiB of the library's own: a thousandth of
 * what the module asked for.
 */
#define BIG_MEM	  (8ULL << 20)
#define BIG_SLACK (4L << 10) /* KiB */

TEST(module_asking_for_4gib_fails_to_start)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .mem_size = BIG_MEM};
	struct vmlet_sandbox *s = UNTOUCHED;
	struct vmlet_image *i = test_image(MODULE("big"));
	long rss, peak;

	if (!i)
		return;
	ASSERT_EQ(reset_peak_rss(), 0);
	rss = status_kib("VmRSS");
	EXPECT_EQ(vmlet_sandbox_create(i, &cfg, &s), -VMLET_EABORT);
	peak = status_kib("VmHWM");
	EXPECT_TRUE(s == UNTOUCHED);
	vmlet_image_close(i);
	printf("# host resident memory %ld KiB, at its peak %ld KiB: +%ld KiB for a guest of "
	       "%llu KiB asking for 4194304 KiB\n",
	       rss, peak, peak - rss, BIG_MEM >> 10);
	ASSERT_GE(rss, 1);
	ASSERT_GE(peak, rss);
	EXPECT_LT(peak - rss, (long)(2 * BIG_MEM >> 10) + BIG_SLACK);
	/* The host is fine: the next module starts and works. */
	if (!open_module(MODULE("traps"), NULL))
		return;
	expect_add_works();
	close_module();
}

TEST(endless_loop_meets_the_deadline)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .timeout_us = 200000};

	if (!open_module(MODULE("traps"), &cfg))
		return;
	EXPECT_EQ(vmlet_sandbox_call(sb, "spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	close_module();
}

static void discard(void *ctx, const char *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
}

TEST(output_flood_meets_the_print_limit)
{
	size_t printed = 0;
	struct vmlet_config cfg = {
		.sz = sizeof(cfg), .print = discard, .print_ctx = &printed, .print_limit = 4096};

	if (!open_module(MODULE("flood"), &cfg))
		return;
	EXPECT_EQ(vmlet_sandbox_call(sb, "flood", NULL, 0, NULL), -VMLET_EOUTPUT);
	EXPECT_EQ(printed, 4096);
	close_module();
}

TEST(imports_are_host_calls)
{
	struct vmlet_config cfg = {
		.sz = sizeof(cfg), .host_funcs = host_funcs, .nhost_funcs = 2};
	struct vmlet_value a = vmlet_i64(-21), r;

	if (!open_module(MODULE("imports"), &cfg))
		return;
	ASSERT_OK(vmlet_sandbox_call(sb, "twice", &a, 1, &r));
	EXPECT_EQ(r.i64, -42);
	a = vmlet_f64(2.5);
	ASSERT_OK(vmlet_sandbox_call(sb, "neg", &a, 1, &r));
	EXPECT_TRUE(r.type == VMLET_F64 && r.f64 == -2.5);
	close_module();
}

/* Creating a sandbox of imports.elf with these host functions fails, and prints why. */
static void expect_import_refused(const struct vmlet_host_func *funcs, unsigned int n,
				  const char *why)
{
	struct out o = {0};
	struct vmlet_config cfg = {.sz = sizeof(cfg),
				   .host_funcs = funcs,
				   .nhost_funcs = n,
				   .print = capture,
				   .print_ctx = &o};
	struct vmlet_sandbox *s = UNTOUCHED;
	struct vmlet_image *i = test_image(MODULE("imports"));

	if (!i)
		return;
	EXPECT_EQ(vmlet_sandbox_create(i, &cfg, &s), -VMLET_EABORT);
	EXPECT_TRUE(s == UNTOUCHED);
	EXPECT_STREQ(o.buf, why);
	vmlet_image_close(i);
}

TEST(imports_checked_when_the_sandbox_is_created)
{
	struct vmlet_host_func wrong[2] = {host_funcs[0], host_funcs[1]};

	/* Checked in wasm2c's order of imports: env before vmlet. */
	expect_import_refused(NULL, 0,
			      "wasm: import env.neg: the host has no function of that name\n");
	expect_import_refused(host_funcs + 1, 1,
			      "wasm: import vmlet.twice: the host has no function of that name\n");
	wrong[0].args[0] = VMLET_I32;
	expect_import_refused(wrong, 2,
			      "wasm: import vmlet.twice: the host function has other types\n");
	wrong[0] = host_funcs[0];
	wrong[1].ret = VMLET_F32;
	expect_import_refused(wrong, 2,
			      "wasm: import env.neg: the host function has other types\n");
	/* A probe does not call: twice's counter is still 0. */
	EXPECT_EQ(twice_calls, 0);
}

#define LIST(s) vmlet_bytes(s, sizeof(s) - 1)

static int start(const struct vmlet_value argv, const struct vmlet_value env, const char *in,
		 int32_t *status)
{
	struct vmlet_value args[3] = {argv, env, vmlet_bytes(in, strlen(in))}, r = {0};
	int err = vmlet_sandbox_call(sb, "_start", args, 3, &r);

	*status = r.type == VMLET_I32 ? r.i32 : INT32_MIN;
	return err;
}

TEST(wasi_command_gets_args_environ_and_stdin)
{
	struct out o = {0};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .print = capture, .print_ctx = &o};
	int32_t status = 0;

	if (!open_module(MODULE("wasi"), &cfg))
		return;
	ASSERT_OK(start(LIST("wasi\0" "7\0a-b-c\0sort\0"), LIST("X=1\0GREETING=hello\0"),
			"5 3\n9 -1 12\n", &status));
	EXPECT_EQ(status, 7);
	EXPECT_STREQ(o.buf, "argc 4: [wasi] [7] [a-b-c] [sort]\n"
			    "hello\n"
			    "strlen 5 strrchr -c\n"
			    "sorted: -1 3 5 9 12\n"
			    "to stderr\n");
	close_module();
}

TEST(wasi_files_on_granted_paths)
{
	char in_path[] = "/tmp/wasm_test_in.XXXXXX", out_path[] = "/tmp/wasm_test_out.XXXXXX";
	struct out o = {0};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .print = capture, .print_ctx = &o};
	int in = mkstemp(in_path), out = mkstemp(out_path);
	int32_t status = -1;
	char back[64] = {0};

	ASSERT_TRUE(in >= 0 && out >= 0);
	/* Stale bytes that fopen("w") truncates (O_TRUNC on a granted file). */
	ASSERT_EQ(write(out, "stale bytes beyond\n", 19), 19);
	ASSERT_EQ(write(in, "hello, files\n", 13), 13);
	if (!open_module(MODULE("wasi"), &cfg))
		return;
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 10, in, VMLET_GRANT_READ, "/data/in.txt"));
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 11, out, VMLET_GRANT_READ | VMLET_GRANT_WRITE,
					 "/data/out.txt"));
	ASSERT_OK(start(LIST("wasi\0" "0\0x\0files\0"), LIST(""), "", &status));
	EXPECT_EQ(status, 0);
	EXPECT_STREQ(o.buf, "argc 4: [wasi] [0] [x] [files]\n"
			    "(no GREETING)\n"
			    "strlen 1 strrchr -\n"
			    "copied 13 bytes\n"
			    "missing: No such file or directory\n"
			    "to stderr\n");
	EXPECT_EQ(pread(out, back, sizeof(back) - 1, 0), 13);
	EXPECT_STREQ(back, "HELLO, FILES\n");
	close_module();
	/* Unlinked only now: 9p (the test VM's /tmp) cannot truncate an unlinked file. */
	unlink(in_path);
	unlink(out_path);
	close(in);
	close(out);
}

static int dir_fd(char *tmpl)
{
	return mkdtemp(tmpl) ? open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

TEST(wasi_creates_truncates_and_seeks_in_granted_directories)
{
	char out_path[] = "/tmp/wasm_test_out.XXXXXX", ro_path[] = "/tmp/wasm_test_ro.XXXXXX";
	struct out o = {0};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .print = capture, .print_ctx = &o};
	int out = dir_fd(out_path), ro = dir_fd(ro_path), fd;
	int32_t status = -1;
	char back[64] = {0};

	ASSERT_TRUE(out >= 0 && ro >= 0);
	fd = openat(ro, "in.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "read only\n", 10), 10);
	close(fd);
	if (!open_module(MODULE("wasi"), &cfg))
		return;
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 10, out, VMLET_GRANT_READ | VMLET_GRANT_WRITE,
					 "/out"));
	ASSERT_OK(vmlet_sandbox_grant_fd(sb, 11, ro, VMLET_GRANT_READ, "/ro"));
	ASSERT_OK(start(LIST("wasi\0" "0\0x\0create\0"), LIST(""), "", &status));
	EXPECT_EQ(status, 0);
	EXPECT_STREQ(o.buf, "argc 4: [wasi] [0] [x] [create]\n"
			    "(no GREETING)\n"
			    "strlen 1 strrchr -\n"
			    "end 15 size 15 at -8 'c' then 8\n"
			    "appended: end 20\n"
			    "truncated: size 2\n"
			    "wx existing: File exists\n"
			    "wx fresh: made\n"
			    "ro: read only\n"
			    "ro write: Permission denied\n"
			    "ro r+: Permission denied\n"
			    "dotdot: Permission denied\n"
			    "missing: No such file or directory\n"
			    "ungranted: No such file or directory\n"
			    "dir: Is a directory\n"
			    "mkdir: Function not implemented\n"
			    "rename: Function not implemented\n"
			    "to stderr\n");
	fd = openat(out, "new.txt", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	EXPECT_EQ(read(fd, back, sizeof(back) - 1), 2);
	EXPECT_STREQ(back, "ab");
	close(fd);
	EXPECT_EQ(faccessat(out, "fresh.txt", F_OK, 0), 0);
	EXPECT_EQ(faccessat(ro, "new.txt", F_OK, 0), -1);
	/* What the guest opened is closed with it: the next call starts over. */
	o.len = 0;
	ASSERT_OK(start(LIST("wasi\0" "0\0x\0create\0"), LIST(""), "", &status));
	EXPECT_EQ(status, 0);
	close_module();
	unlinkat(out, "new.txt", 0);
	unlinkat(out, "fresh.txt", 0);
	unlinkat(ro, "in.txt", 0);
	close(out);
	close(ro);
	rmdir(out_path);
	rmdir(ro_path);
}

TEST(wasi_exports_take_and_return_bytes_and_strings)
{
	static const uint8_t data[] = "Wikipedia";
	struct vmlet_value a, r;
	int32_t s = 0;

	if (!open_module(MODULE("lib"), NULL))
		return;
	/* Warm calls: the module frees what vmlet_alloc gave it, or not. */
	for (int i = 0; i < 3; i++) {
		a = vmlet_bytes(data, 9);
		ASSERT_OK(vmlet_sandbox_call(sb, "checksum", &a, 1, &r));
		EXPECT_EQ((uint32_t)r.i32, 0x11e60398u); /* Adler-32 of "Wikipedia" */
		a = vmlet_str("hello, wasm");
		ASSERT_OK(vmlet_sandbox_call(sb, "reverse", &a, 1, &r));
		ASSERT_EQ(r.type, VMLET_STRING);
		EXPECT_TRUE(r.buf.len == 11 && !memcmp(r.buf.ptr, "msaw ,olleh", 11));
	}
	a = vmlet_bytes(NULL, 0);
	ASSERT_OK(vmlet_sandbox_call(sb, "checksum", &a, 1, &r));
	EXPECT_EQ(r.i32, 1);
	EXPECT_EQ(call_i32("add", 20, 22, 2, &s), 0);
	EXPECT_EQ(s, 42);
	close_module();
}

TEST(wasi_random_is_fresh_per_call_and_the_clock_is_the_wall)
{
	struct vmlet_value r1, r2, r3, t;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *a = NULL, *b = NULL;
	time_t before = time(NULL);

	if (!open_module(MODULE("clock"), NULL))
		return;
	ASSERT_OK(vmlet_sandbox_call(sb, "random", NULL, 0, &r1));
	ASSERT_OK(vmlet_sandbox_call(sb, "random", NULL, 0, &r2));
	EXPECT_NE(r1.i64, r2.i64);
	ASSERT_OK(vmlet_sandbox_call(sb, "wall_seconds", NULL, 0, &t));
	EXPECT_GE(t.i64, (int64_t)before - 1);
	EXPECT_LT(t.i64, (int64_t)time(NULL) + 2);
	/* Two VMs from one snapshot start identical, and still draw apart. */
	ASSERT_OK(vmlet_snapshot_create(img, NULL, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &a));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &b));
	ASSERT_OK(vmlet_sandbox_call(a, "random", NULL, 0, &r1));
	ASSERT_OK(vmlet_sandbox_call(b, "random", NULL, 0, &r3));
	EXPECT_NE(r1.i64, r3.i64);
	vmlet_sandbox_destroy(a);
	vmlet_sandbox_destroy(b);
	vmlet_snapshot_destroy(snap);
	close_module();
}

int main(void)
{
	return ksft_run();
}
