/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * USDT probes: the one list of libvmlet's static trace points and their
 * arguments. bpf/vmlet.bpf.c and tools/vmlet-trace.c attach to them; they
 * are standard SystemTap SDT notes (`readelf -n lib/libvmlet.so` lists them).
 *
 * Each probe is a nop in the instruction stream plus a .note.stapsdt
 * entry naming it and where its arguments live; with no tracer attached
 * it costs the nop and the few register moves that place the arguments.
 * The arguments are chosen so that events join: every sandbox has an id
 * (vmlet_sandbox_id(), unique in the process, never reused, 1 and up),
 * and begin/end pairs fire on the same thread.
 *
 * Provider "vmlet". Probe (arguments):
 *
 *   image__load     (u64 len, s32 err)
 *	vmlet_image_from_memory() or vmlet_image_open() finished.
 *   create__begin   (u64 id, u32 kind)
 *   create__end     (u64 id, u32 kind, s32 err)
 *	A sandbox is made. kind: VMLET_PROBE_CREATE_COLD (booted from the
 *	image: vmlet_sandbox_create(), and the one vmlet_snapshot_create()
 *	boots) or VMLET_PROBE_CREATE_FROM (vmlet_sandbox_create_from(), also
 *	from a pool's refill). id is assigned before anything can fail, so a
 *	failed create still pairs; that id is never seen again.
 *   acquire__begin  (u64 pool)
 *   acquire__end    (u64 pool, u64 id, s32 err)
 *	vmlet_pool_acquire(). pool is the pool's address (stable for its
 *	life); id is 0 when err is not 0.
 *   call__begin     (u64 id, u32 func, const char *name)
 *   call__end       (u64 id, u32 func, s32 err)
 *	vmlet_sandbox_call() and vmlet_sandbox_call_index(). func is the
 *	index in the guest's function table, name its name (NULL when the
 *	index is out of range; a user-space string: read it at begin).
 *	A call by a name the guest did not register fires neither.
 *   restore__begin  (u64 id)
 *   restore__end    (u64 id, s32 err)
 *	vmlet_sandbox_restore(), also inside vmlet_pool_release(). Not the
 *	restore that vmlet_sandbox_create_from() does internally: that is
 *	part of create.
 *   release         (u64 pool, u64 id, s32 err)
 *	vmlet_pool_release() finished (after its restore__end); err is the
 *	restore's error, and then the sandbox was destroyed.
 *   hostcall__begin (u64 id, u32 func)
 *   hostcall__end   (u64 id, u32 func, s32 result)
 *	A guest-to-host call: func is the index of the host function the
 *	embedder registered, result what it returned to the guest. They are
 *	fired by lib/hostcall.c around each host call (func: the index in
 *	the config's host_funcs, then in the functions added to the sandbox;
 *	~0 for a name that is not registered; result: 0 or -errno).
 *
 * err and result are 0 or a negative code as the API returns them.
 */
#ifndef VMLET_PROBES_H
#define VMLET_PROBES_H

#include <sys/sdt.h>

enum vmlet_probe_create_kind {
	VMLET_PROBE_CREATE_COLD = 0,
	VMLET_PROBE_CREATE_FROM = 1,
};

#define vmlet_probe_image_load(len, err)       DTRACE_PROBE2(vmlet, image__load, len, err)
#define vmlet_probe_create_begin(id, kind)     DTRACE_PROBE2(vmlet, create__begin, id, kind)
#define vmlet_probe_create_end(id, kind, err)  DTRACE_PROBE3(vmlet, create__end, id, kind, err)
#define vmlet_probe_acquire_begin(pool)	       DTRACE_PROBE1(vmlet, acquire__begin, pool)
#define vmlet_probe_acquire_end(pool, id, err) DTRACE_PROBE3(vmlet, acquire__end, pool, id, err)
#define vmlet_probe_call_begin(id, func, name) DTRACE_PROBE3(vmlet, call__begin, id, func, name)
#define vmlet_probe_call_end(id, func, err)    DTRACE_PROBE3(vmlet, call__end, id, func, err)
#define vmlet_probe_restore_begin(id)	       DTRACE_PROBE1(vmlet, restore__begin, id)
#define vmlet_probe_restore_end(id, err)       DTRACE_PROBE2(vmlet, restore__end, id, err)
#define vmlet_probe_release(pool, id, err)     DTRACE_PROBE3(vmlet, release, pool, id, err)
#define vmlet_probe_hostcall_begin(id, func)   DTRACE_PROBE2(vmlet, hostcall__begin, id, func)
#define vmlet_probe_hostcall_end(id, func, result)                                                 \
	DTRACE_PROBE3(vmlet, hostcall__end, id, func, result)

#endif /* VMLET_PROBES_H */
