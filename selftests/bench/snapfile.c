// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshot files (lib/snapfile.c), against what a new process would do
 * instead to reach its first result:
 *
 * - save: vmlet_snapshot_save() of a live snapshot of the demo image
 *   (a cold sandbox after one add(1, 2), 4 KiB pages) to a file;
 * - load: vmlet_snapshot_load() of that file (validation, checksums of
 *   every stored page, the mappings), the snapshot destroyed untimed;
 * - a new process to its first result, each timed from just before fork
 *   to the first byte of the result on a pipe (or, for the process per
 *   call, to its exit status): this program run again as a child that
 *   loads the file, makes a sandbox of it and calls add(1, 2) ("file");
 *   the same child opening the image and booting a sandbox with
 *   vmlet_sandbox_create() instead ("cold"); a fork and exec of
 *   process/add ("process"); and `node -e` printing 1 + 2 ("node").
 *   "file" is compared with "cold", the others with "file".
 *
 * - the same for a guest that loaded state first: the JavaScript guest
 *   after vmlet_js_load() of js/handler.js, its snapshot
 *   (vmlet_js_snapshot()) saved to a file; a new process loads the file,
 *   makes a vmlet_js of it (vmlet_js_from_snapshot()) and runs one
 *   event, handle(request), with vmlet_js_event() ("js_file"), against a
 *   new process that does vmlet_js_load() and vmlet_js_event() ("js_cold"); each
 *   timed to the first byte of the event's JSON result.
 *
 * The engine computes in doubles (SSE), which a KVM that emulates guest
 * code cannot run: there the JS rows are left out here and, as for the
 * js group (js.c), the whole group runs again in the vmtest VM (`bench
 * -S FILE`, nested KVM under QEMU/TCG), embedded as "snapfile_vmtest"
 * with "where": "vmtest": the other machine sort, JS rows included.
 *
 * Syscalls and exits per operation are counted apart, untimed (for the
 * new processes with counters that follow the child). The file goes to
 * /dev/shm when there is one (a tmpfs: under vmtest.sh the output
 * directory is the host's over 9p), else next to results.json.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define OPS	    200
#define MIN_OPS	    20
#define STARTS	    20
#define MIN_STARTS  5
#define BUDGET_NS   20000000000ULL
#define COUNTED_OPS 10
#define COUNTED	    3

#define CHILD_ARG "--snapfile-child"

/* In the child: a sandbox of the snapshot file at path. 0 or an error. */
static int from_file(const char *path, struct vmlet_sandbox **sb)
{
	struct vmlet_snapshot *snap;
	int err, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	err = vmlet_snapshot_load(fd, NULL, &snap);
	close(fd);
	return err ? err : vmlet_sandbox_create_from(snap, sb);
}

/* In the child, JS: js-file SNAPFILE or js-cold SCRIPT; prints the event's result. */
static int js_child(const char *how, const char *path)
{
	struct vmlet_snapshot *snap;
	struct vmlet_js *js;
	const char *out;
	int fd, n;

	if (!strcmp(how, "js-file")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || vmlet_snapshot_load(fd, NULL, &snap))
			return 4;
		close(fd);
		if (vmlet_js_from_snapshot(snap, &js))
			return 4;
		n = vmlet_js_event(js, "handle", bench_js_request, &out);
		if (n < 0)
			return 4;
	} else {
		struct vmlet_js_config jc = {.sz = sizeof(jc), .image = JS_ELF};
		char why[320], *src = bench_js_script(why, sizeof(why));

		if (!src || vmlet_js_load(src, &jc, &js))
			return 4;
		n = vmlet_js_event(js, "handle", bench_js_request, &out);
		if (n < 0)
			return 4;
	}
	return write(1, out, (size_t)n) == n ? 0 : 5;
}

/* In the child: "file" or "cold", then the path; prints add(1, 2). */
int bench_snapfile_child(int argc, char **argv)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_image *img;
	struct vmlet_sandbox *sb;
	char out[16];
	int err, n;

	if (argc != 4)
		return 2;
	if (!strncmp(argv[2], "js-", 3))
		return js_child(argv[2], argv[3]);
	if (!strcmp(argv[2], "file")) {
		err = from_file(argv[3], &sb);
	} else {
		err = vmlet_image_open(argv[3], &img);
		if (!err)
			err = vmlet_sandbox_create(img, NULL, &sb);
	}
	if (!err)
		err = vmlet_sandbox_call(sb, "add", args, 2, &r);
	if (err)
		return 4;
	n = snprintf(out, sizeof(out), "%d\n", r.i32);
	return write(1, out, (size_t)n) == n ? 0 : 5;
}

/* Where the file goes: a tmpfs when there is one. */
static void file_path(const struct bench *b, const char *what, char *buf, size_t len)
{
	struct stat st;

	if (!stat("/dev/shm", &st) && S_ISDIR(st.st_mode))
		snprintf(buf, len, "/dev/shm/vmlet-bench-%s-%d.snap", what, (int)getpid());
	else
		snprintf(buf, len, "%s/snapfile-%s-%d.snap", b->outdir, what, (int)getpid());
}

/* A live snapshot of the demo image after one add(1, 2), or NULL (f says why). */
static struct vmlet_snapshot *demo_snapshot(struct fig *f)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .backing = VMLET_BACKING_4K};
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_image *img;
	struct vmlet_sandbox *sb;
	int err = vmlet_image_open(DEMO_ELF, &img);

	if (!err) {
		err = vmlet_sandbox_create(img, &cfg, &sb);
		if (!err) {
			err = vmlet_sandbox_call(sb, "add", args, 2, &r);
			if (!err)
				err = vmlet_sandbox_snapshot(sb, &snap);
			vmlet_sandbox_destroy(sb);
		}
	}
	if (err)
		fig_fail(f, "a snapshot of %s: %s", DEMO_ELF, vmlet_strerror(err));
	/* The image must outlive the snapshot: kept until exit. */
	return snap;
}

static void save(struct bench *b, struct vmlet_snapshot *snap, int fd, struct fig *f)
{
	uint64_t t0 = now_ns();
	struct counters c;
	struct stat st;
	int err = 0;

	for (int i = 0; !err && more(i, MIN_OPS, OPS, t0, BUDGET_NS); i++) {
		uint64_t t = now_ns();

		err = vmlet_snapshot_save(snap, fd);
		fig_add(f, (double)(now_ns() - t));
	}
	if (!err) {
		ctr_open(&c, false);
		ctr_start(&c);
		for (int i = 0; i < COUNTED_OPS; i++)
			vmlet_snapshot_save(snap, fd);
		ctr_stop(&c, f->counts, COUNTED_OPS);
		ctr_close(&c);
	}
	if (err)
		fig_fail(f, "vmlet_snapshot_save: %s", vmlet_strerror(err));
	else if (!fstat(fd, &st))
		json_num(b->j, "file_bytes", (double)st.st_size);
}

static void load(int fd, struct fig *f)
{
	uint64_t t0 = now_ns();
	struct vmlet_snapshot *snap;
	struct counters c;
	int err = 0;

	for (int i = 0; !err && more(i, MIN_OPS, OPS, t0, BUDGET_NS); i++) {
		uint64_t t = now_ns();

		err = vmlet_snapshot_load(fd, NULL, &snap);
		fig_add(f, (double)(now_ns() - t));
		if (!err)
			vmlet_snapshot_destroy(snap);
	}
	if (err) {
		fig_fail(f, "vmlet_snapshot_load: %s: %s", vmlet_strerror(err),
			 vmlet_snapshot_load_error());
		return;
	}
	ctr_open(&c, false);
	ctr_start(&c);
	for (int i = 0; i < COUNTED_OPS; i++) {
		ctr_resume(&c);
		err = vmlet_snapshot_load(fd, NULL, &snap);
		ctr_pause(&c);
		if (!err)
			vmlet_snapshot_destroy(snap);
	}
	ctr_stop(&c, f->counts, COUNTED_OPS);
	ctr_close(&c);
}

/*
 * One new process: argv, timed to the first byte it prints (want) or, when
 * want is 0, to its exit status want_status. 0, or -1 when it did not.
 */
static int start_once(struct fig *f, char *const argv[], char want, int want_status)
{
	uint64_t t = now_ns();
	int o[2], status;
	char ch = 0;
	pid_t pid;

	if (pipe2(o, O_CLOEXEC)) {
		fig_fail(f, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = spawn(argv, o[1], -1);
	close(o[1]);
	if (want && pid > 0 && !read_byte(o[0], &ch, START_TIMEOUT_MS))
		fig_add(f, (double)(now_ns() - t));
	close(o[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		fig_fail(f, "%s: did not run or exit", argv[0]);
		return -1;
	}
	if (!want) {
		fig_add(f, (double)(now_ns() - t));
		if (WEXITSTATUS(status) != want_status) {
			fig_fail(f, "%s: exit status %d, not %d", argv[0], WEXITSTATUS(status),
				 want_status);
			return -1;
		}
		return 0;
	}
	if (ch != want || WEXITSTATUS(status)) {
		fig_fail(f, "%s %s: printed '%c', exit status %d", argv[0], argv[1], ch ? ch : ' ',
			 WEXITSTATUS(status));
		return -1;
	}
	return 0;
}

static void starts(struct fig *f, char *const argv[], char want, int want_status)
{
	uint64_t t0 = now_ns();
	struct counters c;

	for (int i = 0; more(i, MIN_STARTS, STARTS, t0, BUDGET_NS); i++)
		if (start_once(f, argv, want, want_status))
			return;
	ctr_open(&c, true);
	ctr_start(&c);
	for (int i = 0; i < COUNTED; i++) {
		pid_t pid = spawn(argv, -1, -1);

		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	ctr_stop(&c, f->counts, COUNTED);
	ctr_close(&c);
}

/*
 * The JS rows: js/handler.js loaded, its snapshot saved to a file, and a
 * new process from that file against one that loads the script.
 */
static void js_rows(struct bench *b, const char *base)
{
	struct fig *ff = fig_new("js_file", STARTS, "snapfile: new process, JS file to event");
	struct fig *fc = fig_new("js_cold", STARTS, "snapfile: new process, JS load + event");
	struct vmlet_js_config jc = {.sz = sizeof(jc), .image = JS_ELF};
	char why[320], path[512], ratio[64], *src = bench_js_script(why, sizeof(why));
	struct vmlet_js *js = NULL;
	struct stat st;
	int err = -ENOENT, fd = -1;

	file_path(b, "js", path, sizeof(path));
	if (src) {
		err = vmlet_js_load(src, &jc, &js);
		if (err)
			snprintf(why, sizeof(why), "vmlet_js_load: %s", vmlet_strerror(err));
	}
	if (!err) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		err = fd < 0 ? -errno : vmlet_snapshot_save(vmlet_js_snapshot(js), fd);
		if (err)
			snprintf(why, sizeof(why), "saving %.200s: %s", path, vmlet_strerror(err));
		else if (!fstat(fd, &st))
			json_num(b->j, "js_file_bytes", (double)st.st_size);
		if (fd >= 0)
			close(fd);
	}
	vmlet_js_destroy(js);
	free(src);
	{
		char *file[] = {(char *)b->self, CHILD_ARG, "js-file", path, NULL};
		char *cold[] = {(char *)b->self, CHILD_ARG, "js-cold", JS_HANDLER, NULL};

		progress("snapfile: new JS processes to their first result");
		if (err) {
			fig_fail(ff, "%s", why);
			fig_fail(fc, "%s", why);
		} else {
			starts(ff, file, '{', 0);
			starts(fc, cold, '{', 0);
		}
	}
	snprintf(ratio, sizeof(ratio), "%s.js_cold", base);
	fig_emit(b->j, fc);
	fig_ratio(ff, fc, ratio);
	fig_emit(b->j, ff);
	unlink(path);
	fig_free(ff);
	fig_free(fc);
}

/* The group's figures into the current JSON object; base names it for ratios. */
static void measure(struct bench *b, const char *base, bool js)
{
	struct fig *fs = fig_new("save", OPS, "snapfile: save (demo after add)");
	struct fig *fl = fig_new("load", OPS, "snapfile: load");
	struct fig *ff = fig_new("file", STARTS, "snapfile: new process, file to add(1, 2)");
	struct fig *fc = fig_new("cold", STARTS, "snapfile: new process, cold boot + add(1, 2)");
	struct fig *fp = fig_new("process", STARTS, "snapfile: process per call, add 1 2");
	struct fig *fn = fig_new("node", STARTS, "snapfile: node -e start to 1 + 2");
	struct vmlet_snapshot *snap;
	char path[512], rcold[64], rfile[64];
	int fd;

	snprintf(rcold, sizeof(rcold), "%s.cold", base);
	snprintf(rfile, sizeof(rfile), "%s.file", base);
	file_path(b, "demo", path, sizeof(path));
	json_str(b->j, "file", path);
	snap = demo_snapshot(fs);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fig_fail(fs, "%s: %s", path, strerror(errno));
	if (snap && fd >= 0) {
		progress("snapfile: save and load %s", path);
		save(b, snap, fd, fs);
		if (fig_ok(fs))
			load(fd, fl);
		else
			fig_fail(fl, "nothing saved to load");
	} else {
		fig_fail(fl, "nothing saved to load");
	}
	{
		char *file[] = {(char *)b->self, CHILD_ARG, "file", path, NULL};
		char *cold[] = {(char *)b->self, CHILD_ARG, "cold", DEMO_ELF, NULL};
		char *proc[] = {PROCESS_ADD, "1", "2", NULL};
		char *node[] = {NODE, "-e", "process.stdout.write(String(1 + 2))", NULL};

		progress("snapfile: new processes to their first result");
		if (fig_ok(fl))
			starts(ff, file, '3', 0);
		else
			fig_fail(ff, "no file loads");
		starts(fc, cold, '3', 0);
		starts(fp, proc, 0, 3);
		starts(fn, node, '3', 0);
	}
	fp->counts[EV_UEXIT] = fp->counts[EV_INSN] = -1; /* no VM there */
	fn->counts[EV_UEXIT] = fn->counts[EV_INSN] = -1;
	/* A ratio takes its base's statistics: the base is emitted first. */
	fig_emit(b->j, fs);
	fig_emit(b->j, fl);
	fig_emit(b->j, fc);
	fig_ratio(ff, fc, rcold);
	fig_emit(b->j, ff);
	fig_ratio(fp, ff, rfile);
	fig_emit(b->j, fp);
	fig_ratio(fn, ff, rfile);
	fig_emit(b->j, fn);
	if (fd >= 0)
		close(fd);
	unlink(path);
	vmlet_snapshot_destroy(snap);
	fig_free(fs);
	fig_free(fl);
	fig_free(ff);
	fig_free(fc);
	fig_free(fp);
	fig_free(fn);
	if (js)
		js_rows(b, base);
}

int bench_snapfile_fragment(struct bench *b)
{
	const char *here = getenv("VMLET_BENCH_HERE_ERROR");

	if (here)
		json_str(b->j, "here_error", here);
	section("snapfile in the vmtest VM: snapshot files, a new process to its first result "
		"(us)");
	measure(b, "snapfile_vmtest", true);
	return 0;
}

void bench_snapfile(struct bench *b)
{
	char why[320];
	struct fig *f;

	json_obj(b->j, "snapfile");
	json_str(b->j, "where", "here");
	section("snapfile: snapshot files, and a new process to its first result (us)");
	measure(b, "snapfile", !b->plat.emulated);
	json_end(b->j);
	if (!b->plat.emulated)
		return;
	/* The other machine sort, and JS (SSE): the vmtest VM. */
	if (!bench_vmtest_fragment(b, "-S", "snapfile_vmtest", "snapfile-vmtest.json",
				   "this KVM emulates guest code and cannot run SSE (JS)", why,
				   sizeof(why)))
		return;
	json_obj(b->j, "snapfile_vmtest");
	json_str(b->j, "where", "vmtest");
	f = fig_new("file", 0, "snapfile: new process, file to add(1, 2)");
	fig_fail(f, "%s", why);
	fig_emit(b->j, f);
	fig_free(f);
	json_end(b->j);
}
