// SPDX-License-Identifier: BSD-2-Clause
/*
 * What the commands of the vmlet CLI share (cli.h): the time, how a
 * failed call is told (fault, backtrace, core file), latency
 * distributions, the options of run and js (--kv's host function,
 * grants, --core), the source an IMAGE argument names (an image or a
 * snapshot file), saving snapshot files, and the confined thread the
 * calls run on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#include "cli.h"

static const char *const vectors[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Where the guest was: "#0 0x101234 in fn+0x14", or the address alone without symbols. */
static void print_backtrace(const struct vmlet_fault *f)
{
	if (f->nframes && !f->symbols)
		fprintf(stderr, "vmlet: backtrace (the image has no symbols: addresses only):\n");
	else if (f->nframes)
		fprintf(stderr, "vmlet: backtrace:\n");
	for (unsigned int i = 0; i < f->nframes && i < VMLET_FAULT_FRAMES; i++) {
		const struct vmlet_fault_frame *fr = &f->frames[i];

		fprintf(stderr, "  #%-2u %#" PRIx64, i, fr->pc);
		if (fr->func[0])
			fprintf(stderr, " in %.*s+%#" PRIx64, (int)sizeof(fr->func), fr->func,
				fr->offset);
		else if (f->symbols)
			fprintf(stderr, " in ??");
		fputc('\n', stderr);
	}
}

/* --core's file, and the template that names it (each % doubled). */
static const char *core_file;
static char core_tmpl[4096];

/*
 * Where the core went, for the failures that write one (the guest's
 * doing: vmlet_sandbox_fault(3)).
 */
static void print_core(int err, const struct vmlet_fault *f)
{
	if (!core_file || err > -VMLET_EEXCEPTION || err <= -VMLET_ELAST || err == -VMLET_EDEAD ||
	    err == -VMLET_EABI || err == -VMLET_EREFUSED || err == -VMLET_EFAIL)
		return;
	if (!f->core_error)
		fprintf(stderr, "vmlet: core written to %s\n", core_file);
	else if (f->core_error == -EFBIG)
		fprintf(stderr, "vmlet: core written to %s, truncated at the core limit\n",
			core_file);
	else
		fprintf(stderr, "vmlet: no core written to %s: %s\n", core_file,
			vmlet_strerror(f->core_error));
}

void cli_print_fault(const char *what, int err, const struct vmlet_fault *f)
{
	fprintf(stderr, "vmlet: %s: %s", what, vmlet_strerror(err));
	if (!f || f->error != err) {
		fputc('\n', stderr);
		return;
	}
	switch (-err) {
	case VMLET_EEXCEPTION:
		fprintf(stderr, ": vector %u (%s), error code %#" PRIx64 ", rip %#" PRIx64,
			f->vector, f->vector < 32 && vectors[f->vector] ? vectors[f->vector] : "?",
			f->error_code, f->rip);
		if (f->vector == 14)
			fprintf(stderr, ", address %#" PRIx64, f->address);
		break;
	case VMLET_EABORT:
		fprintf(stderr, ": code %" PRId64 ": %s", f->code, f->message);
		break;
	case VMLET_EEXIT:
		fprintf(stderr, ": status %" PRId64, f->code);
		break;
	case VMLET_EFAIL:
		fprintf(stderr, ": code %" PRId64 ": %s", f->code, f->message);
		break;
	default:
		if (f->message[0])
			fprintf(stderr, ": %s", f->message);
	}
	fputc('\n', stderr);
	print_backtrace(f);
	print_core(err, f);
}

int cli_is_snapshot_file(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	      !memcmp(magic, VMLET_SNAPSHOT_MAGIC, sizeof(magic));
	close(fd);
	return ret;
}

int cli_open_source(const char *path, const struct vmlet_config *cfg, struct source *src)
{
	int err = cli_is_snapshot_file(path), fd;

	*src = (struct source){0};
	if (err > 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		err = fd < 0 ? -errno : vmlet_snapshot_load(fd, cfg, &src->snap);
		if (fd >= 0)
			close(fd);
		if (err)
			fprintf(stderr, "vmlet: %s: %s%s%s\n", path, vmlet_strerror(err),
				*vmlet_snapshot_load_error() ? ": " : "",
				vmlet_snapshot_load_error());
		return err;
	}
	if (!err)
		err = vmlet_image_open(path, &src->img);
	if (err)
		fprintf(stderr, "vmlet: %s: %s\n", path, vmlet_strerror(err));
	return err;
}

void cli_source_close(struct source *src)
{
	vmlet_snapshot_destroy(src->snap);
	vmlet_image_close(src->img);
}

/*
 * A sandbox of the image at path (booted with cfg) or of the snapshot file
 * there (loaded with cfg, sandbox from it); *create_ns gets the time the
 * sandbox took, the load of a file not counted.
 */
int cli_open_sandbox(const char *path, const struct vmlet_config *cfg, struct source *src,
		     struct vmlet_sandbox **sb, uint64_t *create_ns)
{
	uint64_t t0;
	int err;

	err = cli_open_source(path, cfg, src);
	if (err)
		return err;
	t0 = cli_now_ns();
	err = src->snap ? vmlet_sandbox_create_from(src->snap, sb)
			: vmlet_sandbox_create(src->img, cfg, sb);
	if (create_ns)
		*create_ns = cli_now_ns() - t0;
	if (err) {
		fprintf(stderr, "vmlet: %s: cannot create sandbox: %s\n", path,
			vmlet_strerror(err));
		cli_source_close(src);
	}
	return err;
}

int cli_parse_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || *arg == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

void *cli_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(stderr, "vmlet: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
		if (r == 0)
			break;
	}
	/* A directory opens, and then fails to read (EISDIR): not an empty file. */
	if (buf && ferror(f)) {
		fprintf(stderr, "vmlet: %s: %s\n", path, strerror(errno ? errno : EIO));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	/* NUL-terminated too, for text. */
	if (buf && n == cap) {
		char *nb = realloc(buf, n + 1);

		if (!nb)
			free(buf);
		buf = nb;
	}
	if (buf)
		buf[n] = '\0';
	else
		fprintf(stderr, "vmlet: %s: %s\n", path, strerror(errno ? errno : ENOMEM));
	*len = n;
	return buf;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void cli_print_distribution(uint64_t *ns, uint64_t n)
{
	double sum = 0;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += (double)ns[i];
	printf("calls %" PRIu64
	       "  min %.2f us  p50 %.2f us  p90 %.2f us  p99 %.2f us  max %.2f us  "
	       "mean %.2f us\n",
	       n, ns[0] / 1e3, ns[n / 2] / 1e3, ns[n * 90 / 100] / 1e3, ns[n * 99 / 100] / 1e3,
	       ns[n - 1] / 1e3, sum / (double)n / 1e3);
}

/* --kv KEY=VALUE: the store behind the host function kv_lookup(string) -> string. */
#define MAX_KV 64
static const char *kv_keys[MAX_KV], *kv_vals[MAX_KV];
static unsigned int nkv;

static int kv_lookup(void *ctx, const struct vmlet_value *args, unsigned int nargs,
		     struct vmlet_value *ret)
{
	(void)ctx;
	(void)nargs;
	for (unsigned int i = 0; i < nkv; i++) {
		if (!strcmp(kv_keys[i], args[0].buf.ptr)) {
			*ret = vmlet_str(kv_vals[i]);
			return 0;
		}
	}
	return -ENOENT;
}

static const struct vmlet_host_func kv_func = {
	.name = "kv_lookup",
	.ret = VMLET_STRING,
	.nargs = 1,
	.args = {VMLET_STRING},
	.fn = kv_lookup,
};

int cli_kv_add(char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || nkv == MAX_KV) {
		fprintf(stderr, "vmlet: --kv wants KEY=VALUE (at most %d)\n", MAX_KV);
		return -EINVAL;
	}
	*eq = '\0';
	kv_keys[nkv] = arg;
	kv_vals[nkv++] = eq + 1;
	return 0;
}

int cli_kv_host(struct vmlet_config *cfg, struct vmlet_host **host)
{
	int err;

	if (!nkv)
		return 0;
	err = vmlet_host_create(1, host);
	if (err) {
		fprintf(stderr, "vmlet: cannot start the host-call service: %s\n",
			vmlet_strerror(err));
		return err;
	}
	cfg->host_funcs = &kv_func;
	cfg->nhost_funcs = 1;
	cfg->host = *host;
	return 0;
}

int cli_opt(struct cli_opts *o, struct vmlet_config *cfg, int c, char *arg)
{
	uint64_t v;

	switch (c) {
	case 'k':
		return cli_kv_add(arg) ? 2 : 0;
	case 'g':
		if (o->ngrants == VMLET_MAX_GRANTS) {
			fprintf(stderr, "vmlet: at most %d --grant\n", VMLET_MAX_GRANTS);
			return 2;
		}
		o->grants[o->ngrants++] = arg;
		return 0;
	case 'r':
		if (cli_parse_u64(arg, 1, 100000000, &v))
			return cli_usage(stderr, 2);
		o->repeat = v;
		return 0;
	case 'f':
		if (cli_parse_u64(arg, 1, 100000000, &v))
			return cli_usage(stderr, 2);
		o->fresh = v;
		return 0;
	case 'm':
		if (cli_parse_u64(arg, 1, 16384, &v))
			return cli_usage(stderr, 2);
		o->mem = v;
		return 0;
	case 'T':
		if (cli_parse_u64(arg, 1, UINT64_MAX / 1000000, &v))
			return cli_usage(stderr, 2);
		cfg->timeout_us = v * 1000;
		return 0;
	case 'p':
		if (cli_parse_u64(arg, 1, UINT64_MAX, &v))
			return cli_usage(stderr, 2);
		cfg->print_limit = v;
		return 0;
	case 'S':
		o->seccomp = 0;
		return 0;
	case 'C': {
		size_t n = 0;

		for (const char *p = arg; *p; p++) {
			if (n + 3 > sizeof(core_tmpl)) {
				fprintf(stderr, "vmlet: --core: the path is too long\n");
				return 2;
			}
			core_tmpl[n++] = *p;
			if (*p == '%')
				core_tmpl[n++] = '%';
		}
		if (!n)
			return cli_usage(stderr, 2);
		core_tmpl[n] = '\0';
		core_file = arg;
		cfg->core_path = core_tmpl;
		o->seccomp = 0;
		return 0;
	}
	}
	return 1;
}

int cli_opts_done(struct cli_opts *o, struct vmlet_config *cfg)
{
	if (o->ngrants && o->fresh) {
		fprintf(stderr, "vmlet: --grant does not go with --fresh: grants end at restore\n");
		return 2;
	}
	cfg->mem_size = o->mem << 20;
	for (; o->nfds < o->ngrants; o->nfds++) {
		o->fds[o->nfds] = open(o->grants[o->nfds], O_RDONLY | O_CLOEXEC);
		if (o->fds[o->nfds] < 0) {
			fprintf(stderr, "vmlet: --grant %s: %s\n", o->grants[o->nfds],
				strerror(errno));
			return 1;
		}
	}
	return 0;
}

int cli_grant(const struct cli_opts *o, struct vmlet_sandbox *sb)
{
	for (unsigned int i = 0; i < o->nfds; i++) {
		int err = vmlet_sandbox_grant_fd(sb, 3 + (int)i, o->fds[i], VMLET_GRANT_READ,
						 o->grants[i]);

		if (err) {
			fprintf(stderr, "vmlet: --grant %s: %s\n", o->grants[i],
				vmlet_strerror(err));
			return err;
		}
	}
	return 0;
}

void cli_opts_close(struct cli_opts *o)
{
	while (o->nfds)
		close(o->fds[--o->nfds]);
}

int cli_run_thread(void *(*fn)(void *), void *arg)
{
	static char stdout_buf[BUFSIZ];
	pthread_t thread;
	int err;

	setvbuf(stdout, stdout_buf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, sizeof(stdout_buf));
	err = -pthread_create(&thread, NULL, fn, arg);
	if (err) {
		fprintf(stderr, "vmlet: cannot start a thread: %s\n", strerror(-err));
		return err;
	}
	pthread_join(thread, NULL);
	return 0;
}

int cli_confine(int seccomp, const char *what)
{
	int err = seccomp ? vmlet_thread_confine(0) : 0;

	if (err)
		fprintf(stderr,
			"vmlet: cannot confine %s with seccomp: %s (--no-seccomp runs them "
			"unconfined)\n",
			what, vmlet_strerror(err));
	return err;
}

int cli_save_snapshot(const struct vmlet_snapshot *snap, const char *path)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 8);
	mode_t mask = umask(0);
	int fd, err;

	umask(mask);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", 8);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	err = vmlet_snapshot_save(snap, fd);
	if (!err && fchmod(fd, 0666 & ~mask) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}
