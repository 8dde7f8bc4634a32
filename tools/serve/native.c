// SPDX-License-Identifier: BSD-2-Clause
/*
 * The native lifecycle: load the guest's functions built for the host
 * (native_guest.c says how) and call them on the HTTP thread itself, with
 * no VM and no hand-over to a worker. That is the floor the other
 * lifecycles are measured against, as hyperlight-bench's "no VM" is.
 * Its signatures must match the image's, function by function, or the
 * server refuses to start: the two must be the same code.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

int native_open(struct server *s, const char *path)
{
	vmlet_native_start_fn start;
	vmlet_native_func_at_fn func_at;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	int n;

	if (!h) {
		fprintf(stderr, "vmlet-serve: %s\n", dlerror());
		return -ENOENT;
	}
	start = (vmlet_native_start_fn)dlsym(h, "vmlet_native_start");
	func_at = (vmlet_native_func_at_fn)dlsym(h, "vmlet_native_func_at");
	s->native_call = (vmlet_native_call_fn)dlsym(h, "vmlet_native_call");
	if (!start || !func_at || !s->native_call) {
		fprintf(stderr, "vmlet-serve: %s: not a native guest (no vmlet_native_*)\n", path);
		goto err;
	}
	n = start();
	if (n < 0) {
		fprintf(stderr, "vmlet-serve: %s: start-up failed: %s\n", path, vmlet_strerror(n));
		goto err;
	}
	for (unsigned int i = 0; i < s->nroutes; i++) {
		const struct vmlet_func *g = &s->routes[i].sig;
		struct vmlet_func f;

		if ((int)i >= n || func_at(i, &f) || strcmp(f.name, g->name) || f.ret != g->ret ||
		    f.nargs != g->nargs || memcmp(f.args, g->args, sizeof(f.args[0]) * f.nargs)) {
			fprintf(stderr, "vmlet-serve: %s: function %u is not the image's %s\n",
				path, i, g->name);
			goto err;
		}
	}
	s->native_handle = h;
	return 0;
err:
	s->native_call = NULL;
	dlclose(h);
	return -EINVAL;
}

static void print(void *ctx, const char *buf, size_t len)
{
	job_output(ctx, buf, len);
}

void native_call(struct server *s, struct job *job)
{
	job->err = 0;
	job->outlen = 0;
	job->fault.error = 0;
	job->err = s->native_call(job->route->index, job->args, job->route->sig.nargs, &job->ret,
				  &job->fault, print, job);
}
