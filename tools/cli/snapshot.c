// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet list and vmlet snapshot: the functions an image registers, and a
 * snapshot file saved after calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet.h>

#include "cli.h"

int cli_list(int argc, char **argv)
{
	struct vmlet_sandbox *sb;
	struct source src;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cli_usage(argc == 2 ? stdout : stderr, argc == 2 ? 0 : 2);
	if (cli_open_sandbox(argv[1], NULL, &src, &sb, NULL))
		return 1;
	for (int i = 0; i < vmlet_sandbox_nfuncs(sb); i++) {
		const struct vmlet_func *f = vmlet_sandbox_func_at(sb, (unsigned int)i);

		printf("%s(", f->name);
		for (unsigned int a = 0; a < f->nargs; a++)
			printf("%s%s", a ? ", " : "", vmlet_type_name(f->args[a]));
		printf(") -> %s\n", vmlet_type_name(f->ret));
	}
	vmlet_sandbox_destroy(sb);
	cli_source_close(&src);
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
		err = cli_parse_arg(argv[i], fn->args[i], &args[i], &owned[i]);
	if (!err) {
		err = vmlet_sandbox_call_index(sb, (unsigned int)idx, args, n, &ret);
		if (err)
			cli_print_fault(name, err, vmlet_sandbox_fault(sb));
		else
			cli_print_value(&ret);
	}
	for (unsigned int i = 0; i < VMLET_MAX_ARGS; i++)
		free(owned[i]);
	return err;
}

/*
 * vmlet snapshot [--mem MiB] IMAGE -o FILE [--call FUNCTION [ARG...]]...:
 * the options and IMAGE first, then each --call with its arguments up to
 * the next --call. IMAGE may itself be a snapshot file: the new file then
 * starts where the calls left that one.
 */
int cli_snapshot(int argc, char **argv)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg)};
	const char *image = NULL, *out = NULL;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb;
	struct source src;
	int i = 1, err;

	for (; i < argc && strcmp(argv[i], "--call"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cli_usage(stdout, 0);
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
			out = argv[++i];
		} else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--mem")) && i + 1 < argc) {
			if (cli_parse_u64(argv[++i], 1, 16384, &cfg.mem_size))
				return cli_usage(stderr, 2);
			cfg.mem_size <<= 20;
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
	if (cli_open_sandbox(image, &cfg, &src, &sb, NULL))
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
	cli_source_close(&src);
	return err ? 1 : 0;
}
