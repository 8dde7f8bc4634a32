// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet: the command-line front end.
 *
 *   vmlet run [OPTIONS] IMAGE FUNCTION [ARG...]   call a guest function
 *   vmlet list IMAGE                              the functions it registers
 *   vmlet snapshot IMAGE -o FILE [--call FUNCTION [ARG...]]...
 *                                                 save a snapshot file after calls
 *   vmlet info                                    what this host's KVM offers
 *   vmlet wasm run [OPTIONS] MODULE [ARG...]      a WASI command (tools/cli/wasm.c)
 *
 * Wherever an IMAGE is taken, a snapshot file (vmlet-snapshot(5)) may be
 * given instead, told apart by its first bytes (VMLET_SNAPSHOT_MAGIC):
 * sandboxes then start from the snapshot, without booting.
 *
 * Arguments are TYPE:VALUE (i32:5, f64:2.5, str:hello, bytes:@file,
 * bool:true) or a bare VALUE read as the type the function's signature
 * wants.
 *
 *   vmlet js [OPTIONS] SCRIPT.js HANDLER [JSON]      a JavaScript handler (tools/cli/js.c)
 *   vmlet js [OPTIONS] -o FILE SCRIPT.js              save it loaded, as a snapshot file
 *
 * `run` sets everything up on the main thread (image, sandbox, grants,
 * host-call service, the pool for --fresh), then makes its calls on a
 * thread that first confines itself with vmlet_thread_confine(): the
 * guest-facing part of the run can make no system call but those of
 * calls, host calls and restores. --no-seccomp skips that, and so does
 * --core, since writing a core file is creating a file. A thread of
 * its own rather than the main thread, so that teardown and whatever
 * runs at exit (LeakSanitizer in sanitized builds) stay unconfined.
 * --gdb PORT makes the one call under gdb (vmlet_sandbox_debug_call())
 * on the main thread, unconfined: the stub talks to gdb over a socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
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

int cli_usage(FILE *f, int status)
{
	fprintf(f,
		"usage: vmlet run [--repeat N] [--fresh N] [--kv KEY=VALUE]... [--grant PATH]...\n"
		"                 [--count-insns] [--time] [--mem MiB] [--timeout MS]\n"
		"                 [--print-limit BYTES] [--no-seccomp] [--core FILE] [--gdb PORT]\n"
		"                 IMAGE FUNCTION [ARG...]\n"
		"       vmlet js [--repeat N] [--fresh N] [--kv KEY=VALUE]... [--grant PATH]...\n"
		"                [--time] [--mem MiB] [--timeout MS] [--print-limit BYTES]\n"
		"                [--no-seccomp] [--core FILE] [-o FILE] SCRIPT.js HANDLER [JSON]\n"
		"       vmlet js [OPTIONS] -o FILE SCRIPT.js\n"
		"       vmlet list IMAGE\n"
		"       vmlet snapshot [--mem MiB] IMAGE -o FILE [--call FUNCTION [ARG...]]...\n"
		"       vmlet info\n"
		"       vmlet wasm run [OPTIONS] MODULE.wasm [ARG...]  (vmlet wasm --help)\n"
		"\n"
		"IMAGE is a guest image or a snapshot file (made by vmlet snapshot).\n"
		"run      boot IMAGE in a micro-VM and call FUNCTION with the arguments.\n"
		"         Arguments: TYPE:VALUE with TYPE one of bool i32 u32 i64 u64 f32 f64\n"
		"         str bytes (bytes:@FILE reads a file, bytes:TEXT takes the text), or a\n"
		"         bare VALUE parsed as the type the function expects.\n"
		"  -r, --repeat N     make N warm calls on one sandbox, print the latency "
		"distribution\n"
		"  -f, --fresh N      make N calls, each on a fresh VM from a pool (acquire,\n"
		"                     call, restore, release), print the latency distribution\n"
		"  -k, --kv KEY=VALUE serve KEY to the guest's kv_lookup host calls "
		"(repeatable)\n"
		"  -g, --grant PATH   let the guest open() and read PATH (repeatable)\n"
		"  -c, --count-insns  count the guest instructions of the call (single-step)\n"
		"  -t, --time         print how long creation and the call took (stderr)\n"
		"  -m, --mem MiB      guest memory (default 4; a snapshot file has its own)\n"
		"  -T, --timeout MS   fail a call (or the boot) that runs longer than MS ms\n"
		"  -p, --print-limit BYTES  guest output one call may print (default 1 MiB)\n"
		"  -S, --no-seccomp   do not confine the calls' thread with seccomp\n"
		"  -C, --core FILE    when the guest fails a call, write its core file to FILE\n"
		"                     (gdb IMAGE FILE); implies --no-seccomp\n"
		"  -G, --gdb PORT     wait for gdb on 127.0.0.1:PORT (0: any free one, printed)\n"
		"                     and make the call under it (gdb IMAGE -ex 'target\n"
		"                     remote :PORT'); one call, on an unconfined thread\n"
		"js       load SCRIPT.js into the JavaScript guest and print\n"
		"         JSON.stringify(HANDLER(JSON.parse(JSON))) (JSON: null when absent);\n"
		"         --repeat and --fresh time warm calls and fresh-VM events; the\n"
		"         other options are run's (memory defaults to 16 MiB); --kv's\n"
		"         kv_lookup is host.kv_lookup(key) in the script\n"
		"  -o, --output FILE  save the loaded script as a snapshot file (HANDLER is\n"
		"                     then optional); SCRIPT.js may be such a file: its\n"
		"                     events start with the script compiled and its globals\n"
		"                     set (give it the --kv it was saved with)\n"
		"list     print the functions IMAGE registers, with their signatures\n"
		"snapshot make the calls on a sandbox of IMAGE (printing their results), then\n"
		"         save the sandbox to FILE as a snapshot file: a later run of FILE\n"
		"         starts where the calls left it\n"
		"info     print the KVM API version, capabilities and memory backing\n");
	return status;
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

/* What run, list and snapshot start from: an image, or a loaded snapshot file. */
struct source {
	struct vmlet_image *img;
	struct vmlet_snapshot *snap;
};

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

static int open_source(const char *path, const struct vmlet_config *cfg, struct source *src)
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

static void source_close(struct source *src)
{
	vmlet_snapshot_destroy(src->snap);
	vmlet_image_close(src->img);
}

/*
 * A sandbox of the image at path (booted with cfg) or of the snapshot file
 * there (loaded with cfg, sandbox from it); *create_ns gets the time the
 * sandbox took, the load of a file not counted.
 */
static int open_sandbox(const char *path, const struct vmlet_config *cfg, struct source *src,
			struct vmlet_sandbox **sb, uint64_t *create_ns)
{
	uint64_t t0;
	int err;

	err = open_source(path, cfg, src);
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
		source_close(src);
	}
	return err;
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

static enum vmlet_type type_by_name(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum vmlet_type type;
	} names[] = {
		{"bool", VMLET_BOOL},	{"i32", VMLET_I32},    {"u32", VMLET_U32},
		{"i64", VMLET_I64},	{"u64", VMLET_U64},    {"f32", VMLET_F32},
		{"f64", VMLET_F64},	{"str", VMLET_STRING}, {"string", VMLET_STRING},
		{"bytes", VMLET_BYTES},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n && !strncmp(names[i].name, s, n))
			return names[i].type;
	return VMLET_VOID;
}

static int parse_int(const char *s, int is_signed, int64_t lo, uint64_t hi, struct vmlet_value *v)
{
	char *end;

	errno = 0;
	if (is_signed) {
		long long x = strtoll(s, &end, 0);

		if (errno || *end || end == s || x < lo || (x > 0 && (uint64_t)x > hi))
			return -EINVAL;
		v->i64 = x;
	} else {
		unsigned long long x;

		if (*s == '-')
			return -EINVAL;
		x = strtoull(s, &end, 0);
		if (errno || *end || end == s || x > hi)
			return -EINVAL;
		v->u64 = x;
	}
	return 0;
}

/* Parse one argument for a parameter of type want; buffers stay owned by *owned. */
static int parse_arg(const char *arg, enum vmlet_type want, struct vmlet_value *v, void **owned)
{
	const char *colon = strchr(arg, ':'), *val = arg;
	enum vmlet_type t = want;
	char *end;
	int err = 0;

	if (colon) {
		enum vmlet_type named = type_by_name(arg, (size_t)(colon - arg));

		if (named != VMLET_VOID) {
			if (named != want) {
				fprintf(stderr,
					"vmlet: argument '%s' is %s, the function wants %s\n", arg,
					vmlet_type_name(named), vmlet_type_name(want));
				return -EINVAL;
			}
			val = colon + 1;
		}
	}
	memset(v, 0, sizeof(*v));
	v->type = t;
	switch (t) {
	case VMLET_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "1"))
			v->b = true;
		else if (strcmp(val, "false") && strcmp(val, "0"))
			err = -EINVAL;
		break;
	case VMLET_I32:
		err = parse_int(val, 1, INT32_MIN, INT32_MAX, v);
		v->i32 = (int32_t)v->i64;
		break;
	case VMLET_U32:
		err = parse_int(val, 0, 0, UINT32_MAX, v);
		v->u32 = (uint32_t)v->u64;
		break;
	case VMLET_I64:
		err = parse_int(val, 1, INT64_MIN, INT64_MAX, v);
		break;
	case VMLET_U64:
		err = parse_int(val, 0, 0, UINT64_MAX, v);
		break;
	case VMLET_F32:
		errno = 0;
		v->f32 = strtof(val, &end);
		err = errno || *end || end == val ? -EINVAL : 0;
		break;
	case VMLET_F64:
		errno = 0;
		v->f64 = strtod(val, &end);
		err = errno || *end || end == val ? -EINVAL : 0;
		break;
	case VMLET_STRING:
		v->buf.ptr = val;
		v->buf.len = strlen(val);
		break;
	case VMLET_BYTES:
		if (val[0] == '@') {
			*owned = cli_read_file(val + 1, &v->buf.len);
			if (!*owned) {
				fprintf(stderr, "vmlet: %s: %s\n", val + 1, strerror(errno));
				return -errno;
			}
			v->buf.ptr = *owned;
		} else {
			v->buf.ptr = val;
			v->buf.len = strlen(val);
		}
		break;
	default:
		err = -EINVAL;
	}
	if (err)
		fprintf(stderr, "vmlet: cannot read '%s' as %s\n", arg, vmlet_type_name(want));
	return err;
}

static void print_value(const struct vmlet_value *v)
{
	switch (v->type) {
	case VMLET_VOID:
		puts("(void)");
		break;
	case VMLET_BOOL:
		puts(v->b ? "true" : "false");
		break;
	case VMLET_I32:
		printf("%" PRId32 "\n", v->i32);
		break;
	case VMLET_U32:
		printf("%" PRIu32 "\n", v->u32);
		break;
	case VMLET_I64:
		printf("%" PRId64 "\n", v->i64);
		break;
	case VMLET_U64:
		printf("%" PRIu64 "\n", v->u64);
		break;
	case VMLET_F32:
		printf("%.9g\n", (double)v->f32);
		break;
	case VMLET_F64:
		printf("%.17g\n", v->f64);
		break;
	case VMLET_STRING:
		printf("%.*s\n", (int)v->buf.len, (const char *)v->buf.ptr);
		break;
	case VMLET_BYTES:
		for (size_t i = 0; i < v->buf.len; i++) {
			unsigned char c = ((const unsigned char *)v->buf.ptr)[i];

			if (c >= 0x20 && c < 0x7f && c != '\\')
				putchar(c);
			else
				printf("\\x%02x", c);
		}
		putchar('\n');
		break;
	default:
		puts("?");
	}
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
	char *end;

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
		o->repeat = strtoull(arg, NULL, 0);
		if (!o->repeat || o->repeat > 100000000)
			return cli_usage(stderr, 2);
		return 0;
	case 'f':
		o->fresh = strtoull(arg, NULL, 0);
		if (!o->fresh || o->fresh > 100000000)
			return cli_usage(stderr, 2);
		return 0;
	case 'm':
		o->mem = strtoull(arg, NULL, 0);
		if (!o->mem || o->mem > 16384)
			return cli_usage(stderr, 2);
		return 0;
	case 'T':
		cfg->timeout_us = strtoull(arg, NULL, 0);
		if (!cfg->timeout_us || cfg->timeout_us > UINT64_MAX / 1000000)
			return cli_usage(stderr, 2);
		cfg->timeout_us *= 1000;
		return 0;
	case 'p':
		errno = 0;
		cfg->print_limit = strtoull(arg, &end, 0);
		if (errno || *end || end == arg || !cfg->print_limit)
			return cli_usage(stderr, 2);
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

/* --fresh: n calls through a pool of two, each on a restored sandbox. */
static int make_pool(const struct source *src, const struct vmlet_config *cfg,
		     struct vmlet_pool **pool)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	int err = src->snap ? vmlet_pool_create_from(src->snap, &pc, pool)
			    : vmlet_pool_create(src->img, cfg, &pc, pool);

	if (err)
		fprintf(stderr, "vmlet: cannot create a pool: %s\n", vmlet_strerror(err));
	return err;
}

static int run_fresh(struct vmlet_pool *pool, const char *name, const struct vmlet_value *args,
		     unsigned int nargs, uint64_t *lat, uint64_t n)
{
	const struct vmlet_snapshot *snap;
	struct vmlet_value ret;
	static char buf[1 << 20];
	uint64_t t0;
	int err;

	for (uint64_t i = 0; i < n; i++) {
		t0 = cli_now_ns();
		err = vmlet_pool_call(pool, name, args, nargs, &ret, buf, sizeof(buf));
		lat[i] = cli_now_ns() - t0;
		if (err) {
			fprintf(stderr, "vmlet: %s on a fresh VM: %s\n", name, vmlet_strerror(err));
			return err;
		}
	}
	snap = vmlet_pool_snapshot(pool);
	printf("fresh VM per call (pool of 2, %s, restore by %s):\n",
	       vmlet_backing_name(vmlet_snapshot_backing(snap)),
	       vmlet_snapshot_restore_method(snap) == VMLET_RESTORE_COPY
		       ? "copying dirty pages"
		       : "dropping written pages");
	cli_print_distribution(lat, n);
	return 0;
}

/* What the calls of `vmlet run` need, all set up before their thread starts. */
struct run {
	struct vmlet_sandbox *sb;
	struct vmlet_pool *pool; /* --fresh */
	const struct vmlet_func *fn;
	unsigned int idx, nargs;
	struct vmlet_value *args;
	uint64_t repeat, fresh, create_ns, *lat;
	int count, timing, seccomp;
	int err;
};

static int calls(struct run *r)
{
	struct vmlet_value ret;
	uint64_t t0;
	int err;

	t0 = cli_now_ns();
	err = vmlet_sandbox_call_index(r->sb, r->idx, r->args, r->nargs, &ret);
	t0 = cli_now_ns() - t0;
	if (err) {
		cli_print_fault(r->fn->name, err, vmlet_sandbox_fault(r->sb));
		return err;
	}
	print_value(&ret);
	if (r->timing)
		fprintf(stderr, "# create %.1f us (%s), call %.1f us\n", r->create_ns / 1e3,
			vmlet_backing_name(vmlet_sandbox_backing(r->sb)), t0 / 1e3);
	if (r->count)
		printf("guest instructions: %" PRIu64 "\n", vmlet_sandbox_insns(r->sb));
	for (uint64_t i = 0; i < r->repeat; i++) {
		t0 = cli_now_ns();
		err = vmlet_sandbox_call_index(r->sb, r->idx, r->args, r->nargs, &ret);
		r->lat[i] = cli_now_ns() - t0;
		if (err) {
			cli_print_fault(r->fn->name, err, vmlet_sandbox_fault(r->sb));
			return err;
		}
	}
	if (r->repeat)
		cli_print_distribution(r->lat, r->repeat);
	if (r->fresh)
		return run_fresh(r->pool, r->fn->name, r->args, r->nargs, r->lat, r->fresh);
	return 0;
}

static void gdb_listening(void *ctx, uint16_t port)
{
	fprintf(stderr, "vmlet: waiting for gdb on 127.0.0.1:%u (target remote :%u)\n", port, port);
	(void)ctx;
}

/* --gdb: the one call, under gdb. */
static int debug_call(struct run *r, uint16_t port)
{
	struct vmlet_debug_opts d = {.sz = sizeof(d), .port = port, .listening = gdb_listening};
	struct vmlet_value ret;
	int err = vmlet_sandbox_debug_call(r->sb, r->fn->name, r->args, r->nargs, &ret, &d);

	if (err == -EADDRINUSE || err == -EACCES) {
		fprintf(stderr, "vmlet: cannot listen on 127.0.0.1:%u: %s\n", port,
			vmlet_strerror(err));
		return err;
	}
	if (err) {
		cli_print_fault(r->fn->name, err, vmlet_sandbox_fault(r->sb));
		return err;
	}
	print_value(&ret);
	return 0;
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

static void *calls_main(void *arg)
{
	struct run *r = arg;

	r->err = cli_confine(r->seccomp, "the calls");
	if (r->err)
		return NULL;
	r->err = calls(r);
	fflush(stdout); /* while write(1) is all this thread may do */
	return NULL;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"repeat", required_argument, NULL, 'r'},
		{"count-insns", no_argument, NULL, 'c'},
		{"time", no_argument, NULL, 't'},
		{"mem", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 'T'},
		{"fresh", required_argument, NULL, 'f'},
		{"kv", required_argument, NULL, 'k'},
		{"grant", required_argument, NULL, 'g'},
		{"print-limit", required_argument, NULL, 'p'},
		{"no-seccomp", no_argument, NULL, 'S'},
		{"core", required_argument, NULL, 'C'},
		{"gdb", required_argument, NULL, 'G'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct vmlet_value args[VMLET_MAX_ARGS];
	long gdb_port = -1;
	char *end;
	void *owned[VMLET_MAX_ARGS] = {0};
	struct cli_opts o = CLI_OPTS_INIT; /* o.mem 0: the default, or a snapshot file's */
	struct source src = {0};
	struct run r = {.args = args};
	int c, err, idx;
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct vmlet_host *host = NULL;

	while ((c = getopt_long(argc, argv, "+r:f:ctm:T:k:g:p:SC:G:h", opts, NULL)) != -1) {
		switch (c) {
		case 'G':
			errno = 0;
			gdb_port = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || gdb_port < 0 || gdb_port > 65535) {
				fprintf(stderr,
					"vmlet: --gdb wants a TCP port (0-65535), not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			r.count = 1;
			break;
		case 't':
			r.timing = 1;
			break;
		case 'h':
			return cli_usage(stdout, 0);
		default:
			err = cli_opt(&o, &cfg, c, optarg);
			if (err)
				return err == 1 ? cli_usage(stderr, 2) : err;
		}
	}
	if (argc - optind < 2)
		return cli_usage(stderr, 2);
	r.repeat = o.repeat;
	r.fresh = o.fresh;
	r.seccomp = o.seccomp;
	if (gdb_port >= 0 && (r.repeat || r.fresh || r.count)) {
		fprintf(stderr, "vmlet: --gdb makes one call: not with --repeat, --fresh or "
				"--count-insns\n");
		cli_opts_close(&o);
		return 2;
	}
	err = cli_opts_done(&o, &cfg);
	if (!err && cli_kv_host(&cfg, &host))
		err = 1;
	if (err) {
		cli_opts_close(&o);
		return err;
	}
	if (open_sandbox(argv[optind], &cfg, &src, &r.sb, &r.create_ns))
		return 1;
	err = cli_grant(&o, r.sb);
	if (err)
		goto out;
	err = idx = vmlet_sandbox_func(r.sb, argv[optind + 1]);
	if (idx < 0) {
		fprintf(stderr, "vmlet: %s: no function '%s' (see vmlet list)\n", argv[optind],
			argv[optind + 1]);
		goto out;
	}
	r.idx = (unsigned int)idx;
	r.fn = vmlet_sandbox_func_at(r.sb, r.idx);
	r.nargs = (unsigned int)(argc - optind - 2);
	if (r.nargs != r.fn->nargs) {
		fprintf(stderr, "vmlet: %s takes %u arguments, %u given\n", r.fn->name, r.fn->nargs,
			r.nargs);
		err = -EINVAL;
		goto out;
	}
	for (unsigned int i = 0; i < r.nargs; i++) {
		err = parse_arg(argv[optind + 2 + i], r.fn->args[i], &args[i], &owned[i]);
		if (err)
			goto out;
	}
	if (gdb_port >= 0) {
		err = debug_call(&r, (uint16_t)gdb_port);
		goto out;
	}
	if (r.count) {
		err = vmlet_sandbox_count_insns(r.sb, true);
		if (err) {
			fprintf(stderr, "vmlet: cannot single-step: %s\n", vmlet_strerror(err));
			goto out;
		}
	}
	if (r.repeat || r.fresh) {
		r.lat = calloc(r.repeat > r.fresh ? r.repeat : r.fresh, sizeof(*r.lat));
		if (!r.lat) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (r.fresh) {
		err = make_pool(&src, &cfg, &r.pool);
		if (err)
			goto out;
	}
	/*
	 * stdio sizes stdout's buffer with an fstat(2) at its first use,
	 * which the confined thread may not make: give it the buffer and
	 * the mode glibc would have chosen, now.
	 */
	err = cli_run_thread(calls_main, &r);
	if (err)
		goto out;
	err = r.err;
out:
	vmlet_pool_destroy(r.pool);
	free(r.lat);
	for (unsigned int i = 0; i < VMLET_MAX_ARGS; i++)
		free(owned[i]);
	vmlet_sandbox_destroy(r.sb);
	source_close(&src);
	vmlet_host_destroy(host);
	cli_opts_close(&o);
	return err ? 1 : 0;
}

static int cmd_list(int argc, char **argv)
{
	struct vmlet_sandbox *sb;
	struct source src;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cli_usage(argc == 2 ? stdout : stderr, argc == 2 ? 0 : 2);
	if (open_sandbox(argv[1], NULL, &src, &sb, NULL))
		return 1;
	for (int i = 0; i < vmlet_sandbox_nfuncs(sb); i++) {
		const struct vmlet_func *f = vmlet_sandbox_func_at(sb, (unsigned int)i);

		printf("%s(", f->name);
		for (unsigned int a = 0; a < f->nargs; a++)
			printf("%s%s", a ? ", " : "", vmlet_type_name(f->args[a]));
		printf(") -> %s\n", vmlet_type_name(f->ret));
	}
	vmlet_sandbox_destroy(sb);
	source_close(&src);
	return 0;
}

/* Call name on sb with the arguments in argv (parsed by its signature), print the result. */
static int call_args(struct vmlet_sandbox *sb, const char *name, char **argv, unsigned int n)
{
	struct vmlet_value args[VMLET_MAX_ARGS], ret;
	void *owned[VMLET_MAX_ARGS] = {0};
	const struct vmlet_func *fn;
	int idx = vmlet_sandbox_func(sb, name), err = 0;

	if (idx < 0) {
		fprintf(stderr, "vmlet: no function '%s' (see vmlet list)\n", name);
		return idx;
	}
	fn = vmlet_sandbox_func_at(sb, (unsigned int)idx);
	if (n != fn->nargs) {
		fprintf(stderr, "vmlet: %s takes %u arguments, %u given\n", name, fn->nargs, n);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n && !err; i++)
		err = parse_arg(argv[i], fn->args[i], &args[i], &owned[i]);
	if (!err) {
		err = vmlet_sandbox_call_index(sb, (unsigned int)idx, args, n, &ret);
		if (err)
			cli_print_fault(name, err, vmlet_sandbox_fault(sb));
		else
			print_value(&ret);
	}
	for (unsigned int i = 0; i < VMLET_MAX_ARGS; i++)
		free(owned[i]);
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

/*
 * vmlet snapshot [--mem MiB] IMAGE -o FILE [--call FUNCTION [ARG...]]...:
 * the options and IMAGE first, then each --call with its arguments up to
 * the next --call. IMAGE may itself be a snapshot file: the new file then
 * starts where the calls left that one.
 */
static int cmd_snapshot(int argc, char **argv)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	const char *image = NULL, *out = NULL;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb;
	struct source src;
	int i = 1, err;
	char *end;

	for (; i < argc && strcmp(argv[i], "--call"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cli_usage(stdout, 0);
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
			out = argv[++i];
		} else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--mem")) && i + 1 < argc) {
			errno = 0;
			cfg.mem_size = strtoull(argv[++i], &end, 0) << 20;
			if (errno || *end || !cfg.mem_size)
				return cli_usage(stderr, 2);
		} else if (argv[i][0] != '-' && !image) {
			image = argv[i];
		} else {
			return cli_usage(stderr, 2);
		}
	}
	if (!image || !out)
		return cli_usage(stderr, 2);
	for (int j = i; j < argc; j++)
		if (!strcmp(argv[j], "--call") && (j + 1 == argc || !strcmp(argv[j + 1], "--call")))
			return cli_usage(stderr, 2); /* --call without a function */
	if (open_sandbox(image, &cfg, &src, &sb, NULL))
		return 1;
	err = 0;
	while (i < argc && !err) {
		int first = i + 2, next = first;

		while (next < argc && strcmp(argv[next], "--call"))
			next++;
		err = call_args(sb, argv[i + 1], argv + first, (unsigned int)(next - first));
		i = next;
	}
	if (!err) {
		err = vmlet_sandbox_snapshot(sb, &snap);
		if (err)
			fprintf(stderr, "vmlet: cannot snapshot the sandbox: %s\n",
				vmlet_strerror(err));
	}
	if (!err) {
		err = cli_save_snapshot(snap, out);
		if (err)
			fprintf(stderr, "vmlet: %s: %s\n", out, vmlet_strerror(err));
	}
	vmlet_snapshot_destroy(snap);
	vmlet_sandbox_destroy(sb);
	source_close(&src);
	return err ? 1 : 0;
}

static int cmd_info(int argc, char **argv)
{
	struct vmlet_platform p;
	int err;

	if (argc > 1)
		return cli_usage(strcmp(argv[1], "--help") ? stderr : stdout,
				 strcmp(argv[1], "--help") ? 2 : 0);
	err = vmlet_platform_query(&p);
	printf("host:            %s%s\n",
	       p.nested ? "runs under a hypervisor (nested)" : "bare metal", "");
	printf("memory backing:  %s (%ld free 2 MiB hugetlb pages)\n",
	       vmlet_backing_name(p.backing), p.hugepages_free);
	if (err) {
		printf("kvm:             unavailable: %s\n", vmlet_strerror(err));
		return 1;
	}
	printf("kvm api version: %d\n", p.api_version);
	printf("cpu vendor:      %s\n", p.vendor);
	printf("guest code:      %s\n",
	       p.emulated ? "emulated by KVM (no VMX/SVM visible to this kernel)"
			  : "runs natively (VMX/SVM)");
	printf("capabilities:    user-memory sync-regs%s%s%s%s\n", p.xsave ? " xcrs" : "",
	       p.guest_debug ? " set-guest-debug" : "", p.pv_refused ? " enforce-pv-cpuid" : "",
	       p.dirty_ring ? " dirty-log-ring" : "");
	printf("restore of msrs: %s\n",
	       p.msr_filter ? "after a guest wrote one (KVM_CAP_X86_MSR_FILTER)"
			    : "all at every restore (no KVM_CAP_X86_MSR_FILTER)");
	printf("copy restore:    %s\n",
	       p.dirty_ring ? "dirty ring (KVM_CAP_DIRTY_LOG_RING)"
			    : "dirty log (KVM_GET_DIRTY_LOG, one ioctl per restore)");
	printf("kvm pv msrs:     %s\n",
	       p.pv_refused ? "refused to guests"
			    : "writable by guests (KVM lacks KVM_CAP_ENFORCE_PV_FEATURE_CPUID)");
	printf("guest xcr0:      %#" PRIx64 "\n", p.xcr0);
	printf("instruction counting: %s\n", p.guest_debug ? "single-step (exact)" : "unavailable");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(stderr, 2);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "js"))
		return cli_js(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "wasm"))
		return cli_wasm(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return cli_usage(stdout, 0);
	fprintf(stderr, "vmlet: unknown command '%s'\n", argv[1]);
	return cli_usage(stderr, 2);
}
