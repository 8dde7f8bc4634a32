// SPDX-License-Identifier: BSD-2-Clause
/*
 * The names of core files (lib/core.c): the config's core_path template,
 * checked when the config is (lib/layout.c) and expanded per core.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

int vmlet_core_path(const char *tmpl, uint64_t id, char *buf, size_t size)
{
	size_t n = 0;
	int len;

	if (!tmpl || !*tmpl)
		return -EINVAL;
	for (const char *p = tmpl; *p; p++) {
		char num[24];
		const char *s = num;

		if (*p != '%') {
			num[0] = *p;
			num[1] = '\0';
		} else if (p[1] == '%') {
			s = "%";
			p++;
		} else if (p[1] == 'i') {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)id);
			p++;
		} else if (p[1] == 'p') {
			snprintf(num, sizeof(num), "%d", (int)getpid());
			p++;
		} else {
			return -EINVAL;
		}
		len = (int)strlen(s);
		if (buf && n + (size_t)len < size)
			memcpy(buf + n, s, (size_t)len);
		n += (size_t)len;
	}
	if (!buf)
		return 0;
	if (n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}
