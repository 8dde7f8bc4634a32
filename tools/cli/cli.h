/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the commands of the vmlet CLI share: main.c dispatches to run.c,
 * snapshot.c, js.c and wasm.c, which share cli.c and value.c.
 */
#ifndef VMLET_TOOLS_CLI_H
#define VMLET_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <vmlet.h>

int cli_usage(FILE *f, int status);
uint64_t cli_now_ns(void);
void cli_print_fault(const char *what, int err, const struct vmlet_fault *f);
void cli_print_distribution(uint64_t *ns, uint64_t n);
/* arg as a whole number in [min, max] (decimal, 0x hex or 0 octal): 0 or -EINVAL. */
int cli_parse_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* The file's bytes, NUL-terminated (not counted in *len); NULL with a message. */
void *cli_read_file(const char *path, size_t *len);
/* --kv KEY=VALUE (arg is modified), and the host function that serves it. */
int cli_kv_add(char *arg);
int cli_kv_host(struct vmlet_config *cfg, struct vmlet_host **host);

/*
 * The options `vmlet run` and `vmlet js` share: --kv, --grant, --repeat,
 * --fresh, --mem, --timeout, --print-limit, --no-seccomp and --core, by
 * the short names k g r f m T p S C.
 */
struct cli_opts {
	const char *grants[VMLET_MAX_GRANTS];
	int fds[VMLET_MAX_GRANTS];
	unsigned int ngrants, nfds;
	uint64_t repeat, fresh, mem;
	int seccomp;
};
#define CLI_OPTS_INIT                                                                              \
	{                                                                                          \
		.seccomp = 1                                                                       \
	}
/* Option c with its argument: 0 taken, 1 not one of these, 2 the exit status of a bad one. */
int cli_opt(struct cli_opts *o, struct vmlet_config *cfg, int c, char *arg);
/* After the options: checks them together and opens the grants; 0, or an exit status. */
int cli_opts_done(struct cli_opts *o, struct vmlet_config *cfg);
/* Grants the opened files to sb as descriptors 3, 4, ... for reading; 0 or -errno, said. */
int cli_grant(const struct cli_opts *o, struct vmlet_sandbox *sb);
void cli_opts_close(struct cli_opts *o);

/* 1 when path starts with VMLET_SNAPSHOT_MAGIC, 0 when not, or -errno. */
int cli_is_snapshot_file(const char *path);
/* What run, list and snapshot start from: an image, or a loaded snapshot file. */
struct source {
	struct vmlet_image *img;
	struct vmlet_snapshot *snap;
};
/* The image or snapshot file at path, loaded with cfg; 0, or the error, said. */
int cli_open_source(const char *path, const struct vmlet_config *cfg, struct source *src);
void cli_source_close(struct source *src);
/*
 * A sandbox of the image at path (booted with cfg) or of the snapshot file
 * there (loaded with cfg, sandbox from it); *create_ns gets the time the
 * sandbox took, the load of a file not counted.
 */
int cli_open_sandbox(const char *path, const struct vmlet_config *cfg, struct source *src,
		     struct vmlet_sandbox **sb, uint64_t *create_ns);
/* One argument for a parameter of type want; buffers stay owned by *owned (free()). */
int cli_parse_arg(const char *arg, enum vmlet_type want, struct vmlet_value *v, void **owned);
/* A call's result on stdout, as the command line writes arguments. */
void cli_print_value(const struct vmlet_value *v);
/* Save snap to path through a temporary file renamed into place: a reader sees all or none. */
int cli_save_snapshot(const struct vmlet_snapshot *snap, const char *path);
/*
 * The calls of a command, on a thread of their own that may confine
 * itself: stdout gets a buffer first (stdio would fstat(2) it at first
 * use, which a confined thread may not), then fn(arg) runs on the new
 * thread and is waited for. 0, or -errno when it could not start (said).
 */
int cli_run_thread(void *(*fn)(void *), void *arg);
/* With seccomp (not --no-seccomp), confine this thread (what: "the calls"); 0 or the error, said.
 */
int cli_confine(int seccomp, const char *what);
/* The commands: vmlet run, list, snapshot, js and wasm (argv[0] is the command). */
int cli_run(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_snapshot(int argc, char **argv);
int cli_js(int argc, char **argv);
int cli_wasm(int argc, char **argv);

#endif /* VMLET_TOOLS_CLI_H */
