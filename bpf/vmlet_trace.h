/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * What bpf/vmlet.bpf.c and its readers share: the phases, and the layout of
 * every map that `vmlet-trace --pin` pins under /sys/fs/bpf/vmlet/ (the
 * maps carry BTF, so `bpftool map dump pinned /sys/fs/bpf/vmlet/NAME`
 * prints them field by field):
 *
 *   hists   ARRAY, key u32 phase (enum vmlet_phase), value struct vmlet_hist.
 *   totals  ARRAY, key u32 (enum vmlet_total), value u64.
 *   exits   HASH, key struct vmlet_exit_key, value u64: KVM exits seen
 *           while a traced thread was inside a call (exits and calls only).
 *   live    HASH, key u32 thread id, value struct vmlet_call: the call
 *           (or pool acquire) a thread is in now (exits and calls only).
 *   starts  HASH, key struct vmlet_start_key, value struct vmlet_start:
 *           the begin timestamp of each phase a thread is in now.
 *
 * Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns()).
 */
#ifndef VMLET_TRACE_H
#define VMLET_TRACE_H

enum vmlet_phase {
	VMLET_PHASE_CREATE,	 /* create__begin/end, kind cold */
	VMLET_PHASE_CREATE_FROM, /* create__begin/end, kind from a snapshot */
	VMLET_PHASE_ACQUIRE,
	VMLET_PHASE_CALL,
	VMLET_PHASE_RESTORE,
	VMLET_PHASE_HOSTCALL,
	VMLET_NPHASES,
};

/*
 * Two views of one distribution: log2_us[i] counts durations in
 * [2^i, 2^(i+1)) microseconds (i = 0 also holds 0 us), as bcc's tools
 * print them; fine_ns[] has four sub-buckets per power of two of
 * nanoseconds, for percentiles within 19%: slot s < 4 holds s ns, slot
 * s >= 8 holds [(4 + s % 4) << (s / 4 - 2), (5 + s % 4) << (s / 4 - 2)).
 */
#define VMLET_HIST_LOG2 64
#define VMLET_HIST_FINE 256

struct vmlet_hist {
	__u64 count;  /* begin/end pairs seen, failed ones included */
	__u64 errors; /* of those, ends with err != 0 */
	__u64 sum_ns;
	__u64 log2_us[VMLET_HIST_LOG2];
	__u64 fine_ns[VMLET_HIST_FINE];
};

enum vmlet_total {
	VMLET_TOTAL_IMAGE_LOADS,
	VMLET_TOTAL_CALLS,	/* calls seen by the per-call programs */
	VMLET_TOTAL_EXITS,	/* kvm_exit during those calls */
	VMLET_TOTAL_USER_EXITS, /* kvm_userspace_exit during those calls */
	VMLET_TOTAL_ENTRIES,	/* kvm_entry during those calls */
	VMLET_TOTAL_PIO,	/* kvm_pio during those calls */
	VMLET_TOTAL_INSNS,	/* kvm_emulate_insn during those calls */
	VMLET_TOTAL_LOST,	/* call events the ring buffer had no room for */
	VMLET_NTOTALS,
};

/* Where an exit reason comes from: kvm_exit's isa, or KVM's run->exit_reason. */
enum vmlet_exit_source {
	VMLET_EXIT_USER = 0, /* kvm_userspace_exit: KVM_EXIT_* */
	VMLET_EXIT_VMX = 1,  /* kvm_exit on Intel: basic exit reason */
	VMLET_EXIT_SVM = 2,  /* kvm_exit on AMD: SVM_EXIT_* */
	VMLET_EXIT_PIO = 3,  /* kvm_pio: the reason is the port */
};

struct vmlet_exit_key {
	__u32 source; /* enum vmlet_exit_source */
	__u32 reason;
};

struct vmlet_start_key {
	__u32 tid;
	__u32 phase;
};

struct vmlet_start {
	__u64 ts;
	__u64 id;
};

#define VMLET_NAME_LEN 32

/* One call, as `vmlet-trace calls` prints it (ring buffer "events"). */
struct vmlet_call {
	__u64 id; /* sandbox */
	__u32 pid, tid;
	__u32 func;
	__s32 err;
	__u64 begin_ns;
	__u64 acquire_ns; /* 0 unless the sandbox came from vmlet_pool_acquire() */
	__u64 call_ns;
	__u64 restore_ns; /* 0 unless the call ended in vmlet_pool_release() */
	__u64 exits, user_exits, entries, pio, insns;
	__u8 in_call;	 /* between call__begin and call__end */
	__u8 pooled;	 /* acquired: emitted at release, not at call__end */
	__u8 called;	 /* call__end seen */
	__u8 pad[5];
	char name[VMLET_NAME_LEN];
};

#endif /* VMLET_TRACE_H */
