/* SPDX-License-Identifier: BSD-2-Clause */
/* A guest image: a validated ELF and its bytes (lib/image.c). */
#ifndef VMLET_IMAGE_H
#define VMLET_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "elf.h"

struct vmlet_image {
	uint8_t *data;
	size_t len;
	struct vmlet_elf elf;
};

#endif /* VMLET_IMAGE_H */
