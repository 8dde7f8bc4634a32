/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libvmlet: call functions inside hardware-isolated KVM micro-VMs.
 *
 * An image is a static x86-64 guest ELF built against the guest runtime
 * (guest/include/vmlet/guest.h). A sandbox is one VM with one vCPU and one
 * slice of memory running that image; it boots once to the guest's ready
 * point, after which the host calls the functions the guest registered.
 *
 * Functions that can fail return 0 (or a non-negative count) on success and
 * a negative error code otherwise: -errno for host-side failures, -VMLET_E*
 * for guest outcomes. errno is never touched. vmlet_strerror() names them
 * all. Objects are returned through out parameters.
 *
 * A sandbox is used by one thread at a time; distinct sandboxes and images
 * may be used from distinct threads at once.
 */
#ifndef VMLET_H
#define VMLET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmlet/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMLET_API __attribute__((visibility("default")))

/* Guest outcomes, returned negated. errno values stay below 4096. */
enum vmlet_error {
	VMLET_EEXCEPTION = 4096, /* the guest took a CPU exception */
	VMLET_EABORT,		 /* the guest aborted (abort(), vmlet_abort()) */
	VMLET_EEXIT,		 /* the guest called exit() */
	VMLET_ESHUTDOWN,	 /* triple fault: the vCPU shut down */
	VMLET_EPROTO,		 /* the guest broke the ABI (bad frame or pointer) */
	VMLET_EVMEXIT,		 /* the VM exited in a way the ABI has no use for */
	VMLET_EDEAD,		 /* the sandbox failed earlier and cannot run */
	VMLET_EABI,		 /* the image was built for another ABI version */
	VMLET_EREFUSED,		 /* the guest refused the call */
	VMLET_EINTR,		 /* vmlet_sandbox_interrupt() stopped the call */
	VMLET_ETIMEDOUT,	 /* the call (or boot) ran past its deadline */
	VMLET_EOUTPUT,		 /* the guest printed more than the call's print_limit */
	VMLET_EFAIL,		 /* the function failed (vmlet_fail()); the sandbox lives on */
	VMLET_ELAST
};

enum vmlet_backing {
	VMLET_BACKING_AUTO = 0, /* config only: the best the system offers */
	VMLET_BACKING_HUGETLB,	/* memfd with MFD_HUGETLB, 2 MiB pages */
	VMLET_BACKING_THP,	/* shmem memfd with MADV_HUGEPAGE */
	VMLET_BACKING_4K,	/* shmem memfd, 4 KiB pages */
};

/*
 * How a sandbox made from a snapshot goes back to it (vmlet_sandbox_restore).
 * Both find what a call changed and touch nothing else; see
 * lib/snapshot.c for the measurements behind the default.
 */
enum vmlet_restore {
	VMLET_RESTORE_AUTO = 0, /* config only: the default, VMLET_RESTORE_COPY */
	VMLET_RESTORE_DROP,	/* drop the private copies of written pages */
	VMLET_RESTORE_COPY,	/* copy back the pages KVM's dirty log names */
};

/*
 * A host function a guest may call (vmlet_host_call() in the guest).
 * fn gets the arguments, already checked against nargs/args, and sets
 * *ret (its type is set to `ret` beforehand); a string or bytes result
 * must stay valid until fn is next called. fn returns 0 or a negative
 * errno, which the guest gets as the call's result. Without
 * VMLET_HOST_INLINE, fn runs on a service thread of the sandbox's
 * struct vmlet_host; with it, on the thread that runs the vCPU.
 */
#define VMLET_HOST_INLINE 1
struct vmlet_host_func {
	const char *name;
	enum vmlet_type ret;
	unsigned int nargs;
	enum vmlet_type args[VMLET_MAX_ARGS];
	int (*fn)(void *ctx, const struct vmlet_value *args, unsigned int nargs,
		  struct vmlet_value *ret);
	void *ctx;
	unsigned int flags; /* VMLET_HOST_INLINE */
};

struct vmlet_host;

struct vmlet_config {
	size_t sz;	     /* sizeof(struct vmlet_config) */
	uint64_t mem_size;   /* guest memory, 2 MiB multiple; 0: 4 MiB */
	uint64_t stack_size; /* 0: 64 KiB */
	uint64_t heap_size;  /* minimum heap; 0: whatever memory is left */
	uint64_t in_size;    /* host-to-guest buffer; 0: 64 KiB */
	uint64_t out_size;   /* guest-to-host buffer; 0: 64 KiB */
	enum vmlet_backing backing;
	/* Guest output (stdout, stderr, vmlet_print()); NULL: write to stdout. */
	void (*print)(void *ctx, const char *buf, size_t len);
	void *print_ctx;
	/* Snapshots and pools only. */
	enum vmlet_restore restore;
	/*
	 * Host functions every sandbox made with this config may call
	 * (borrowed: must outlive them), and the service that runs those
	 * not marked inline (NULL: only inline ones are callable).
	 */
	const struct vmlet_host_func *host_funcs;
	unsigned int nhost_funcs;
	struct vmlet_host *host;
	/*
	 * Each call's deadline, and the boot's, in microseconds from its
	 * start (0: none): past it the call fails with -VMLET_ETIMEDOUT.
	 */
	uint64_t timeout_us;
	/*
	 * Guest output (print port, write to fd 1 and 2) one call may
	 * produce, creation counting as a call: past it the call fails with
	 * -VMLET_EOUTPUT after the print callback got exactly this many
	 * bytes. 0: VMLET_PRINT_LIMIT; VMLET_PRINT_UNLIMITED: no limit.
	 */
	uint64_t print_limit;
	unsigned int flags; /* VMLET_CONFIG_BOOT */
	/*
	 * Appended: the fields above keep their offsets. Core dumps
	 * (vmlet_sandbox_fault(3)): when core_path is not NULL, a call or
	 * boot that the guest fails (a -VMLET_E* outcome other than
	 * VMLET_EREFUSED and VMLET_EFAIL) writes an ELF core file of the
	 * guest there, on the failing thread, before it returns. A template:
	 * %i is the sandbox id, %p the process id, %% a %; any other % is
	 * -EINVAL. Borrowed: must outlive the sandboxes (and snapshots and
	 * pools) made with this config. core_limit bounds the guest memory
	 * the core holds, in bytes (0: VMLET_CORE_LIMIT); zero pages are left
	 * out and count nothing. struct vmlet_fault's core_error tells what
	 * happened.
	 */
	const char *core_path;
	uint64_t core_limit;
};

/*
 * vmlet_sandbox_create() boots the guest for this sandbox instead of
 * making it from the image's boot snapshot (see vmlet_sandbox_create(3)).
 */
#define VMLET_CONFIG_BOOT 1

/* The default bound on the guest memory in a core file (core_limit). */
#define VMLET_CORE_LIMIT (64ULL << 20)

#define VMLET_PRINT_LIMIT     (1ULL << 20)
#define VMLET_PRINT_UNLIMITED UINT64_MAX

struct vmlet_func {
	const char *name;
	enum vmlet_type ret;
	unsigned int nargs;
	enum vmlet_type args[VMLET_MAX_ARGS];
};

/* One frame of a fault's backtrace. */
#define VMLET_FAULT_FRAMES 16
struct vmlet_fault_frame {
	uint64_t pc;	 /* frame 0: rip; then each caller's return address */
	uint64_t offset; /* pc - the start of func */
	char func[64];	 /* the function holding pc; "" when no symbol does */
};

/* What went wrong in the last failed call (or creation) of a sandbox. */
struct vmlet_fault {
	int error;	     /* the code the call returned */
	uint32_t vector;     /* VMLET_EEXCEPTION: the exception vector */
	uint64_t error_code; /* VMLET_EEXCEPTION: the CPU's error code */
	uint64_t address;    /* VMLET_EEXCEPTION, #PF: the faulting address */
	uint64_t rip;	     /* where the guest was */
	int64_t code;	     /* abort code, exit status or KVM exit reason */
	char message[256];   /* abort message or a description */
	/*
	 * Appended: the fields above keep their offsets. The guest's call
	 * stack at the failure, by frame pointers (frames[0] is rip), named
	 * from the image's symbol table; symbols is false when the image has
	 * none (stripped): then func is "" and only the addresses are known.
	 */
	unsigned int nframes;
	bool symbols;
	struct vmlet_fault_frame frames[VMLET_FAULT_FRAMES];
	/*
	 * With the config's core_path: 0 when the failure's core was written
	 * whole (or none was asked for), -EFBIG when it was written but the
	 * guest memory past core_limit was left out, else why none was
	 * written (-errno; the partial file is removed).
	 */
	int core_error;
};

struct vmlet_platform {
	int api_version;	    /* KVM_GET_API_VERSION */
	bool sync_regs;		    /* KVM_CAP_SYNC_REGS (required) */
	bool xsave;		    /* KVM_CAP_XCRS: guests get XCR0 and OSXSAVE */
	bool guest_debug;	    /* KVM_CAP_SET_GUEST_DEBUG: instruction counts */
	bool nested;		    /* this host itself runs under a hypervisor */
	bool emulated;		    /* no VMX/SVM here: KVM emulates guest code */
	uint64_t xcr0;		    /* the XCR0 guests run with */
	enum vmlet_backing backing; /* what AUTO chooses now for VMLET_DEFAULT_MEM */
	long hugepages_free;	    /* free 2 MiB hugetlb pages no mapping reserved */
	const char *vendor;	    /* CPUID vendor KVM reports */
	bool pv_refused;	    /* KVM_CAP_ENFORCE_PV_FEATURE_CPUID: PV MSRs refused */
	bool dirty_ring;	    /* KVM_CAP_DIRTY_LOG_RING: COPY restore's dirty ring */
	bool msr_filter;	    /* KVM_CAP_X86_MSR_FILTER: restore skips unwritten MSRs */
	bool tlb_pv; /* restore flushes the guest TLB by KVM's PV flush, not an MMU reset */
};

/* A pool of ready sandboxes of one image; see vmlet_pool_create(). */
struct vmlet_pool_config {
	size_t sz;		/* sizeof(struct vmlet_pool_config) */
	unsigned int size;	/* sandboxes alive at most (idle or acquired); 0: 8 */
	unsigned int min_ready; /* vmlet_pool_create() returns with this many idle; 0: size */
	unsigned int low_water; /* refill in the background below this many idle; 0: size */
	int timeout_ms;		/* vmlet_pool_call()'s wait for a sandbox; <0: forever */
	unsigned int flags;	/* VMLET_POOL_UNCONFINED */
};

/* Do not confine the pool's refill thread with seccomp (vmlet_thread_confine). */
#define VMLET_POOL_UNCONFINED 1

struct vmlet_pool_stats {
	unsigned int size;  /* the configured maximum */
	unsigned int live;  /* sandboxes alive now, idle or acquired */
	unsigned int idle;  /* ready to be acquired */
	uint64_t created;   /* sandboxes made from the snapshot so far */
	uint64_t restored;  /* releases that restored a sandbox */
	uint64_t discarded; /* sandboxes destroyed because restoring them failed */
};

struct vmlet_image;
struct vmlet_sandbox;
struct vmlet_snapshot;
struct vmlet_pool;

/* Error and name strings; never NULL. */
VMLET_API const char *vmlet_strerror(int err);
VMLET_API const char *vmlet_type_name(enum vmlet_type type);
VMLET_API const char *vmlet_backing_name(enum vmlet_backing backing);

/* What this host's KVM offers. */
VMLET_API int vmlet_platform_query(struct vmlet_platform *p);

/* Load and validate a guest image from a file or from memory (copied). */
VMLET_API int vmlet_image_open(const char *path, struct vmlet_image **out);
VMLET_API int vmlet_image_from_memory(const void *buf, size_t len, struct vmlet_image **out);
VMLET_API void vmlet_image_close(struct vmlet_image *img);

/*
 * Create a sandbox at the guest's ready point; cfg may be NULL. The image
 * boots once per memory layout (thread-safe, on first use) and sandboxes
 * start from that boot's snapshot, unless the boot talks to the host
 * (prints, host calls, I/O) or cfg has VMLET_CONFIG_BOOT: then each one
 * boots.
 */
VMLET_API int vmlet_sandbox_create(struct vmlet_image *img, const struct vmlet_config *cfg,
				   struct vmlet_sandbox **out);
VMLET_API void vmlet_sandbox_destroy(struct vmlet_sandbox *sb);
/* The sandbox's id in this process (from 1, never reused): the USDT probes' key. */
VMLET_API uint64_t vmlet_sandbox_id(const struct vmlet_sandbox *sb);

/* The functions the guest registered. */
VMLET_API int vmlet_sandbox_nfuncs(const struct vmlet_sandbox *sb);
VMLET_API const struct vmlet_func *vmlet_sandbox_func_at(const struct vmlet_sandbox *sb,
							 unsigned int index);
/* Index of a function by name, or -ENOENT. */
VMLET_API int vmlet_sandbox_func(const struct vmlet_sandbox *sb, const char *name);

/* Call a function by name or by index; ret may be NULL. */
VMLET_API int vmlet_sandbox_call(struct vmlet_sandbox *sb, const char *name,
				 const struct vmlet_value *args, unsigned int nargs,
				 struct vmlet_value *ret);
VMLET_API int vmlet_sandbox_call_index(struct vmlet_sandbox *sb, unsigned int index,
				       const struct vmlet_value *args, unsigned int nargs,
				       struct vmlet_value *ret);

/*
 * Stop the call running on sb, from any thread (or from a host function
 * it called): the call fails with -VMLET_EINTR and the sandbox is dead
 * until restored. 0, or -ESRCH when no call is running (nothing done).
 * Both this and deadlines signal the vCPU thread with SIGRTMAX - 2.
 */
VMLET_API int vmlet_sandbox_interrupt(struct vmlet_sandbox *sb);
/*
 * The deadline of sb's later calls in microseconds (0: none), in place
 * of the config's timeout_us until the sandbox is restored.
 */
VMLET_API int vmlet_sandbox_set_timeout(struct vmlet_sandbox *sb, uint64_t timeout_us);

/* Details of the last failure; error is 0 when the last call succeeded. */
VMLET_API const struct vmlet_fault *vmlet_sandbox_fault(const struct vmlet_sandbox *sb);
VMLET_API enum vmlet_backing vmlet_sandbox_backing(const struct vmlet_sandbox *sb);

/*
 * Count guest instructions by single-stepping (KVM_GUESTDBG_SINGLESTEP):
 * exact and repeatable on any host, and slow. vmlet_sandbox_insns() gives
 * the count of the last call.
 */
VMLET_API int vmlet_sandbox_count_insns(struct vmlet_sandbox *sb, bool on);
VMLET_API uint64_t vmlet_sandbox_insns(const struct vmlet_sandbox *sb);

/*
 * Make one call under gdb (vmlet_sandbox_debug_call(3)): listen on a
 * loopback TCP port, wait for gdb (`target remote :PORT`), and serve the
 * remote protocol with the guest stopped at the call's first instruction:
 * registers, memory, software and hardware breakpoints, steps. The
 * call's end or fault is reported to gdb as the process's exit or a
 * stop. Returns what the call returns; -VMLET_EINTR when gdb killed it.
 * opts may be NULL (any free port, nobody told which).
 */
struct vmlet_debug_opts {
	size_t sz;     /* sizeof(struct vmlet_debug_opts) */
	uint16_t port; /* on 127.0.0.1; 0: one the kernel picks */
	/* Called once the port listens, before waiting for gdb; may be NULL. */
	void (*listening)(void *ctx, uint16_t port);
	void *ctx;
};
VMLET_API int vmlet_sandbox_debug_call(struct vmlet_sandbox *sb, const char *name,
				       const struct vmlet_value *args, unsigned int nargs,
				       struct vmlet_value *ret,
				       const struct vmlet_debug_opts *opts);

/*
 * Snapshots. vmlet_snapshot_create() boots a sandbox of img to the guest's
 * ready point and keeps its memory (a sealed memfd) and vCPU state; the
 * image must outlive it. Sandboxes made from it map that memory private
 * copy-on-write, so idle ones cost only the pages they wrote, and
 * vmlet_sandbox_restore() puts one back to exactly the snapshot: every
 * written page, registers, FPU/SSE/AVX state, XCR0 and the system MSRs.
 * cfg->backing AUTO means 4 KiB pages here (copy-on-write of 2 MiB pages
 * costs 2 MiB per written page); cfg->restore picks the restore method.
 * A snapshot must outlive its sandboxes; distinct threads may create
 * sandboxes from one snapshot at once. vmlet_snapshot_destroy() drops the
 * caller's reference: live snapshots of its sandboxes and pools made from
 * it hold their own, and the memory goes with the last.
 */
VMLET_API int vmlet_snapshot_create(struct vmlet_image *img, const struct vmlet_config *cfg,
				    struct vmlet_snapshot **out);
VMLET_API void vmlet_snapshot_destroy(struct vmlet_snapshot *snap);
/* The snapshot's memory, read-only; *size gets its length. */
VMLET_API const void *vmlet_snapshot_memory(const struct vmlet_snapshot *snap, size_t *size);
VMLET_API enum vmlet_backing vmlet_snapshot_backing(const struct vmlet_snapshot *snap);
VMLET_API enum vmlet_restore vmlet_snapshot_restore_method(const struct vmlet_snapshot *snap);

/* A sandbox at the snapshot's ready point, after one warm-up run. */
VMLET_API int vmlet_sandbox_create_from(struct vmlet_snapshot *snap, struct vmlet_sandbox **out);
/*
 * Put a sandbox made from a snapshot back to it, also after a failed call
 * (a dead sandbox comes back to life). -EOPNOTSUPP for a sandbox made by
 * vmlet_sandbox_create(). Results of the last call become invalid.
 */
VMLET_API int vmlet_sandbox_restore(struct vmlet_sandbox *sb);
/* The sandbox's guest memory as the host sees it; *size gets its length. */
VMLET_API const void *vmlet_sandbox_memory(const struct vmlet_sandbox *sb, size_t *size);
/*
 * A snapshot of sb as it stands between calls (cold or made from a
 * snapshot): sandboxes, pools and restore then start from that state. It
 * keeps sb's config and function table, not the host functions added to
 * sb nor its grants. One of a sandbox made from a snapshot keeps only the
 * pages that differ and a reference on that snapshot. -VMLET_EDEAD for a
 * failed sandbox, -EBUSY during its call (from a host function).
 */
VMLET_API int vmlet_sandbox_snapshot(struct vmlet_sandbox *sb, struct vmlet_snapshot **out);
/* Bytes of memory the snapshot holds of its own (not shared with its parent). */
VMLET_API uint64_t vmlet_snapshot_own_size(const struct vmlet_snapshot *snap);

/*
 * Snapshot files (man 5 vmlet-snapshot). vmlet_snapshot_save() writes
 * snap to fd (from its current offset on, a regular file); the memory is
 * stored sparsely, zero pages left out. vmlet_snapshot_load() validates
 * the file at fd completely (it is untrusted) and maps its memory
 * MAP_PRIVATE, without copying it: the file must stay as it is while the
 * snapshot lives (it keeps a duplicate of fd). cfg gives what the file
 * does not hold: print, host functions and service, deadline, print limit,
 * restore method; its memory sizes must be 0 or the file's, its backing
 * AUTO or 4K. A loaded snapshot has no image: sandboxes and pools are made
 * from it with vmlet_sandbox_create_from() and vmlet_pool_create_from().
 * A rejected file fails with -EINVAL (not a snapshot file), -EPROTONOSUPPORT
 * (another format version), -VMLET_EABI, -EOPNOTSUPP (another CPU vendor,
 * or features this host lacks) or -EBADMSG (truncated, corrupted or
 * invalid), and vmlet_snapshot_load_error() names what is wrong.
 */
#define VMLET_SNAPSHOT_MAGIC "VMLETSNP" /* the file's first 8 bytes */
VMLET_API int vmlet_snapshot_save(const struct vmlet_snapshot *snap, int fd);
VMLET_API int vmlet_snapshot_load(int fd, const struct vmlet_config *cfg,
				  struct vmlet_snapshot **out);
/* Why this thread's last vmlet_snapshot_load() failed ("" after a success); never NULL. */
VMLET_API const char *vmlet_snapshot_load_error(void);

/*
 * Pools: a snapshot of img (made with cfg) and up to pcfg->size sandboxes
 * made from it, kept ready. Acquire takes an idle one; release restores
 * it and gives it back, or destroys it when restoring fails (a background
 * thread makes replacements whenever fewer than low_water are idle).
 * All pool functions are thread-safe. pcfg may be NULL (defaults).
 */
VMLET_API int vmlet_pool_create(struct vmlet_image *img, const struct vmlet_config *cfg,
				const struct vmlet_pool_config *pcfg, struct vmlet_pool **out);
/* A pool of sandboxes of snap, which it holds a reference on (not owns). */
VMLET_API int vmlet_pool_create_from(struct vmlet_snapshot *snap,
				     const struct vmlet_pool_config *pcfg, struct vmlet_pool **out);
/* -EBUSY (and nothing done) while sandboxes are acquired. */
VMLET_API int vmlet_pool_destroy(struct vmlet_pool *pool);
/*
 * Take an idle sandbox. When none is idle: timeout_ms 0 fails at once with
 * -EAGAIN, > 0 waits that long and then fails with -ETIMEDOUT, < 0 waits
 * for as long as it takes.
 */
VMLET_API int vmlet_pool_acquire(struct vmlet_pool *pool, int timeout_ms,
				 struct vmlet_sandbox **out);
/*
 * Restore sb and give it back; the restore error if it had to go.
 * -EINVAL for a sandbox this pool did not lend (another pool's, or one made
 * from its snapshot), -EALREADY if it was released; both change nothing.
 */
VMLET_API int vmlet_pool_release(struct vmlet_pool *pool, struct vmlet_sandbox *sb);
/*
 * A fresh VM for one call: acquire (waiting pcfg->timeout_ms), call,
 * release. A string or bytes result is copied into buf (a string with its
 * NUL) and ret points there; -ENOSPC when it does not fit (the call ran).
 * buf may be NULL for scalar results.
 */
VMLET_API int vmlet_pool_call(struct vmlet_pool *pool, const char *name,
			      const struct vmlet_value *args, unsigned int nargs,
			      struct vmlet_value *ret, void *buf, size_t size);
/*
 * vmlet_pool_call() with options that may grow (sz first, as in
 * struct vmlet_config): the result buffer, and where to store the call's
 * fault record, which the release would otherwise clear. opts may be NULL.
 */
struct vmlet_pool_call_opts {
	size_t sz;		   /* sizeof(struct vmlet_pool_call_opts) */
	void *buf;		   /* a string or bytes result is copied here... */
	size_t size;		   /* ...when it fits in size bytes */
	struct vmlet_fault *fault; /* out, may be NULL: error 0 when the call succeeded */
	/*
	 * sizeof(*fault) as the caller knows it (0: the whole struct): a
	 * caller built before struct vmlet_fault grew gets only what it has
	 * room for. Callers whose opts end before this field get the fields
	 * up to message.
	 */
	size_t fault_sz;
};
VMLET_API int vmlet_pool_call_opts(struct vmlet_pool *pool, const char *name,
				   const struct vmlet_value *args, unsigned int nargs,
				   struct vmlet_value *ret,
				   const struct vmlet_pool_call_opts *opts);
VMLET_API void vmlet_pool_stats(struct vmlet_pool *pool, struct vmlet_pool_stats *st);
VMLET_API const struct vmlet_snapshot *vmlet_pool_snapshot(const struct vmlet_pool *pool);

/*
 * The host-call service: nthreads threads (0: 2), each with an io_uring,
 * that run host functions for sandboxes on any thread. Sandboxes and
 * snapshots hold a reference to it: destroying it (once) stops the
 * threads after the calls in flight complete, and their later host calls
 * fail with -ESHUTDOWN; the memory goes with the last reference.
 */
VMLET_API int vmlet_host_create(unsigned int nthreads, struct vmlet_host **out);
VMLET_API void vmlet_host_destroy(struct vmlet_host *host);

/*
 * Make one more host function callable by sb's guest (the config's are
 * inherited) or grant it a host descriptor: guest_fd (>= 3) then reads
 * and writes host_fd with read/write/pread/pwrite, as `mode` allows
 * (VMLET_GRANT_READ, VMLET_GRANT_WRITE); path, when not NULL, is what the
 * guest's open() names to get guest_fd, or, when host_fd is a directory,
 * where its open() finds, creates and truncates files beneath it, within
 * mode. The descriptor is borrowed (-EBADF: not open). Both
 * last until the sandbox is destroyed or restored. -EEXIST for a name or
 * guest_fd already there, -ENOSPC past VMLET_MAX_GRANTS or 64 functions.
 */
#define VMLET_GRANT_READ  1
#define VMLET_GRANT_WRITE 2
#define VMLET_MAX_GRANTS  16
VMLET_API int vmlet_sandbox_add_host_func(struct vmlet_sandbox *sb,
					  const struct vmlet_host_func *fn);
VMLET_API int vmlet_sandbox_grant_fd(struct vmlet_sandbox *sb, int guest_fd, int host_fd,
				     unsigned int mode, const char *path);

/*
 * Confine the calling thread with a seccomp filter to the system calls
 * that running sandboxes makes (calls, host calls, restore, pool acquire,
 * call and release, destroy); the rest fail with EPERM. For threads
 * dedicated to sandboxes, after their setup; irreversible.
 */
#define VMLET_CONFINE_KILL   1 /* a refused system call kills the process (SIGSYS) */
#define VMLET_CONFINE_LOG    2 /* refuse nothing; the kernel logs what would be refused */
#define VMLET_CONFINE_CREATE 4 /* also vmlet_sandbox_create_from() */
#define VMLET_CONFINE_OPEN   8 /* also openat2: opens beneath granted directories */
VMLET_API int vmlet_thread_confine(unsigned int flags);

/*
 * JavaScript guests (vmlet-js(7)): Debian's Duktape in a guest image,
 * vmlet-js.elf, installed with the guest runtime. vmlet_js_load() boots
 * it, loads a script (compiled, its top level run) and snapshots that;
 * vmlet_js_event() runs one event on a fresh VM from the snapshot:
 * JSON.stringify(HANDLER(JSON.parse(json))), where HANDLER is a global
 * function of the script. vmlet_js_call() runs one on the same VM
 * without restoring it first (warm: what earlier events left stays).
 * Both return the result's length with *result pointing at it (valid
 * until the next call on js), or a negative error; a failing script is
 * -VMLET_EFAIL with vmlet_fault.code one of these and the JS error in
 * vmlet_fault.message, but an uncaught exception is -VMLET_EABORT with
 * VMLET_JS_THROW and the error's message and JS stack.
 */
enum vmlet_js_error {
	VMLET_JS_THROW = 1, /* an uncaught exception: -VMLET_EABORT, the VM lives on */
	VMLET_JS_SYNTAX,    /* the script does not compile (vmlet_js_load): line, column */
	VMLET_JS_NOHANDLER, /* no global function of the handler's name */
	VMLET_JS_BADINPUT,  /* the event's JSON does not parse */
	VMLET_JS_BADOUTPUT, /* the result has no JSON form, or not the type asked for */
	VMLET_JS_NOMEM,	    /* the engine ran out of guest memory */
	VMLET_JS_FATAL,	    /* the engine gave up: -VMLET_EABORT, the VM is dead */
};

struct vmlet_js_config {
	size_t sz;			/* sizeof(struct vmlet_js_config) */
	const char *image;		/* NULL: $VMLET_JS_IMAGE, else the installed one */
	const char *filename;		/* in messages and stacks; NULL: "script.js" */
	const struct vmlet_config *cfg; /* NULL: defaults, 16 MiB of memory */
	struct vmlet_fault *fault;	/* out, may be NULL: why loading failed */
};

struct vmlet_js;

VMLET_API int vmlet_js_load(const char *source, const struct vmlet_js_config *jcfg,
			    struct vmlet_js **out);
/*
 * A js whose events run on sandboxes of snap, a snapshot of a loaded
 * script: vmlet_js_snapshot() of another js, typically saved to a file
 * with vmlet_snapshot_save() and loaded in another process with
 * vmlet_snapshot_load() (whose cfg gives the print callback, deadline and
 * the host functions, which must be those the script was loaded with).
 * js holds its own reference on snap. -EINVAL when snap is not of the
 * JavaScript guest.
 */
VMLET_API int vmlet_js_from_snapshot(struct vmlet_snapshot *snap, struct vmlet_js **out);
VMLET_API int vmlet_js_event(struct vmlet_js *js, const char *handler, const char *json,
			     const char **result);
VMLET_API int vmlet_js_call(struct vmlet_js *js, const char *handler, const char *json,
			    const char **result);
/*
 * Typed events (vmlet_js_event_typed(3)): HANDLER(args...) with each
 * argument a JS value (bool a boolean; the integers and floats numbers, an
 * i64 or u64 only within +-(2^53 - 1), else -ERANGE; a string a string;
 * bytes a new Uint8Array), and its result converted to rtype as host
 * function arguments are (an integer type takes a number with no
 * fraction, in range; bytes any buffer, such as a Uint8Array; VMLET_VOID
 * drops it; ret may then be NULL). A result that is not of rtype is
 * -VMLET_EFAIL with VMLET_JS_BADOUTPUT. String and bytes results are
 * valid until the next call on js. 0 or a negative error.
 */
VMLET_API int vmlet_js_event_typed(struct vmlet_js *js, const char *handler,
				   const struct vmlet_value *args, unsigned int nargs,
				   enum vmlet_type rtype, struct vmlet_value *ret);
VMLET_API int vmlet_js_call_typed(struct vmlet_js *js, const char *handler,
				  const struct vmlet_value *args, unsigned int nargs,
				  enum vmlet_type rtype, struct vmlet_value *ret);
/* What went wrong in js's last event or call (error 0: nothing). */
VMLET_API const struct vmlet_fault *vmlet_js_fault(const struct vmlet_js *js);
/* The sandbox events run on (host functions, grants, timeouts, counting). */
VMLET_API struct vmlet_sandbox *vmlet_js_sandbox(struct vmlet_js *js);
/* The snapshot of the loaded script, for pools (vmlet_pool_create_from). */
VMLET_API struct vmlet_snapshot *vmlet_js_snapshot(struct vmlet_js *js);
VMLET_API void vmlet_js_destroy(struct vmlet_js *js);

/* Value constructors. */
static inline struct vmlet_value vmlet_bool(bool v)
{
	return (struct vmlet_value){.type = VMLET_BOOL, .b = v};
}
static inline struct vmlet_value vmlet_i32(int32_t v)
{
	return (struct vmlet_value){.type = VMLET_I32, .i32 = v};
}
static inline struct vmlet_value vmlet_u32(uint32_t v)
{
	return (struct vmlet_value){.type = VMLET_U32, .u32 = v};
}
static inline struct vmlet_value vmlet_i64(int64_t v)
{
	return (struct vmlet_value){.type = VMLET_I64, .i64 = v};
}
static inline struct vmlet_value vmlet_u64(uint64_t v)
{
	return (struct vmlet_value){.type = VMLET_U64, .u64 = v};
}
static inline struct vmlet_value vmlet_f32(float v)
{
	return (struct vmlet_value){.type = VMLET_F32, .f32 = v};
}
static inline struct vmlet_value vmlet_f64(double v)
{
	return (struct vmlet_value){.type = VMLET_F64, .f64 = v};
}
static inline struct vmlet_value vmlet_bytes(const void *p, size_t len)
{
	return (struct vmlet_value){.type = VMLET_BYTES, .buf = {p, len}};
}
/* len is the string's length without its NUL; s[len] must be NUL. */
static inline struct vmlet_value vmlet_strn(const char *s, size_t len)
{
	return (struct vmlet_value){.type = VMLET_STRING, .buf = {s, len}};
}
static inline struct vmlet_value vmlet_str(const char *s)
{
	return vmlet_strn(s, __builtin_strlen(s));
}

#ifdef __cplusplus
}
#endif

#endif /* VMLET_H */
