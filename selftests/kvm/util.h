/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the VM tests: open an image and make a sandbox of it. */
#ifndef VMLET_TEST_UTIL_H
#define VMLET_TEST_UTIL_H

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

#define GUEST(name) GUEST_DIR "/" name "_guest.elf"

#endif /* VMLET_TEST_UTIL_H */
