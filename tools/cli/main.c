// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet: the command-line front end.
 *
 *   vmlet run [OPTIONS] IMAGE FUNCTION [ARG...]   call a guest function
 *   vmlet list IMAGE                              the functions it registers
 *   vmlet snapshot IMAGE -o FILE [--call FUNCTION [ARG...]]...
 *                                                 save a snapshot file after calls
 *   vmlet info                                    what this host's KVM offers
 *   vmlet wasm run [OPTIONS] MODULE [ARG...]      a WASI command (tools/cli/wasm.c)
 *
 * Wherever an IMAGE is taken, a snapshot file (vmlet-snapshot(5)) may be
 * given instead, told apart by its first bytes (VMLET_SNAPSHOT_MAGIC):
 * sandboxes then start from the snapshot, without booting.
 *
 * Arguments are TYPE:VALUE (i32:5, f64:2.5, str:hello, bytes:@file,
 * bool:true) or a bare VALUE read as the type the function's signature
 * wants.
 *
 *   vmlet js [OPTIONS] SCRIPT.js HANDLER [JSON]      a JavaScript handler (tools/cli/js.c)
 *   vmlet js [OPTIONS] -o FILE SCRIPT.js              save it loaded, as a snapshot file
 *
 * `run` sets everything up on the main thread (image, sandbox, grants,
 * host-call service, the pool for --fresh), then makes its calls on a
 * thread that first confines itself with vmlet_thread_confine(): the
 * guest-facing part of the run can make no system call but those of
 * calls, host calls and restores. --no-seccomp skips that, and so does
 * --core, since writing a core file is creating a file. A thread of
 * its own rather than the main thread, so that teardown and whatever
 * runs at exit (LeakSanitizer in sanitized builds) stay unconfined.
 * --gdb PORT makes the one call under gdb (vmlet_sandbox_debug_call())
 * on the main thread, unconfined: the stub talks to gdb over a socket.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <vmlet.h>

#include "cli.h"

static int cmd_info(int argc, char **argv)
{
	struct vmlet_platform p;
	int err;

	if (argc > 1)
		return cli_usage(strcmp(argv[1], "--help") ? stderr : stdout,
				 strcmp(argv[1], "--help") ? 2 : 0);
	err = vmlet_platform_query(&p);
	printf("host:            %s%s\n",
	       p.nested ? "runs under a hypervisor (nested)" : "bare metal", "");
	printf("memory backing:  %s (%ld free 2 MiB hugetlb pages)\n",
	       vmlet_backing_name(p.backing), p.hugepages_free);
	if (err) {
		printf("kvm:             unavailable: %s\n", vmlet_strerror(err));
		return 1;
	}
	printf("kvm api version: %d\n", p.api_version);
	printf("cpu vendor:      %s\n", p.vendor);
	printf("guest code:      %s\n",
	       p.emulated ? "emulated by KVM (no VMX/SVM visible to this kernel)"
			  : "runs natively (VMX/SVM)");
	printf("capabilities:    user-memory sync-regs%s%s%s%s\n", p.xsave ? " xcrs" : "",
	       p.guest_debug ? " set-guest-debug" : "", p.pv_refused ? " enforce-pv-cpuid" : "",
	       p.dirty_ring ? " dirty-log-ring" : "");
	printf("restore of msrs: %s\n",
	       p.msr_filter ? "after a guest wrote one (KVM_CAP_X86_MSR_FILTER)"
			    : "all at every restore (no KVM_CAP_X86_MSR_FILTER)");
	printf("copy restore:    %s\n",
	       p.dirty_ring ? "dirty ring (KVM_CAP_DIRTY_LOG_RING)"
			    : "dirty log (KVM_GET_DIRTY_LOG, one ioctl per restore)");
	printf("guest tlb:       %s\n",
	       p.tlb_pv ? "flushed at restore by KVM's PV flush (steal time)"
			: "flushed at restore by an MMU reset (no steal time or MSR filter)");
	printf("kvm pv msrs:     %s\n",
	       p.pv_refused ? "refused to guests"
			    : "writable by guests (KVM lacks KVM_CAP_ENFORCE_PV_FEATURE_CPUID)");
	printf("guest xcr0:      %#" PRIx64 "\n", p.xcr0);
	printf("instruction counting: %s\n", p.guest_debug ? "single-step (exact)" : "unavailable");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(stderr, 2);
	if (!strcmp(argv[1], "run"))
		return cli_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "js"))
		return cli_js(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cli_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "snapshot"))
		return cli_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "wasm"))
		return cli_wasm(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return cli_usage(stdout, 0);
	fprintf(stderr, "vmlet: unknown command '%s'\n", argv[1]);
	return cli_usage(stderr, 2);
}
