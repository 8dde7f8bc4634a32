/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A guest image: a validated ELF and its bytes (lib/image.c), and the
 * snapshots of its boot, one per memory layout (lib/bootsnap.c).
 */
#ifndef VMLET_IMAGE_H
#define VMLET_IMAGE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "elf.h"
#include "symtab.h"

struct vmlet_bootsnap;

struct vmlet_image {
	uint8_t *data;
	size_t len;
	struct vmlet_elf elf;
	pthread_mutex_t lock;		   /* guards boot_snaps */
	struct vmlet_bootsnap *boot_snaps; /* a list, one per layout booted */
	unsigned long boots;		   /* boots begun, atomic: __vmlet_image_boots() */
	struct vmlet_symtab syms;	   /* to name fault addresses; empty when stripped */
};

/*
 * How many times sandboxes of img booted the guest, counting failed boots
 * (for tests: a boot snapshot is made once).
 */
unsigned long __vmlet_image_boots(const struct vmlet_image *img);

/* Free the image's boot snapshots (lib/bootsnap.c); sandboxes keep theirs. */
void __vmlet_bootsnap_free(struct vmlet_image *img);

#endif /* VMLET_IMAGE_H */
