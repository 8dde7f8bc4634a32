/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading and setting what the system offers, for the tests and the
 * benchmark that need 2 MiB hugetlb pages: /proc/meminfo fields, one
 * number in a /proc or /sys file, and vm.nr_hugepages raised so that a
 * number of pages is free (root only), with the old value to put back.
 */
#ifndef VMLET_SELFTESTS_HUGEPAGES_H
#define VMLET_SELFTESTS_HUGEPAGES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char nr_hugepages[] = "/proc/sys/vm/nr_hugepages";

/* The number in path, or -1. */
static inline long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Write v to path: 0 or -errno. */
static inline int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

/* The number after "field:" in a file of such lines (kB, or a count); -1 on error. */
static inline long field_kib(const char *path, const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A /proc/meminfo field, or -1. */
static inline long meminfo_kib(const char *field)
{
	return field_kib("/proc/meminfo", field);
}

/*
 * Make sure n 2 MiB pages are free: raise vm.nr_hugepages (root only);
 * *old gets the value to put back (-1: nothing changed). NULL, or why
 * there are none (in why, len bytes).
 */
static inline const char *reserve_hugepages(long n, long *old, char *why, size_t len)
{
	long free_ = meminfo_kib("HugePages_Free"), want;
	int err;

	*old = -1;
	if (free_ >= n)
		return NULL;
	if (free_ < 0)
		return "this kernel has no hugetlb pages";
	*old = read_long(nr_hugepages);
	if (*old < 0) {
		snprintf(why, len, "cannot read %s", nr_hugepages);
		return why;
	}
	want = *old + n - free_;
	err = write_long(nr_hugepages, want);
	free_ = meminfo_kib("HugePages_Free");
	if (free_ >= n)
		return NULL;
	snprintf(why, len, "could not reserve %ld 2 MiB hugepages (%s%s%ld free after writing %ld to %s)",
		 n, err ? strerror(-err) : "", err ? ", " : "", free_, want, nr_hugepages);
	return why;
}

/*
 * The 2 MiB pages a new hugetlb mapping can still reserve: free ones not
 * promised to a mapping yet (a mapping reserves its pages at mmap() and
 * takes them from the free count as it touches them), or -1.
 */
static inline long hugepages_available(void)
{
	long free_ = meminfo_kib("HugePages_Free"), rsvd = meminfo_kib("HugePages_Rsvd");

	return free_ < 0 || rsvd < 0 ? -1 : free_ - rsvd;
}

/*
 * Make exactly n 2 MiB pages (the default size, which this needs) free by
 * setting vm.nr_hugepages (root only): 0, or -1 when that did not give n.
 * The caller puts back the old HugePages_Total.
 */
static inline int set_free_hugepages(long n)
{
	long free_ = meminfo_kib("HugePages_Free"), total = meminfo_kib("HugePages_Total");

	if (free_ < 0 || total < 0 || meminfo_kib("Hugepagesize") != 2048)
		return -1;
	if (write_long(nr_hugepages, total + n - free_))
		return -1;
	return meminfo_kib("HugePages_Free") == n ? 0 : -1;
}

#endif /* VMLET_SELFTESTS_HUGEPAGES_H */
