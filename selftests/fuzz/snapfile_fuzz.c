// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness for the snapshot file parser (lib/snapfmt.c), which
 * reads files that vmlet_snapshot_load() must treat as hostile.
 *
 * Each input is parsed twice: as it is, where the checksums stop almost
 * every mutation at the header or a section's CRC, and with its checksums
 * recomputed (as someone who crafts a file would), so that mutations reach
 * the checks of the layout, the function table, the runs and the vCPU
 * state. Both go through an exact-size heap copy, so ASan sees any read
 * past the end. Beyond not crashing: every result is one of the parser's
 * documented codes with a message, a success has no message, and what a
 * success describes lies inside the file and inside guest memory.
 *
 *   make fuzz                     (builds and runs every harness; FUZZ_SECS)
 *   $(O)/selftests/fuzz/snapfile_fuzz selftests/fuzz/corpus/snapfile
 *   The seed is the valid file of snapfmt_test: snapfmt_test --write-seed FILE
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "snapfmt.h"

/* Hosts with every feature and state MSR, and without SPEC_CTRL and with 36-bit addresses. */
static struct vmlet_snapfmt_host host =
					 {
						 .vendor = "AuthenticAMD",
						 .xcr0 = 7,
						 .cpuid = {~0U, ~0U, ~0U, ~0U, ~0U},
						 .xfeatures = 0x207,
						 .xcrs = true,
						 .phys_bits = 52,
},
				 small;

static void hosts_init(void)
{
	for (unsigned int i = 0; i < VMLET_X86_NRANGES; i++) {
		const struct vmlet_x86_msr_range *r = &vmlet_x86_state_msrs()[i];

		for (uint32_t m = r->first; m < r->first + r->n; m++)
			host.msrs[host.nmsrs++] = m;
	}
	small = host;
	small.phys_bits = 36;
	small.nmsrs = 0;
	for (uint32_t i = 0; i < host.nmsrs; i++)
		if (host.msrs[i] != MSR_SPEC_CTRL)
			small.msrs[small.nmsrs++] = host.msrs[i];
}

static void check_parsed(const uint8_t *buf, size_t len, const struct vmlet_snapfmt *f)
{
	uint64_t npages = f->hdr.mem_size / VMLET_PAGE_SIZE;

	check(f->hdr.file_size == len);
	check(f->hdr.mem_size && f->hdr.mem_size <= VMLET_MAX_MEM);
	check((const uint8_t *)f->funcs >= buf && f->funcs_size <= len &&
	      (size_t)((const uint8_t *)f->funcs - buf) <= len - f->funcs_size);
	for (uint64_t i = 0; i < f->nruns; i++) {
		struct vmlet_snapfmt_run r;

		memcpy(&r, &f->runs[i], sizeof(r));
		check(r.npages && r.pg < npages && r.npages <= npages - r.pg);
		check(r.off % VMLET_PAGE_SIZE == 0 && r.off <= len &&
		      r.npages <= (len - r.off) / VMLET_PAGE_SIZE);
	}
	check(f->cpu.regs.rip >= f->layout.image_lo && f->cpu.regs.rip < f->layout.image_hi);
	check(f->layout.image_hi <= f->hdr.mem_size);
	check(f->cpu.sregs.cr3 < f->hdr.mem_size);
}

static void parse(const uint8_t *data, size_t len, const struct vmlet_snapfmt_host *host)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct vmlet_snapfmt f;
	char err[256];
	int ret;

	check(buf != NULL);
	memcpy(buf, data, len);
	memset(err, 'x', sizeof(err));
	ret = vmlet_snapfmt_parse(buf, len, host, &f, err, sizeof(err));
	check(memchr(err, '\0', sizeof(err)) != NULL);
	if (ret == 0) {
		check(err[0] == '\0');
		check_parsed(buf, len, &f);
	} else {
		check(ret == -EINVAL || ret == -EPROTONOSUPPORT || ret == -VMLET_EABI ||
		      ret == -EOPNOTSUPP || ret == -EBADMSG || ret == -ENOMEM);
		check(err[0] != '\0');
	}
	free(buf);
}

/* The input with every checksum it can reach recomputed. */
static void parse_fixed(const uint8_t *data, size_t len)
{
	struct vmlet_snapfmt_header h;
	uint8_t *buf;

	if (len < sizeof(h))
		return;
	buf = malloc(len);
	check(buf != NULL);
	memcpy(buf, data, len);
	memcpy(&h, buf, sizeof(h));
	for (int i = 0; i < VMLET_SNAPFMT_NSECT; i++)
		if (h.sect[i].off <= len && h.sect[i].size <= len - h.sect[i].off)
			h.sect[i].crc = vmlet_crc32c(0, buf + h.sect[i].off, h.sect[i].size);
	h.crc = vmlet_crc32c(0, &h, offsetof(struct vmlet_snapfmt_header, crc));
	memcpy(buf, &h, sizeof(h));
	parse(buf, len, &host);
	parse(buf, len, &small);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!host.nmsrs)
		hosts_init();
	parse(data, len, &host);
	parse_fixed(data, len);
	return 0;
}
