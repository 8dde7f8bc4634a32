/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host-call port (VMLET_PORT_HOSTCALL): a guest calls a function the
 * embedder registered.
 */
#ifndef VMLET_HOSTCALL_H
#define VMLET_HOSTCALL_H

#include "hoststate.h"
#include "vm.h"

/* Serve VMLET_PORT_HOSTCALL on vm for the sandbox whose state is hs. */
int vmlet_hostcall_attach(struct vmlet_vm *vm, struct vmlet_hoststate *hs);

#endif /* VMLET_HOSTCALL_H */
