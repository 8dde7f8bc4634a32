// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet_thread_confine(): a confined thread runs calls, faults, host
 * calls (service and inline), a granted-descriptor read, restores, pool
 * acquire/call/release and destroy; the system calls outside its filter
 * (open, socket, execve, an unlisted ioctl, io_uring_setup, an executable
 * mapping or mprotect, a write to another descriptor) fail with EPERM
 * there and nowhere else, while writes to fds 1 and 2 work; the thread's
 * io_uring refuses operations host calls do not use; VMLET_CONFINE_KILL
 * kills the process with SIGSYS; VMLET_CONFINE_LOG installs the filter
 * and refuses nothing; VMLET_CONFINE_CREATE adds
 * vmlet_sandbox_create_from(); pools confine their refill thread unless
 * told not to; deadlines and interrupts stop calls on a confined thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <vmlet.h>

#include "util.h"

#define CONTENT "confined read\n"

static const struct vmlet_host_func funcs[] = {
	{.name = "inc", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1},
	{.name = "inc_in",
	 .ret = VMLET_U64,
	 .nargs = 1,
	 .args = {VMLET_U64},
	 .fn = test_add1,
	 .flags = VMLET_HOST_INLINE},
};

static char printed[256];
static size_t nprinted;

static void print(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	if (len > sizeof(printed) - nprinted)
		len = sizeof(printed) - nprinted;
	memcpy(printed + nprinted, buf, len);
	nprinted += len;
}

/* What the confined thread works on, all made before it confines itself. */
struct world {
	unsigned int flags;
	struct vmlet_host *host;
	struct vmlet_image *img;
	struct vmlet_snapshot *snap;
	struct vmlet_sandbox *cold, *quiet, *kept;
	struct vmlet_pool *pool[2]; /* COPY, DROP */
	int kvm, file, dir;
	char path[64];
};

static struct vmlet_config config(struct world *w, enum vmlet_restore restore)
{
	return (struct vmlet_config){
		.sz = sizeof(struct vmlet_config),
		.host_funcs = funcs,
		.nhost_funcs = 2,
		.host = w->host,
		.print = print,
		.restore = restore,
	};
}

/*
 * Make everything the test needs; any failure fails the test (through
 * ksft_fail_at, test_image or test_sandbox) and returns -1.
 */
#define SETUP_OK(expr)                                                                             \
	do {                                                                                       \
		int _e = (expr);                                                                   \
		if (_e) {                                                                          \
			ksft_fail_at("%s: %d (%s)", #expr, _e, vmlet_strerror(_e));                \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static int setup(struct world *w)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct vmlet_config cfg;

	memset(w, 0, sizeof(*w));
	w->kvm = w->file = w->dir = -1;
	strcpy(w->path, "/tmp/vmlet-confine-XXXXXX");
	w->file = mkstemp(w->path);
	if (w->file < 0 || write(w->file, CONTENT, strlen(CONTENT)) != (ssize_t)strlen(CONTENT)) {
		ksft_fail_at("cannot write %s", w->path);
		return -1;
	}
	lseek(w->file, 0, SEEK_SET);
	w->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (w->kvm < 0) {
		ksft_fail_at("open(/dev/kvm): %s", strerror(errno));
		return -1;
	}
	w->img = test_image(GUEST("limits"));
	if (!w->img)
		return -1;
	SETUP_OK(vmlet_host_create(2, &w->host));
	cfg = config(w, VMLET_RESTORE_COPY);
	w->cold = test_sandbox(w->img, &cfg);
	cfg.print = NULL; /* the default: the host's stdout */
	w->quiet = test_sandbox(w->img, &cfg);
	if (!w->cold || !w->quiet)
		return -1;
	SETUP_OK(vmlet_sandbox_grant_fd(w->cold, 3, w->file, VMLET_GRANT_READ, "/granted"));
	w->dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	SETUP_OK(w->dir < 0 ? -errno : 0);
	SETUP_OK(vmlet_sandbox_grant_fd(w->cold, 4, w->dir, VMLET_GRANT_READ, "/tmpdir"));
	cfg = config(w, VMLET_RESTORE_COPY);
	SETUP_OK(vmlet_snapshot_create(w->img, &cfg, &w->snap));
	SETUP_OK(vmlet_sandbox_create_from(w->snap, &w->kept));
	for (int i = 0; i < 2; i++) {
		cfg = config(w, i ? VMLET_RESTORE_DROP : VMLET_RESTORE_COPY);
		SETUP_OK(vmlet_pool_create(w->img, &cfg, &pc, &w->pool[i]));
	}
	return 0;
}

static void teardown(struct world *w)
{
	for (int i = 0; i < 2; i++)
		vmlet_pool_destroy(w->pool[i]);
	vmlet_sandbox_destroy(w->kept);
	vmlet_sandbox_destroy(w->quiet);
	vmlet_sandbox_destroy(w->cold);
	vmlet_snapshot_destroy(w->snap);
	vmlet_image_close(w->img);
	vmlet_host_destroy(w->host);
	if (w->kvm >= 0)
		close(w->kvm);
	if (w->file >= 0)
		close(w->file);
	if (w->dir >= 0)
		close(w->dir);
	unlink(w->path);
}

static int chain(struct vmlet_sandbox *sb, const char *fn, uint32_t n, uint64_t v, uint64_t *out)
{
	struct vmlet_value args[3] = {vmlet_str(fn), vmlet_u32(n), vmlet_u64(v)}, r;
	int err = vmlet_sandbox_call(sb, "chain", args, 3, &r);

	*out = r.u64;
	return err;
}

/* Every path a confined thread is for, on that thread. */
static void run_everything(struct world *w)
{
	struct vmlet_value args[2] = {vmlet_i32(2), vmlet_i32(40)}, r;
	const struct vmlet_fault *f;
	struct vmlet_sandbox *sb;
	char beneath[80];
	uint64_t v;

	/* Calls, the print paths, host calls both ways, a granted read. */
	ASSERT_OK(vmlet_sandbox_call(w->cold, "add", args, 2, &r));
	EXPECT_EQ(r.i32, 42);
	args[0] = vmlet_str("confined\n");
	ASSERT_OK(vmlet_sandbox_call(w->cold, "say", args, 1, NULL));
	EXPECT_EQ(nprinted, 18);
	EXPECT_TRUE(!memcmp(printed, "confined\nconfined\n", 18));
	args[0] = vmlet_str("# printed to stdout by a confined thread\n");
	ASSERT_OK(vmlet_sandbox_call(w->quiet, "say", args, 1, NULL));
	ASSERT_OK(chain(w->cold, "inc", 20, 0, &v));
	EXPECT_EQ(v, 20);
	ASSERT_OK(chain(w->cold, "inc_in", 20, 5, &v));
	EXPECT_EQ(v, 25);
	args[0] = vmlet_str("/granted");
	ASSERT_OK(vmlet_sandbox_call(w->cold, "read_path", args, 1, &r));
	EXPECT_EQ(r.i64, (int64_t)strlen(CONTENT));
	/* The same file beneath a granted directory: openat2, VMLET_CONFINE_OPEN's. */
	snprintf(beneath, sizeof(beneath), "/tmpdir/%s", w->path + strlen("/tmp/"));
	args[0] = vmlet_str(beneath);
	ASSERT_OK(vmlet_sandbox_call(w->cold, "read_path", args, 1, &r));
	EXPECT_EQ(r.i64, w->flags & (VMLET_CONFINE_OPEN | VMLET_CONFINE_LOG)
				 ? (int64_t)strlen(CONTENT)
				 : -EPERM);

	/* A fault (its address comes from KVM_GET_SREGS), then restore. */
	EXPECT_EQ(vmlet_sandbox_call(w->kept, "null_read", NULL, 0, &r), -VMLET_EEXCEPTION);
	f = vmlet_sandbox_fault(w->kept);
	EXPECT_EQ(f->vector, 14);
	EXPECT_EQ(f->address, 0);
	ASSERT_OK(vmlet_sandbox_restore(w->kept));
	args[0] = vmlet_u32(16);
	ASSERT_OK(vmlet_sandbox_call(w->kept, "scribble", args, 1, &r));
	EXPECT_EQ(r.u32, 1);
	ASSERT_OK(vmlet_sandbox_restore(w->kept));
	ASSERT_OK(vmlet_sandbox_call(w->kept, "scribble", args, 1, &r));
	EXPECT_EQ(r.u32, 1); /* the snapshot's page again */

	/* Fresh VMs from pools restoring both ways, and a host call on one. */
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < 10; i++) {
			args[0] = vmlet_i32(i);
			args[1] = vmlet_i32(p);
			ASSERT_OK(vmlet_pool_call(w->pool[p], "add", args, 2, &r, NULL, 0));
			EXPECT_EQ(r.i32, i + p);
			args[0] = vmlet_u32(16);
			ASSERT_OK(vmlet_pool_call(w->pool[p], "scribble", args, 1, &r, NULL, 0));
			EXPECT_EQ(r.u32, 1);
		}
		ASSERT_OK(vmlet_pool_acquire(w->pool[p], -1, &sb));
		EXPECT_EQ(chain(sb, "inc", 3, 1, &v), 0);
		EXPECT_EQ(v, 4);
		EXPECT_EQ(vmlet_sandbox_call(sb, "null_read", NULL, 0, &r), -VMLET_EEXCEPTION);
		ASSERT_OK(vmlet_pool_release(w->pool[p], sb)); /* revives it */
	}

	/* Destroy works on a confined thread too. */
	vmlet_sandbox_destroy(w->quiet);
	w->quiet = NULL;
}

/* The calls the filter refuses: -1 and EPERM each. */
static void refused(struct world *w)
{
	static const char msg1[] = "# written to fd 1 by a confined thread\n";
	static const char msg2[] = "# written to fd 2 by a confined thread\n";
	struct io_uring_params up = {0};
	char *argv[] = {"/bin/true", NULL};
	void *page;
	int one = 1;

#define EXPECT_EPERM(call)                                                                         \
	do {                                                                                       \
		errno = 0;                                                                         \
		EXPECT_EQ((long)(call), -1);                                                       \
		EXPECT_EQ(errno, EPERM);                                                           \
	} while (0)
#ifdef VMLET_SAN
	/* Sanitized builds let the runtime read files for its reports (lib/confine.c). */
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);

	EXPECT_GE(fd, 0);
	close(fd);
#else
	EXPECT_EPERM(open("/etc/hostname", O_RDONLY | O_CLOEXEC));
	EXPECT_EPERM(openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC));
#endif
	EXPECT_EPERM(open(w->path, O_WRONLY | O_CLOEXEC));
	EXPECT_EPERM(openat(AT_FDCWD, w->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	EXPECT_EPERM(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	EXPECT_EPERM(execve(argv[0], argv, environ));
	EXPECT_EPERM(ioctl(w->kvm, KVM_CREATE_VM, 0));
	EXPECT_EPERM(ioctl(w->kvm, KVM_GET_API_VERSION, 0));
	EXPECT_EPERM(ioctl(0, FIONBIO, &one));
	EXPECT_EPERM(syscall(SYS_io_uring_setup, 4, &up));
	EXPECT_EPERM(write(w->file, "x", 1));
	/* ftruncate to 0 only (a guest's O_TRUNC): never to grow or cut a file elsewhere. */
	EXPECT_EPERM(ftruncate(w->file, 4096));
	EXPECT_EPERM(ftruncate(w->file, 1));
	EXPECT_EPERM(
		(long)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	EXPECT_EPERM(syscall(SYS_fork));
	/* Memory without PROT_EXEC is the thread's; making it executable is not. */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_TRUE(page != MAP_FAILED);
	if (page != MAP_FAILED) {
		EXPECT_EPERM(mprotect(page, 4096, PROT_READ | PROT_EXEC));
		EXPECT_EQ(mprotect(page, 4096, PROT_READ), 0);
		EXPECT_EQ(munmap(page, 4096), 0);
	}
	/* Writes to fds 1 and 2 are allowed. */
	EXPECT_EQ(write(2, msg2, strlen(msg2)), (ssize_t)strlen(msg2));
	EXPECT_EQ(write(1, msg1, strlen(msg1)), (ssize_t)strlen(msg1));
#undef EXPECT_EPERM
}

static void *confined_main(void *arg)
{
	struct world *w = arg;
	int err = vmlet_thread_confine(w->flags);

	if (err) {
		ksft_fail_at("vmlet_thread_confine: %d (%s)", err, vmlet_strerror(err));
		return NULL;
	}
	EXPECT_EQ(vmlet_thread_confine(w->flags), -EALREADY);
	run_everything(w);
	refused(w);
	return NULL;
}

static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, arg)) {
		ksft_fail_at("pthread_create failed");
		return;
	}
	pthread_join(t, NULL);
}

TEST(confined_thread_runs_sandboxes_and_is_refused_the_rest)
{
	static struct world w;
	int fd, s;

	if (!setup(&w)) {
		w.flags = 0;
		in_thread(confined_main, &w);
		/* This thread is not confined. */
		fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		EXPECT_GE(fd, 0);
		close(fd);
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		EXPECT_GE(s, 0);
		close(s);
		EXPECT_GE(ioctl(w.kvm, KVM_GET_API_VERSION, 0), 12);
	}
	teardown(&w);
}

TEST(open_flag_lets_guests_open_beneath_granted_directories)
{
	static struct world w;

	if (!setup(&w)) {
		w.flags = VMLET_CONFINE_OPEN;
		in_thread(confined_main, &w);
	}
	teardown(&w);
}

struct stoppers {
	struct vmlet_sandbox *spin, *nap, *ask;
};

static void stoppers_run(struct stoppers *s)
{
	struct vmlet_value a = vmlet_u64(60000000000ULL), r;

	ASSERT_OK(vmlet_thread_confine(0));
	/* The deadline's timer is made here, on the confined thread. */
	EXPECT_EQ(vmlet_sandbox_call(s->spin, "spin", NULL, 0, NULL), -VMLET_ETIMEDOUT);
	EXPECT_EQ(vmlet_sandbox_call(s->nap, "nap", &a, 1, &r), -VMLET_ETIMEDOUT);
	EXPECT_EQ(vmlet_sandbox_call(s->ask, "ask", NULL, 0, &r), -VMLET_EINTR);
	ASSERT_OK(vmlet_sandbox_restore(s->ask));
	a = vmlet_u64(9);
	ASSERT_OK(vmlet_sandbox_call(s->ask, "turns", &a, 1, &r));
	EXPECT_EQ(r.u64, 9);
}

static void *stoppers_main(void *arg)
{
	stoppers_run(arg);
	return NULL;
}

TEST(deadlines_and_interrupts_work_on_a_confined_thread)
{
	struct vmlet_image *spin = test_image(GUEST("interrupt"));
	struct vmlet_image *nap = test_image(GUEST("hostcall"));
	struct vmlet_host_func fn = {
		.name = "stop",
		.ret = VMLET_VOID,
		.fn = test_interrupt,
		.flags = VMLET_HOST_INLINE,
	};
	struct vmlet_snapshot *snap;
	struct stoppers s;

	ASSERT_TRUE(spin && nap);
	s.spin = test_sandbox(spin, NULL);
	s.nap = test_sandbox(nap, NULL);
	ASSERT_OK(vmlet_snapshot_create(spin, NULL, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &s.ask));
	fn.ctx = s.ask;
	ASSERT_OK(vmlet_sandbox_add_host_func(s.ask, &fn));
	ASSERT_TRUE(s.spin && s.nap);
	ASSERT_OK(vmlet_sandbox_set_timeout(s.spin, 50000));
	ASSERT_OK(vmlet_sandbox_set_timeout(s.nap, 50000));
	in_thread(stoppers_main, &s);
	vmlet_sandbox_destroy(s.ask);
	vmlet_snapshot_destroy(snap);
	vmlet_sandbox_destroy(s.nap);
	vmlet_sandbox_destroy(s.spin);
	vmlet_image_close(nap);
	vmlet_image_close(spin);
}

TEST(bad_flags_are_refused_before_any_filter)
{
	int fd;

	EXPECT_EQ(vmlet_thread_confine(VMLET_CONFINE_KILL | VMLET_CONFINE_LOG), -EINVAL);
	EXPECT_EQ(vmlet_thread_confine(16), -EINVAL);
	fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	EXPECT_GE(fd, 0);
	close(fd);
}

/* This thread's seccomp mode, from /proc (2: a filter is installed), or -1. */
static int seccomp_mode(void)
{
	char path[64], line[128];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)gettid());
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	if (f)
		fclose(f);
	return mode;
}

struct log_arg {
	int fd, sock, mode;
};

static void *log_main(void *arg)
{
	struct log_arg *l = arg;

	if (vmlet_thread_confine(VMLET_CONFINE_LOG))
		return NULL;
	l->mode = seccomp_mode();
	l->fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	l->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return NULL;
}

/* LOG installs the filter (it is not a no-op) and lets the calls it would refuse through. */
TEST(log_mode_installs_the_filter_and_refuses_nothing)
{
	struct log_arg l = {-2, -2, -2};

	in_thread(log_main, &l);
	EXPECT_EQ(l.mode, 2);
	EXPECT_GE(l.fd, 0);
	EXPECT_GE(l.sock, 0);
	close(l.fd);
	close(l.sock);
}

static void *kill_main(void *arg)
{
	(void)arg;
	if (vmlet_thread_confine(VMLET_CONFINE_KILL))
		_exit(3);
	socket(AF_UNIX, SOCK_STREAM, 0);
	_exit(4); /* not reached: the socket() kills the process */
}

TEST(kill_mode_kills_the_process_with_sigsys)
{
	int status = 0;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		pthread_t t;

		pthread_create(&t, NULL, kill_main, NULL);
		pthread_join(t, NULL);
		_exit(5);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

/*
 * A guest's open beneath a granted directory on a thread confined with
 * VMLET_CONFINE_KILL and without VMLET_CONFINE_OPEN: -EPERM to the guest,
 * not SIGSYS for the process; and guest output with no print callback
 * does not kill it either. In a child of its own, as the kill would
 * take the test with it; the child makes its own sandboxes (a VM belongs
 * to the process that made it).
 */
static void *kill_open_main(void *arg)
{
	struct world *w = arg;
	struct vmlet_value a, r;
	char beneath[96];

	if (vmlet_thread_confine(VMLET_CONFINE_KILL))
		_exit(3);
	/* Output with no print callback, on a stdout stdio has not used yet. */
	a = vmlet_str("# printed by a thread confined with VMLET_CONFINE_KILL\n");
	if (vmlet_sandbox_call(w->quiet, "say", &a, 1, NULL))
		_exit(8);
	snprintf(beneath, sizeof(beneath), "/tmpdir/%s", w->path + strlen("/tmp/"));
	a = vmlet_str(beneath);
	if (vmlet_sandbox_call(w->cold, "read_path", &a, 1, &r))
		_exit(4);
	_exit(r.i64 == -EPERM ? 0 : 5);
}

TEST(kill_mode_answers_a_guest_open_with_eperm_and_lets_it_print)
{
	int status = 0;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static struct world w;
		pthread_t t;

		if (setup(&w))
			_exit(6);
		/* A stream stdio has never written: its first write would stat fd 1. */
		stdout = fdopen(dup(STDOUT_FILENO), "w");
		if (!stdout)
			_exit(9);
		pthread_create(&t, NULL, kill_open_main, &w);
		pthread_join(t, NULL);
		_exit(7);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status));
	if (WIFSIGNALED(status))
		printf("# the child was killed by signal %d\n", WTERMSIG(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

struct create_arg {
	struct vmlet_snapshot *snap;
	unsigned int flags;
	int err;
	int32_t sum;
};

static void *create_main(void *arg)
{
	struct create_arg *c = arg;
	struct vmlet_value args[2] = {vmlet_i32(40), vmlet_i32(2)}, r;
	struct vmlet_sandbox *sb;

	c->err = vmlet_thread_confine(c->flags);
	if (c->err)
		return NULL;
	c->err = vmlet_sandbox_create_from(c->snap, &sb);
	if (c->err)
		return NULL;
	c->err = vmlet_sandbox_call(sb, "add", args, 2, &r);
	c->sum = r.i32;
	vmlet_sandbox_destroy(sb);
	return NULL;
}

TEST(create_from_needs_the_create_flag)
{
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct create_arg c = {0};

	if (!img)
		return;
	ASSERT_OK(vmlet_snapshot_create(img, NULL, &c.snap));
	in_thread(create_main, &c);
	EXPECT_EQ(c.err, -EPERM); /* mapping the snapshot's memfd */
	c.flags = VMLET_CONFINE_CREATE;
	in_thread(create_main, &c);
	EXPECT_EQ(c.err, 0);
	EXPECT_EQ(c.sum, 42);
	vmlet_snapshot_destroy(c.snap);
	vmlet_image_close(img);
}

/*
 * The confined thread's io_uring is restricted to what host calls use
 * (lib/hostcall.c): an operation outside that list submitted on it, by
 * the thread itself (the ring is single-issuer), completes with -EACCES.
 * This thread finds the ring (the io_uring descriptor the confined thread
 * added), maps it and writes the SQE; the confined thread submits it.
 */
struct ring_probe {
	struct vmlet_sandbox *sb;
	_Atomic uint32_t stage; /* 1: confined and ring used, 2: SQE placed, 3: submitted */
	int fd, err;
	long submitted;
};

static void stage_set(struct ring_probe *r, uint32_t v)
{
	atomic_store(&r->stage, v);
	syscall(SYS_futex, &r->stage, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void stage_wait(struct ring_probe *r, uint32_t v)
{
	uint32_t cur;

	while ((cur = atomic_load(&r->stage)) != v)
		syscall(SYS_futex, &r->stage, FUTEX_WAIT_PRIVATE, cur, NULL, NULL, 0);
}

static void *ring_main(void *arg)
{
	struct ring_probe *r = arg;
	uint64_t v = 0;

	r->err = vmlet_thread_confine(0);
	if (!r->err)
		r->err = chain(r->sb, "inc", 3, 0, &v); /* the ring in use */
	if (!r->err && v != 3)
		r->err = -EPROTO;
	stage_set(r, 1);
	if (r->err)
		return NULL;
	stage_wait(r, 2);
	r->submitted = syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	stage_set(r, 3);
	return NULL;
}

struct ring_map {
	uint8_t *ring, *sqes;
	size_t ring_len, sqes_len;
	uint32_t *ktail, *mask, *array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

/* Map the ring behind fd; p: the offsets of a ring of this kernel (they do not vary). */
static int ring_map(int fd, const struct io_uring_params *p, struct ring_map *m)
{
	uint32_t sq_entries, cq_entries;
	size_t array_off;
	uint8_t *hdr;

	hdr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, IORING_OFF_SQ_RING);
	if (hdr == MAP_FAILED)
		return -errno;
	sq_entries = *(uint32_t *)(hdr + p->sq_off.ring_entries);
	cq_entries = *(uint32_t *)(hdr + p->cq_off.ring_entries);
	munmap(hdr, 4096);
	/* The SQ array follows the CQEs, cacheline-aligned (io_uring's rings_size()). */
	array_off = (p->cq_off.cqes + cq_entries * sizeof(struct io_uring_cqe) + 63) & ~(size_t)63;
	m->ring_len = array_off + sq_entries * sizeof(uint32_t);
	m->sqes_len = sq_entries * sizeof(struct io_uring_sqe);
	m->ring =
		mmap(NULL, m->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQ_RING);
	if (m->ring == MAP_FAILED)
		return -errno;
	m->sqes = mmap(NULL, m->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQES);
	if (m->sqes == MAP_FAILED) {
		munmap(m->ring, m->ring_len);
		return -errno;
	}
	m->ktail = (uint32_t *)(m->ring + p->sq_off.tail);
	m->mask = (uint32_t *)(m->ring + p->sq_off.ring_mask);
	m->array = (uint32_t *)(m->ring + array_off);
	m->cq_head = (uint32_t *)(m->ring + p->cq_off.head);
	m->cq_tail = (uint32_t *)(m->ring + p->cq_off.tail);
	m->cq_mask = (uint32_t *)(m->ring + p->cq_off.ring_mask);
	m->cqes = (struct io_uring_cqe *)(m->ring + p->cq_off.cqes);
	return 0;
}

#define PROBE_DATA 0x5a5a0000feedULL

/* Queue a NOP (no submit) on a mapped ring. */
static void queue_nop(struct ring_map *m)
{
	uint32_t tail = atomic_load_explicit((_Atomic uint32_t *)m->ktail, memory_order_acquire);
	uint32_t idx = tail & *m->mask;
	struct io_uring_sqe *sqe = (struct io_uring_sqe *)m->sqes + idx;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = PROBE_DATA;
	m->array[idx] = idx;
	atomic_store_explicit((_Atomic uint32_t *)m->ktail, tail + 1, memory_order_release);
}

/* The result of the NOP's completion, or 1 when there is none. */
static int nop_result(struct ring_map *m)
{
	uint32_t head = *m->cq_head;
	uint32_t tail = atomic_load_explicit((_Atomic uint32_t *)m->cq_tail, memory_order_acquire);

	for (; head != tail; head++) {
		struct io_uring_cqe *c = &m->cqes[head & *m->cq_mask];

		if (c->user_data == PROBE_DATA) {
			atomic_store_explicit((_Atomic uint32_t *)m->cq_head, head + 1,
					      memory_order_release);
			return c->res;
		}
	}
	return 1;
}

TEST(the_confined_threads_ring_refuses_operations_host_calls_do_not_use)
{
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = funcs, .nhost_funcs = 2};
	struct ring_probe r = {.fd = -1};
	struct io_uring_params p = {0};
	struct ring_map m, mp;
	int before[64], after[64], nb, na, probe;
	pthread_t t;

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_host_create(1, &cfg.host));
	r.sb = test_sandbox(img, &cfg);
	ASSERT_TRUE(r.sb);
	/* A ring of our own: this kernel's offsets, and a NOP that works. */
	probe = (int)syscall(SYS_io_uring_setup, 4, &p);
	ASSERT_GE(probe, 0);
	ASSERT_TRUE(p.features & IORING_FEAT_SINGLE_MMAP);
	ASSERT_EQ(ring_map(probe, &p, &mp), 0);
	queue_nop(&mp);
	ASSERT_EQ(syscall(SYS_io_uring_enter, probe, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0), 1);
	EXPECT_EQ(nop_result(&mp), 0);

	nb = kvm_fds("anon_inode:[io_uring]", before, 64);
	ASSERT_GE(nb, 1);
	ASSERT_LT(nb, 65);
	ASSERT_EQ(pthread_create(&t, NULL, ring_main, &r), 0);
	stage_wait(&r, 1);
	if (r.err) {
		pthread_join(t, NULL);
		ksft_fail_at("confined thread: %d (%s)", r.err, vmlet_strerror(r.err));
		return;
	}
	na = kvm_fds("anon_inode:[io_uring]", after, 64);
	for (int i = 0; i < na && i < 64; i++) {
		bool old = false;

		for (int j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old) {
			EXPECT_EQ(r.fd, -1); /* one new ring only */
			r.fd = after[i];
		}
	}
	if (r.fd < 0 || ring_map(r.fd, &p, &m)) {
		ksft_fail_at("no new io_uring descriptor from the confined thread (%d, %d)", nb,
			     na);
		r.fd = -1;
		stage_set(&r, 2);
		pthread_join(t, NULL);
		return;
	}
	queue_nop(&m);
	stage_set(&r, 2);
	stage_wait(&r, 3);
	pthread_join(t, NULL);
	EXPECT_EQ(r.submitted, 1);
	EXPECT_EQ(nop_result(&m), -EACCES);

	close(probe);
	vmlet_sandbox_destroy(r.sb);
	vmlet_host_destroy(cfg.host);
	vmlet_image_close(img);
}

/* Threads of this process whose seccomp mode (/proc status "Seccomp:") is 2. */
static int filtered_threads(void)
{
	struct dirent *e;
	char path[300], line[128];
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strcmp(line, "Seccomp:\t2\n"))
				n++;
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

TEST(pools_confine_their_refill_thread)
{
	struct vmlet_pool_config pc = {
		.sz = sizeof(pc), .size = 2, .min_ready = 1, .low_water = 2, .timeout_ms = -1};
	struct vmlet_image *img = test_image(GUEST("limits"));
	struct vmlet_sandbox *a, *b;
	struct vmlet_pool_stats st;
	struct vmlet_pool *pool;

	if (!img)
		return;
	EXPECT_EQ(filtered_threads(), 0);
	ASSERT_OK(vmlet_pool_create(img, NULL, &pc, &pool));
	EXPECT_EQ(filtered_threads(), 1);
	/* The second sandbox can only come from the (confined) refill thread. */
	ASSERT_OK(vmlet_pool_acquire(pool, -1, &a));
	ASSERT_OK(vmlet_pool_acquire(pool, -1, &b));
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.created, 2);
	ASSERT_OK(vmlet_pool_release(pool, a));
	ASSERT_OK(vmlet_pool_release(pool, b));
	ASSERT_OK(vmlet_pool_destroy(pool));
	EXPECT_EQ(filtered_threads(), 0);

	pc.flags = VMLET_POOL_UNCONFINED;
	ASSERT_OK(vmlet_pool_create(img, NULL, &pc, &pool));
	EXPECT_EQ(filtered_threads(), 0);
	ASSERT_OK(vmlet_pool_destroy(pool));
	pc.flags = 2;
	EXPECT_EQ(vmlet_pool_create(img, NULL, &pc, &pool), -EINVAL);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
