// SPDX-License-Identifier: BSD-2-Clause
/*
 * What the host offers, for `vmlet info` and for embedders that log it.
 */
#include <cpuid.h>
#include <errno.h>
#include <string.h>

#include "kvm.h"
#include "mem.h"
#include "tlb.h"
#include "vmlet.h"

static int under_hypervisor(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return !!(c & (1U << 31));
}

VMLET_API int vmlet_platform_query(struct vmlet_platform *p)
{
	const struct vmlet_kvm *kvm;
	int err;

	if (!p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->backing = vmlet_mem_best_backing(VMLET_DEFAULT_MEM, &p->hugepages_free);
	p->nested = under_hypervisor();
	err = vmlet_kvm_get(&kvm);
	if (err)
		return err;
	p->emulated = kvm->emulated;
	p->api_version = kvm->api_version;
	p->sync_regs = true;
	p->xsave = kvm->xcrs;
	p->guest_debug = kvm->guest_debug;
	p->pv_refused = kvm->enforce_pv;
	p->dirty_ring = kvm->dirty_ring > 0;
	p->msr_filter = kvm->msr_filter;
	p->tlb_pv = vmlet_tlb_pv_offered();
	p->xcr0 = kvm->xcr0;
	p->vendor = kvm->vendor;
	return 0;
}
