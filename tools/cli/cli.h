/* SPDX-License-Identifier: BSD-2-Clause */
/* What the commands of the vmlet CLI share (tools/vmlet.c, tools/cli/js.c, wasm.c). */
#ifndef VMLET_TOOLS_CLI_H
#define VMLET_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <vmlet.h>

int cli_usage(FILE *f, int status);
uint64_t cli_now_ns(void);
void cli_print_fault(const char *what, int err, const struct vmlet_fault *f);
void cli_print_distribution(uint64_t *ns, uint64_t n);
/* The file's bytes, NUL-terminated (not counted in *len); NULL with a message. */
void *cli_read_file(const char *path, size_t *len);
/* --kv KEY=VALUE (arg is modified), and the host function that serves it. */
int cli_kv_add(char *arg);
int cli_kv_host(struct vmlet_config *cfg, struct vmlet_host **host);

int cli_js(int argc, char **argv);
int cli_wasm(int argc, char **argv);

#endif /* VMLET_TOOLS_CLI_H */
