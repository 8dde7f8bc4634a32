// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench: vmlet against the raw KVM floor, measured in the same run.
 *
 * The floor is a hand-written guest of two real-mode instructions
 * (`1: out %al, $0x10; jmp 1b`) on a bare VM: one KVM_RUN per round trip,
 * the least any hypercall can cost. vmlet's warm call of the demo guest's
 * add() is compared against it, and so is creating a sandbox against
 * creating the bare VM.
 *
 * Times vary; counts do not. The counts come from kernel tracepoints read
 * with counting perf events on this thread (kvm:kvm_userspace_exit,
 * kvm:kvm_emulate_insn where KVM emulates guest code, raw_syscalls:
 * sys_enter) and from vmlet's single-step counter.
 *
 * Pools and snapshots: pool acquire, a fresh-VM call end to end (acquire,
 * call, restore, release), restore after a call that dirtied 1, 16 or 256
 * pages of the state guest under each restore method and backing, and
 * the memory an idle pooled sandbox costs (PSS of 100 pooled sandboxes).
 *
 * Tracing: the warm and the fresh-VM call again with no tracer, with
 * `vmlet-trace latency` attached and with `vmlet-trace calls` streaming
 * (to /dev/null), each on this process; the overhead is the ratio of
 * p50s and of means against no tracer. `bench IMAGE tracing` runs only
 * that part.
 *
 * seccomp: the warm and the fresh-VM call, and a bare system call
 * (gettid), on a thread without and with vmlet_thread_confine()'s filter,
 * in turn (without, with, without again, to show the drift). `bench
 * IMAGE seccomp` runs only that part.
 *
 * Not a test: it prints figures and never fails on time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#define CALLS 2000
#define CREATES 20
#define COUNT_CALLS 100
#define RESTORES 200
#define DENSITY 100

struct floor_vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	void *mem;
};

struct stats {
	double min, p50, p99, mean;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct stats stats(uint64_t *ns, int n)
{
	struct stats s;
	double sum = 0;

	qsort(ns, (size_t)n, sizeof(*ns), cmp);
	for (int i = 0; i < n; i++)
		sum += (double)ns[i];
	s.min = ns[0] / 1e3;
	s.p50 = ns[n / 2] / 1e3;
	s.p99 = ns[n * 99 / 100] / 1e3;
	s.mean = sum / n / 1e3;
	return s;
}

static void row(const char *name, struct stats s, double floor)
{
	printf("  %-34s %10.2f %10.2f %10.2f", name, s.min, s.p50, s.p99);
	if (floor > 0)
		printf(" %9.2fx", s.p50 / floor);
	printf("\n");
}

static int floor_create(struct floor_vm *f)
{
	static const uint8_t code[] = { 0xe6, 0x10, 0xeb, 0xfc }; /* 1: out; jmp 1b */
	struct kvm_userspace_memory_region r;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };

	f->vm = ioctl(f->kvm, KVM_CREATE_VM, 0);
	if (f->vm < 0)
		return -errno;
	f->mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memcpy((uint8_t *)f->mem + 0x1000, code, sizeof(code));
	r = (struct kvm_userspace_memory_region){ .slot = 0, .memory_size = 0x2000,
						  .userspace_addr = (uintptr_t)f->mem };
	if (ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	if (f->vcpu < 0)
		return -errno;
	f->run_size = (size_t)ioctl(f->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
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

static void floor_destroy(struct floor_vm *f)
{
	munmap(f->run, f->run_size);
	munmap(f->mem, 0x2000);
	close(f->vcpu);
	close(f->vm);
}

static int floor_trip(struct floor_vm *f)
{
	if (ioctl(f->vcpu, KVM_RUN, 0) < 0)
		return -errno;
	return f->run->exit_reason == KVM_EXIT_IO ? 0 : -EIO;
}

/* A counting perf event on a tracepoint, for this thread only. */
static int tp_open(const char *event)
{
	struct perf_event_attr a = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(a) };
	char path[256], buf[32];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/id", event);
	f = fopen(path, "r");
	if (!f) {
		mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
		f = fopen(path, "r");
	}
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	a.config = strtoull(buf, NULL, 10);
	a.disabled = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

enum { EV_EXIT, EV_INSN, EV_SYSCALL, NEV };
static const char *const ev_names[NEV] = {
	"kvm/kvm_userspace_exit", "kvm/kvm_emulate_insn", "raw_syscalls/sys_enter",
};
static int ev_fd[NEV];

static void ev_start(void)
{
	for (int i = 0; i < NEV; i++) {
		if (ev_fd[i] < 0)
			continue;
		ioctl(ev_fd[i], PERF_EVENT_IOC_RESET, 0);
		ioctl(ev_fd[i], PERF_EVENT_IOC_ENABLE, 0);
	}
}

static uint64_t ev_base[NEV]; /* what starting and stopping alone count */

static void ev_stop(uint64_t *out)
{
	for (int i = 0; i < NEV; i++) {
		out[i] = 0;
		if (ev_fd[i] < 0)
			continue;
		ioctl(ev_fd[i], PERF_EVENT_IOC_DISABLE, 0);
		if (read(ev_fd[i], &out[i], sizeof(out[i])) != sizeof(out[i]))
			out[i] = 0;
		out[i] = out[i] > ev_base[i] ? out[i] - ev_base[i] : 0;
	}
}

static void counts_row(const char *name, const uint64_t *c, int n)
{
	printf("  %-34s", name);
	for (int i = 0; i < NEV; i++) {
		if (ev_fd[i] < 0)
			printf(" %12s", "n/a");
		else
			printf(" %12.2f", (double)c[i] / n);
	}
	printf("\n");
}

static long pss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Restore cost after touch(n) on a sandbox of the state guest. */
static void bench_restore(struct vmlet_image *img, enum vmlet_backing backing,
			  enum vmlet_restore method, double floor)
{
	static const uint32_t dirty[] = {1, 16, 256};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .backing = backing, .restore = method};
	static uint64_t ns[RESTORES];
	struct vmlet_snapshot *snap;
	struct vmlet_sandbox *sb;
	char name[64];
	int err;

	err = vmlet_snapshot_create(img, &cfg, &snap);
	if (!err) {
		err = vmlet_sandbox_create_from(snap, &sb);
		if (err)
			vmlet_snapshot_destroy(snap);
	}
	if (err) {
		printf("  restore, %s: %s\n", vmlet_backing_name(backing), vmlet_strerror(err));
		return;
	}
	for (unsigned int d = 0; d < sizeof(dirty) / sizeof(dirty[0]); d++) {
		struct vmlet_value a = vmlet_u32(dirty[d]);

		for (int i = 0; i < RESTORES; i++) {
			uint64_t t;

			err = vmlet_sandbox_call(sb, "touch", &a, 1, NULL);
			t = now_ns();
			err = err ? err : vmlet_sandbox_restore(sb);
			ns[i] = now_ns() - t;
			if (err) {
				printf("  restore: %s\n", vmlet_strerror(err));
				goto out;
			}
		}
		snprintf(name, sizeof(name), "restore %s %s, %3u pages",
			 method == VMLET_RESTORE_COPY ? "copy" : "drop",
			 backing == VMLET_BACKING_HUGETLB ? "2M" : "4K", dirty[d]);
		row(name, stats(ns, RESTORES), floor);
	}
out:
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
}

static const enum vmlet_restore methods[2] = {VMLET_RESTORE_DROP, VMLET_RESTORE_COPY};

static void bench_pools(struct vmlet_image *demo, const char *state_path, double floor)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	static uint64_t ns[CALLS];
	struct vmlet_sandbox *sb;
	struct vmlet_image *state;
	struct vmlet_pool *pool;
	long pss0, pss1;
	uint64_t t;
	int err;

	for (int m = 0; m < 2; m++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = methods[m]};
		char name[64];

		err = vmlet_pool_create(demo, &cfg, &pc, &pool);
		if (err) {
			fprintf(stderr, "bench: pool: %s\n", vmlet_strerror(err));
			return;
		}
		for (int i = 0; i < CALLS && !m; i++) {
			t = now_ns();
			err = vmlet_pool_acquire(pool, 0, &sb);
			ns[i] = now_ns() - t;
			if (!err)
				err = vmlet_pool_release(pool, sb);
			if (err) {
				fprintf(stderr, "bench: acquire: %s\n", vmlet_strerror(err));
				return;
			}
		}
		if (!m)
			row("vmlet: pool acquire", stats(ns, CALLS), floor);
		for (int i = 0; i < CALLS; i++) {
			t = now_ns();
			err = vmlet_pool_call(pool, "add", args, 2, &r, NULL, 0);
			ns[i] = now_ns() - t;
			if (err || r.i32 != 3) {
				fprintf(stderr, "bench: fresh add: %s\n", vmlet_strerror(err));
				return;
			}
		}
		snprintf(name, sizeof(name), "vmlet: fresh-VM call add, %s", m ? "copy" : "drop");
		row(name, stats(ns, CALLS), floor);
		vmlet_pool_destroy(pool);
	}

	err = vmlet_image_open(state_path, &state);
	if (err) {
		fprintf(stderr, "bench: %s: %s\n", state_path, vmlet_strerror(err));
		return;
	}
	bench_restore(state, VMLET_BACKING_4K, VMLET_RESTORE_DROP, floor);
	bench_restore(state, VMLET_BACKING_4K, VMLET_RESTORE_COPY, floor);
	bench_restore(state, VMLET_BACKING_HUGETLB, VMLET_RESTORE_DROP, floor);
	bench_restore(state, VMLET_BACKING_HUGETLB, VMLET_RESTORE_COPY, floor);
	vmlet_image_close(state);

	pc.size = DENSITY;
	pss0 = pss_kib();
	err = vmlet_pool_create(demo, NULL, &pc, &pool);
	pss1 = pss_kib();
	if (err) {
		fprintf(stderr, "bench: pool of %d: %s\n", DENSITY, vmlet_strerror(err));
		return;
	}
	printf("\nmemory per idle pooled sandbox (PSS, %d pooled): %.1f KiB (target < 256)\n",
	       DENSITY, (double)(pss1 - pss0) / DENSITY);
	vmlet_pool_destroy(pool);
}

static int bench_add1(void *ctx, const struct vmlet_value *a, unsigned int n,
		      struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	r->u64 = a[0].u64 + 1;
	return 0;
}

static const struct vmlet_host_func bench_funcs[] = {
	{.name = "add1", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = bench_add1},
	{.name = "add1_in", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = bench_add1,
	 .flags = VMLET_HOST_INLINE},
};

#define CHAIN 200

/* Time one guest call making n host calls of fn; ns, or 0 on failure. */
static uint64_t chain_ns(struct vmlet_sandbox *sb, const char *fn, uint32_t n)
{
	struct vmlet_value args[3] = {vmlet_str(fn), vmlet_u32(n), vmlet_u64(0)}, r;
	uint64_t t = now_ns();

	if (vmlet_sandbox_call(sb, "chain", args, 3, &r) || r.u64 != n)
		return 0;
	return now_ns() - t;
}

struct tput {
	struct vmlet_image *img;
	const struct vmlet_config *cfg;
	uint64_t calls, deadline;
};

static void *tput_main(void *arg)
{
	struct tput *t = arg;
	struct vmlet_sandbox *sb;

	if (vmlet_sandbox_create(t->img, t->cfg, &sb))
		return NULL;
	while (now_ns() < t->deadline && chain_ns(sb, "add1", 50))
		t->calls += 50;
	vmlet_sandbox_destroy(sb);
	return NULL;
}

static void bench_hostcalls(const char *path, double floor)
{
	static const int conc[] = {1, 2, 8};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = bench_funcs, .nhost_funcs = 2};
	static uint64_t ns[RESTORES];
	struct vmlet_sandbox *sb;
	struct vmlet_image *img;
	struct stats svc, in;
	char tmp[] = "/tmp/vmlet-bench-XXXXXX";
	static char hostbuf[1 << 20], dst[1 << 20];
	int fd, err;

	if (vmlet_image_open(path, &img) || vmlet_host_create(2, &cfg.host))
		return;
	err = vmlet_sandbox_create(img, &cfg, &sb);
	if (err) {
		fprintf(stderr, "bench: %s: %s\n", path, vmlet_strerror(err));
		return;
	}
	for (int i = 0; i < RESTORES; i++)
		ns[i] = chain_ns(sb, "add1", CHAIN) / CHAIN;
	svc = stats(ns, RESTORES);
	for (int i = 0; i < RESTORES; i++)
		ns[i] = chain_ns(sb, "add1_in", CHAIN) / CHAIN;
	in = stats(ns, RESTORES);
	printf("\nhost calls (us per host call, %d per guest call)\n", CHAIN);
	row("host call, inline", in, floor);
	row("host call, io_uring service", svc, floor);
	printf("  service overhead over inline: %.2f us (p50)\n", svc.p50 - in.p50);

	for (unsigned int c = 0; c < sizeof(conc) / sizeof(conc[0]); c++) {
		struct tput t[8];
		pthread_t th[8];
		uint64_t total = 0, t0 = now_ns(), dl = t0 + 2000000000ULL;

		for (int i = 0; i < conc[c]; i++) {
			t[i] = (struct tput){.img = img, .cfg = &cfg, .deadline = dl};
			pthread_create(&th[i], NULL, tput_main, &t[i]);
		}
		for (int i = 0; i < conc[c]; i++) {
			pthread_join(th[i], NULL);
			total += t[i].calls;
		}
		printf("  throughput, %d sandbox%s: %.0f host calls/s (service)\n", conc[c],
		       conc[c] > 1 ? "es" : "", total / ((now_ns() - t0) / 1e9));
	}

	fd = mkstemp(tmp);
	if (fd >= 0 && write(fd, hostbuf, sizeof(hostbuf)) == (ssize_t)sizeof(hostbuf) &&
	    !vmlet_sandbox_grant_fd(sb, 3, fd, VMLET_GRANT_READ, NULL)) {
		struct vmlet_value args[3] = {vmlet_i32(3), vmlet_u64(sizeof(hostbuf)),
					      vmlet_u64(0)}, r;

		for (int i = 0; i < 50; i++) {
			uint64_t t = now_ns();

			if (vmlet_sandbox_call(sb, "pread_big", args, 3, &r) ||
			    r.i64 != (int64_t)sizeof(hostbuf))
				break;
			ns[i] = now_ns() - t;
		}
		svc = stats(ns, 50);
		for (int i = 0; i < 50; i++) {
			uint64_t t = now_ns();

			if (pread(fd, hostbuf, sizeof(hostbuf), 0) != (ssize_t)sizeof(hostbuf))
				break;
			memcpy(dst, hostbuf, sizeof(dst));
			ns[i] = now_ns() - t;
		}
		in = stats(ns, 50);
		printf("\n1 MiB file read (us)                   min        p50        p99\n");
		row("guest pread, zero-copy (whole call)", svc, 0);
		row("host pread + memcpy", in, 0);
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	vmlet_sandbox_destroy(sb);
	vmlet_host_destroy(cfg.host);
	vmlet_image_close(img);
}

/* Start vmlet-trace MODE on this process; its pid once attached, or -1. */
static pid_t tracer_start(const char *mode)
{
	char pid[16], c, line[512];
	size_t n = 0;
	int err[2], null;
	pid_t t;

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (pipe(err))
		return -1;
	t = fork();
	if (t == 0) {
		null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(err[1], 2);
		execl(VMLET_TRACE, VMLET_TRACE, mode, "-p", pid, (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	while (t > 0 && read(err[0], &c, 1) == 1) {
		if (c != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = c;
			continue;
		}
		line[n] = '\0';
		if (!strncmp(line, "Tracing ", 8)) {
			close(err[0]);
			return t;
		}
		fprintf(stderr, "bench: vmlet-trace: %s\n", line);
		n = 0;
	}
	close(err[0]);
	if (t > 0)
		waitpid(t, NULL, 0);
	return -1;
}

static void tracer_stop(pid_t t)
{
	kill(t, SIGINT);
	waitpid(t, NULL, 0);
}

static void bench_tracing(struct vmlet_image *img)
{
	static const char *const modes[] = {NULL, "latency", "calls"};
	static const char *const names[] = {"no tracer", "latency attached", "calls streaming"};
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	static uint64_t ns[CALLS];
	struct stats base[2] = {0}, s;
	struct vmlet_sandbox *sb;
	struct vmlet_pool *pool;
	int err;

	if (vmlet_sandbox_create(img, NULL, &sb)) {
		fprintf(stderr, "bench: tracing: cannot create a sandbox\n");
		return;
	}
	if (vmlet_pool_create(img, NULL, &pc, &pool)) {
		fprintf(stderr, "bench: tracing: cannot create a pool\n");
		vmlet_sandbox_destroy(sb);
		return;
	}
	printf("\ntracing overhead (us)                  p50       mean  p50 ratio mean ratio\n");
	for (int m = 0; m < 3; m++) {
		pid_t t = -1;

		if (modes[m] && (t = tracer_start(modes[m])) < 0) {
			printf("  vmlet-trace %s: cannot attach (not root, or no BPF)\n", modes[m]);
			continue;
		}
		for (int k = 0; k < 2; k++) {
			int n = k ? CALLS / 4 : CALLS;
			char name[64];

			for (int i = 0; i < 100 && !k; i++)
				vmlet_sandbox_call(sb, "add", args, 2, &r);
			for (int i = 0; i < n; i++) {
				uint64_t t0 = now_ns();

				err = k ? vmlet_pool_call(pool, "add", args, 2, &r, NULL, 0)
					: vmlet_sandbox_call(sb, "add", args, 2, &r);
				ns[i] = now_ns() - t0;
				if (err) {
					fprintf(stderr, "bench: tracing: %s\n", vmlet_strerror(err));
					break;
				}
			}
			s = stats(ns, n);
			if (!m)
				base[k] = s;
			snprintf(name, sizeof(name), "%s, %s", k ? "fresh-VM call" : "warm call",
				 names[m]);
			printf("  %-34s %10.2f %10.2f %10.3f %10.3f\n", name, s.p50, s.mean,
			       s.p50 / base[k].p50, s.mean / base[k].mean);
		}
		if (t > 0)
			tracer_stop(t);
	}
	vmlet_pool_destroy(pool);
	vmlet_sandbox_destroy(sb);
}

struct seccomp_run {
	struct vmlet_sandbox *sb;
	struct vmlet_pool *pool;
	int confine;
	struct stats warm, fresh, sys;
	int err;
};

static void *seccomp_main(void *arg)
{
	struct seccomp_run *sr = arg;
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	static uint64_t ns[CALLS];

	sr->err = sr->confine ? vmlet_thread_confine(0) : 0;
	if (sr->err)
		return NULL;
	for (int i = 0; i < 100; i++)
		vmlet_sandbox_call(sr->sb, "add", args, 2, &r);
	for (int i = 0; i < CALLS && !sr->err; i++) {
		uint64_t t = now_ns();

		sr->err = vmlet_sandbox_call(sr->sb, "add", args, 2, &r);
		ns[i] = now_ns() - t;
	}
	sr->warm = stats(ns, CALLS);
	for (int i = 0; i < CALLS / 4 && !sr->err; i++) {
		uint64_t t = now_ns();

		sr->err = vmlet_pool_call(sr->pool, "add", args, 2, &r, NULL, 0);
		ns[i] = now_ns() - t;
	}
	sr->fresh = stats(ns, CALLS / 4);
	for (int i = 0; i < CALLS; i++) {
		uint64_t t = now_ns();

		syscall(SYS_gettid);
		ns[i] = now_ns() - t;
	}
	sr->sys = stats(ns, CALLS);
	return NULL;
}

static void bench_seccomp(struct vmlet_image *img)
{
	static const char *const names[] = {"without filter", "with filter", "without, again"};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct seccomp_run runs[3] = {0};

	if (vmlet_sandbox_create(img, NULL, &runs[0].sb)) {
		fprintf(stderr, "bench: seccomp: cannot create a sandbox\n");
		return;
	}
	if (vmlet_pool_create(img, NULL, &pc, &runs[0].pool)) {
		fprintf(stderr, "bench: seccomp: cannot create a pool\n");
		vmlet_sandbox_destroy(runs[0].sb);
		return;
	}
	printf("\nseccomp (vmlet_thread_confine), p50 / mean (us)  warm call     fresh-VM call"
	       "     gettid()\n");
	for (int m = 0; m < 3; m++) {
		pthread_t t;

		runs[m].sb = runs[0].sb;
		runs[m].pool = runs[0].pool;
		runs[m].confine = m == 1;
		if (pthread_create(&t, NULL, seccomp_main, &runs[m]))
			break;
		pthread_join(t, NULL);
		if (runs[m].err) {
			printf("  %-16s failed: %s\n", names[m], vmlet_strerror(runs[m].err));
			continue;
		}
		printf("  %-30s %7.2f / %7.2f %7.2f / %7.2f %5.3f / %5.3f\n", names[m],
		       runs[m].warm.p50, runs[m].warm.mean, runs[m].fresh.p50, runs[m].fresh.mean,
		       runs[m].sys.p50, runs[m].sys.mean);
	}
	if (!runs[0].err && !runs[1].err)
		printf("  with/without (p50): warm call %.3fx, fresh-VM call %.3fx, gettid %.3fx\n",
		       runs[1].warm.p50 / runs[0].warm.p50, runs[1].fresh.p50 / runs[0].fresh.p50,
		       runs[1].sys.p50 / runs[0].sys.p50);
	vmlet_pool_destroy(runs[0].pool);
	vmlet_sandbox_destroy(runs[0].sb);
}

int main(int argc, char **argv)
{
	const char *image = argc > 1 ? argv[1] : DEMO_ELF;
	static uint64_t ns[CALLS];
	struct vmlet_value args[2] = { vmlet_i32(1), vmlet_i32(2) }, r;
	struct vmlet_sandbox *sb;
	struct vmlet_image *img;
	struct vmlet_platform plat;
	struct floor_vm f = { 0 };
	struct stats floor_trip_s, floor_create_s, s;
	uint64_t c[NEV], t;
	int err, add;

	err = vmlet_platform_query(&plat);
	if (err) {
		fprintf(stderr, "bench: KVM unavailable: %s\n", vmlet_strerror(err));
		return 1;
	}
	err = vmlet_image_open(image, &img);
	if (err) {
		fprintf(stderr, "bench: %s: %s\n", image, vmlet_strerror(err));
		return 1;
	}
	if (argc > 2 && !strcmp(argv[2], "tracing")) {
		bench_tracing(img);
		vmlet_image_close(img);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "seccomp")) {
		bench_seccomp(img);
		vmlet_image_close(img);
		return 0;
	}
	printf("vmlet bench: %s, KVM API %d, %s%s, backing %s\n", plat.vendor, plat.api_version,
	       plat.emulated ? "guest code emulated by KVM" : "guest code native",
	       plat.nested ? ", nested" : "", vmlet_backing_name(plat.backing));
	if (plat.emulated)
		printf("note: this KVM executes guest instructions in software, so guest-side time is\n"
		       "far slower than on hardware; host-side costs (exits, syscalls) are real.\n");
	for (int i = 0; i < NEV; i++)
		ev_fd[i] = tp_open(ev_names[i]);
	ev_start();
	ev_stop(ev_base);

	/* Floor: bare VM creation, and one out round trip. */
	f.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < CREATES; i++) {
		t = now_ns();
		err = floor_create(&f);
		ns[i] = now_ns() - t;
		if (err) {
			fprintf(stderr, "bench: floor VM: %s\n", strerror(-err));
			return 1;
		}
		if (i < CREATES - 1)
			floor_destroy(&f);
	}
	floor_create_s = stats(ns, CREATES);
	for (int i = 0; i < 100; i++)
		floor_trip(&f);
	for (int i = 0; i < CALLS; i++) {
		t = now_ns();
		floor_trip(&f);
		ns[i] = now_ns() - t;
	}
	floor_trip_s = stats(ns, CALLS);
	ev_start();
	for (int i = 0; i < COUNT_CALLS; i++)
		floor_trip(&f);
	ev_stop(c);
	uint64_t floor_counts[NEV];
	memcpy(floor_counts, c, sizeof(c));

	/* vmlet: create (boot to the ready point), then warm calls of add. */
	for (int i = 0; i < CREATES; i++) {
		t = now_ns();
		err = vmlet_sandbox_create(img, NULL, &sb);
		ns[i] = now_ns() - t;
		if (err) {
			fprintf(stderr, "bench: create: %s\n", vmlet_strerror(err));
			return 1;
		}
		if (i < CREATES - 1)
			vmlet_sandbox_destroy(sb);
	}
	s = stats(ns, CREATES);
	add = vmlet_sandbox_func(sb, "add");
	if (add < 0) {
		fprintf(stderr, "bench: %s has no add()\n", image);
		return 1;
	}

	printf("\nlatency (us)                           min        p50        p99  vs floor\n");
	row("floor: create VM+vCPU+memslot", floor_create_s, 0);
	row("vmlet: create sandbox (to ready)", s, floor_create_s.p50);
	row("floor: out round trip (KVM_RUN)", floor_trip_s, 0);
	for (int i = 0; i < 100; i++)
		vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r);
	for (int i = 0; i < CALLS; i++) {
		t = now_ns();
		err = vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r);
		ns[i] = now_ns() - t;
		if (err || r.i32 != 3) {
			fprintf(stderr, "bench: add: %s\n", vmlet_strerror(err));
			return 1;
		}
	}
	row("vmlet: warm call add(1, 2)", stats(ns, CALLS), floor_trip_s.p50);
	bench_pools(img, STATE_ELF, floor_trip_s.p50);
	bench_hostcalls(HOSTCALL_ELF, floor_trip_s.p50);

	printf("\nper call                          %12s %12s %12s\n", "KVM exits", "guest insns",
	       "syscalls");
	counts_row("floor: out round trip", floor_counts, COUNT_CALLS);
	ev_start();
	for (int i = 0; i < COUNT_CALLS; i++)
		vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r);
	ev_stop(c);
	counts_row("vmlet: warm call add(1, 2)", c, COUNT_CALLS);
	if (ev_fd[EV_INSN] >= 0 && !c[EV_INSN])
		printf("  (kvm_emulate_insn did not fire: this KVM runs guest code natively)\n");

	if (!vmlet_sandbox_count_insns(sb, true)) {
		vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r);
		printf("  guest instructions, single-step count: %" PRIu64 " (target < 150)\n",
		       vmlet_sandbox_insns(sb));
		vmlet_sandbox_count_insns(sb, false);
	}
	vmlet_sandbox_destroy(sb);
	bench_seccomp(img);
	bench_tracing(img);
	vmlet_image_close(img);
	floor_destroy(&f);
	close(f.kvm);
	return 0;
}
