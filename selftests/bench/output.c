// SPDX-License-Identifier: BSD-2-Clause
/*
 * Figures and how they leave bench: the statistics of a figure's samples,
 * its row in the table on stdout and its object in results.json (written
 * as the run goes, one group after the other), progress on stderr, and
 * the small /proc helpers every group uses.
 *
 * A figure's JSON object holds min, p50, p90, p99, max and mean (us), n,
 * the counts per operation, the ratio to its floor, and "cdf": the
 * latency at fixed percentiles, enough for report.py to draw the
 * distribution without the raw samples. A figure that failed holds only
 * "error"; one that cannot run on this machine only "skipped".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const double cdf_pcts[] = {0,  1,  2,  5,  10, 20, 30,	40,   50, 60,
				  70, 80, 90, 95, 98, 99, 99.5, 99.9, 100};

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t t_start;
bool insns_exact;
int failures;

void progress(const char *fmt, ...)
{
	va_list ap;

	if (!t_start)
		t_start = now_ns();
	fprintf(stderr, "bench [%5.1fs] ", (now_ns() - t_start) / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void section(const char *title)
{
	fflush(stderr);
	printf("\n%-40s %10s %10s %10s %9s %9s %9s %9s %9s %9s\n", title, "min", "p50", "p99",
	       "ratio", "exits", "insns", "syscalls", "vm-exits", "pf-exits");
	fflush(stdout);
}

struct fig *fig_new(const char *key, int cap, const char *label_fmt, ...)
{
	struct fig *f = calloc(1, sizeof(*f));
	va_list ap;

	if (!f) {
		perror("bench");
		exit(1);
	}
	f->key = key;
	f->cap = cap;
	f->ns = calloc((size_t)(cap ? cap : 1), sizeof(*f->ns));
	if (!f->ns) {
		perror("bench");
		exit(1);
	}
	for (int i = 0; i < NEV; i++)
		f->counts[i] = -1;
	f->insns_ss = -1;
	va_start(ap, label_fmt);
	vsnprintf(f->label, sizeof(f->label), label_fmt, ap);
	va_end(ap);
	progress("%s", f->label);
	return f;
}

void fig_free(struct fig *f)
{
	if (!f)
		return;
	free(f->ns);
	free(f);
}

void fig_add(struct fig *f, double ns)
{
	if (f->n < f->cap)
		f->ns[f->n++] = ns;
}

void fig_fail(struct fig *f, const char *fmt, ...)
{
	va_list ap;

	if (f->error[0])
		return; /* the first failure is the one to tell */
	va_start(ap, fmt);
	vsnprintf(f->error, sizeof(f->error), fmt, ap);
	va_end(ap);
}

void fig_skip(struct fig *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->skipped, sizeof(f->skipped), fmt, ap);
	va_end(ap);
}

bool fig_ok(const struct fig *f)
{
	return !f->error[0] && !f->skipped[0] && f->n > 0;
}

void fig_ratio(struct fig *f, const struct fig *base, const char *path)
{
	if (!base || !fig_ok(base))
		return;
	f->ratio_to = path;
	f->base_p50 = base->s.p50;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The sample at percentile p (nearest rank), in us; samples sorted. */
static double pct(const struct fig *f, double p)
{
	int i = (int)ceil(p / 100 * f->n) - 1;

	if (i < 0)
		i = 0;
	if (i >= f->n)
		i = f->n - 1;
	return f->ns[i] / 1e3;
}

static void fig_stats(struct fig *f)
{
	double sum = 0;

	qsort(f->ns, (size_t)f->n, sizeof(*f->ns), cmp);
	for (int i = 0; i < f->n; i++)
		sum += f->ns[i];
	f->s = (struct stats){
		.min = f->ns[0] / 1e3,
		.p50 = pct(f, 50),
		.p90 = pct(f, 90),
		.p99 = pct(f, 99),
		.max = f->ns[f->n - 1] / 1e3,
		.mean = sum / f->n / 1e3,
	};
}

static void print_count(double v)
{
	if (v < 0)
		printf(" %9s", "-");
	else
		printf(" %9.2f", v);
}

void fig_emit(struct json *j, struct fig *f)
{
	if (!f->error[0] && !f->skipped[0] && !f->n)
		fig_fail(f, "no samples");
	json_obj(j, f->key);
	json_str(j, "label", f->label);
	if (f->error[0]) {
		failures++;
		json_str(j, "error", f->error);
		printf("  %-38s FAILED: %s\n", f->label, f->error);
		json_end(j);
		fflush(stdout);
		return;
	}
	if (f->skipped[0]) {
		json_str(j, "skipped", f->skipped);
		printf("  %-38s not run here: %s\n", f->label, f->skipped);
		json_end(j);
		fflush(stdout);
		return;
	}
	fig_stats(f);
	json_str(j, "unit", "us");
	json_num(j, "n", f->n);
	json_num(j, "min", f->s.min);
	json_num(j, "p50", f->s.p50);
	json_num(j, "p90", f->s.p90);
	json_num(j, "p99", f->s.p99);
	json_num(j, "max", f->s.max);
	json_num(j, "mean", f->s.mean);
	if (f->ratio_to) {
		json_str(j, "ratio_to", f->ratio_to);
		json_num(j, "ratio", f->s.p50 / f->base_p50);
	}
	if (f->counts[EV_UEXIT] >= 0 || f->counts[EV_INSN] >= 0 || f->counts[EV_SYSCALL] >= 0 ||
	    f->counts[EV_EXIT] >= 0) {
		json_obj(j, "counts");
		if (f->counts[EV_UEXIT] >= 0)
			json_num(j, "kvm_exits", f->counts[EV_UEXIT]);
		/* Only where KVM emulates guest code does it see every instruction. */
		if (f->counts[EV_INSN] >= 0)
			json_num(j, insns_exact ? "guest_insns" : "kvm_emulated_insns",
				 f->counts[EV_INSN]);
		if (f->insns_ss >= 0)
			json_num(j, "guest_insns_single_step", f->insns_ss);
		if (f->counts[EV_SYSCALL] >= 0)
			json_num(j, "syscalls", f->counts[EV_SYSCALL]);
		if (f->counts[EV_EXIT] >= 0)
			json_num(j, "vm_exits", f->counts[EV_EXIT]);
		if (f->counts[EV_NPF] >= 0)
			json_num(j, "page_fault_exits", f->counts[EV_NPF]);
		json_end(j);
	}
	fprintf(j->f, ",\n%*s\"cdf\": [", 2 * j->depth, "");
	for (size_t i = 0; i < sizeof(cdf_pcts) / sizeof(cdf_pcts[0]); i++)
		fprintf(j->f, "%s[%g, %.6g]", i ? ", " : "", cdf_pcts[i], pct(f, cdf_pcts[i]));
	fputc(']', j->f);
	json_end(j);

	printf("  %-38s %10.3f %10.3f %10.3f", f->label, f->s.min, f->s.p50, f->s.p99);
	if (f->ratio_to && f->s.p50 / f->base_p50 < 0.1)
		printf(" %8.2gx", f->s.p50 / f->base_p50);
	else if (f->ratio_to)
		printf(" %8.2fx", f->s.p50 / f->base_p50);
	else
		printf(" %9s", "");
	print_count(f->counts[EV_UEXIT]);
	print_count(f->insns_ss >= 0 ? f->insns_ss : insns_exact ? f->counts[EV_INSN] : -1);
	print_count(f->counts[EV_SYSCALL]);
	print_count(f->counts[EV_EXIT]);
	print_count(f->counts[EV_NPF]);
	printf("\n");
	fflush(stdout);
}

/* --- JSON: a streaming writer, enough for objects of numbers and strings --- */

int json_open(struct json *j, const char *path)
{
	*j = (struct json){0};
	j->f = fopen(path, "w");
	if (!j->f)
		return -errno;
	fputc('{', j->f);
	j->depth = 1;
	return 0;
}

int json_close(struct json *j)
{
	int err;

	fputs("\n}\n", j->f);
	err = ferror(j->f) ? -EIO : 0;
	if (fclose(j->f) && !err)
		err = -errno;
	return err;
}

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void key(struct json *j, const char *k)
{
	fprintf(j->f, "%s\n%*s", j->comma[j->depth] ? "," : "", 2 * j->depth, "");
	j->comma[j->depth] = true;
	put_str(j->f, k);
	fputs(": ", j->f);
}

void json_obj(struct json *j, const char *k)
{
	key(j, k);
	fputc('{', j->f);
	j->comma[++j->depth] = false;
}

void json_end(struct json *j)
{
	fprintf(j->f, "\n%*s}", 2 * --j->depth, "");
}

void json_num(struct json *j, const char *k, double v)
{
	key(j, k);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void json_str(struct json *j, const char *k, const char *s)
{
	key(j, k);
	put_str(j->f, s);
}

int json_file(struct json *j, const char *k, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *in = fopen(path, "r"), *mem;
	int c;

	if (!in)
		return -errno;
	mem = open_memstream(&text, &len);
	if (!mem) {
		fclose(in);
		return -ENOMEM;
	}
	while ((c = getc(in)) != EOF)
		putc(c, mem);
	fclose(in);
	fclose(mem);
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	if (!len || text[0] != '{' || text[len - 1] != '}') {
		free(text);
		return -EBADMSG;
	}
	key(j, k);
	fwrite(text, 1, len, j->f);
	free(text);
	return 0;
}

/* --- /proc and process helpers ---------------------------------------------- */

long smaps_kib(pid_t pid, const char *field)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
	return field_kib(path, field);
}

pid_t spawn(char *const argv[], int stdout_fd, int stderr_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(stdout_fd >= 0 ? stdout_fd : null, 1);
		dup2(stderr_fd >= 0 ? stderr_fd : null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void read_text(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
}

int read_byte(int fd, char *c, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	n = read(fd, c, 1);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -ENODATA;
}

void first_line(char *const argv[], char *buf, size_t len)
{
	int out[2];
	pid_t pid;

	buf[0] = '\0';
	if (pipe2(out, O_CLOEXEC))
		return;
	pid = spawn(argv, out[1], -1);
	close(out[1]);
	read_text(out[0], buf, len);
	close(out[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	buf[strcspn(buf, "\n")] = '\0';
}
