/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the VM tests: open an image and make a sandbox of it. */
#ifndef VMLET_TEST_UTIL_H
#define VMLET_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet.h>

#include "kselftest.h"

static inline struct vmlet_image *test_image(const char *path)
{
	struct vmlet_image *img = NULL;
	int err = vmlet_image_open(path, &img);

	if (err) {
		ksft_fail_at("vmlet_image_open(%s): %s", path, vmlet_strerror(err));
		return NULL;
	}
	return img;
}

static inline struct vmlet_sandbox *test_sandbox(struct vmlet_image *img,
						  const struct vmlet_config *cfg)
{
	struct vmlet_sandbox *sb = NULL;
	int err;

	if (!img)
		return NULL;
	err = vmlet_sandbox_create(img, cfg, &sb);
	if (err) {
		ksft_fail_at("vmlet_sandbox_create: %d (%s)", err, vmlet_strerror(err));
		return NULL;
	}
	return sb;
}

/* Open file descriptors of this process, for leak checks. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Lines in /proc/self/maps: a sandbox's memory or vCPU page left mapped adds one. */
static inline int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A field of /proc/self/smaps_rollup ("Rss", "Pss", ...) in KiB, or -1. */
static inline long smaps_kib(const char *key)
{
	char line[256];
	long v = -1;
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Host functions for the tests: u64 -> u64 + 1, and one that fails with -EPERM. */
static inline int test_add1(void *ctx, const struct vmlet_value *a, unsigned int n,
			    struct vmlet_value *r)
{
	(void)ctx;
	(void)n;
	r->u64 = a[0].u64 + 1;
	return 0;
}

static inline int test_eperm(void *ctx, const struct vmlet_value *a, unsigned int n,
			     struct vmlet_value *r)
{
	(void)ctx;
	(void)a;
	(void)n;
	(void)r;
	return -EPERM;
}

#define GUEST(name) GUEST_DIR "/" name "_guest.elf"

#endif /* VMLET_TEST_UTIL_H */
