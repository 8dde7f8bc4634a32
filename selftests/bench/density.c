// SPDX-License-Identifier: BSD-2-Clause
/*
 * Density: what an idle instance costs, and so how many fit in a GiB.
 *
 * - vmlet: a pool of N ready sandboxes of the demo image, in this
 *   process (the PSS this process gained, over N: the snapshot they share
 *   is in it, split N ways);
 * - vmlet from a file: the same pool made with vmlet_pool_create_from()
 *   of the demo's ready-point snapshot saved to a file and loaded again
 *   (vmlet_snapshot_load(): its memory mapped MAP_PRIVATE from the file),
 *   the PSS gained from before the load to the full pool, over N;
 * - qemu: N QEMUs of qemu.c's guest without isa-debug-exit, each halted
 *   after writing its byte (the sum of their PSS, over N);
 * - process: N idle processes of process/add.c (the sum of their PSS).
 *
 * PSS is user-space memory only. What the kernel holds for each (KVM's
 * VM and vCPU structures and page tables, a process's task, stack and
 * page tables) is the second figure: how much the kernel's own memory in
 * /proc/meminfo (slab that cannot be reclaimed, kernel stacks, page
 * tables, KVM's secondary page tables, per-CPU and vmalloc memory) grew
 * while the N instances lived, over N. Approximate: other processes move
 * those counters too, and pages the kernel takes straight from the page
 * allocator (KVM's kvm_run page) are in none of them. MemAvailable would
 * see everything, but on a machine where other VMs grow by gigabytes it
 * is noise. PSS is exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define N_VMLET	  200
#define N_QEMU	  16
#define N_PROCESS 200
#define GIB_KIB	  (1024.0 * 1024.0)

struct footprint {
	int n;
	double pss_kib, kernel_kib; /* per instance */
	char error[256];
};

static void emit(struct bench *b, const char *key, const char *label, struct footprint *fp)
{
	json_obj(b->j, key);
	json_str(b->j, "label", label);
	if (fp->error[0]) {
		failures++;
		json_str(b->j, "error", fp->error);
		printf("  %-38s FAILED: %s\n", label, fp->error);
		json_end(b->j);
		return;
	}
	json_num(b->j, "n", fp->n);
	json_num(b->j, "pss_kib", fp->pss_kib);
	json_num(b->j, "per_gib", GIB_KIB / fp->pss_kib);
	json_num(b->j, "kernel_kib", fp->kernel_kib);
	json_num(b->j, "per_gib_with_kernel", GIB_KIB / (fp->pss_kib + fp->kernel_kib));
	json_end(b->j);
	printf("  %-38s %5d %10.1f %10.0f %10.1f %10.0f\n", label, fp->n, fp->pss_kib,
	       GIB_KIB / fp->pss_kib, fp->kernel_kib, GIB_KIB / (fp->pss_kib + fp->kernel_kib));
	fflush(stdout);
}

/* The kernel's own memory, in KiB (see above). */
static long kernel_kib(void)
{
	static const char *const fields[] = {"SUnreclaim",    "KernelStack", "PageTables",
					     "SecPageTables", "Percpu",	     "VmallocUsed"};
	long sum = 0;

	for (unsigned int i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		long v = meminfo_kib(fields[i]);

		sum += v > 0 ? v : 0;
	}
	return sum;
}

static void vmlet(struct footprint *fp)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = N_VMLET, .timeout_ms = -1};
	struct vmlet_image *img;
	struct vmlet_pool *pool;
	long pss0, pss1, k0, k1;
	int err;

	progress("density: a pool of %d idle vmlet sandboxes", N_VMLET);
	fp->n = N_VMLET;
	err = vmlet_image_open(DEMO_ELF, &img);
	if (err) {
		snprintf(fp->error, sizeof(fp->error), "%s: %s", DEMO_ELF, vmlet_strerror(err));
		return;
	}
	pss0 = smaps_kib(0, "Pss");
	k0 = kernel_kib();
	err = vmlet_pool_create(img, NULL, &pc, &pool);
	pss1 = smaps_kib(0, "Pss");
	k1 = kernel_kib();
	if (err) {
		snprintf(fp->error, sizeof(fp->error), "vmlet_pool_create: %s",
			 vmlet_strerror(err));
	} else {
		fp->pss_kib = (double)(pss1 - pss0) / N_VMLET;
		fp->kernel_kib = (double)(k1 - k0) / N_VMLET;
		vmlet_pool_destroy(pool);
	}
	vmlet_image_close(img);
}

/* A ready-point snapshot of the demo image, saved to path. 0 or why in fp. */
static int save_demo(const char *path, struct footprint *fp)
{
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_image *img;
	const char *what = "vmlet_sandbox_create";
	int fd, err = vmlet_image_open(DEMO_ELF, &img);

	if (err) {
		snprintf(fp->error, sizeof(fp->error), "%s: %s", DEMO_ELF, vmlet_strerror(err));
		return err;
	}
	err = vmlet_sandbox_create(img, NULL, &sb);
	if (!err) {
		what = "vmlet_sandbox_snapshot";
		err = vmlet_sandbox_snapshot(sb, &snap);
	}
	if (!err) {
		what = path;
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		err = fd < 0 ? -errno : vmlet_snapshot_save(snap, fd);
		if (fd >= 0)
			close(fd);
	}
	if (err)
		snprintf(fp->error, sizeof(fp->error), "%.200s: %s", what, vmlet_strerror(err));
	vmlet_snapshot_destroy(snap);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
	return err;
}

static void vmlet_file(struct bench *b, struct footprint *fp)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = N_VMLET, .timeout_ms = -1};
	struct vmlet_snapshot *snap;
	struct vmlet_pool *pool;
	long pss0, pss1, k0, k1;
	char path[512];
	int fd, err;

	progress("density: a pool of %d idle vmlet sandboxes of a loaded snapshot", N_VMLET);
	fp->n = N_VMLET;
	if (!access("/dev/shm", W_OK))
		snprintf(path, sizeof(path), "/dev/shm/vmlet-density-%d.snap", (int)getpid());
	else
		snprintf(path, sizeof(path), "%s/density-%d.snap", b->outdir, (int)getpid());
	if (save_demo(path, fp)) {
		unlink(path);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(fp->error, sizeof(fp->error), "%.200s: %s", path, strerror(errno));
		unlink(path);
		return;
	}
	pss0 = smaps_kib(0, "Pss");
	k0 = kernel_kib();
	err = vmlet_snapshot_load(fd, NULL, &snap);
	close(fd);
	if (err) {
		snprintf(fp->error, sizeof(fp->error), "vmlet_snapshot_load: %s: %s",
			 vmlet_strerror(err), vmlet_snapshot_load_error());
		unlink(path);
		return;
	}
	err = vmlet_pool_create_from(snap, &pc, &pool);
	pss1 = smaps_kib(0, "Pss");
	k1 = kernel_kib();
	if (err) {
		snprintf(fp->error, sizeof(fp->error), "vmlet_pool_create_from: %s",
			 vmlet_strerror(err));
	} else {
		fp->pss_kib = (double)(pss1 - pss0) / N_VMLET;
		fp->kernel_kib = (double)(k1 - k0) / N_VMLET;
		vmlet_pool_destroy(pool);
	}
	vmlet_snapshot_destroy(snap);
	unlink(path);
}

/* n instances from start(out_fd), each ready when it writes a byte. */
static void processes(struct footprint *fp, int n, pid_t (*start)(int out_fd))
{
	pid_t pids[N_PROCESS > N_QEMU ? N_PROCESS : N_QEMU];
	long k0 = kernel_kib(), pss = 0;
	int i, live = 0;

	fp->n = n;
	for (i = 0; i < n; i++) {
		int o[2];
		char c;

		if (pipe2(o, O_CLOEXEC))
			break;
		pids[i] = start(o[1]);
		close(o[1]);
		if (pids[i] < 0 || read_byte(o[0], &c, START_TIMEOUT_MS)) {
			close(o[0]);
			snprintf(fp->error, sizeof(fp->error), "instance %d did not start", i);
			break;
		}
		close(o[0]);
		live++;
	}
	for (i = 0; i < live && !fp->error[0]; i++) {
		long v = smaps_kib(pids[i], "Pss");

		if (v < 0)
			snprintf(fp->error, sizeof(fp->error), "no PSS for pid %d", (int)pids[i]);
		pss += v;
	}
	fp->kernel_kib = (double)(kernel_kib() - k0) / n;
	fp->pss_kib = (double)pss / n;
	for (i = 0; i < live; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < live; i++)
		waitpid(pids[i], NULL, 0);
	if (!fp->error[0] && live < n)
		snprintf(fp->error, sizeof(fp->error), "only %d of %d started", live, n);
}

static pid_t qemu_idle(int out_fd)
{
	return qemu_spawn(false, out_fd, -1);
}

void bench_density(struct bench *b)
{
	struct footprint fp;

	json_obj(b->j, "density");
	json_str(b->j, "note",
		 "per idle instance: PSS (user space, exact) and the kernel's "
		 "memory (slab, stacks, page tables, percpu, vmalloc; approximate)");
	printf("\n%-40s %5s %10s %10s %10s %10s\n", "density (per idle instance)", "n", "PSS KiB",
	       "per GiB", "kernel KiB", "+kernel");
	fp = (struct footprint){0};
	vmlet(&fp);
	emit(b, "vmlet", "vmlet: idle pooled sandbox", &fp);
	fp = (struct footprint){0};
	vmlet_file(b, &fp);
	emit(b, "vmlet_file", "vmlet: idle sandbox, snapshot file", &fp);
	fp = (struct footprint){0};
	progress("density: %d idle QEMUs", N_QEMU);
	processes(&fp, N_QEMU, qemu_idle);
	emit(b, "qemu", "qemu: idle microvm", &fp);
	fp = (struct footprint){0};
	progress("density: %d idle processes", N_PROCESS);
	processes(&fp, N_PROCESS, process_spawn_idle);
	emit(b, "process", "process: idle static musl", &fp);
	json_end(b->j);
}
