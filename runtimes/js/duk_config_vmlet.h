/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmlet's settings for Debian's Duktape, appended to its duk_config.h by
 * the Makefile (which builds the engine from /usr/share/duktape as it
 * is, copying nothing into the tree).
 *
 * - Math.random() draws from vmlet_random(), which the host reseeds at
 *   every call: Duktape's own PRNG would restart from the snapshot's
 *   state in every fresh VM and repeat its numbers.
 * - The recursion limits of the C code (native calls, the compiler, JSON,
 *   regexps) are lowered so that the deepest recursion they allow fits
 *   the guest's 1 MiB stack (lib/js.c): past them a script gets a
 *   RangeError, never a stack overflow into the guard page. Script
 *   recursion does not grow the C stack and keeps its limit (10000).
 */
#ifndef VMLET_DUK_CONFIG_H
#define VMLET_DUK_CONFIG_H

double vmlet_js_random_double(void *udata);
#undef DUK_USE_GET_RANDOM_DOUBLE
#define DUK_USE_GET_RANDOM_DOUBLE(udata) vmlet_js_random_double(udata)

#undef DUK_USE_NATIVE_CALL_RECLIMIT
#define DUK_USE_NATIVE_CALL_RECLIMIT 200
#undef DUK_USE_COMPILER_RECLIMIT
#define DUK_USE_COMPILER_RECLIMIT 500
#undef DUK_USE_JSON_DEC_RECLIMIT
#define DUK_USE_JSON_DEC_RECLIMIT 500
#undef DUK_USE_JSON_ENC_RECLIMIT
#define DUK_USE_JSON_ENC_RECLIMIT 500
#undef DUK_USE_REGEXP_EXECUTOR_RECLIMIT
#define DUK_USE_REGEXP_EXECUTOR_RECLIMIT 2000

#endif /* VMLET_DUK_CONFIG_H */
