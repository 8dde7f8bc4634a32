// SPDX-License-Identifier: BSD-2-Clause
/*
 * `vmlet js`: load a script into the JavaScript guest (vmlet_js_load) and
 * run one of its handlers on a JSON event, like `vmlet run` does for C
 * guests: once on a fresh VM, --repeat N warm calls on one VM, or
 * --fresh N events each on a VM restored to the loaded snapshot. The
 * events run on a thread confined with seccomp (main.c says why).
 *
 * -o FILE saves the loaded script's snapshot as a snapshot file (HANDLER
 * is then optional); SCRIPT.js may itself be such a file, told apart by
 * its first bytes as IMAGE is for run: its events start with the script
 * compiled and its globals set, without booting or compiling
 * (vmlet_snapshot_load, vmlet_js_from_snapshot).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmlet.h>

#include "cli.h"

static const char *const js_codes[] = {
	[VMLET_JS_THROW] = "uncaught exception",
	[VMLET_JS_SYNTAX] = "syntax error",
	[VMLET_JS_NOHANDLER] = "no such handler",
	[VMLET_JS_BADINPUT] = "the event is not JSON",
	[VMLET_JS_BADOUTPUT] = "the result has no JSON form",
	[VMLET_JS_NOMEM] = "out of memory",
	[VMLET_JS_FATAL] = "engine failure",
};

static void js_fault(const char *what, int err, const struct vmlet_fault *f)
{
	if ((err == -VMLET_EFAIL || err == -VMLET_EABORT) && f && f->error == err &&
	    f->code >= VMLET_JS_THROW && f->code <= VMLET_JS_FATAL) {
		fprintf(stderr, "vmlet: %s: %s:\n%s\n", what, js_codes[f->code], f->message);
		return;
	}
	cli_print_fault(what, err, f);
}

/*
 * The guest image: $VMLET_JS_IMAGE, else the build tree's when this is
 * the build tree's vmlet (tools/ beside runtimes/js/), else the library's
 * default (NULL), the installed one.
 */
static const char *image_path(void)
{
	static char path[4096];
	const char *env = getenv("VMLET_JS_IMAGE");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	if (n <= 0)
		return NULL;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash || slash - path < 6 || memcmp(slash - 6, "/tools", 6))
		return NULL;
	strcpy(slash - 6, "/runtimes/js/vmlet-js.elf");
	return access(path, R_OK) ? NULL : path;
}

struct js_run {
	struct vmlet_js *js;
	const char *handler, *json;
	uint64_t repeat, fresh, *lat;
	int seccomp, timing;
	int err;
};

static int event(struct js_run *r, bool fresh)
{
	const char *out;
	int n = fresh ? vmlet_js_event(r->js, r->handler, r->json, &out)
		      : vmlet_js_call(r->js, r->handler, r->json, &out);

	if (n < 0)
		js_fault(r->handler, n, vmlet_js_fault(r->js));
	return n < 0 ? n : 0;
}

static int events(struct js_run *r)
{
	const char *out;
	uint64_t t0 = cli_now_ns();
	int n = vmlet_js_event(r->js, r->handler, r->json, &out);

	t0 = cli_now_ns() - t0;
	if (n < 0) {
		js_fault(r->handler, n, vmlet_js_fault(r->js));
		return n;
	}
	printf("%.*s\n", n, out);
	if (r->timing)
		fprintf(stderr, "# event %.1f us\n", t0 / 1e3);
	for (uint64_t i = 0; i < r->repeat; i++) {
		t0 = cli_now_ns();
		n = event(r, false);
		r->lat[i] = cli_now_ns() - t0;
		if (n)
			return n;
	}
	if (r->repeat) {
		printf("warm calls on one VM:\n");
		cli_print_distribution(r->lat, r->repeat);
	}
	for (uint64_t i = 0; i < r->fresh; i++) {
		t0 = cli_now_ns();
		n = event(r, true);
		r->lat[i] = cli_now_ns() - t0;
		if (n)
			return n;
	}
	if (r->fresh) {
		printf("fresh VM per event (restore to the loaded snapshot, then the event):\n");
		cli_print_distribution(r->lat, r->fresh);
	}
	return 0;
}

static void *events_main(void *arg)
{
	struct js_run *r = arg;

	r->err = cli_confine(r->seccomp, "the events");
	if (r->err)
		return NULL;
	r->err = events(r);
	fflush(stdout);
	return NULL;
}

/* A vmlet_js of the snapshot file at path (saved by -o), loaded with cfg. */
static int js_open(const char *path, const struct vmlet_config *cfg, struct vmlet_js **js)
{
	struct vmlet_snapshot *snap = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	err = fd < 0 ? -errno : vmlet_snapshot_load(fd, cfg, &snap);
	if (fd >= 0)
		close(fd);
	if (err) {
		fprintf(stderr, "vmlet: %s: %s%s%s\n", path, vmlet_strerror(err),
			*vmlet_snapshot_load_error() ? ": " : "", vmlet_snapshot_load_error());
		return err;
	}
	err = vmlet_js_from_snapshot(snap, js);
	vmlet_snapshot_destroy(snap);
	if (err == -EINVAL)
		fprintf(stderr, "vmlet: %s: not a snapshot of the JavaScript guest\n", path);
	else if (err)
		fprintf(stderr, "vmlet: %s: %s\n", path, vmlet_strerror(err));
	return err;
}

int cli_js(int argc, char **argv)
{
	static const struct option opts[] = {
		{"repeat", required_argument, NULL, 'r'},
		{"fresh", required_argument, NULL, 'f'},
		{"kv", required_argument, NULL, 'k'},
		{"grant", required_argument, NULL, 'g'},
		{"mem", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 'T'},
		{"print-limit", required_argument, NULL, 'p'},
		{"time", no_argument, NULL, 't'},
		{"no-seccomp", no_argument, NULL, 'S'},
		{"core", required_argument, NULL, 'C'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	struct vmlet_fault fault;
	struct vmlet_js_config jc = {.sz = sizeof(jc), .cfg = &cfg, .fault = &fault};
	struct js_run r = {.json = "null"};
	struct cli_opts o = CLI_OPTS_INIT;
	struct vmlet_host *host = NULL;
	const char *save = NULL;
	int c, err = 0, is_snap;
	size_t len;
	uint64_t t0;
	char *src = NULL;

	while ((c = getopt_long(argc, argv, "+r:f:k:g:m:T:p:tSC:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			save = optarg;
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
	if (argc - optind < (save ? 1 : 2) || argc - optind > 3)
		return cli_usage(stderr, 2);
	r.repeat = o.repeat;
	r.fresh = o.fresh;
	r.seccomp = o.seccomp;
	err = cli_opts_done(&o, &cfg);
	if (err) {
		cli_opts_close(&o);
		return err;
	}
	r.handler = argv[optind + 1]; /* NULL with -o and no HANDLER */
	if (argc - optind == 3)
		r.json = argv[optind + 2];
	err = cli_kv_host(&cfg, &host);
	if (err)
		goto out;
	is_snap = cli_is_snapshot_file(argv[optind]);
	t0 = cli_now_ns();
	if (is_snap > 0) {
		err = js_open(argv[optind], &cfg, &r.js);
		if (err)
			goto out;
		if (r.timing)
			fprintf(stderr,
				"# open (load the snapshot file, a sandbox of it) %.1f us\n",
				(cli_now_ns() - t0) / 1e3);
	} else {
		/* Not a snapshot file, or unreadable: cli_read_file() says why. */
		src = cli_read_file(argv[optind], &len);
		if (src && strlen(src) != len) {
			fprintf(stderr, "vmlet: %s: a script holds no NUL byte\n", argv[optind]);
			free(src);
			src = NULL;
		}
		if (!src) {
			err = 1;
			goto out;
		}
		jc.filename = argv[optind];
		jc.image = image_path();
		err = vmlet_js_load(src, &jc, &r.js);
		if (err == -ENOENT || err == -EACCES)
			fprintf(stderr,
				"vmlet: cannot open the JavaScript guest image %s: %s "
				"(VMLET_JS_IMAGE names another)\n",
				jc.image ? jc.image : "(installed)", strerror(-err));
		else if (err)
			js_fault(argv[optind], err, &fault);
		if (err)
			goto out;
		if (r.timing)
			fprintf(stderr,
				"# load (boot, compile, run the top level, snapshot) %.1f us\n",
				(cli_now_ns() - t0) / 1e3);
	}
	if (save) {
		err = cli_save_snapshot(vmlet_js_snapshot(r.js), save);
		if (err) {
			fprintf(stderr, "vmlet: %s: %s\n", save, vmlet_strerror(err));
			goto out;
		}
		if (!r.handler)
			goto out;
	}
	/* Before the first event, which runs on this very VM without a restore. */
	err = cli_grant(&o, vmlet_js_sandbox(r.js));
	if (err)
		goto out;
	if (r.repeat || r.fresh) {
		r.lat = calloc(r.repeat > r.fresh ? r.repeat : r.fresh, sizeof(*r.lat));
		if (!r.lat) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = cli_run_thread(events_main, &r);
	if (err)
		goto out;
	err = r.err;
out:
	free(r.lat);
	vmlet_js_destroy(r.js);
	vmlet_host_destroy(host);
	cli_opts_close(&o);
	free(src);
	return err ? 1 : 0;
}
