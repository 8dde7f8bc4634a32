/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the parts of bench share: figures (samples and their statistics),
 * the counters that do not depend on noise, the JSON writer and the run's
 * context. main.c says where each part runs and why.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <vmlet.h>

#include "../hugepages.h" /* read_long(), write_long(), meminfo_kib() */

/* --- counts: kernel tracepoints read with counting perf events --------- */

enum {
	EV_UEXIT,   /* kvm:kvm_userspace_exit: KVM_RUN returning to user space */
	EV_INSN,    /* kvm:kvm_emulate_insn: guest instructions KVM emulated */
	EV_SYSCALL, /* raw_syscalls:sys_enter */
	EV_EXIT,    /* kvm:kvm_exit: every exit from the guest, user space's or not */
	EV_NPF,	    /* kvm:kvm_page_fault: exits for nested page faults (EPT/NPT) */
	NEV
};

extern const char *const ev_names[NEV];
/* kvm_emulate_insn counts every guest instruction (KVM emulates them all). */
extern bool insns_exact;
/* Figures that failed so far: bench exits 1 if any did. */
extern int failures;

/*
 * A set of counters for this thread, or (inherit) for this thread and the
 * threads and processes it creates after opening them.
 */
struct counters {
	int fd[NEV];
	uint64_t base[NEV]; /* what starting and stopping alone count */
	unsigned int spans; /* started or resumed since the last reset */
};

void ctr_open(struct counters *c, bool inherit);
void ctr_start(struct counters *c);
/* Stop and go on counting, to count only some parts of a loop. */
void ctr_pause(struct counters *c);
void ctr_resume(struct counters *c);
/* Counts since ctr_start() per op (divided by ops); -1 where unavailable. */
void ctr_stop(struct counters *c, double *per_op, double ops);
void ctr_close(struct counters *c);

/* --- figures ------------------------------------------------------------- */

struct stats {
	double min, p50, p90, p99, max, mean; /* microseconds */
};

/*
 * One measured figure: samples in nanoseconds per operation, or the reason
 * it could not be measured. A scenario that fails says so (error) and a
 * scenario that cannot run here says why (skipped): neither prints zeros.
 */
struct fig {
	const char *key; /* its key in the JSON group */
	char label[64];	 /* its name in the table */
	double *ns;	 /* samples */
	int n, cap;
	double counts[NEV];   /* per operation; < 0: not counted */
	double insns_ss;      /* guest instructions by single-step; < 0: not counted */
	const char *ratio_to; /* the figure (path in the JSON) p50 is compared to */
	double base_p50;
	char error[320];
	char skipped[200];
	struct stats s;
};

struct fig *fig_new(const char *key, int cap, const char *label_fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fig_free(struct fig *f);
void fig_add(struct fig *f, double ns);
void fig_fail(struct fig *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fig_skip(struct fig *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report f's p50 as a ratio to base's (a floor), named by its JSON path. */
void fig_ratio(struct fig *f, const struct fig *base, const char *path);
bool fig_ok(const struct fig *f);

/* --- JSON ---------------------------------------------------------------- */

struct json {
	FILE *f;
	int depth;
	bool comma[16];
};

int json_open(struct json *j, const char *path);
int json_close(struct json *j);
void json_obj(struct json *j, const char *key);
void json_end(struct json *j);
void json_num(struct json *j, const char *key, double v);
void json_str(struct json *j, const char *key, const char *s);
/* Embed the JSON value in file path (written by another bench run). */
int json_file(struct json *j, const char *key, const char *path);

/* Statistics, a table row on stdout and the figure's JSON object. */
void fig_emit(struct json *j, struct fig *f);

/* --- the run ------------------------------------------------------------- */

struct bench {
	struct json *j;
	struct vmlet_platform plat;
	const char *self;		      /* this program, for running it in the VM */
	const char *outdir;		      /* where results.json goes: scratch files too */
	struct fig *floor_create, *floor_out; /* kept for ratios */
	struct fig *floor_reentry;
};

/* Progress on stderr: the group and what it is doing, with elapsed time. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void section(const char *title);

uint64_t now_ns(void);

/*
 * Whether to run repetition i of one that costs processes or VMs: up to
 * max, and after min only while within budget_ns of t0, so that a slow
 * machine (QEMU/TCG) still finishes in minutes with fewer samples.
 */
static inline bool more(int i, int min, int max, uint64_t t0, uint64_t budget_ns)
{
	return i < max && (i < min || now_ns() - t0 < budget_ns);
}
long smaps_kib(pid_t pid, const char *field); /* from smaps_rollup; -1 on error */
/*
 * fork and exec argv (argv[0] looked up in PATH) with stdin from /dev/null
 * and stdout, stderr on the given descriptors (-1: /dev/null).
 */
pid_t spawn(char *const argv[], int stdout_fd, int stderr_fd);
/* Read what fd holds (up to len - 1 bytes), NUL-terminated, trailing newlines cut. */
void read_text(int fd, char *buf, size_t len);
/* Read one byte within timeout_ms: 0, -ETIMEDOUT, -ENODATA at EOF, or -errno. */
int read_byte(int fd, char *c, int timeout_ms);
#define START_TIMEOUT_MS 120000 /* for a QEMU or Node to say its first byte */
/* The first line argv prints on stdout ("" if none). */
void first_line(char *const argv[], char *buf, size_t len);
/* QEMU with qemu/boot.S; exit: with isa-debug-exit (else it idles). */
pid_t qemu_spawn(bool exit, int out_fd, int err_fd);
/* The process bench's add binary, idle: it writes a byte to out_fd and waits. */
pid_t process_spawn_idle(int out_fd);

/*
 * floor.out's guest of one's own (floor.c), for a figure measured beside
 * its floor in the same rounds: open, n round trips (0 or -errno), close.
 */
struct floor_vm;
int floor_vm_open(struct floor_vm **out);
int floor_vm_trips(struct floor_vm *f, int n);
void floor_vm_close(struct floor_vm *f);

/* The groups, in the order they run. */
/* create: VM creation too (bench_floor() sets b->floor_create, b->floor_out). */
int bench_floor(struct bench *b, bool create);
void bench_vmlet(struct bench *b);
void bench_hostcall(struct bench *b);
int bench_hostcall_fragment(struct bench *b);
void bench_tracing(struct bench *b);
/*
 * n calls of add(1, 2) into f: warm on sb (after 100 untimed ones), or
 * fresh-VM calls from pool when sb is NULL; a wrong result fails f.
 */
void add_calls(struct fig *f, struct vmlet_sandbox *sb, struct vmlet_pool *pool, int n);
void bench_seccomp(struct bench *b);
void bench_qemu(struct bench *b);
void bench_process(struct bench *b);
void bench_wasm(struct bench *b);
void bench_wasm_guest(struct bench *b);
/* bench -W FILE: the wasm-guest checksum target alone, for the vmtest VM. */
int bench_wasm_guest_fragment(struct bench *b);
void bench_density(struct bench *b);
void bench_snapfile(struct bench *b);
void bench_js(struct bench *b);
int bench_js_fragment(struct bench *b);
/* js/handler.js (malloc'd), or NULL and why; the request its handle() takes. */
char *bench_js_script(char *why, size_t len);
extern const char bench_js_request[];
/*
 * Run `vmtest.sh bench FLAG path` (a group's fragment in the vmtest VM);
 * 0 when it wrote path, else why.
 */
int bench_in_vmtest(struct bench *b, const char *flag, const char *path, char *why, size_t len);
/*
 * A group that cannot run here (here_error says why, in the VM's report):
 * bench_in_vmtest() writing outdir/file, taken into the report as key.
 * 0 when it is in, else why; the caller then reports the failure itself.
 */
int bench_vmtest_fragment(struct bench *b, const char *flag, const char *key, const char *file,
			  const char *here_error, char *why, size_t len);
/* bench --snapfile-child file|cold PATH: the new process of bench_snapfile(). */
int bench_snapfile_child(int argc, char **argv);
/* bench -S FILE: the snapfile group alone, for the vmtest VM (with JS). */
int bench_snapfile_fragment(struct bench *b);

#endif
