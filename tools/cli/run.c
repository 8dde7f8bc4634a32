// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet run: a call, --repeat warm calls, --fresh calls on restored
 * sandboxes of a pool, or one call under gdb. Everything is set up on
 * the main thread; the calls run on a thread that confines itself first
 * (main.c says why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet.h>

#include "cli.h"

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
	cli_print_value(&ret);
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
	cli_print_value(&ret);
	return 0;
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

int cli_run(int argc, char **argv)
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
	if (cli_open_sandbox(argv[optind], &cfg, &src, &r.sb, &r.create_ns))
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
		err = cli_parse_arg(argv[optind + 2 + i], r.fn->args[i], &args[i], &owned[i]);
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
	cli_source_close(&src);
	vmlet_host_destroy(host);
	cli_opts_close(&o);
	return err ? 1 : 0;
}
