// SPDX-License-Identifier: BSD-2-Clause
/*
 * Backtraces of failed guests, by frame pointers.
 *
 * Guests are built with -fno-omit-frame-pointer (the Makefile and
 * vmlet-guest-cc), musl's _start clears rbp, and vmlet_invoke in
 * guest/entry.S keeps a frame, so the chain runs from the faulting
 * function to the start of the program: [rbp] holds the caller's rbp and
 * [rbp + 8] the return address. Everything in it is guest memory of a
 * guest that just failed, so every pointer is checked against the memslot
 * before it is read, and each frame must sit above the one before it:
 * the walk ends, whatever the guest wrote, after at most max frames.
 * Code without frame pointers (musl's own) drops out of the chain or
 * cuts it short; the frames found before that are still right. The one
 * frame the chain cannot show, that of a function stopped before its
 * prologue ran or built without one, is found from rsp (frameless_ret()).
 *
 * Runs only after a failed call, never on the call path.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backtrace.h"

static bool read_u64(const struct vmlet_mem *mem, uint64_t addr, uint64_t *v)
{
	if (addr & 7 || !vmlet_mem_range_ok(mem, addr, 8))
		return false;
	memcpy(v, mem->host + addr, 8);
	return true;
}

/*
 * Where the faulting function keeps its return address, when it has no
 * frame of its own: rip at its first instruction (push %rbp not yet run:
 * at [rsp]) or at its second ([rsp + 8]), or a leaf that GCC built
 * without a frame (it leaves those out even with
 * -mno-omit-leaf-frame-pointer when they touch no stack: at [rsp]).
 * Known only with symbols; 0: the function has its frame.
 */
static uint64_t frameless_ret(const struct vmlet_mem *mem, const struct vmlet_symtab *st,
			      uint64_t rip, uint64_t rsp)
{
	static const uint8_t prologue[] = {0x55, 0x48, 0x89, 0xe5}; /* push %rbp; mov %rsp,%rbp */
	uint64_t off, start, ret;
	uint8_t code[sizeof(prologue)];

	if (!st || !vmlet_symtab_lookup(st, rip, &off))
		return 0;
	start = rip - off;
	if (!vmlet_mem_range_ok(mem, start, sizeof(code)))
		return 0;
	memcpy(code, mem->host + start, sizeof(code));
	if (!memcmp(code, prologue, sizeof(code))) {
		if (off == 0 && read_u64(mem, rsp, &ret))
			return ret;
		if (off == 1 && read_u64(mem, rsp + 8, &ret))
			return ret;
		return 0;
	}
	/* No prologue at all: trust [rsp] only if it points into a function. */
	if (read_u64(mem, rsp, &ret) && vmlet_symtab_lookup(st, ret - 1, &off))
		return ret;
	return 0;
}

unsigned int vmlet_backtrace(const struct vmlet_mem *mem, uint64_t rip, uint64_t rbp, uint64_t *pcs,
			     unsigned int max)
{
	unsigned int n = 0;

	if (!max || !rip)
		return 0;
	pcs[n++] = rip;
	while (n < max && rbp && !(rbp & 7) && vmlet_mem_range_ok(mem, rbp, 16)) {
		uint64_t next, ret;

		memcpy(&next, mem->host + rbp, 8);
		memcpy(&ret, mem->host + rbp + 8, 8);
		if (!ret)
			break;
		pcs[n++] = ret;
		if (next <= rbp)
			break; /* the end of the chain (0), or a loop */
		rbp = next;
	}
	return n;
}

void vmlet_backtrace_fault(const struct vmlet_mem *mem, const struct vmlet_symtab *st, uint64_t rip,
			   uint64_t rsp, uint64_t rbp, struct vmlet_fault *f)
{
	uint64_t pcs[VMLET_FAULT_FRAMES], ret;

	f->symbols = st && st->nsyms;
	ret = f->symbols ? frameless_ret(mem, st, rip, rsp) : 0;
	if (ret) {
		pcs[0] = rip;
		f->nframes = 1 + vmlet_backtrace(mem, ret, rbp, pcs + 1, VMLET_FAULT_FRAMES - 1);
	} else {
		f->nframes = vmlet_backtrace(mem, rip, rbp, pcs, VMLET_FAULT_FRAMES);
	}
	for (unsigned int i = 0; i < f->nframes; i++) {
		struct vmlet_fault_frame *fr = &f->frames[i];
		/* A return address may be just past a call that never returns. */
		uint64_t at = i ? pcs[i] - 1 : pcs[i], off = 0;
		const char *name = f->symbols ? vmlet_symtab_lookup(st, at, &off) : NULL;

		fr->pc = pcs[i];
		fr->offset = name ? off + (pcs[i] - at) : 0;
		snprintf(fr->func, sizeof(fr->func), "%s", name ? name : "");
	}
}
