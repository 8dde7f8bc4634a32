// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet-trace: where a vmlet service's time goes, from the USDT probes of
 * lib/probes.h and the kvm:* tracepoints, through bpf/vmlet.bpf.c.
 *
 *   latency  per-phase log2 histograms (create, acquire, call, restore,
 *            host call), count, mean, p50/p99, like bcc's funclatency
 *   exits    KVM exits per call by reason, guest instructions per call
 *   calls    one line per call as it ends (ring buffer)
 *
 * Without -p it attaches to a libvmlet.so (the one beside this tool, or
 * -l PATH) with pid -1, so every process that maps that file is traced. A
 * program that links libvmlet.a carries the probes in its own executable:
 * trace it with -p PID (or -l EXECUTABLE). Exit status: 0, 1 on errors, 2
 * on usage errors, 3 when this machine cannot run BPF tracing (not root,
 * no kernel BTF, no bpf()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vmlet.skel.h"
#include "vmlet_trace.h"

#define EXIT_UNSUPPORTED 3
#define PIN_DIR		 "/sys/fs/bpf/vmlet"
#define BPF_FS_MAGIC_	 0xcafe4a11
#define TRACEFS		 "/sys/kernel/tracing"

enum mode { MODE_LATENCY, MODE_EXITS, MODE_CALLS };

static struct {
	enum mode mode;
	pid_t pid;
	const char *lib;
	int interval;
	bool json, pin, verbose;
} opt = {.pid = -1};

static volatile sig_atomic_t stop;
static bool libbpf_quiet;
static struct bpf_link *links[32]; /* ours: not in the skeleton's links */
static int nlinks;

static const char *const phase_names[VMLET_NPHASES] = {
	[VMLET_PHASE_CREATE] = "create",   [VMLET_PHASE_CREATE_FROM] = "create_from",
	[VMLET_PHASE_ACQUIRE] = "acquire", [VMLET_PHASE_CALL] = "call",
	[VMLET_PHASE_RESTORE] = "restore", [VMLET_PHASE_HOSTCALL] = "hostcall",
};

/* Probe name in lib/probes.h, and whether a libvmlet may lack it. */
static const struct {
	const char *name;
	bool optional;
} probes[] = {
	{"image__load", false},	   {"create__begin", false},  {"create__end", false},
	{"acquire__begin", false}, {"acquire__end", false},   {"call__begin", false},
	{"call__end", false},	   {"restore__begin", false}, {"restore__end", false},
	{"release", false},	   {"hostcall__begin", true}, {"hostcall__end", true},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmlet-trace latency [-p PID] [-l PATH] [-i SECS] [--json] [--pin]\n"
		   "       vmlet-trace exits [-p PID] [-l PATH] [--json] [--pin]\n"
		   "       vmlet-trace calls [-p PID] [-l PATH] [--pin]\n"
		   "  -p PID      trace one process (default: every process using the library)\n"
		   "  -l PATH     the libvmlet.so or executable with the probes\n"
		   "  -i SECS     print every SECS seconds (latency, exits); totals at Ctrl-C\n"
		   "  --json      print JSON objects, one per line\n"
		   "  --pin       pin the maps under " PIN_DIR "/ while running\n"
		   "  -v          show libbpf's messages\n");
}

static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("vmlet-trace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !opt.verbose)
		return 0;
	if (libbpf_quiet && !opt.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Count the USDT notes of provider "vmlet" in an ELF file; -errno on error. */
static int count_probes(const char *path)
{
	Elf_Scn *scn = NULL;
	int fd, n = 0;
	Elf *e;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e) {
		close(fd);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(e, scn))) {
		size_t shstrndx, off = 0, name_off, desc_off;
		Elf_Data *data;
		GElf_Shdr sh;
		GElf_Nhdr nh;
		const char *sname;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    elf_getshdrstrndx(e, &shstrndx))
			continue;
		sname = elf_strptr(e, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		data = elf_getdata(scn, NULL);
		while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const char *desc = (const char *)data->d_buf + desc_off;
			size_t addrs = 3 * (gelf_getclass(e) == ELFCLASS32 ? 4 : 8);

			/* desc: pc, base, semaphore, then "provider\0name\0args\0". */
			if (nh.n_type == 3 && nh.n_descsz > addrs + 6 &&
			    !strncmp(desc + addrs, "vmlet", nh.n_descsz - addrs))
				n++;
		}
	}
	elf_end(e);
	close(fd);
	return n;
}

/* A libvmlet.so that /proc/PID/maps shows, or the process's executable. */
static int target_of_pid(pid_t pid, char *path, size_t size)
{
	char file[64], line[PATH_MAX + 128];
	ssize_t n;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/maps", pid);
	f = fopen(file, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (!strncmp(basename(p), "libvmlet.so", 11)) {
			snprintf(path, size, "%s", p);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	snprintf(file, sizeof(file), "/proc/%d/exe", pid);
	n = readlink(file, path, size - 1);
	if (n < 0)
		return -errno;
	path[n] = '\0';
	if (access(path, R_OK)) /* deleted, or in another mount namespace */
		snprintf(path, size, "%s", file);
	return 0;
}

/* The libvmlet.so beside this tool (build tree and install tree alike). */
static int default_lib(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		snprintf(path, size, "%s/../lib/%s", dirname(self), LIBVMLET_SO);
		if (realpath(path, self) && (size_t)snprintf(path, size, "%s", self) < size)
			return 0;
	}
	snprintf(path, size, "%s/%s", LIBVMLET_LIBDIR, LIBVMLET_SO);
	return access(path, R_OK) ? -ENOENT : 0;
}

static int check_machine(void)
{
	struct statfs sf;

	if (geteuid())
		return fail(EXIT_UNSUPPORTED, "must run as root: loading BPF programs and "
					      "attaching uprobes needs CAP_BPF and CAP_PERFMON");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return fail(EXIT_UNSUPPORTED,
			    "no kernel BTF at /sys/kernel/btf/vmlinux "
			    "(CONFIG_DEBUG_INFO_BTF=y): CO-RE programs cannot load");
	if (opt.mode != MODE_LATENCY && access(TRACEFS "/events", F_OK) &&
	    access("/sys/kernel/debug/tracing/events", F_OK) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		return fail(1, "no tracefs, and mounting it at " TRACEFS " failed: %s",
			    strerror(errno));
	if (opt.pin && (statfs("/sys/fs/bpf", &sf) || sf.f_type != BPF_FS_MAGIC_) &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL))
		return fail(1,
			    "--pin: no BPF filesystem at /sys/fs/bpf and mounting one failed: %s",
			    strerror(errno));
	return 0;
}

static bool tracepoint_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), TRACEFS "/events/kvm/%s", name);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/kvm/%s", name);
	return !access(path, F_OK);
}

static struct bpf_program *usdt_prog(struct vmlet_bpf *skel, const char *probe)
{
	char name[32];
	size_t j = 0;

	/* call__begin -> call_begin */
	for (size_t i = 0; probe[i] && j < sizeof(name) - 1; i++)
		if (!(probe[i] == '_' && probe[i + 1] == '_'))
			name[j++] = probe[i];
	name[j] = '\0';
	return bpf_object__find_program_by_name(skel->obj, name);
}

static int attach(struct vmlet_bpf *skel, const char *path, int *nkvm)
{
	struct bpf_program *prog;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct bpf_link *link;

		prog = usdt_prog(skel, probes[i].name);
		if (!prog)
			return fail(1, "no BPF program for probe %s", probes[i].name);
		libbpf_quiet = probes[i].optional;
		link = bpf_program__attach_usdt(prog, opt.pid, path, "vmlet", probes[i].name, NULL);
		libbpf_quiet = false;
		if (!link && probes[i].optional)
			continue;
		if (!link)
			return fail(1, "cannot attach to probe vmlet:%s in %s: %s", probes[i].name,
				    path, strerror(errno));
		links[nlinks++] = link;
	}
	*nkvm = 0;
	bpf_object__for_each_program(prog, skel->obj)
	{
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) ||
		    strncmp(bpf_program__section_name(prog), "tp/", 3))
			continue;
		link = bpf_program__attach(prog);
		if (!link)
			return fail(1, "cannot attach to %s: %s", bpf_program__section_name(prog),
				    strerror(errno));
		links[nlinks++] = link;
		(*nkvm)++;
	}
	return 0;
}

static int read_hists(struct vmlet_bpf *skel, struct vmlet_hist *h)
{
	int fd = bpf_map__fd(skel->maps.hists);

	for (__u32 p = 0; p < VMLET_NPHASES; p++)
		if (bpf_map_lookup_elem(fd, &p, &h[p]))
			return -errno;
	return 0;
}

static __u64 total(struct vmlet_bpf *skel, __u32 what)
{
	__u64 v = 0;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.totals), &what, &v);
	return v;
}

static void hist_sub(struct vmlet_hist *a, const struct vmlet_hist *b)
{
	a->count -= b->count;
	a->errors -= b->errors;
	a->sum_ns -= b->sum_ns;
	for (int i = 0; i < VMLET_HIST_LOG2; i++)
		a->log2_us[i] -= b->log2_us[i];
	for (int i = 0; i < VMLET_HIST_FINE; i++)
		a->fine_ns[i] -= b->fine_ns[i];
}

/* The q-quantile in ns, interpolated inside its fine slot (see vmlet_trace.h). */
static double quantile(const struct vmlet_hist *h, double q)
{
	double rank = q * (double)h->count, seen = 0;

	for (int s = 0; s < VMLET_HIST_FINE; s++) {
		double lo, hi, n = (double)h->fine_ns[s];

		if (!n || seen + n < rank) {
			seen += n;
			continue;
		}
		if (s < 4)
			return s;
		lo = (double)((4ULL + s % 4) << (s / 4 - 2));
		hi = (double)((5ULL + s % 4) << (s / 4 - 2));
		return lo + (hi - lo) * (rank - seen) / n;
	}
	return 0;
}

static void print_log2(const struct vmlet_hist *h)
{
	int first = -1, last = -1;
	__u64 max = 0;

	for (int i = 0; i < VMLET_HIST_LOG2; i++) {
		if (!h->log2_us[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (h->log2_us[i] > max)
			max = h->log2_us[i];
	}
	if (first < 0)
		return;
	printf("%10s%-14s : count     distribution\n", "", "usecs");
	for (int i = first; i <= last; i++) {
		unsigned long long lo = i ? 1ULL << i : 0, hi = (1ULL << (i + 1)) - 1;
		int stars = (int)(h->log2_us[i] * 40 / max);

		printf("%10llu -> %-10llu : %-8llu |%-40.*s|\n", lo, hi,
		       (unsigned long long)h->log2_us[i], stars,
		       "****************************************");
	}
}

static void print_latency(const struct vmlet_hist *h, __u64 loads, const char *when)
{
	if (opt.json) {
		printf("{\"type\":\"latency\",\"when\":\"%s\",\"image_loads\":%llu,\"phases\":{",
		       when, (unsigned long long)loads);
		for (int p = 0; p < VMLET_NPHASES; p++) {
			const struct vmlet_hist *x = &h[p];
			bool comma = false;

			printf("%s\"%s\":{\"count\":%llu,\"errors\":%llu,\"sum_ns\":%llu",
			       p ? "," : "", phase_names[p], (unsigned long long)x->count,
			       (unsigned long long)x->errors, (unsigned long long)x->sum_ns);
			if (x->count)
				printf(",\"mean_us\":%.3f,\"p50_us\":%.3f,\"p99_us\":%.3f",
				       (double)x->sum_ns / (double)x->count / 1e3,
				       quantile(x, 0.5) / 1e3, quantile(x, 0.99) / 1e3);
			printf(",\"log2_us\":[");
			for (int i = 0; i < VMLET_HIST_LOG2; i++) {
				if (!x->log2_us[i])
					continue;
				printf("%s[%d,%llu]", comma ? "," : "", i,
				       (unsigned long long)x->log2_us[i]);
				comma = true;
			}
			printf("]}");
		}
		printf("}}\n");
		fflush(stdout);
		return;
	}
	printf("\n%s: image loads %llu\n", when, (unsigned long long)loads);
	for (int p = 0; p < VMLET_NPHASES; p++) {
		const struct vmlet_hist *x = &h[p];

		if (!x->count) {
			printf("\n%s: no events\n", phase_names[p]);
			continue;
		}
		printf("\n%s: count %llu, errors %llu, mean %.1f us, p50 %.1f us, p99 %.1f us\n",
		       phase_names[p], (unsigned long long)x->count, (unsigned long long)x->errors,
		       (double)x->sum_ns / (double)x->count / 1e3, quantile(x, 0.5) / 1e3,
		       quantile(x, 0.99) / 1e3);
		print_log2(x);
	}
	fflush(stdout);
}

static const char *exit_name(__u32 source, __u32 reason)
{
	static const char *const user[] = {
		[1] = "EXCEPTION",  [2] = "IO",	   [4] = "DEBUG",
		[5] = "HLT",	    [6] = "MMIO",  [8] = "SHUTDOWN",
		[9] = "FAIL_ENTRY", [10] = "INTR", [17] = "INTERNAL_ERROR",
	};
	static const char *const vmx[] = {
		[0] = "EXCEPTION_NMI",	 [1] = "EXTERNAL_INTERRUPT",
		[2] = "TRIPLE_FAULT",	 [7] = "INTERRUPT_WINDOW",
		[10] = "CPUID",		 [12] = "HLT",
		[30] = "IO_INSTRUCTION", [31] = "MSR_READ",
		[32] = "MSR_WRITE",	 [48] = "EPT_VIOLATION",
		[49] = "EPT_MISCONFIG",	 [52] = "PREEMPTION_TIMER",
	};

	switch (source) {
	case VMLET_EXIT_USER:
		return reason < sizeof(user) / sizeof(user[0]) && user[reason] ? user[reason] : "?";
	case VMLET_EXIT_VMX:
		return reason < sizeof(vmx) / sizeof(vmx[0]) && vmx[reason] ? vmx[reason] : "?";
	case VMLET_EXIT_SVM:
		if (reason >= 0x40 && reason < 0x60)
			return "EXCP";
		switch (reason) {
		case 0x60:
			return "INTR";
		case 0x61:
			return "NMI";
		case 0x64:
			return "VINTR";
		case 0x72:
			return "CPUID";
		case 0x78:
			return "HLT";
		case 0x7b:
			return "IOIO";
		case 0x7c:
			return "MSR";
		case 0x7f:
			return "SHUTDOWN";
		case 0x400:
			return "NPF";
		}
		return "?";
	case VMLET_EXIT_PIO:
		return "port";
	}
	return "?";
}

static const char *const source_names[] = {"user", "vmx", "svm", "pio"};

/*
 * What the last interval printed (-i), so that each interval shows what
 * it added: the totals, and each exit reason's count.
 */
#define MAX_REASONS 512
static __u64 printed_total[VMLET_NTOTALS];
static struct {
	struct vmlet_exit_key k;
	__u64 n;
} printed[MAX_REASONS];
static unsigned int nprinted;

/* The total what: all of it, or (interval) what it added since the last interval. */
static __u64 exits_total(struct vmlet_bpf *skel, __u32 what, bool interval)
{
	__u64 n = total(skel, what), was = printed_total[what];

	if (!interval)
		return n;
	printed_total[what] = n;
	return n - was;
}

/* The same for the count n of reason k. */
static __u64 exits_count(const struct vmlet_exit_key *k, __u64 n, bool interval)
{
	unsigned int i = 0;
	__u64 was;

	if (!interval)
		return n;
	while (i < nprinted &&
	       (printed[i].k.source != k->source || printed[i].k.reason != k->reason))
		i++;
	if (i == nprinted) {
		if (i == MAX_REASONS)
			return n; /* no room to remember it: its total, each time */
		printed[nprinted++].k = *k;
	}
	was = printed[i].n;
	printed[i].n = n;
	return n - was;
}

/* Exits per call by reason: those of the last interval, or all of them. */
static void print_exits(struct vmlet_bpf *skel, bool interval)
{
	int fd = bpf_map__fd(skel->maps.exits);
	struct vmlet_exit_key k, *prev = NULL;
	__u64 calls = exits_total(skel, VMLET_TOTAL_CALLS, interval);
	__u64 exits = exits_total(skel, VMLET_TOTAL_EXITS, interval);
	__u64 uexits = exits_total(skel, VMLET_TOTAL_USER_EXITS, interval);
	__u64 entries = exits_total(skel, VMLET_TOTAL_ENTRIES, interval);
	__u64 pio = exits_total(skel, VMLET_TOTAL_PIO, interval);
	__u64 insns = exits_total(skel, VMLET_TOTAL_INSNS, interval);
	double per = calls ? 1.0 / (double)calls : 0;
	bool comma = false;

	if (opt.json)
		printf("{\"type\":\"exits\",\"calls\":%llu,\"exits\":%llu,\"user_exits\":%llu,"
		       "\"entries\":%llu,\"pio\":%llu,\"insns\":%llu,\"when\":\"%s\",\"reasons\":[",
		       (unsigned long long)calls, (unsigned long long)exits,
		       (unsigned long long)uexits, (unsigned long long)entries,
		       (unsigned long long)pio, (unsigned long long)insns,
		       interval ? "interval" : "total");
	else
		printf("\n%s: %llu calls; per call: %.2f kvm_exit, %.2f kvm_userspace_exit, %.2f "
		       "kvm_entry, %.2f kvm_pio, %.2f guest insns (kvm_emulate_insn)\n"
		       "%-6s %-8s %-20s %12s %10s\n",
		       interval ? "interval" : "total", (unsigned long long)calls,
		       (double)exits * per, (double)uexits * per, (double)entries * per,
		       (double)pio * per, (double)insns * per, "SOURCE", "REASON", "NAME", "COUNT",
		       "PER CALL");
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		__u64 n = 0;

		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &n) || k.source > VMLET_EXIT_PIO)
			continue;
		n = exits_count(&k, n, interval);
		if (interval && !n)
			continue;
		if (opt.json)
			printf("%s{\"source\":\"%s\",\"reason\":%u,\"name\":\"%s\",\"count\":%llu}",
			       comma ? "," : "", source_names[k.source], k.reason,
			       exit_name(k.source, k.reason), (unsigned long long)n);
		else
			printf("%-6s %#-8x %-20s %12llu %10.2f\n", source_names[k.source], k.reason,
			       exit_name(k.source, k.reason), (unsigned long long)n,
			       (double)n * per);
		comma = true;
	}
	if (opt.json)
		printf("]}\n");
	fflush(stdout);
}

/*
 * A function name as the guest registered it (NUL-terminated and short,
 * nothing else checked), in name: as a JSON string's contents, or for
 * the table with every byte outside printable ASCII as '?'.
 */
static void safe_name(const char *raw, size_t n, bool json, char *name, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && raw[i] && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c >= 0x20 && c < 0x7f && (!json || (c != '"' && c != '\\')))
			name[o++] = (char)c;
		else if (!json)
			name[o++] = '?';
		else
			o += (size_t)snprintf(name + o, cap - o, "\\u%04x", c);
	}
	name[o] = '\0';
}

static int on_call(void *ctx, void *data, size_t size)
{
	const struct vmlet_call *c = data;
	static bool header;
	char name[6 * VMLET_NAME_LEN + 1];

	(void)ctx;
	if (size < sizeof(*c))
		return 0;
	safe_name(c->name, VMLET_NAME_LEN, opt.json, name, sizeof(name));
	if (!header && !opt.json) {
		printf("%-8s %-8s %-8s %-20s %5s %10s %10s %10s %6s %8s\n", "PID", "TID", "SANDBOX",
		       "FUNCTION", "ERR", "ACQ_us", "CALL_us", "REST_us", "EXITS", "INSNS");
		header = true;
	}
	if (opt.json)
		printf("{\"type\":\"call\",\"pid\":%u,\"tid\":%u,\"sandbox\":%llu,\"func\":%u,"
		       "\"name\":\"%s\",\"err\":%d,\"acquire_ns\":%llu,\"call_ns\":%llu,"
		       "\"restore_ns\":%llu,\"exits\":%llu,\"user_exits\":%llu,\"insns\":%llu}\n",
		       c->pid, c->tid, (unsigned long long)c->id, c->func, name, c->err,
		       (unsigned long long)c->acquire_ns, (unsigned long long)c->call_ns,
		       (unsigned long long)c->restore_ns, (unsigned long long)c->exits,
		       (unsigned long long)c->user_exits, (unsigned long long)c->insns);
	else
		printf("%-8u %-8u %-8llu %-20s %5d %10.1f %10.1f %10.1f %6llu %8llu\n", c->pid,
		       c->tid, (unsigned long long)c->id, name, c->err, c->acquire_ns / 1e3,
		       c->call_ns / 1e3, c->restore_ns / 1e3,
		       (unsigned long long)(c->exits ? c->exits : c->user_exits),
		       (unsigned long long)c->insns);
	fflush(stdout);
	return 0;
}

static struct bpf_map *pinned_maps(struct vmlet_bpf *skel, int i)
{
	struct bpf_map *maps[] = {skel->maps.hists, skel->maps.totals, skel->maps.exits,
				  skel->maps.live, skel->maps.starts};

	return i < (int)(sizeof(maps) / sizeof(maps[0])) ? maps[i] : NULL;
}

static int pin(struct vmlet_bpf *skel)
{
	char path[128];
	struct bpf_map *m;

	if (mkdir(PIN_DIR, 0700) && errno != EEXIST)
		return fail(1, "--pin: mkdir %s: %s", PIN_DIR, strerror(errno));
	for (int i = 0; (m = pinned_maps(skel, i)); i++) {
		snprintf(path, sizeof(path), PIN_DIR "/%s", bpf_map__name(m));
		if (bpf_map__pin(m, path))
			return fail(1, "--pin: %s: %s%s", path, strerror(errno),
				    errno == EEXIST ? " (is another vmlet-trace --pin running?)"
						    : "");
	}
	return 0;
}

static void unpin(struct vmlet_bpf *skel)
{
	struct bpf_map *m;

	for (int i = 0; (m = pinned_maps(skel, i)); i++)
		if (bpf_map__is_pinned(m))
			bpf_map__unpin(m, NULL);
	rmdir(PIN_DIR);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(struct vmlet_bpf *skel)
{
	static struct vmlet_hist prev[VMLET_NPHASES], cur[VMLET_NPHASES], delta[VMLET_NPHASES];
	struct ring_buffer *rb = NULL;
	double next = now_s() + opt.interval;
	__u64 ncalls = 0;

	if (opt.mode == MODE_CALLS) {
		rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_call, NULL, NULL);
		if (!rb)
			return fail(1, "ring buffer: %s", strerror(errno));
	}
	while (!stop && !ferror(stdout)) {
		if (rb) {
			int n = ring_buffer__poll(rb, 100);

			if (n < 0 && n != -EINTR) {
				ring_buffer__free(rb);
				return fail(1, "ring buffer: %s", strerror(-n));
			}
			ncalls += n > 0 ? (__u64)n : 0;
			continue;
		}
		usleep(50000);
		if (!opt.interval || now_s() < next || stop)
			continue;
		next += opt.interval;
		if (opt.mode == MODE_EXITS) {
			print_exits(skel, true);
			continue;
		}
		if (read_hists(skel, cur))
			return fail(1, "reading hists: %s", strerror(errno));
		memcpy(delta, cur, sizeof(delta));
		for (int p = 0; p < VMLET_NPHASES; p++)
			hist_sub(&delta[p], &prev[p]);
		print_latency(delta, total(skel, VMLET_TOTAL_IMAGE_LOADS), "interval");
		memcpy(prev, cur, sizeof(prev));
	}
	if (rb) {
		int n = ring_buffer__consume(rb);

		ncalls += n > 0 ? (__u64)n : 0;
		ring_buffer__free(rb);
		fprintf(stderr, "vmlet-trace: %llu calls, %llu lost\n", (unsigned long long)ncalls,
			(unsigned long long)total(skel, VMLET_TOTAL_LOST));
	} else if (opt.mode == MODE_EXITS) {
		print_exits(skel, false);
	} else {
		if (read_hists(skel, cur))
			return fail(1, "reading hists: %s", strerror(errno));
		print_latency(cur, total(skel, VMLET_TOTAL_IMAGE_LOADS), "total");
	}
	return 0;
}

static int parse(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"lib", required_argument, NULL, 'l'},
		{"interval", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"pin", no_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	if (argc < 2)
		return -1;
	if (!strcmp(argv[1], "latency"))
		opt.mode = MODE_LATENCY;
	else if (!strcmp(argv[1], "exits"))
		opt.mode = MODE_EXITS;
	else if (!strcmp(argv[1], "calls"))
		opt.mode = MODE_CALLS;
	else if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return 1;
	else
		return -1;
	optind = 2;
	while ((c = getopt_long(argc, argv, "p:l:i:jvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			opt.pid = (pid_t)strtol(optarg, &end, 10);
			if (*end || opt.pid <= 0)
				return -1;
			break;
		case 'l':
			opt.lib = optarg;
			break;
		case 'i':
			opt.interval = (int)strtol(optarg, &end, 10);
			if (*end || opt.interval <= 0 || opt.mode == MODE_CALLS)
				return -1;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'P':
			opt.pin = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const char *const tps[] = {"kvm_exit", "kvm_userspace_exit", "kvm_pio", "kvm_entry",
					  "kvm_emulate_insn"};
	struct sigaction sa = {.sa_handler = on_signal};
	char path[PATH_MAX];
	struct vmlet_bpf *skel;
	int err, n, nkvm = 0, ntps = 0;

	err = parse(argc, argv);
	if (err) {
		usage(err > 0 ? stdout : stderr);
		return err > 0 ? 0 : 2;
	}
	err = check_machine();
	if (err)
		return err;
	if (opt.lib && !realpath(opt.lib, path))
		return fail(1, "%s: %s", opt.lib, strerror(errno));
	else if (opt.lib)
		;
	else if (opt.pid > 0)
		err = target_of_pid(opt.pid, path, sizeof(path));
	else
		err = default_lib(path, sizeof(path));
	if (err)
		return opt.pid > 0 ? fail(1, "no process %d: %s", opt.pid, strerror(-err))
				   : fail(1, "cannot find %s: name it with -l PATH", LIBVMLET_SO);
	n = count_probes(path);
	if (n < 0)
		return fail(1, "%s: %s", path, strerror(-n));
	if (!n)
		return fail(1,
			    "%s has no vmlet probes (no USDT notes of provider \"vmlet\"): "
			    "it does not link libvmlet%s",
			    path, opt.pid > 0 ? ", statically or through libvmlet.so" : "");

	libbpf_set_print(libbpf_print);
	skel = vmlet_bpf__open();
	if (!skel)
		return fail(errno == EPERM || errno == ENOSYS ? EXIT_UNSUPPORTED : 1,
			    "opening the BPF object: %s", strerror(errno));
	skel->rodata->per_call = opt.mode != MODE_LATENCY;
	skel->rodata->stream = opt.mode == MODE_CALLS;
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, tps[i]);
		bool on = opt.mode != MODE_LATENCY && tracepoint_exists(tps[i]);

		bpf_program__set_autoload(p, on);
		ntps += on;
	}
	if (opt.mode != MODE_LATENCY && !ntps)
		fprintf(stderr, "vmlet-trace: no kvm:* tracepoints (is kvm loaded?): "
				"calls are followed without their exits\n");
	err = vmlet_bpf__load(skel);
	if (err) {
		err = fail(err == -EPERM || err == -ENOSYS ? EXIT_UNSUPPORTED : 1,
			   "loading the BPF programs: %s (-v shows the verifier's log)",
			   strerror(-err));
		goto out;
	}
	/*
	 * Before the maps are pinned: every way this ends, a closed pipe
	 * included (SIGPIPE ignored: the write fails and the loop ends), goes
	 * through unpin() below.
	 */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = attach(skel, path, &nkvm);
	if (!err && opt.pin)
		err = pin(skel);
	if (err)
		goto out;
	fprintf(stderr,
		"Tracing %d vmlet probes in %s (%s%.0d), %d kvm tracepoints%s... "
		"Hit Ctrl-C to end.\n",
		n, path, opt.pid > 0 ? "pid " : "every process", opt.pid > 0 ? opt.pid : 0, nkvm,
		opt.pin ? ", maps pinned under " PIN_DIR "/" : "");
	err = run(skel);
out:
	if (opt.pin)
		unpin(skel);
	while (nlinks)
		bpf_link__destroy(links[--nlinks]);
	vmlet_bpf__destroy(skel);
	return err;
}
