/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The process-wide /dev/kvm handle and what it offers.
 *
 * /dev/kvm is opened once, on first use, and its API version, the
 * capabilities vmlet relies on and the supported CPUID are read once. It
 * stays open for the life of the process: every VM is created from it.
 */
#ifndef VMLET_KVM_H
#define VMLET_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmlet_kvm {
	int fd;
	int api_version;
	int run_size;		     /* KVM_GET_VCPU_MMAP_SIZE */
	bool guest_debug;	     /* KVM_CAP_SET_GUEST_DEBUG */
	bool xcrs;		     /* KVM_CAP_XCRS */
	bool enforce_pv;	     /* KVM_CAP_ENFORCE_PV_FEATURE_CPUID (Linux 5.10) */
	size_t dirty_ring;	     /* KVM_CAP_DIRTY_LOG_RING's largest ring, bytes; 0: none */
	bool emulated;		     /* no VMX/SVM on the host: KVM emulates guest code */
	bool msr_filter;	     /* KVM_CAP_X86_MSR_FILTER and user-space exits for it */
	bool pv_tlb_flush;	     /* KVM offers steal time and its TLB flush (lib/tlb.c) */
	uint64_t xcr0;		     /* the XCR0 guests get */
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID, adjusted */
	struct kvm_cpuid2 *cpuid_pv; /* the same with steal time and its TLB flush, or NULL */
	unsigned int phys_bits;	     /* guests' MAXPHYADDR: CPUID 0x80000008 EAX[7:0] */
	struct kvm_msr_list *msrs;   /* KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores */
	char vendor[13];
};

/* The shared handle, or a negative error (-ENOENT without /dev/kvm). */
int vmlet_kvm_get(const struct vmlet_kvm **out);

/* Whether index is in KVM_GET_MSR_INDEX_LIST. */
bool vmlet_kvm_msr_listed(const struct vmlet_kvm *kvm, uint32_t index);

#endif /* VMLET_KVM_H */
