/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where everything lives in guest memory (see vmlet/abi.h for the map).
 *
 * Pure arithmetic: a configuration and the image's extent in, addresses
 * out. Both the sandbox and the page-table builder read the result.
 */
#ifndef VMLET_LAYOUT_H
#define VMLET_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <vmlet.h>

#define VMLET_MIB	    (1ULL << 20)
#define VMLET_HUGE_SIZE	    (2 * VMLET_MIB)
#define VMLET_DEFAULT_MEM   (4 * VMLET_MIB)
#define VMLET_DEFAULT_STACK (64 * 1024ULL)
#define VMLET_DEFAULT_BUF   (64 * 1024ULL)
#define VMLET_MAX_MEM	    (16ULL << 30)
#define VMLET_MIN_HEAP	    (64 * 1024ULL)

struct vmlet_layout {
	uint64_t mem_size;
	uint64_t image_lo, image_hi;
	uint64_t in_addr, in_size;
	uint64_t out_addr, out_size;
	uint64_t guard_addr; /* one unmapped page under the stack */
	uint64_t stack_lo, stack_hi;
	uint64_t heap_lo, heap_hi;
};

/*
 * Fill *cfg's zero fields with defaults and check it: sizes page aligned
 * and non-zero, mem_size a multiple of 2 MiB and at most VMLET_MAX_MEM.
 * Returns 0 or -EINVAL. cfg may be NULL (all defaults).
 */
int vmlet_config_normalize(const struct vmlet_config *in, struct vmlet_config *out);

/* Is fn a host function the embedder may register (name, fn, a signature of known types)? */
bool vmlet_host_func_valid(const struct vmlet_host_func *fn);

/* The longest per-call timeout: the VM keeps it in ns. */
#define VMLET_TIMEOUT_MAX_US (UINT64_MAX / 1000)

/* A timeout of at most VMLET_TIMEOUT_MAX_US, in ns. */
static inline uint64_t vmlet_timeout_ns(uint64_t timeout_us)
{
	return timeout_us * 1000;
}

/*
 * Lay out a normalized configuration around an image spanning
 * [image_lo, image_hi) (page aligned, image_lo >= VMLET_IMAGE_BASE).
 * Returns 0, -EINVAL for a bad image span, or -E2BIG when the image,
 * buffers, stack and heap (at least cfg->heap_size, and never less than
 * VMLET_MIN_HEAP) do not fit cfg->mem_size.
 */
int vmlet_layout_compute(const struct vmlet_config *cfg, uint64_t image_lo, uint64_t image_hi,
			 struct vmlet_layout *l);

#endif /* VMLET_LAYOUT_H */
