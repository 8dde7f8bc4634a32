// SPDX-License-Identifier: BSD-2-Clause
/*
 * Open /dev/kvm once per process and check what vmlet needs: API version
 * 12, user memory, sync regs (the call path reads and writes registers
 * through kvm_run instead of ioctls). Optional capabilities (guest debug
 * for instruction counting, XCRs for AVX state, the dirty ring for COPY
 * restore, the MSR filter that spares restore most MSRs) are recorded, not
 * required, and so is the list of MSRs KVM saves and restores (which
 * optional MSRs a snapshot keeps, and which a snapshot file may hold:
 * lib/x86.h).
 *
 * The dirty ring is used only where the CPU runs guest code (VMX/SVM).
 * A KVM that emulates guest code, as kvm-pvm does on a host without
 * them, pushes a ring entry at every emulated write and checks the ring's
 * soft limit only between batches of instructions: a call that writes a
 * few hundred pages overflows the ring (a WARN in kvm_dirty_ring_push),
 * loses the entries it overwrote and leaves KVM_RESET_DIRTY_RINGS unable
 * to move on. VMLET_DIRTY_RING=0 in the environment hides the ring
 * everywhere and VMLET_DIRTY_RING=1 uses it even there, to test and
 * measure either on any host. VMLET_TLB_PV=0 likewise hides KVM's
 * paravirtual TLB flush, so that restore resets the MMU instead (lib/tlb.c).
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm.h"

#define CPUID_MAX_ENTRIES      256
#define XFEATURE_X87	       (1ULL << 0)
#define XFEATURE_SSE	       (1ULL << 1)
#define XFEATURE_AVX	       (1ULL << 2)
#define CPUID_1_ECX_VMX	       (1U << 5)
#define CPUID_7_ECX_PKU	       (1U << 3)
#define CPUID_7_ECX_CET_SS     (1U << 7)
#define CPUID_7_EDX_CET_IBT    (1U << 20)
#define XSAVE_LEGACY_END       576 /* the FXSAVE area and the XSAVE header */
#define XSAVE_AVX_END	       832 /* and YMM0-15's upper halves */
#define CPUID_80000001_ECX_SVM (1U << 2)
#define KVM_CPUID_FEATURES     0x40000001
#define PV_TLB_FLUSH	       (1U << 5 | 1U << 9) /* KVM_FEATURE_STEAL_TIME, _PV_TLB_FLUSH */

static struct vmlet_kvm kvm = {.fd = -1};
static int kvm_err;
static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static int cpuid_read(void)
{
	struct kvm_cpuid_entry2 *e;
	struct kvm_cpuid2 *c;
	uint32_t pv = 0;
	const char *env;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm.fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		free(c);
		return -errno;
	}
	e = cpuid_find(c, 0, 0);
	if (e) {
		memcpy(kvm.vendor, &e->ebx, 4);
		memcpy(kvm.vendor + 4, &e->edx, 4);
		memcpy(kvm.vendor + 8, &e->ecx, 4);
	}
	/* XCR0: x87 and SSE always, AVX when the guest can have it. */
	kvm.xcr0 = XFEATURE_X87 | XFEATURE_SSE;
	e = cpuid_find(c, 0xd, 0);
	if (kvm.xcrs && e && (e->eax & XFEATURE_AVX))
		kvm.xcr0 |= XFEATURE_AVX;
	/*
	 * And no other XSAVE component, nor protection keys: a guest can
	 * then reach no state beyond XCR0's, all of which the entry stub's
	 * XRSTOR puts back (lib/entry.c). AVX-512 and PKRU stayed off in
	 * XCR0 before too; a guest could only turn them on itself.
	 */
	if (e) {
		e->eax &= (uint32_t)kvm.xcr0;
		e->edx = 0;
		e->ecx = kvm.xcr0 & XFEATURE_AVX ? XSAVE_AVX_END : XSAVE_LEGACY_END;
	}
	/*
	 * Nor supervisor state components (IA32_XSS: CET's, on 6.18 and later
	 * kernels with CET hardware), nor CET itself: its MSRs (U_CET, S_CET,
	 * PL0-3_SSP, INT_SSP_TAB) and XSS are in no snapshot, and neither
	 * KVM_SET_XSAVE nor the stub's XRSTOR puts them back.
	 */
	e = cpuid_find(c, 0xd, 1);
	if (e)
		e->ecx = e->edx = 0;
	e = cpuid_find(c, 7, 0);
	if (e) {
		e->ecx &= ~(CPUID_7_ECX_PKU | CPUID_7_ECX_CET_SS);
		e->edx &= ~CPUID_7_EDX_CET_IBT;
	}
	/* What KVM checks MTRR and other physical addresses against (36 without the leaf). */
	e = cpuid_find(c, 0x80000008, 0);
	kvm.phys_bits = e && (e->eax & 0xff) ? e->eax & 0xff : 36;
	/*
	 * Hide what no vmlet guest uses and what would outlive a restore:
	 * KVM's paravirtual features (kvmclock, steal time and async page
	 * faults make KVM write guest memory at addresses the guest chose,
	 * and their MSRs are not in the snapshot) and nested virtualization
	 * (EFER.SVME, CR4.VMXE, and the nested state behind them). With
	 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID (vmlet_x86_cpuid()) the PV MSRs
	 * and hypercalls then fail in the guest, as SVME and VMXE do.
	 */
	e = cpuid_find(c, KVM_CPUID_FEATURES, 0);
	if (e) {
		pv = e->eax;
		e->eax = e->edx = 0;
	}
	e = cpuid_find(c, 1, 0);
	if (e)
		e->ecx &= ~CPUID_1_ECX_VMX;
	e = cpuid_find(c, 0x80000001, 0);
	if (e)
		e->ecx &= ~CPUID_80000001_ECX_SVM;
	kvm.cpuid = c;
	/*
	 * Except, for sandboxes that restore reuses, steal time and its TLB
	 * flush, whose record and MSR vmlet alone sets (lib/tlb.c).
	 */
	env = getenv("VMLET_TLB_PV");
	if ((pv & PV_TLB_FLUSH) == PV_TLB_FLUSH && !(env && !strcmp(env, "0"))) {
		size_t bytes = sizeof(*c) + c->nent * sizeof(c->entries[0]);

		kvm.cpuid_pv = malloc(bytes);
		if (!kvm.cpuid_pv)
			return -ENOMEM;
		memcpy(kvm.cpuid_pv, c, bytes);
		cpuid_find(kvm.cpuid_pv, KVM_CPUID_FEATURES, 0)->eax = PV_TLB_FLUSH;
		kvm.pv_tlb_flush = true;
	}
	return 0;
}

/* KVM_GET_MSR_INDEX_LIST: one call in the common case, a second with the size KVM asks for. */
static int msrs_read(void)
{
	uint32_t n = 512;

	for (;;) {
		struct kvm_msr_list *l = malloc(sizeof(*l) + n * sizeof(l->indices[0]));

		if (!l)
			return -ENOMEM;
		l->nmsrs = n;
		if (!ioctl(kvm.fd, KVM_GET_MSR_INDEX_LIST, l)) {
			kvm.msrs = l;
			return 0;
		}
		n = l->nmsrs;
		free(l);
		if (errno != E2BIG)
			return -errno;
	}
}

bool vmlet_kvm_msr_listed(const struct vmlet_kvm *k, uint32_t index)
{
	for (uint32_t i = 0; i < k->msrs->nmsrs; i++)
		if (k->msrs->indices[i] == index)
			return true;
	return false;
}

#define SYNC_NEEDED (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

/* KVM on a host without VMX/SVM can only run guests by emulating them. */
static bool host_virt_ext(void)
{
	unsigned int a, b, c, d;
	bool vmx = false, svm = false;

	if (__get_cpuid(1, &a, &b, &c, &d))
		vmx = c & (1U << 5);
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		svm = c & (1U << 2);
	return vmx || svm;
}

static void kvm_open(void)
{
	const char *env;
	int sync, ring, umsr;
	bool use_ring;

	kvm.fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm.fd < 0) {
		kvm_err = -errno;
		return;
	}
	kvm.api_version = ioctl(kvm.fd, KVM_GET_API_VERSION, 0);
	if (kvm.api_version != KVM_API_VERSION) {
		kvm_err = -EPROTONOSUPPORT;
		goto err_fd;
	}
	if (ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		kvm_err = -EOPNOTSUPP;
		goto err_fd;
	}
	/* The sync regs vm.c and snapshot.c use; -1 (an error) is not a set of them. */
	sync = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	if (sync < 0 || (sync & SYNC_NEEDED) != SYNC_NEEDED) {
		kvm_err = -EOPNOTSUPP;
		goto err_fd;
	}
	kvm.run_size = ioctl(kvm.fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm.run_size < (int)sizeof(struct kvm_run)) {
		kvm_err = -EPROTO;
		goto err_fd;
	}
	kvm.guest_debug = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) > 0;
	kvm.xcrs = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	kvm.enforce_pv = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) > 0;
	/* Before Linux 6.4 user-space MSR exits answer 1, after it the exit reasons. */
	umsr = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR);
	kvm.msr_filter = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) > 0 &&
			 (umsr == 1 || (umsr > 0 && (umsr & KVM_MSR_EXIT_REASON_FILTER)));
	kvm.emulated = !host_virt_ext();
	ring = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
	env = getenv("VMLET_DIRTY_RING");
	if (env && (!strcmp(env, "0") || !strcmp(env, "1")))
		use_ring = env[0] == '1';
	else
		use_ring = !kvm.emulated;
	if (ring > 0 && use_ring)
		kvm.dirty_ring = (size_t)ring;
	kvm_err = cpuid_read();
	if (!kvm_err)
		kvm_err = msrs_read();
	if (kvm_err)
		goto err_fd;
	return;

err_fd:
	close(kvm.fd);
	kvm.fd = -1;
}

int vmlet_kvm_get(const struct vmlet_kvm **out)
{
	pthread_once(&kvm_once, kvm_open);
	if (kvm_err)
		return kvm_err;
	*out = &kvm;
	return 0;
}
