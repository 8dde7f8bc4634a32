/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the VM tests: open an image and make a sandbox of it. */
#ifndef VMLET_TEST_UTIL_H
#define VMLET_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#include "../hostfn.h"
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

/*
 * The footprint readings below fail the test when they cannot read (and
 * return -1): a failed reading must not pass a leak check as -1 == -1.
 */

/* A snapshot of img at its ready point restored by method m, or NULL (the test failed). */
static inline struct vmlet_snapshot *test_snapshot(struct vmlet_image *img, enum vmlet_restore m)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = m};
	struct vmlet_snapshot *snap = NULL;
	int err;

	if (!img)
		return NULL;
	err = vmlet_snapshot_create(img, &cfg, &snap);
	if (err)
		ksft_fail_at("vmlet_snapshot_create: %s", vmlet_strerror(err));
	return snap;
}

/*
 * A new file in /dev/shm, unlinked (not 9p, where vmtest.sh shares the
 * tree: see snapfile_test.c): its descriptor, or -1 (the test failed).
 */
static inline int test_tmpfile(void)
{
	char path[] = "/dev/shm/vmlet-test.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		ksft_fail_at("mkstemp: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	return fd;
}

/* snap saved to path, or to test_tmpfile() when path is NULL: its fd, or -1 (the test failed). */
static inline int test_snapshot_saved(const struct vmlet_snapshot *snap, const char *path)
{
	int fd = path ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : test_tmpfile();
	int err;

	if (fd < 0 || !snap) {
		ksft_fail_at("save: %s", fd < 0 ? strerror(errno) : "no snapshot");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	err = vmlet_snapshot_save(snap, fd);
	if (err) {
		ksft_fail_at("vmlet_snapshot_save: %s", vmlet_strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

/* Open file descriptors of this process, for leak checks. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d) {
		ksft_fail_at("opendir(/proc/self/fd): %s", strerror(errno));
		return -1;
	}
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

	if (!f) {
		ksft_fail_at("fopen(/proc/self/maps): %s", strerror(errno));
		return -1;
	}
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * Mappings a sandbox owns: its memory (a memfd named "vmlet", snapshots'
 * too) and its vCPU's kvm_run page. Counted by name, so a sanitizer
 * runtime's own mappings do not count.
 */
static inline int count_vm_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f) {
		ksft_fail_at("fopen(/proc/self/maps): %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:vmlet") || strstr(line, "anon_inode:kvm-vcpu");
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

	if (!f) {
		ksft_fail_at("fopen(/proc/self/smaps_rollup): %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	if (v < 0)
		ksft_fail_at("no \"%s:\" in /proc/self/smaps_rollup", key);
	return v;
}

/*
 * This process's descriptors whose /proc/self/fd link starts with what
 * ("anon_inode:kvm-vm", "anon_inode:kvm-vcpu:"): KVM's own objects, to ask
 * KVM about a sandbox rather than the library. Up to max in fds; how many
 * there are, or -1 (and the test fails) when /proc cannot be read.
 */
static inline int kvm_fds(const char *what, int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d) {
		ksft_fail_at("opendir(/proc/self/fd): %s", strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char path[300], link[256];
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (strncmp(link, what, strlen(what)))
			continue;
		if (n < max)
			fds[n] = atoi(e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* CLOCK_MONOTONIC, in ns and in ms. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

/*
 * What a leaked sandbox would grow: open descriptors, mappings (its
 * memfd and kvm_run), resident memory.
 */
struct footprint {
	int fds, maps, vm_maps;
	long rss_kib;
};

static inline struct footprint footprint_take(void)
{
	return (struct footprint){count_fds(), count_maps(), count_vm_maps(), smaps_kib("Rss")};
}

/*
 * Descriptors and mappings back where they were, and RSS grown by less
 * than slack KiB. Under ASan the runtime maps memory of its own as its
 * allocator grows: there only the sandboxes' own mappings are counted
 * (and they are everywhere), and RSS is not bounded (LeakSanitizer checks
 * the heap at the end of each test, kselftest.h).
 */
#define EXPECT_FOOTPRINT_BACK(a, b, slack)                                                         \
	do {                                                                                       \
		printf("# fds %d -> %d, mappings %d -> %d (sandboxes' %d -> %d), rss %ld KiB -> "   \
		       "%ld KiB\n",                                                                 \
		       (a).fds, (b).fds, (a).maps, (b).maps, (a).vm_maps, (b).vm_maps, (a).rss_kib, \
		       (b).rss_kib);                                                               \
		EXPECT_EQ((b).fds, (a).fds);                                                       \
		EXPECT_EQ((b).vm_maps, (a).vm_maps);                                               \
		if (__lsan_do_recoverable_leak_check) {                                            \
			printf("# ASan build: only the sandboxes' mappings counted, RSS not "       \
			       "bounded, LeakSanitizer checks the heap\n");                        \
		} else {                                                                           \
			EXPECT_EQ((b).maps, (a).maps);                                             \
			EXPECT_LT((b).rss_kib - (a).rss_kib, (slack));                             \
		}                                                                                  \
	} while (0)

/*
 * Host functions for the tests besides test_add1() (../hostfn.h): one that
 * fails with -EPERM, and one that interrupts the call that made it (ctx:
 * the sandbox).
 */
static inline int test_eperm(void *ctx, const struct vmlet_value *a, unsigned int n,
			     struct vmlet_value *r)
{
	(void)ctx;
	(void)a;
	(void)n;
	(void)r;
	return -EPERM;
}

static inline int test_interrupt(void *ctx, const struct vmlet_value *a, unsigned int n,
				 struct vmlet_value *r)
{
	(void)a;
	(void)n;
	(void)r;
	return vmlet_sandbox_interrupt(ctx);
}

#define GUEST(name) GUEST_DIR "/" name "_guest.elf"

/*
 * What a test stores in an out parameter before a call that must fail:
 * the library leaves *out untouched then, and NULL would not tell.
 */
#define UNTOUCHED ((void *)0x5a5a5a5a5a5a5a5aULL)

#endif /* VMLET_TEST_UTIL_H */
