/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The objects behind the public API: an image (a validated ELF and its
 * bytes) and a sandbox (memory, VM and the guest's function table).
 */
#ifndef VMLET_SANDBOX_H
#define VMLET_SANDBOX_H

#include <vmlet.h>

#include "elf.h"
#include "layout.h"
#include "mem.h"
#include "vm.h"

struct vmlet_image {
	uint8_t *data;
	size_t len;
	struct vmlet_elf elf;
};

enum sandbox_state {
	SANDBOX_READY, /* parked in the dispatch loop, callable */
	SANDBOX_DEAD,  /* failed: its guest state cannot be trusted */
};

struct vmlet_sandbox {
	struct vmlet_image *image; /* borrowed: must outlive the sandbox */
	struct vmlet_config cfg;
	struct vmlet_layout layout;
	struct vmlet_mem mem;
	struct vmlet_vm vm;
	enum sandbox_state state;
	struct vmlet_func *funcs; /* one allocation with the names */
	unsigned int nfuncs;
	uint8_t *in, *out; /* host views of the call buffers */
	struct vmlet_fault fault;
};

#endif /* VMLET_SANDBOX_H */
