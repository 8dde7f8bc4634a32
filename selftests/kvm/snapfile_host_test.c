// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshot files against what this host's KVM takes: a file whose vCPU
 * state KVM would refuse is rejected by vmlet_snapshot_load() with the
 * field named, rather than loading and failing KVM_SET_* with an errno
 * (-EIO for KVM_SET_MSRS) when a sandbox is made of it.
 *
 * Each case edits a real saved file of the livesnap guest (checksums
 * recomputed) and asks KVM itself, on a bare vCPU given vmlet's CPUID,
 * whether it takes that state: the loader refuses what KVM refuses and
 * takes what it takes.
 *  - An MTRR base at the host's MAXPHYADDR (KVM refuses) and one bit
 *    below it (KVM takes; a sandbox of it runs).
 *  - vCPU events with the exception-payload flag (KVM refuses it in a VM
 *    without KVM_CAP_EXCEPTION_PAYLOAD, and vmlet enables none).
 *  - An MSR this host's KVM does not list. Every state MSR is supported
 *    by the KVM this runs on, so a process started with --hide-msr hides
 *    one the file holds (IA32_SPEC_CTRL where the host has it) from
 *    KVM_GET_MSR_INDEX_LIST, through this program's own ioctl(), which
 *    the library calls: the load names it, and a snapshot saved there
 *    does not keep it (and loads on the real host).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <vmlet.h>

#include "livesnap_calls.h"
#include "snapfmt.h"
#include "util.h"

#define TMPDIR "/dev/shm" /* not 9p: see snapfile_test.c */

static uint32_t hidden_msr; /* removed from KVM_GET_MSR_INDEX_LIST in this process */

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ret = syscall(SYS_ioctl, fd, req, arg);
	if (!ret && req == KVM_GET_MSR_INDEX_LIST && hidden_msr) {
		struct kvm_msr_list *l = arg;
		uint32_t n = 0;

		for (uint32_t i = 0; i < l->nmsrs; i++)
			if (l->indices[i] != hidden_msr)
				l->indices[n++] = l->indices[i];
		l->nmsrs = n;
	}
	return (int)ret;
}

/* A bare vCPU with the CPUID vmlet gives guests, and that CPUID's MAXPHYADDR. */
struct bare {
	int kvm, vm, vcpu;
	unsigned int phys_bits;
};

static bool bare_open(struct bare *b)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));

	b->phys_bits = 36;
	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	b->vm = b->kvm < 0 ? -1 : ioctl(b->kvm, KVM_CREATE_VM, 0);
	b->vcpu = b->vm < 0 ? -1 : ioctl(b->vm, KVM_CREATE_VCPU, 0);
	if (!c || b->vcpu < 0) {
		ksft_fail_at("bare vCPU: %s", strerror(errno));
		free(c);
		return false;
	}
	c->nent = 256;
	if (ioctl(b->kvm, KVM_GET_SUPPORTED_CPUID, c) || ioctl(b->vcpu, KVM_SET_CPUID2, c)) {
		ksft_fail_at("CPUID: %s", strerror(errno));
		free(c);
		return false;
	}
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000008 && (c->entries[i].eax & 0xff))
			b->phys_bits = c->entries[i].eax & 0xff;
	free(c);
	return true;
}

static void bare_close(struct bare *b)
{
	close(b->vcpu);
	close(b->vm);
	close(b->kvm);
}

/* Whether KVM_SET_MSRS takes index = data on the bare vCPU. */
static bool kvm_takes_msr(struct bare *b, uint32_t index, uint64_t data)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one = {.h.nmsrs = 1, .e = {.index = index, .data = data}};

	return ioctl(b->vcpu, KVM_SET_MSRS, &one) == 1;
}

/* A real file, read whole. */
struct file {
	uint8_t *buf;
	size_t len;
	struct vmlet_snapfmt_header h;
	struct vmlet_x86_state cpu;
};

static bool file_read(int fd, struct file *f)
{
	off_t end = lseek(fd, 0, SEEK_END);

	f->len = end > 0 ? (size_t)end : 0;
	f->buf = malloc(f->len ? f->len : 1);
	if (!f->buf || pread(fd, f->buf, f->len, 0) != (ssize_t)f->len || f->len < sizeof(f->h)) {
		ksft_fail_at("reading the file back");
		return false;
	}
	memcpy(&f->h, f->buf, sizeof(f->h));
	memcpy(&f->cpu, f->buf + f->h.sect[0].off, sizeof(f->cpu));
	return true;
}

static struct kvm_msr_entry *file_msr(struct vmlet_x86_state *cpu, uint32_t index)
{
	struct kvm_msrs *m = (struct kvm_msrs *)(void *)cpu->msrs;

	for (uint32_t i = 0; i < m->nmsrs; i++)
		if (m->entries[i].index == index)
			return &m->entries[i];
	return NULL;
}

/* f with its CPU section replaced by cpu, checksums recomputed, in a new unlinked file. */
static int file_with(const struct file *f, const struct vmlet_x86_state *cpu)
{
	char path[] = TMPDIR "/vmlet-snaphost.XXXXXX";
	uint8_t *buf = malloc(f->len);
	struct vmlet_snapfmt_header h = f->h;
	int fd = mkstemp(path);

	if (fd < 0 || !buf) {
		ksft_fail_at("mkstemp: %s", strerror(errno));
		free(buf);
		return -1;
	}
	unlink(path);
	memcpy(buf, f->buf, f->len);
	memcpy(buf + h.sect[0].off, cpu, sizeof(*cpu));
	h.sect[0].crc = vmlet_crc32c(0, cpu, sizeof(*cpu));
	h.crc = vmlet_crc32c(0, &h, offsetof(struct vmlet_snapfmt_header, crc));
	memcpy(buf, &h, sizeof(h));
	if (pwrite(fd, buf, f->len, 0) != (ssize_t)f->len) {
		ksft_fail_at("pwrite: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

/*
 * An MTRR base at the vCPU's MAXPHYADDR: KVM refuses it, and so does the
 * load, naming the MSR and the width; one bit lower both take it, and a
 * sandbox of the file runs.
 */
TEST(mtrr_address_beyond_the_hosts_width_is_named_at_load)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_AUTO, NULL), *snap = UNTOUCHED;
	struct vmlet_sandbox *sb;
	struct kvm_msr_entry *e;
	struct vmlet_x86_state cpu;
	struct file f;
	struct bare b;
	uint64_t over, top;
	char want[256];
	int fd = test_snapshot_saved(live, NULL), bad, good;

	ASSERT_GE(fd, 0);
	ASSERT_TRUE(file_read(fd, &f));
	ASSERT_TRUE(bare_open(&b));
	over = (1ULL << b.phys_bits) | 6;
	top = (1ULL << (b.phys_bits - 1)) | 6;
	EXPECT_TRUE(!kvm_takes_msr(&b, 0x202, over));
	EXPECT_TRUE(kvm_takes_msr(&b, 0x202, top));
	cpu = f.cpu;
	e = file_msr(&cpu, 0x202); /* IA32_MTRR_PHYSBASE1: every snapshot keeps the MTRRs */
	ASSERT_TRUE(e != NULL);
	e->data = over;
	bad = file_with(&f, &cpu);
	e->data = top;
	good = file_with(&f, &cpu);
	ASSERT_GE(bad, 0);
	ASSERT_GE(good, 0);
	EXPECT_EQ(vmlet_snapshot_load(bad, NULL, &snap), -EOPNOTSUPP);
	snprintf(want, sizeof(want),
		 "MSR 0x202 (IA32_MTRR_PHYSBASE1) holds %#llx, beyond this host's %u physical "
		 "address bits",
		 (unsigned long long)over, b.phys_bits);
	EXPECT_STREQ(vmlet_snapshot_load_error(), want);
	EXPECT_TRUE(snap == UNTOUCHED);
	ASSERT_OK(vmlet_snapshot_load(good, NULL, &snap));
	sb = from(snap);
	if (sb) {
		EXPECT_EQ(call0(sb, "sum"), LOADED_SUM);
		vmlet_sandbox_destroy(sb);
	}
	vmlet_snapshot_destroy(snap);
	bare_close(&b);
	free(f.buf);
	close(bad);
	close(good);
	close(fd);
	vmlet_snapshot_destroy(live);
	vmlet_image_close(img);
}

/* vCPU events KVM_SET_VCPU_EVENTS refuses in a vmlet VM: refused at load. */
TEST(vcpu_events_kvm_refuses_are_refused_at_load)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_AUTO, NULL), *snap = UNTOUCHED;
	struct kvm_vcpu_events ev;
	struct vmlet_x86_state cpu;
	struct file f;
	struct bare b;
	int fd = test_snapshot_saved(live, NULL), bad;

	ASSERT_GE(fd, 0);
	ASSERT_TRUE(file_read(fd, &f));
	ASSERT_TRUE(bare_open(&b));
	ASSERT_EQ(ioctl(b.vcpu, KVM_GET_VCPU_EVENTS, &ev), 0);
	ev.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
	EXPECT_EQ(ioctl(b.vcpu, KVM_SET_VCPU_EVENTS, &ev), -1);
	EXPECT_EQ(errno, EINVAL);
	cpu = f.cpu;
	cpu.events.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
	bad = file_with(&f, &cpu);
	ASSERT_GE(bad, 0);
	EXPECT_EQ(vmlet_snapshot_load(bad, NULL, &snap), -EBADMSG);
	if (strncmp(vmlet_snapshot_load_error(), "CPU: events: flags 0x", 21))
		ksft_fail_at("load error \"%s\"", vmlet_snapshot_load_error());
	EXPECT_TRUE(snap == UNTOUCHED);
	bare_close(&b);
	free(f.buf);
	close(bad);
	close(fd);
	vmlet_snapshot_destroy(live);
	vmlet_image_close(img);
}

/* An optional state MSR the file holds and KVM lists: IA32_SPEC_CTRL where it can. */
static uint32_t listed_msr_of(struct vmlet_x86_state *cpu)
{
	const struct kvm_msrs *m = (const struct kvm_msrs *)(void *)cpu->msrs;
	uint32_t pick = 0;

	if (file_msr(cpu, MSR_SPEC_CTRL))
		return MSR_SPEC_CTRL;
	for (unsigned int i = 0; i < VMLET_X86_NRANGES && !pick; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		for (uint32_t j = 0; j < m->nmsrs && !r->always && !r->emulated; j++)
			if (m->entries[j].index - r->first < r->n) {
				pick = m->entries[j].index;
				break;
			}
	}
	return pick;
}

/*
 * In a process whose KVM does not list hidden: load path and report the
 * code and message on stdout, then save a live snapshot made here to
 * saved_path.
 */
static int hidden_child(uint32_t hidden, const char *path, const char *saved_path)
{
	struct vmlet_image *img;
	struct vmlet_snapshot *snap = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err, out;

	hidden_msr = hidden;
	if (fd < 0)
		return 2;
	err = vmlet_snapshot_load(fd, NULL, &snap);
	printf("%d %s\n", err, vmlet_snapshot_load_error());
	fflush(stdout);
	close(fd);
	if (!err)
		vmlet_snapshot_destroy(snap);
	if (vmlet_image_open(GUEST("livesnap"), &img))
		return 3;
	snap = loaded_live(img, VMLET_RESTORE_AUTO, NULL);
	out = snap ? test_snapshot_saved(snap, saved_path) : -1;
	if (out < 0)
		return 4;
	close(out);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
	return 0;
}

/*
 * A file holding an MSR the loading host's KVM does not list: the load
 * names it (it loaded before, and KVM_SET_MSRS failed, -EIO, when a
 * sandbox was made of it). A snapshot saved on that host keeps no such
 * MSR, and its file loads and runs here.
 */
TEST(msr_the_hosts_kvm_does_not_list_is_named_at_load)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_AUTO, NULL), *snap = NULL;
	char path[] = TMPDIR "/vmlet-snaphost.XXXXXX", saved_path[sizeof(path) + 6];
	char hide[16], out[512] = "", want[256];
	char *argv[] = {"/proc/self/exe", "--hide-msr", hide, path, saved_path, NULL};
	struct vmlet_sandbox *sb;
	struct vmlet_x86_state cpu;
	struct file f, g;
	int fd, pipefd[2], status, sfd;
	uint32_t hidden;
	ssize_t n, got = 0;
	pid_t pid;

	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	snprintf(saved_path, sizeof(saved_path), "%s.saved", path);
	fd = test_snapshot_saved(live, path);
	ASSERT_GE(fd, 0);
	ASSERT_TRUE(file_read(fd, &f));
	cpu = f.cpu;
	hidden = listed_msr_of(&cpu);
	ASSERT_NE(hidden, 0);
	snprintf(hide, sizeof(hide), "%#x", hidden);
	ASSERT_EQ(pipe(pipefd), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		dup2(pipefd[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(pipefd[0]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(want, sizeof(want),
		 "%d MSR %#x (%s) in the file is not supported by this host's KVM\n", -EOPNOTSUPP,
		 hidden, hidden == MSR_SPEC_CTRL ? "IA32_SPEC_CTRL" : "*");
	if (hidden == MSR_SPEC_CTRL)
		EXPECT_STREQ(out, want);
	else if (strncmp(out, want, (size_t)(strchr(want, '(') - want)))
		ksft_fail_at("child said \"%s\"", out);
	/* What the child saved keeps no hidden MSR, and loads here. */
	sfd = open(saved_path, O_RDONLY | O_CLOEXEC);
	unlink(saved_path);
	unlink(path);
	ASSERT_GE(sfd, 0);
	ASSERT_TRUE(file_read(sfd, &g));
	EXPECT_TRUE(file_msr(&g.cpu, hidden) == NULL);
	EXPECT_TRUE(file_msr(&f.cpu, hidden) != NULL);
	ASSERT_OK(vmlet_snapshot_load(sfd, NULL, &snap));
	sb = from(snap);
	if (sb) {
		EXPECT_EQ(call0(sb, "sum"), LOADED_SUM);
		vmlet_sandbox_destroy(sb);
	}
	vmlet_snapshot_destroy(snap);
	free(f.buf);
	free(g.buf);
	close(sfd);
	close(fd);
	vmlet_snapshot_destroy(live);
	vmlet_image_close(img);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--hide-msr"))
		return hidden_child((uint32_t)strtoul(argv[2], NULL, 0), argv[3], argv[4]);
	return ksft_run();
}
