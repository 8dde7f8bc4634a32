// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest memory layout: above the image, in order, the input buffer, the
 * output buffer, a guard page, the stack, and the heap up to the end of
 * memory. The stack sits above its guard so that an overflow faults
 * instead of running into the call buffers.
 */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "layout.h"

static int page_aligned(uint64_t v)
{
	return (v & (VMLET_PAGE_SIZE - 1)) == 0;
}

bool vmlet_host_func_valid(const struct vmlet_host_func *fn)
{
	if (!fn || !fn->name || !fn->fn || fn->nargs > VMLET_MAX_ARGS ||
	    (unsigned int)fn->ret >= VMLET_NTYPES)
		return false;
	for (unsigned int i = 0; i < fn->nargs; i++)
		if (fn->args[i] == VMLET_VOID || (unsigned int)fn->args[i] >= VMLET_NTYPES)
			return false;
	return true;
}

int vmlet_config_normalize(const struct vmlet_config *in, struct vmlet_config *out)
{
	struct vmlet_config c = {.sz = sizeof(c)};

	if (in) {
		if (in->sz < offsetof(struct vmlet_config, print) || in->sz > sizeof(c))
			return -EINVAL;
		memcpy(&c, in, in->sz);
		c.sz = sizeof(c);
	}
	if ((unsigned int)c.restore > VMLET_RESTORE_COPY)
		return -EINVAL;
	if (c.nhost_funcs && !c.host_funcs)
		return -EINVAL;
	for (unsigned int i = 0; i < c.nhost_funcs; i++)
		if (!vmlet_host_func_valid(&c.host_funcs[i]))
			return -EINVAL;
	if (!c.mem_size)
		c.mem_size = VMLET_DEFAULT_MEM;
	if (!c.stack_size)
		c.stack_size = VMLET_DEFAULT_STACK;
	if (!c.in_size)
		c.in_size = VMLET_DEFAULT_BUF;
	if (!c.out_size)
		c.out_size = VMLET_DEFAULT_BUF;
	if (!c.print_limit)
		c.print_limit = VMLET_PRINT_LIMIT;
	if (c.mem_size % VMLET_HUGE_SIZE || c.mem_size > VMLET_MAX_MEM)
		return -EINVAL;
	if (!page_aligned(c.stack_size) || !page_aligned(c.in_size) || !page_aligned(c.out_size) ||
	    !page_aligned(c.heap_size))
		return -EINVAL;
	if (c.stack_size > c.mem_size || c.in_size > c.mem_size || c.out_size > c.mem_size ||
	    c.heap_size > c.mem_size)
		return -EINVAL;
	if ((unsigned int)c.backing > VMLET_BACKING_4K)
		return -EINVAL;
	if (c.timeout_us > VMLET_TIMEOUT_MAX_US)
		return -EINVAL;
	if (c.flags & ~(unsigned int)VMLET_CONFIG_BOOT)
		return -EINVAL;
	if (c.core_path && vmlet_core_path(c.core_path, 0, NULL, 0))
		return -EINVAL;
	*out = c;
	return 0;
}

int vmlet_layout_compute(const struct vmlet_config *cfg, uint64_t image_lo, uint64_t image_hi,
			 struct vmlet_layout *l)
{
	uint64_t at, heap_min;

	if (!page_aligned(image_lo) || !page_aligned(image_hi) || image_lo < VMLET_IMAGE_BASE ||
	    image_hi <= image_lo)
		return -EINVAL;
	if (image_hi > cfg->mem_size)
		return -E2BIG;
	/* All sizes are at most mem_size <= 16 GiB: these sums cannot wrap. */
	heap_min = cfg->heap_size > VMLET_MIN_HEAP ? cfg->heap_size : VMLET_MIN_HEAP;
	at = image_hi;
	l->mem_size = cfg->mem_size;
	l->image_lo = image_lo;
	l->image_hi = image_hi;
	l->in_addr = at;
	l->in_size = cfg->in_size;
	at += cfg->in_size;
	l->out_addr = at;
	l->out_size = cfg->out_size;
	at += cfg->out_size;
	l->guard_addr = at;
	at += VMLET_PAGE_SIZE;
	l->stack_lo = at;
	at += cfg->stack_size;
	l->stack_hi = at;
	l->heap_lo = at;
	if (at > cfg->mem_size || cfg->mem_size - at < heap_min)
		return -E2BIG;
	l->heap_hi = cfg->mem_size;
	return 0;
}
