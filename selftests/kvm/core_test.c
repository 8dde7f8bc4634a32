// SPDX-License-Identifier: BSD-2-Clause
/*
 * Core dumps of failed calls (lib/core.c): a guest that faults two calls
 * deep leaves a core that readelf shows as an x86-64 ET_CORE with its
 * notes and memory, and that Debian's gdb opens with the guest image to
 * show the faulting function, its caller, the caller's local variable,
 * the faulting rip and an SSE register. A core that cannot be written
 * (no such directory) sets core_error and leaves the fault record exactly
 * as without a core; core_limit truncates (-EFBIG) and says so in the
 * core; a bad template is -EINVAL; a config from before core_path and a
 * call that succeeds write nothing; a thread confined with seccomp gets
 * -EPERM; a call killed in the entry stub dumps the snapshot's FPU, never
 * the previous call's.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vmlet.h>

#include "util.h"

#define SEED   7
#define ANSWER (0x4242 + SEED)
#define ADDR   (SEED * 16 + 8)

static char dir[64];

/* A fresh directory for this test's cores (each test runs in its own child). */
static const char *core_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vmlet-core-XXXXXX");
	if (!mkdtemp(dir)) {
		ksft_fail_at("mkdtemp: %s", strerror(errno));
		return NULL;
	}
	return dir;
}

/* Run cmd through the shell; its stdout and stderr in out. The exit status, or -1. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int st;

	out[0] = '\0';
	if (!f) {
		ksft_fail_at("popen %s: %s", cmd, strerror(errno));
		return -1;
	}
	while (n + 1 < size) {
		size_t got = fread(out + n, 1, size - n - 1, f);

		if (!got)
			break;
		n += got;
	}
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* gdb's backtrace of the core at path, with the guest image. */
static int gdb_bt(const char *path, char *out, size_t size)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "gdb -nx -batch -ex 'set style enabled off' -ex bt '%s' '%s' 2>&1", GUEST("core"),
		 path);
	return run(cmd, out, size);
}

/* A sandbox of img (NULL: the test failed) whose cores go to path, "core" in a fresh directory. */
static struct vmlet_sandbox *core_sandbox(struct vmlet_image *img, struct vmlet_config *cfg,
					  char *path, size_t size)
{
	if (!img || !core_dir())
		return NULL;
	snprintf(path, size, "%s/core", dir);
	cfg->core_path = path;
	return test_sandbox(img, cfg);
}

static int fault_call(struct vmlet_sandbox *sb)
{
	struct vmlet_value a = vmlet_u32(SEED), r;

	return vmlet_sandbox_call(sb, "core_fault", &a, 1, &r);
}

/* want must be in out. */
#define EXPECT_IN(out, want)                                                                       \
	do {                                                                                       \
		if (!strstr(out, want))                                                            \
			ksft_fail_at("no \"%s\" in:\n%s", want, out);                              \
	} while (0)

TEST(fault_core_opens_in_gdb_with_backtrace_and_locals)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	static char out[65536];
	char path[128], tmpl[128], cmd[1024], want[128];
	const struct vmlet_fault *f;
	struct vmlet_sandbox *sb;
	struct stat st;

	if (!img || !core_dir())
		return;
	snprintf(tmpl, sizeof(tmpl), "%s/core.%%i.%%%%", dir);
	cfg.core_path = tmpl;
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	ASSERT_EQ(fault_call(sb), -VMLET_EEXCEPTION);
	f = vmlet_sandbox_fault(sb);
	EXPECT_EQ(f->vector, 14);
	EXPECT_EQ(f->address, ADDR);
	EXPECT_EQ(f->core_error, 0);
	EXPECT_STREQ(f->frames[0].func, "poke");
	EXPECT_STREQ(f->frames[1].func, "crunch");
	snprintf(path, sizeof(path), "%s/core.%llu.%%", dir,
		 (unsigned long long)vmlet_sandbox_id(sb));
	ASSERT_EQ(stat(path, &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600);

	snprintf(cmd, sizeof(cmd), "readelf -h -l -n '%s' 2>&1", path);
	ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
	EXPECT_IN(out, "CORE (Core file)");
	EXPECT_IN(out, "Advanced Micro Devices X86-64");
	EXPECT_IN(out, "NT_PRSTATUS (prstatus structure)");
	EXPECT_IN(out, "NT_PRPSINFO (prpsinfo structure)");
	EXPECT_IN(out, "NT_FPREGSET (floating point registers)");
	EXPECT_IN(out, "VMLET");
	EXPECT_IN(out, "  NOTE ");
	EXPECT_IN(out, "  LOAD ");
	/* No segment at page 0: a NULL pointer reads nothing in gdb either. */
	if (strstr(out, "LOAD           0x0000000000001000 0x0000000000000000"))
		ksft_fail_at("a segment at address 0:\n%s", out);

	snprintf(
		cmd, sizeof(cmd),
		"gdb -nx -batch -ex 'set style enabled off' -ex bt -ex 'info registers rip' "
		"-ex 'frame 1' -ex 'print/x answer' -ex 'print/x $xmm7.v2_int64[0]' '%s' '%s' 2>&1",
		GUEST("core"), path);
	ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
	printf("# %s\n", cmd);
	for (const char *l = out, *nl; *l; l = *nl ? nl + 1 : nl) {
		nl = strchr(l, '\n');
		if (!nl)
			nl = l + strlen(l);
		printf("# gdb: %.*s\n", (int)(nl - l), l);
	}
	EXPECT_IN(out, "Program terminated with signal SIGSEGV");
	snprintf(want, sizeof(want), "#0  poke (p=p@entry=%#x, value=%d)", ADDR, ANSWER);
	EXPECT_IN(out, want);
	EXPECT_IN(out, " in crunch (seed=");
	EXPECT_IN(out, " in core_fault (seed=");
	snprintf(want, sizeof(want), "rip            %#llx", (unsigned long long)f->rip);
	EXPECT_IN(out, want);
	/* answer in crunch's frame, then xmm7 (NT_FPREGSET). */
	snprintf(want, sizeof(want), "$1 = %#x", ANSWER);
	EXPECT_IN(out, want);
	snprintf(want, sizeof(want), "$2 = %#x", ANSWER);
	EXPECT_IN(out, want);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* Everything in f but core_error, as the test compares faults. */
static void expect_same_fault(const struct vmlet_fault *a, const struct vmlet_fault *b)
{
	EXPECT_EQ(a->error, b->error);
	EXPECT_EQ(a->vector, b->vector);
	EXPECT_EQ(a->error_code, b->error_code);
	EXPECT_EQ(a->address, b->address);
	EXPECT_EQ(a->rip, b->rip);
	EXPECT_STREQ(a->message, b->message);
	EXPECT_EQ(a->nframes, b->nframes);
	EXPECT_EQ(a->symbols, b->symbols);
	for (unsigned int i = 0; i < a->nframes && i < VMLET_FAULT_FRAMES; i++) {
		EXPECT_EQ(a->frames[i].pc, b->frames[i].pc);
		EXPECT_STREQ(a->frames[i].func, b->frames[i].func);
	}
}

TEST(unwritable_core_path_sets_core_error_and_keeps_the_fault)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct vmlet_fault plain;
	struct vmlet_sandbox *sb;

	if (!img)
		return;
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	ASSERT_EQ(fault_call(sb), -VMLET_EEXCEPTION);
	plain = *vmlet_sandbox_fault(sb);
	EXPECT_EQ(plain.core_error, 0);
	vmlet_sandbox_destroy(sb);

	cfg.core_path = "/nonexistent-vmlet-dir/core.%i";
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	ASSERT_EQ(fault_call(sb), -VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->core_error, -ENOENT);
	expect_same_fault(vmlet_sandbox_fault(sb), &plain);
	EXPECT_EQ(plain.address, ADDR);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(core_limit_truncates_and_says_so)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg), .core_limit = 8192};
	static char out[65536];
	char path[128], cmd[512];
	unsigned long long total = 0;
	struct vmlet_sandbox *sb;

	sb = core_sandbox(img, &cfg, path, sizeof(path));
	if (!sb)
		return;
	ASSERT_EQ(fault_call(sb), -VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->core_error, -EFBIG);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->address, ADDR);
	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", path);
	ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
	for (char *l = strstr(out, "  LOAD "); l; l = strstr(l + 1, "  LOAD ")) {
		unsigned long long off, va, pa, filesz;

		if (sscanf(l, " LOAD %llx %llx %llx %llx", &off, &va, &pa, &filesz) == 4)
			total += filesz;
	}
	EXPECT_GE(total, 4096);
	EXPECT_GE(8192, total);
	snprintf(cmd, sizeof(cmd), "strings -a '%s'", path);
	ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
	EXPECT_IN(out, "guest memory past core_limit left out of this core");
	/* The stack went in first: gdb still walks the frames (code from the image). */
	ASSERT_EQ(gdb_bt(path, out, sizeof(out)), 0);
	EXPECT_IN(out, "#0  poke (");
	EXPECT_IN(out, " in crunch (");
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(abort_core_names_sigabrt)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	static char out[65536];
	char path[128];
	struct vmlet_value a = vmlet_u32(3), r;
	struct vmlet_sandbox *sb;

	sb = core_sandbox(img, &cfg, path, sizeof(path));
	if (!sb)
		return;
	ASSERT_EQ(vmlet_sandbox_call(sb, "core_abort", &a, 1, &r), -VMLET_EABORT);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->core_error, 0);
	ASSERT_EQ(gdb_bt(path, out, sizeof(out)), 0);
	EXPECT_IN(out, "Program terminated with signal SIGABRT");
	EXPECT_IN(out, "core_abort (");
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(bad_core_path_template_is_einval)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct vmlet_sandbox *sb = NULL;

	if (!img)
		return;
	cfg.core_path = "/tmp/core.%x";
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -EINVAL);
	cfg.core_path = "/tmp/core.%";
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -EINVAL);
	cfg.core_path = "";
	EXPECT_EQ(vmlet_sandbox_create(img, &cfg, &sb), -EINVAL);
	EXPECT_TRUE(sb == NULL);
	vmlet_image_close(img);
}

TEST(no_core_without_asking_or_failing)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = offsetof(struct vmlet_config, core_path)};
	struct vmlet_value args[2] = {vmlet_u64(2), vmlet_u64(3)}, r;
	struct vmlet_sandbox *sb;
	char path[128];
	struct stat st;

	/* A caller built before core_path: whatever follows its struct is not read. */
	sb = core_sandbox(img, &cfg, path, sizeof(path));
	if (!sb)
		return;
	ASSERT_EQ(fault_call(sb), -VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->core_error, 0);
	EXPECT_EQ(stat(path, &st), -1);
	vmlet_sandbox_destroy(sb);

	/* A call that succeeds writes none. */
	cfg.sz = sizeof(cfg);
	sb = test_sandbox(img, &cfg);
	if (!sb)
		return;
	ASSERT_EQ(vmlet_sandbox_call(sb, "add", args, 2, &r), 0);
	EXPECT_EQ(r.u64, 5);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->core_error, 0);
	EXPECT_EQ(stat(path, &st), -1);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* A thread confined with seccomp may not create files: -EPERM, the fault intact. */
/*
 * A symbolic link at the core's path (to a file of someone else's) is
 * replaced by the core, never followed: the file it named keeps its bytes.
 */
TEST(a_link_at_the_path_is_replaced_not_followed)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	static const char keep[] = "not yours\n";
	struct vmlet_sandbox *sb;
	char path[128], victim[160], got[sizeof(keep)] = "";
	struct stat st;
	FILE *f;

	sb = core_sandbox(img, &cfg, path, sizeof(path));
	if (!sb)
		return;
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	ASSERT_TRUE(f && fputs(keep, f) >= 0 && !fclose(f));
	ASSERT_EQ(symlink(victim, path), 0);
	ASSERT_EQ(fault_call(sb), -VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_fault(sb)->core_error, 0);
	ASSERT_EQ(lstat(path, &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(st.st_mode & 0777, 0600);
	f = fopen(victim, "r");
	ASSERT_TRUE(f);
	EXPECT_EQ(fread(got, 1, sizeof(got), f), strlen(keep));
	fclose(f);
	EXPECT_STREQ(got, keep);
	unlink(victim);
	unlink(path);
	rmdir(dir);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

struct confined {
	struct vmlet_sandbox *sb;
	unsigned int flags;
	int err, call;
};

/*
 * On a thread of its own: confinement is for good, and LeakSanitizer's
 * check after the test (kselftest.h) needs system calls the filter
 * refuses.
 */
static void *confined_fault(void *arg)
{
	struct confined *c = arg;

	c->err = vmlet_thread_confine(c->flags);
	if (!c->err)
		c->call = fault_call(c->sb);
	if (!(c->flags & VMLET_CONFINE_KILL))
		return NULL;
	/* Leave from here: a confined thread's own exit may make calls the filter refuses. */
	if (c->err || c->call != -VMLET_EEXCEPTION)
		_exit(4);
	_exit(vmlet_sandbox_fault(c->sb)->core_error == -EPERM ? 0 : 5);
}

TEST(confined_thread_gets_eperm)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct confined c = {0};
	char path[128];
	struct stat st;
	pthread_t t;

	c.sb = core_sandbox(img, &cfg, path, sizeof(path));
	if (!c.sb)
		return;
	ASSERT_EQ(pthread_create(&t, NULL, confined_fault, &c), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_OK(c.err);
	ASSERT_EQ(c.call, -VMLET_EEXCEPTION);
	EXPECT_EQ(vmlet_sandbox_fault(c.sb)->core_error, -EPERM);
	EXPECT_EQ(vmlet_sandbox_fault(c.sb)->address, ADDR);
	EXPECT_STREQ(vmlet_sandbox_fault(c.sb)->frames[0].func, "poke");
	EXPECT_EQ(stat(path, &st), -1); /* no core file was made */
	vmlet_sandbox_destroy(c.sb);
	vmlet_image_close(img);
}

/*
 * The same under VMLET_CONFINE_KILL: no open(2) is tried, so the process
 * lives. In a child of its own (a kill would take the test with it),
 * which makes its own sandbox: a VM belongs to the process that made it.
 */
TEST(kill_confined_thread_gets_eperm_and_lives)
{
	int status = 0;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct vmlet_image *img = test_image(GUEST("core"));
		struct vmlet_config cfg = {.sz = sizeof(cfg)};
		struct confined c = {.flags = VMLET_CONFINE_KILL};
		char path[128];
		pthread_t t;

		c.sb = core_sandbox(img, &cfg, path, sizeof(path));
		if (!c.sb || pthread_create(&t, NULL, confined_fault, &c))
			_exit(3);
		pthread_join(t, NULL); /* the thread ends the child */
		_exit(6);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		printf("# the child was killed by signal %d\n", WTERMSIG(status));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

/*
 * A call killed in the entry stub (lib/entry.c), before the snapshot's
 * first instruction ran: the stub had not yet put the FPU back, and KVM
 * still held what the previous call left in it. Its core must show the
 * snapshot's xmm12, never the previous call's. A deadline of 1 us stops
 * most such runs before the stub or in it (under nested KVM the very
 * first try); the test tries until one stops there, and fails if none of
 * 2000 did. Where there is no stub (KVM emulates guest code) no run can
 * stop in it, and restore set the FPU itself: there it checks the
 * same on the calls that timed out anywhere.
 */
TEST(a_call_killed_in_the_entry_stub_dumps_the_snapshots_fpu)
{
	struct vmlet_image *img = test_image(GUEST("core"));
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct vmlet_value secret = vmlet_u64(0x5ec7e75ec7e7), two[2] = {vmlet_u64(1),
									   vmlet_u64(2)};
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb = NULL;
	const struct vmlet_fault *f;
	struct vmlet_platform p;
	static char out[65536];
	char path[128], cmd[1024];
	int in_stub = 0, timed_out = 0;
	uint64_t rip = 0;

	if (!img || !core_dir())
		return;
	ASSERT_OK(vmlet_platform_query(&p));
	snprintf(path, sizeof(path), "%s/core", dir);
	cfg.core_path = path;
	ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	f = vmlet_sandbox_fault(sb);
	for (int i = 0; i < 2000 && !in_stub && (!p.emulated || !timed_out); i++) {
		int err;

		ASSERT_OK(vmlet_sandbox_call(sb, "xmm12_put", &secret, 1, NULL));
		ASSERT_OK(vmlet_sandbox_restore(sb)); /* the stub's way: KVM keeps it */
		ASSERT_OK(vmlet_sandbox_set_timeout(sb, 1));
		err = vmlet_sandbox_call(sb, "add", two, 2, NULL);
		if (err) {
			ASSERT_EQ(err, -VMLET_ETIMEDOUT);
			ASSERT_EQ(f->core_error, 0);
			timed_out++;
			rip = f->rip;
			in_stub = rip - (VMLET_STUB_ADDR + 0x400) < 0xc00;
		}
		ASSERT_OK(vmlet_sandbox_restore(sb));
	}
	printf("# %d calls timed out, the last at rip %#llx%s\n", timed_out,
	       (unsigned long long)rip, in_stub ? ", in the entry stub" : "");
	if (!in_stub && !p.emulated)
		ksft_fail_at("no call of 2000 stopped in the entry stub");
	ASSERT_TRUE(timed_out);
	snprintf(cmd, sizeof(cmd),
		 "gdb -nx -batch -ex 'set style enabled off' -ex 'print/x $xmm12.v2_int64[0]' "
		 "'%s' '%s' 2>&1",
		 GUEST("core"), path);
	ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
	EXPECT_IN(out, "Program terminated with signal SIGXCPU");
	if (strstr(out, "5ec7e75ec7e7"))
		ksft_fail_at("the core shows the previous call's xmm12:\n%s", out);
	EXPECT_IN(out, "$1 = 0x0\n"); /* the snapshot's: no code of it wrote xmm12 */
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
