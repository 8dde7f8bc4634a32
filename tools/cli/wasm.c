// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet wasm run: run a WASI command the way `wasmtime run` does, each
 * run in a fresh micro-VM.
 *
 * The module is compiled once by vmlet-wasm-cc(1) into a guest image kept
 * in a cache directory (wasmcache.c, which vmlet-serve shares). The run calls the
 * image's _start(argv, environ, stdin) on a thread confined with seccomp,
 * and vmlet exits with the module's exit status: 134 after a trap (as
 * wasmtime does), 1 when anything else goes wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmlet.h>

#include "cli.h"
#include "wasmcache.h"

#define MAX_GRANTS 8
#define TRAP_EXIT  134

static int wasm_usage(FILE *f, int status)
{
	fprintf(f,
		"usage: vmlet wasm run [--env KEY=VALUE]... [--grant PATH]... [--stdin FILE]\n"
		"                      [--mem MiB] [--timeout MS] MODULE.wasm [ARG...]\n"
		"\n"
		"Compile MODULE (a WASI command) into a guest image, cached, and run its\n"
		"_start in a fresh micro-VM with ARG... as its arguments; exit with its status.\n"
		"  -e, --env KEY=VALUE  set an environment variable of the module (repeatable)\n"
		"  -g, --grant PATH     let the module open PATH (a file, or files in a "
		"directory),\n"
		"                       read and write (repeatable)\n"
		"  -i, --stdin FILE     the module's standard input ('-': vmlet's own)\n"
		"  -m, --mem MiB        guest memory (default 64)\n"
		"  -T, --timeout MS     stop the module after MS milliseconds\n"
		"Environment: VMLET_WASM_CC (the compiler), VMLET_CACHE_DIR (the cache).\n");
	return status;
}

struct wasm_run {
	struct vmlet_sandbox *sb;
	struct vmlet_value args[3];
	struct vmlet_value ret;
	int err;
	bool dirs; /* a directory is granted */
};

static void *run_main(void *arg)
{
	struct wasm_run *r = arg;

	/* A granted directory: the module opens files in it with openat2. */
	r->err = vmlet_thread_confine(r->dirs ? VMLET_CONFINE_OPEN : 0);
	if (r->err) {
		fprintf(stderr, "vmlet: cannot confine the run: %s\n", vmlet_strerror(r->err));
		return NULL;
	}
	r->err = vmlet_sandbox_call(r->sb, "_start", r->args, 3, &r->ret);
	fflush(stdout); /* while write(1) is all this thread may do */
	return NULL;
}

static int cmd_wasm_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"env", required_argument, NULL, 'e'},
		{"grant", required_argument, NULL, 'g'},
		{"stdin", required_argument, NULL, 'i'},
		{"mem", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .stack_size = 1 << 20};
	struct buf mod = {0}, args = {0}, env = {0}, in = {0};
	const char *grants[MAX_GRANTS], *stdin_path = NULL;
	int fds[MAX_GRANTS], ngrants = 0, status = 1, c, err;
	struct vmlet_image *img = NULL;
	char *names[MAX_GRANTS] = {0};
	struct wasm_run r = {0};
	uint64_t mem = 64;
	char elf[4200];

	while ((c = getopt_long(argc, argv, "+e:g:i:m:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (!strchr(optarg, '=') || buf_add(&env, optarg, strlen(optarg) + 1))
				return wasm_usage(stderr, 2);
			break;
		case 'g':
			if (ngrants == MAX_GRANTS)
				return wasm_usage(stderr, 2);
			grants[ngrants++] = optarg;
			break;
		case 'i':
			stdin_path = optarg;
			break;
		case 'm':
			if (cli_parse_u64(optarg, 1, 1ULL << 20, &mem))
				return wasm_usage(stderr, 2);
			break;
		case 'T':
			if (cli_parse_u64(optarg, 1, UINT64_MAX / 1000000, &cfg.timeout_us))
				return wasm_usage(stderr, 2);
			cfg.timeout_us *= 1000;
			break;
		case 'h':
			return wasm_usage(stdout, 0);
		default:
			return wasm_usage(stderr, 2);
		}
	}
	if (optind >= argc)
		return wasm_usage(stderr, 2);
	cfg.mem_size = (mem + 1) / 2 * 2 << 20;
	for (int i = optind; i < argc; i++)
		if (buf_add(&args, argv[i], strlen(argv[i]) + 1))
			goto out;
	err = read_path(argv[optind], &mod);
	if (err) {
		fprintf(stderr, "vmlet: %s: %s\n", argv[optind], strerror(-err));
		goto out;
	}
	if (stdin_path) {
		err = !strcmp(stdin_path, "-") ? read_fd(STDIN_FILENO, &in)
					       : read_path(stdin_path, &in);
		if (err) {
			fprintf(stderr, "vmlet: --stdin %s: %s\n", stdin_path, strerror(-err));
			goto out;
		}
	}
	for (int i = 0; i < ngrants; i++) {
		fds[i] = open(grants[i], O_RDWR | O_CLOEXEC);
		/* A directory: the module opens and makes files beneath it. */
		if (fds[i] < 0 && errno == EISDIR) {
			fds[i] = open(grants[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			r.dirs = true;
		}
		if (fds[i] < 0) {
			fprintf(stderr, "vmlet: --grant %s: %s\n", grants[i], strerror(errno));
			ngrants = i;
			goto out;
		}
	}
	if (wasm_cached_image(argv[optind], &mod, elf, sizeof(elf)))
		goto out;
	err = vmlet_image_open(elf, &img);
	if (!err)
		err = vmlet_sandbox_create(img, &cfg, &r.sb);
	if (err) {
		fprintf(stderr, "vmlet: %s: cannot start the module: %s\n", argv[optind],
			vmlet_strerror(err));
		goto out;
	}
	for (int i = 0; i < ngrants; i++) {
		/* The module's cwd is its root: a relative path is found there. */
		if (asprintf(&names[i], "%s%s", grants[i][0] == '/' ? "" : "/", grants[i]) < 0) {
			names[i] = NULL;
			goto out;
		}
		err = vmlet_sandbox_grant_fd(r.sb, 3 + i, fds[i],
					     VMLET_GRANT_READ | VMLET_GRANT_WRITE, names[i]);
		if (err) {
			fprintf(stderr, "vmlet: --grant %s: %s\n", grants[i], vmlet_strerror(err));
			goto out;
		}
	}
	if (vmlet_sandbox_func(r.sb, "_start") < 0) {
		fprintf(stderr, "vmlet: %s: not a WASI command (no _start)\n", argv[optind]);
		goto out;
	}
	r.args[0] = vmlet_bytes(args.p, args.len);
	r.args[1] = vmlet_bytes(env.p, env.len);
	r.args[2] = vmlet_bytes(in.p, in.len);
	/* stdio would fstat(2) stdout at first use, which the confined thread may not. */
	fflush(stdout);
	if (cli_run_thread(run_main, &r))
		goto out;
	if (!r.err) {
		status = r.ret.i32 & 0xff;
	} else if (r.err == -VMLET_EFAIL) {
		fprintf(stderr, "vmlet: %s: %s\n", argv[optind],
			vmlet_sandbox_fault(r.sb)->message);
		status = TRAP_EXIT;
	} else {
		const struct vmlet_fault *f = vmlet_sandbox_fault(r.sb);

		fprintf(stderr, "vmlet: %s: %s%s%s\n", argv[optind], vmlet_strerror(r.err),
			f && f->message[0] ? ": " : "", f ? f->message : "");
	}
out:
	vmlet_sandbox_destroy(r.sb);
	vmlet_image_close(img);
	for (int i = 0; i < ngrants; i++) {
		close(fds[i]);
		free(names[i]);
	}
	free(mod.p);
	free(args.p);
	free(env.p);
	free(in.p);
	return status;
}

int cli_wasm(int argc, char **argv)
{
	if (argc < 2)
		return wasm_usage(stderr, 2);
	if (!strcmp(argv[1], "run"))
		return cmd_wasm_run(argc - 1, argv + 1);
	return wasm_usage(!strcmp(argv[1], "--help") ? stdout : stderr,
			  !strcmp(argv[1], "--help") ? 0 : 2);
}
