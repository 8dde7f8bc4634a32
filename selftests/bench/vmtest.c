// SPDX-License-Identifier: BSD-2-Clause
/*
 * Groups that cannot run here run in the vmtest VM: bench runs itself
 * there with a fragment's flag (-F, -J, -S, -W) and takes the JSON file
 * it writes into this run's report (main.c says which groups and why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

int bench_in_vmtest(struct bench *b, const char *flag, const char *path, char *why, size_t len)
{
	char *argv[] = {VMTEST, "-t", "600", (char *)b->self, (char *)flag, (char *)path, NULL};
	int status;
	pid_t pid;

	unlink(path);
	fflush(stdout);
	progress("%s: in the vmtest VM (QEMU/TCG, nested KVM)", flag);
	pid = spawn(argv, 1, 2);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		snprintf(why, len, "cannot run %s: %s", VMTEST, strerror(errno));
		return -errno;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(why, len, "%s %s %s failed (status %d)", VMTEST, b->self, flag,
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -EIO;
	}
	if (access(path, R_OK)) {
		snprintf(why, len, "the VM wrote no %.200s", path);
		return -ENOENT;
	}
	return 0;
}

int bench_vmtest_fragment(struct bench *b, const char *flag, const char *key, const char *file,
			  const char *here_error, char *why, size_t len)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/%s", b->outdir, file);
	setenv("VMLET_BENCH_HERE_ERROR", here_error, 1);
	err = bench_in_vmtest(b, flag, path, why, len);
	if (!err) {
		err = json_file(b->j, key, path);
		if (err)
			snprintf(why, len, "%.200s: %s", path, strerror(-err));
	}
	return err;
}
