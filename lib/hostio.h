/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The guest I/O port (VMLET_PORT_IO): read, write, pread, pwrite and
 * open on descriptors the embedder granted, and sleep.
 */
#ifndef VMLET_HOSTIO_H
#define VMLET_HOSTIO_H

#include "hoststate.h"
#include "vm.h"

/* Serve VMLET_PORT_IO on vm for the sandbox whose state is hs. */
int vmlet_hostio_attach(struct vmlet_vm *vm, struct vmlet_hoststate *hs);

#endif /* VMLET_HOSTIO_H */
