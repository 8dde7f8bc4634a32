/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The native lifecycle's interface: a guest's C source built as a host
 * shared object together with native_guest.c (the guest API on the host)
 * exports these three functions, which vmlet-serve finds with dlsym().
 * The same registered functions then run in-process, with no VM: the
 * baseline the other lifecycles are measured against.
 */
#ifndef VMLET_SERVE_NATIVE_H
#define VMLET_SERVE_NATIVE_H

#include <vmlet.h>

/* Run the guest's main() to vmlet_ready(): the number of functions, or < 0. */
typedef int (*vmlet_native_start_fn)(void);
/* The signature of function i. */
typedef int (*vmlet_native_func_at_fn)(unsigned int i, struct vmlet_func *f);
/*
 * Call function i on the calling thread: 0 with *ret set (a string or
 * bytes result valid until this thread's next call), or -VMLET_EABORT
 * (vmlet_abort(), abort code and message in *fault), -EINVAL for
 * arguments that do not match. vmlet_print() output goes to print(ctx).
 */
typedef int (*vmlet_native_call_fn)(unsigned int i, const struct vmlet_value *args,
				    unsigned int nargs, struct vmlet_value *ret,
				    struct vmlet_fault *fault,
				    void (*print)(void *ctx, const char *buf, size_t len),
				    void *ctx);

#endif /* VMLET_SERVE_NATIVE_H */
