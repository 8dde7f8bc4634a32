// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench: vmlet against the raw KVM floor and against what users would run
 * instead (a QEMU microVM, a process per call, a Wasm sandbox), measured
 * side by side in one run on one machine. It prints a table as it goes,
 * progress on stderr, and writes results.json (machine, kernel, backing,
 * every figure: min, p50, p90, p99, max, mean, a CDF, its ratio to the
 * floor, and the counts that do not depend on noise: KVM exits, guest
 * instructions and host syscalls per operation). selftests/bench/
 * report.py turns that file into plots and the README's table.
 *
 *   bench [-o FILE] [GROUP...]   groups: floor process wasm qemu vmlet
 *                                hostcall tracing seccomp density snapfile js
 *                                wasm-guest (default: all;
 *                                the floor always runs: the rest are
 *                                ratios to it)
 *   bench -F FILE                the host-call part alone, for the vmtest
 *                                VM (see hostcall.c)
 *   bench -J FILE                the js group alone, for the vmtest VM
 *                                (see js.c)
 *   bench -S FILE                the snapfile group alone, for the vmtest
 *                                VM (see snapfile.c)
 *   bench -W FILE                the wasm-guest group's checksum target
 *                                alone, for the vmtest VM (see wasmguest.c)
 *
 * Where each part runs, and why. A comparison is fair only on one kernel
 * and one machine, so everything runs here, in this process, when
 * /dev/kvm exists (without /dev/kvm, `make bench` runs all of bench in
 * the vmtest VM instead: again one kernel, one machine).
 *
 * Hosts whose KVM runs guest code in its instruction emulator (no
 * VMX/SVM visible: vmlet_platform.emulated, like the machine this was
 * written on) still run everything here. Guest-side time there is far
 * slower than on hardware (each guest instruction is emulated), but the
 * host-side costs (exits, syscalls, creating VMs, fork and exec, Node)
 * are real, and kvm:kvm_emulate_insn counts every guest instruction
 * exactly, which is only possible there. vmlet's guests for these figures
 * (add, touch) and QEMU's are integer-only, which that emulator runs.
 * The one exception is host calls, whose path in the guest runtime uses
 * SSE: they are tried here and, failing, measured in the vmtest VM
 * (nested kvm-amd under QEMU/TCG) with a floor of their own, and
 * results.json says so ("where": "vmtest"). So are the figures whose
 * ratio compares guest code with native code (wasm-guest's checksum
 * target): emulated guest code against native code means nothing.
 *
 * Not a test: it never fails on time. It exits 1 when a figure could not
 * be measured (the figure says why, and no zeros stand in for it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum {
	G_FLOOR = 1 << 0,
	G_PROCESS = 1 << 1,
	G_WASM = 1 << 2,
	G_QEMU = 1 << 3,
	G_VMLET = 1 << 4,
	G_HOSTCALL = 1 << 5,
	G_TRACING = 1 << 6,
	G_DENSITY = 1 << 7,
	G_SECCOMP = 1 << 8,
	G_SNAPFILE = 1 << 9,
	G_JS = 1 << 10,
	G_WASM_GUEST = 1 << 11,
};

static const char *const group_names[] = {
	"floor",   "process", "wasm",	 "qemu",     "vmlet", "hostcall",
	"tracing", "density", "seccomp", "snapfile", "js",    "wasm-guest",
};

static void usage(void)
{
	fprintf(stderr, "usage: bench [-o FILE] [GROUP...]\n"
			"       bench -F FILE | -J FILE | -S FILE | -W FILE\n"
			"groups: floor process wasm qemu vmlet hostcall tracing density seccomp "
			"snapfile js wasm-guest\n");
	exit(2);
}

static void cpu_model(char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(buf, len, "%s", colon + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
}

static void machine(struct bench *b, const char *where)
{
	const struct vmlet_platform *p = &b->plat;
	char cpu[128], kernel[sizeof(((struct utsname *)0)->release) * 2 + 2], date[32];
	const char *rev = getenv("VMLET_BENCH_REV");
	struct utsname u;
	time_t now = time(NULL);

	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	snprintf(kernel, sizeof(kernel), "%s %s", u.release, u.version);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_str(b->j, "date", date);
	if (rev)
		json_str(b->j, "rev", rev);
	json_str(b->j, "where", where);
	json_obj(b->j, "machine");
	json_str(b->j, "cpu", cpu);
	json_num(b->j, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
	json_num(b->j, "mem_mib", (double)(meminfo_kib("MemTotal") / 1024));
	json_str(b->j, "kvm_vendor", p->vendor);
	json_num(b->j, "kvm_api", p->api_version);
	json_str(b->j, "guest_code", p->emulated ? "emulated by KVM" : "native");
	json_num(b->j, "nested", p->nested);
	json_end(b->j);
	json_str(b->j, "kernel", kernel);
	json_str(b->j, "backing", vmlet_backing_name(p->backing));
	if (p->emulated)
		json_str(b->j, "note",
			 "this KVM executes guest instructions in software: "
			 "guest-side time is far slower than on hardware, "
			 "host-side costs are real");

	printf("vmlet bench: %s, %ld cores, kernel %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
	       u.release);
	printf("KVM: %s, API %d, %s%s; backing %s\n", p->vendor, p->api_version,
	       p->emulated ? "guest code emulated by KVM" : "guest code native",
	       p->nested ? ", nested" : "", vmlet_backing_name(p->backing));
	if (p->emulated)
		printf("note: this KVM executes guest instructions in software, so guest-side time "
		       "is\nfar slower than on hardware; host-side costs (exits, syscalls) are "
		       "real.\n");
}

int main(int argc, char **argv)
{
	const char *out = "bench/results.json", *fragment = NULL, *where;
	char fragment_kind = 'F';
	char self[PATH_MAX], outdir[PATH_MAX];
	unsigned int groups = 0;
	struct bench b = {0};
	struct json j;
	int opt, err;

	if (argc > 1 && !strcmp(argv[1], "--snapfile-child"))
		return bench_snapfile_child(argc, argv);
	while ((opt = getopt(argc, argv, "o:F:J:S:W:h")) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'F':
		case 'J':
		case 'S':
		case 'W':
			fragment = optarg;
			fragment_kind = (char)opt;
			break;
		default:
			usage();
		}
	}
	for (; optind < argc; optind++) {
		unsigned int g;

		for (g = 0; g < sizeof(group_names) / sizeof(group_names[0]); g++)
			if (!strcmp(argv[optind], group_names[g]))
				break;
		if (g == sizeof(group_names) / sizeof(group_names[0]) || fragment)
			usage();
		groups |= 1u << g;
	}
	if (!groups)
		groups = ~0u;
	if (fragment)
		out = fragment;

	if (!realpath("/proc/self/exe", self)) {
		perror("bench: /proc/self/exe");
		return 1;
	}
	snprintf(outdir, sizeof(outdir), "%s", out);
	b.outdir = dirname(outdir);
	if (mkdir(b.outdir, 0755) && errno != EEXIST) {
		fprintf(stderr, "bench: %s: %s\n", b.outdir, strerror(errno));
		return 1;
	}
	b.self = self;
	err = vmlet_platform_query(&b.plat);
	if (err) {
		fprintf(stderr, "bench: KVM unavailable: %s\n", vmlet_strerror(err));
		return 1;
	}
	insns_exact = b.plat.emulated;
	err = json_open(&j, out);
	if (err) {
		fprintf(stderr, "bench: %s: %s\n", out, strerror(-err));
		return 1;
	}
	b.j = &j;
	/* VMLET_BENCH_WHERE=vmtest from bench.sh when all of bench runs in the VM. */
	where = getenv("VMLET_BENCH_WHERE");
	machine(&b, fragment ? "vmtest" : where ? where : "here");

	if (fragment && fragment_kind == 'J') {
		bench_js_fragment(&b);
	} else if (fragment && fragment_kind == 'S') {
		bench_snapfile_fragment(&b);
	} else if (fragment && fragment_kind == 'W') {
		bench_wasm_guest_fragment(&b);
	} else if (fragment) {
		bench_hostcall_fragment(&b);
	} else {
		bench_floor(&b, true);
		if (groups & G_PROCESS)
			bench_process(&b);
		if (groups & G_WASM)
			bench_wasm(&b);
		if (groups & G_QEMU)
			bench_qemu(&b);
		if (groups & (G_VMLET | G_HOSTCALL | G_TRACING | G_SECCOMP)) {
			json_obj(&j, "vmlet");
			if (groups & G_VMLET)
				bench_vmlet(&b);
			if (groups & G_HOSTCALL)
				bench_hostcall(&b);
			if (groups & G_TRACING)
				bench_tracing(&b);
			if (groups & G_SECCOMP)
				bench_seccomp(&b);
			json_end(&j);
		}
		if (groups & G_JS) {
			bench_js(&b);
		}
		if (groups & G_DENSITY)
			bench_density(&b);
		if (groups & G_SNAPFILE)
			bench_snapfile(&b);
		if (groups & G_WASM_GUEST)
			bench_wasm_guest(&b);
	}
	fig_free(b.floor_create);
	fig_free(b.floor_out);
	fig_free(b.floor_reentry);
	err = json_close(&j);
	if (err) {
		fprintf(stderr, "bench: writing %s: %s\n", out, strerror(-err));
		return 1;
	}
	progress("wrote %s", out);
	if (failures) {
		fprintf(stderr, "bench: %d figure%s could not be measured (FAILED above)\n",
			failures, failures > 1 ? "s" : "");
		return 1;
	}
	return 0;
}
