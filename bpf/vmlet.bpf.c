// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * vmlet's BPF side: turns the USDT probes of lib/probes.h into per-phase
 * latency histograms and, when asked (per_call), follows each call through
 * the kvm:* tracepoints to count its exits and emits one record per call
 * into a ring buffer. Loaded by tools/vmlet-trace.c through the skeleton
 * that `bpftool gen skeleton` makes of this file; map layouts are in
 * vmlet_trace.h.
 *
 * Begin/end pairs are matched per thread and phase (a phase never nests in
 * itself on one thread); per-call state is per thread, since a vCPU's
 * KVM_RUN, and so every kvm:* event of the call, happens on the thread
 * that called. The kvm tracepoint records are described with local
 * ___vmlet types: CO-RE finds the real ones in vmlinux's BTF or, where KVM
 * is a module, in the kvm module's.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "vmlet_trace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load: follow calls through kvm:* and stream them. */
const volatile bool per_call = false;
const volatile bool stream = false;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VMLET_NPHASES);
	__type(key, __u32);
	__type(value, struct vmlet_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VMLET_NTOTALS);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct vmlet_start_key);
	__type(value, struct vmlet_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct vmlet_call);
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vmlet_exit_key);
	__type(value, __u64);
} exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* A zeroed call to insert: too big for the BPF stack with everything else. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vmlet_call);
} scratch SEC(".maps");

static __always_inline __u32 log2_32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xffff) << 4;
	v >>= r;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	return r | (v >> 1);
}

static __always_inline __u32 log2_64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_32(hi) + 32 : log2_32((__u32)v);
}

static __always_inline void count(__u32 what, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&totals, &what);

	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline void hist_add(__u32 phase, __u64 ns, __s32 err)
{
	struct vmlet_hist *h = bpf_map_lookup_elem(&hists, &phase);
	__u64 us = ns / 1000;
	__u32 slot, l;

	if (!h)
		return;
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
	if (err)
		__sync_fetch_and_add(&h->errors, 1);
	/* Masks, not compares: 6.1's verifier loses a compare made on a copy. */
	slot = (us ? log2_64(us) : 0) & (VMLET_HIST_LOG2 - 1);
	__sync_fetch_and_add(&h->log2_us[slot], 1);
	if (ns < 4) {
		slot = (__u32)ns;
	} else {
		l = log2_64(ns);
		slot = l * 4 + ((ns >> (l - 2)) & 3);
	}
	__sync_fetch_and_add(&h->fine_ns[slot & (VMLET_HIST_FINE - 1)], 1);
}

static __always_inline __u32 tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline void begin(__u32 phase, __u64 id)
{
	struct vmlet_start_key k = {.tid = tid(), .phase = phase};
	struct vmlet_start v = {.ts = bpf_ktime_get_ns(), .id = id};

	bpf_map_update_elem(&starts, &k, &v, BPF_ANY);
}

/* The phase's duration on this thread, or -1 when its begin was not seen. */
static __always_inline __s64 end(__u32 phase, __s32 err)
{
	struct vmlet_start_key k = {.tid = tid(), .phase = phase};
	struct vmlet_start *v = bpf_map_lookup_elem(&starts, &k);
	__u64 ns;

	if (!v)
		return -1;
	ns = bpf_ktime_get_ns() - v->ts;
	bpf_map_delete_elem(&starts, &k);
	hist_add(phase, ns, err);
	return (__s64)ns;
}

/* This thread's call record, created empty when create is set. */
static __always_inline struct vmlet_call *call_of(__u32 t, bool create)
{
	struct vmlet_call *c = bpf_map_lookup_elem(&live, &t);
	__u32 zero = 0;

	if (c || !create)
		return c;
	c = bpf_map_lookup_elem(&scratch, &zero);
	if (!c)
		return NULL;
	bpf_map_update_elem(&live, &t, c, BPF_ANY);
	return bpf_map_lookup_elem(&live, &t);
}

static __always_inline void emit(__u32 t, struct vmlet_call *c)
{
	if (stream && bpf_ringbuf_output(&events, c, sizeof(*c), 0))
		count(VMLET_TOTAL_LOST, 1);
	bpf_map_delete_elem(&live, &t);
}

SEC("usdt")
int BPF_USDT(image_load, __u64 len, __s32 err)
{
	count(VMLET_TOTAL_IMAGE_LOADS, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(create_begin, __u64 id, __u32 kind)
{
	begin(kind ? VMLET_PHASE_CREATE_FROM : VMLET_PHASE_CREATE, id);
	return 0;
}

SEC("usdt")
int BPF_USDT(create_end, __u64 id, __u32 kind, __s32 err)
{
	end(kind ? VMLET_PHASE_CREATE_FROM : VMLET_PHASE_CREATE, err);
	return 0;
}

SEC("usdt")
int BPF_USDT(acquire_begin, __u64 pool)
{
	begin(VMLET_PHASE_ACQUIRE, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(acquire_end, __u64 pool, __u64 id, __s32 err)
{
	__s64 ns = end(VMLET_PHASE_ACQUIRE, err);
	struct vmlet_call *c;
	__u32 t = tid();

	if (!per_call || err || ns < 0)
		return 0;
	bpf_map_delete_elem(&live, &t);
	c = call_of(t, true);
	if (!c)
		return 0;
	c->id = id;
	c->pooled = 1;
	c->acquire_ns = (__u64)ns;
	return 0;
}

SEC("usdt")
int BPF_USDT(call_begin, __u64 id, __u32 func, const char *name)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct vmlet_call *c;
	__u32 t = (__u32)pid_tgid;

	begin(VMLET_PHASE_CALL, id);
	if (!per_call)
		return 0;
	c = call_of(t, false);
	if (c && (c->id != id || c->called)) {
		/* Not the sandbox this thread acquired, or its second call. */
		if (c->called)
			emit(t, c);
		else
			bpf_map_delete_elem(&live, &t);
		c = NULL;
	}
	if (!c)
		c = call_of(t, true);
	if (!c)
		return 0;
	c->id = id;
	c->pid = pid_tgid >> 32;
	c->tid = t;
	c->func = func;
	c->in_call = 1;
	c->begin_ns = bpf_ktime_get_ns();
	if (name)
		bpf_probe_read_user_str(c->name, sizeof(c->name), name);
	return 0;
}

SEC("usdt")
int BPF_USDT(call_end, __u64 id, __u32 func, __s32 err)
{
	__s64 ns = end(VMLET_PHASE_CALL, err);
	struct vmlet_call *c;
	__u32 t = tid();

	if (!per_call)
		return 0;
	c = call_of(t, false);
	if (!c || !c->in_call || c->id != id)
		return 0;
	c->in_call = 0;
	c->called = 1;
	c->err = err;
	c->call_ns = ns < 0 ? 0 : (__u64)ns;
	count(VMLET_TOTAL_CALLS, 1);
	count(VMLET_TOTAL_EXITS, c->exits);
	count(VMLET_TOTAL_USER_EXITS, c->user_exits);
	count(VMLET_TOTAL_ENTRIES, c->entries);
	count(VMLET_TOTAL_PIO, c->pio);
	count(VMLET_TOTAL_INSNS, c->insns);
	if (!c->pooled)
		emit(t, c);
	return 0;
}

SEC("usdt")
int BPF_USDT(restore_begin, __u64 id)
{
	begin(VMLET_PHASE_RESTORE, id);
	return 0;
}

SEC("usdt")
int BPF_USDT(restore_end, __u64 id, __s32 err)
{
	__s64 ns = end(VMLET_PHASE_RESTORE, err);
	struct vmlet_call *c;

	if (!per_call || ns < 0)
		return 0;
	c = call_of(tid(), false);
	if (c && c->id == id && c->called)
		c->restore_ns = (__u64)ns;
	return 0;
}

SEC("usdt")
int BPF_USDT(release, __u64 pool, __u64 id, __s32 err)
{
	struct vmlet_call *c;
	__u32 t = tid();

	if (!per_call)
		return 0;
	c = call_of(t, false);
	if (!c || c->id != id)
		return 0;
	if (c->called)
		emit(t, c);
	else
		bpf_map_delete_elem(&live, &t); /* acquired and released uncalled */
	return 0;
}

SEC("usdt")
int BPF_USDT(hostcall_begin, __u64 id, __u32 func)
{
	begin(VMLET_PHASE_HOSTCALL, id);
	return 0;
}

SEC("usdt")
int BPF_USDT(hostcall_end, __u64 id, __u32 func, __s32 result)
{
	end(VMLET_PHASE_HOSTCALL, result);
	return 0;
}

/* kvm:* records; only the fields read here, CO-RE relocated. */
struct trace_event_raw_kvm_exit___vmlet {
	unsigned int exit_reason;
	__u32 isa;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_userspace_exit___vmlet {
	__u32 reason;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_pio___vmlet {
	unsigned int port;
} __attribute__((preserve_access_index));

static __always_inline struct vmlet_call *in_call(void)
{
	struct vmlet_call *c = call_of(tid(), false);

	return c && c->in_call ? c : NULL;
}

static __always_inline void exit_seen(__u32 source, __u32 reason)
{
	struct vmlet_exit_key k = {.source = source, .reason = reason};
	__u64 one = 1, *v = bpf_map_lookup_elem(&exits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&exits, &k, &one, BPF_NOEXIST);
}

SEC("tp/kvm/kvm_exit")
int kvm_exit(struct trace_event_raw_kvm_exit___vmlet *ctx)
{
	struct vmlet_call *c = in_call();

	if (!c)
		return 0;
	c->exits++;
	exit_seen(ctx->isa == 1 ? VMLET_EXIT_VMX : VMLET_EXIT_SVM, ctx->exit_reason);
	return 0;
}

SEC("tp/kvm/kvm_userspace_exit")
int kvm_userspace_exit(struct trace_event_raw_kvm_userspace_exit___vmlet *ctx)
{
	struct vmlet_call *c = in_call();

	if (!c)
		return 0;
	c->user_exits++;
	exit_seen(VMLET_EXIT_USER, ctx->reason);
	return 0;
}

SEC("tp/kvm/kvm_pio")
int kvm_pio(struct trace_event_raw_kvm_pio___vmlet *ctx)
{
	struct vmlet_call *c = in_call();

	if (!c)
		return 0;
	c->pio++;
	exit_seen(VMLET_EXIT_PIO, ctx->port);
	return 0;
}

SEC("tp/kvm/kvm_entry")
int kvm_entry(void *ctx)
{
	struct vmlet_call *c = in_call();

	if (c)
		c->entries++;
	return 0;
}

SEC("tp/kvm/kvm_emulate_insn")
int kvm_emulate_insn(void *ctx)
{
	struct vmlet_call *c = in_call();

	if (c)
		c->insns++;
	return 0;
}
