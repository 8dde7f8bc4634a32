/* SPDX-License-Identifier: BSD-2-Clause */
/* Writing a whole buffer to a descriptor: short writes and EINTR retried. */
#ifndef VMLET_FDIO_H
#define VMLET_FDIO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

/* 0, or -errno (-EIO for a write that took nothing). */
static inline int vmlet_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#endif /* VMLET_FDIO_H */
