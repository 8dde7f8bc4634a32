// SPDX-License-Identifier: BSD-2-Clause
/*
 * README: a sandbox made from a snapshot is put back to it completely on
 * restore, registers and FPU/SSE/AVX state, XCR0, and every MSR a guest
 * can write and read back. Here, for each MSR README lists (XCR0 is
 * hostile_test's), DR6 and DR7, FS_BASE, and the x87/SSE/AVX register
 * file with MXCSR: a call writes it, a second call reads the written
 * value back (so a restore that did nothing would show), the sandbox is
 * restored, and a third call must read the snapshot's value.
 *
 * What this vCPU does not have, or does not let a guest write, cannot
 * carry anything from one call to the next; it is named in the output
 * ("not on this vCPU"), never passed silently. The MSRs that every x86-64
 * CPU has must be checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <vmlet.h>

#include "util.h"

static struct vmlet_image *img;
static struct vmlet_snapshot *snap;

static struct vmlet_sandbox *setup(void)
{
	struct vmlet_sandbox *sb = NULL;
	int err;

	img = test_image(GUEST("restore"));
	if (!img)
		return NULL;
	err = vmlet_snapshot_create(img, NULL, &snap);
	if (!err)
		err = vmlet_sandbox_create_from(snap, &sb);
	if (err)
		ksft_fail_at("snapshot or sandbox: %s", vmlet_strerror(err));
	return sb;
}

static void teardown(struct vmlet_sandbox *sb)
{
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

/* fn(a, b) -> u64; on failure (a #GP, say) restore the sandbox: -1. */
static int call2(struct vmlet_sandbox *sb, const char *fn, unsigned int n, uint32_t a, uint64_t b,
		 uint64_t *out)
{
	struct vmlet_value args[2] = {vmlet_u32(a), vmlet_u64(b)}, r = {0};
	int err = vmlet_sandbox_call(sb, fn, args, n, &r);

	if (err) {
		err = vmlet_sandbox_restore(sb);
		if (err)
			ksft_fail_at("restore after %s failed: %s", fn, vmlet_strerror(err));
		return -1;
	}
	if (out)
		*out = r.u64;
	return 0;
}

enum verdict { CHECKED, ABSENT, BROKEN };

/*
 * One register through write, read back, restore, read: CHECKED when the
 * value went back to the snapshot's (else the test fails: BROKEN), ABSENT
 * when the guest cannot write it here.
 */
static enum verdict one(struct vmlet_sandbox *sb, const char *get, const char *set, uint32_t which,
			uint64_t (*pick)(uint64_t), const char *name)
{
	uint64_t before, want, got, after;

	if (vmlet_sandbox_restore(sb))
		return BROKEN;
	if (call2(sb, get, 1, which, 0, &before))
		return ABSENT;
	want = pick(before);
	if (call2(sb, set, 2, which, want, NULL) || call2(sb, get, 1, which, 0, &got) ||
	    got != want) {
		vmlet_sandbox_restore(sb);
		return ABSENT;
	}
	if (vmlet_sandbox_restore(sb) || call2(sb, get, 1, which, 0, &after)) {
		ksft_fail_at("%s: no call after restore", name);
		return BROKEN;
	}
	if (after != before) {
		ksft_fail_at("%s: %#llx after restore, want the snapshot's %#llx (the call wrote %#llx)",
			     name, (unsigned long long)after, (unsigned long long)before,
			     (unsigned long long)want);
		return BROKEN;
	}
	return CHECKED;
}

/* New values a guest can live with until the restore. */
static uint64_t flip_low(uint64_t v) /* STAR[31:0]: the legacy-mode target, unused */
{
	return v ^ 0x12345000;
}

static uint64_t canonical(uint64_t v)
{
	return v == 0x00007e0000ab1000ULL ? 0x00007e0000cd2000ULL : 0x00007e0000ab1000ULL;
}

static uint64_t flip_nt(uint64_t v) /* SFMASK: clear NT on syscall too, or not */
{
	return v ^ (1ULL << 14);
}

static uint64_t flip_bit0(uint64_t v) /* MISC_ENABLE fast strings; DEBUGCTL LBR */
{
	return v ^ 1;
}

static uint64_t sysenter_cs(uint64_t v)
{
	return v == 0x10 ? 0x18 : 0x10;
}

static uint64_t tsc_aux(uint64_t v)
{
	return v ^ 0x5a5a;
}

static uint64_t spec_ctrl(uint64_t v) /* IBRS */
{
	return v ^ 1;
}

static uint64_t pat(uint64_t v) /* PAT entry 7 (unused by the page tables): UC <-> WC */
{
	return v ^ (1ULL << 56);
}

static const struct msr {
	uint32_t index;
	const char *name;
	uint64_t (*pick)(uint64_t);
	bool everywhere; /* every x86-64 CPU has it */
} msrs[] = {
	{0xc0000081, "STAR", flip_low, true},
	{0xc0000083, "CSTAR", canonical, true},
	{0xc0000084, "SFMASK", flip_nt, true},
	{0xc0000101, "GS_BASE", canonical, true},
	{0xc0000102, "KERNEL_GS_BASE", canonical, true},
	{0x174, "SYSENTER_CS", sysenter_cs, true},
	{0x175, "SYSENTER_ESP", canonical, true},
	{0x176, "SYSENTER_EIP", canonical, true},
	{0x277, "PAT", pat, true},
	{0xc0000103, "TSC_AUX", tsc_aux, false},
	{0x48, "SPEC_CTRL", spec_ctrl, false},
	{0x1a0, "MISC_ENABLE", flip_bit0, false},
	{0x1d9, "DEBUGCTL", flip_bit0, false},
};

TEST(restore_brings_back_every_msr_readme_lists)
{
	struct vmlet_sandbox *sb = setup();
	char absent[256] = "";
	int checked = 0;

	ASSERT_TRUE(sb);
	for (unsigned int i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		enum verdict v = one(sb, "rdmsr_", "wrmsr_", msrs[i].index, msrs[i].pick,
				     msrs[i].name);

		if (v == CHECKED) {
			printf("# %s: back to the snapshot's value\n", msrs[i].name);
			checked++;
		} else if (v == ABSENT) {
			printf("# %s: not on this vCPU (or not writable by a guest): not checked\n",
			       msrs[i].name);
			if (msrs[i].everywhere)
				ksft_fail_at("%s: every x86-64 vCPU has it", msrs[i].name);
			snprintf(absent + strlen(absent), sizeof(absent) - strlen(absent), " %s",
				 msrs[i].name);
		}
	}
	printf("# %d of %zu MSRs checked; not on this vCPU:%s\n", checked,
	       sizeof(msrs) / sizeof(msrs[0]), absent[0] ? absent : " none");
	teardown(sb);
}

static uint64_t dr6(uint64_t v) /* B0 */
{
	return v ^ 1;
}

static uint64_t dr7(uint64_t v) /* LE and GE, no breakpoint enabled */
{
	return v ^ 0x300;
}

static uint64_t fs_pick(uint64_t v)
{
	return v; /* unused: fs_move picks */
}

TEST(restore_brings_back_dr6_dr7_and_fs_base)
{
	struct vmlet_sandbox *sb = setup();
	uint64_t before, moved, got, after;

	ASSERT_TRUE(sb);
	EXPECT_EQ(one(sb, "dr_get", "dr_set", 6, dr6, "DR6"), CHECKED);
	EXPECT_EQ(one(sb, "dr_get", "dr_set", 7, dr7, "DR7"), CHECKED);
	(void)fs_pick;

	/* FS_BASE: the guest moves it to a copy of its thread descriptor. */
	ASSERT_OK(vmlet_sandbox_restore(sb));
	ASSERT_EQ(call2(sb, "fs_get", 0, 0, 0, &before), 0);
	ASSERT_EQ(call2(sb, "fs_move", 0, 0, 0, &moved), 0);
	ASSERT_NE(moved, before);
	ASSERT_EQ(call2(sb, "fs_get", 0, 0, 0, &got), 0);
	EXPECT_EQ(got, moved);
	ASSERT_OK(vmlet_sandbox_restore(sb));
	ASSERT_EQ(call2(sb, "fs_get", 0, 0, 0, &after), 0);
	EXPECT_EQ(after, before);
	teardown(sb);
}

/* The register file image of restore_guest.c's regs_get(). */
#define FX_SIZE	  512
#define IMG_SIZE  (FX_SIZE + 256)

static int regs_get(struct vmlet_sandbox *sb, uint8_t *out, size_t *len)
{
	struct vmlet_value r;
	int err = vmlet_sandbox_call(sb, "regs_get", NULL, 0, &r);

	if (err)
		return err;
	if (r.buf.len != FX_SIZE && r.buf.len != IMG_SIZE)
		return -EPROTO;
	memcpy(out, r.buf.ptr, r.buf.len);
	*len = r.buf.len;
	return 0;
}

struct field {
	const char *name;
	unsigned int off, len;
};

TEST(restore_brings_back_x87_sse_avx_registers_and_mxcsr)
{
	struct vmlet_sandbox *sb = setup();
	static uint8_t base[IMG_SIZE], put[IMG_SIZE], after[IMG_SIZE];
	struct field f[2 + 8 + 16 + 16];
	size_t blen, plen, alen;
	struct vmlet_value seed = vmlet_u32(0x40);
	int nf = 0, seen = 0, clobbered = 0;
	char lost[512] = "";

	ASSERT_TRUE(sb);
	f[nf++] = (struct field){"FCW", 0, 2};
	f[nf++] = (struct field){"MXCSR", 24, 4};
	for (unsigned int i = 0; i < 8; i++)
		f[nf++] = (struct field){"ST", 32 + 16 * i, 10};
	for (unsigned int i = 0; i < 16; i++)
		f[nf++] = (struct field){"XMM", 160 + 16 * i, 16};
	for (unsigned int i = 0; i < 16; i++)
		f[nf++] = (struct field){"YMMH", FX_SIZE + 16 * i, 16};

	ASSERT_OK(regs_get(sb, base, &blen));
	if (blen == FX_SIZE)
		printf("# no AVX on this vCPU: the upper halves of YMM0-15 are not checked\n");
	ASSERT_OK(vmlet_sandbox_call(sb, "regs_put", &seed, 1, NULL));
	ASSERT_OK(regs_get(sb, put, &plen));
	ASSERT_EQ(plen, blen);
	/*
	 * What the put left for the next call to read: the runtime between
	 * two calls may use some XMM registers itself; those cannot carry
	 * anything to the next call and are named below.
	 */
	for (int i = 0; i < nf; i++) {
		int same = 1;

		if (f[i].off >= blen)
			continue;
		for (unsigned int j = 0; j < f[i].len; j++) {
			uint8_t want = (uint8_t)(0x40 + f[i].off + j);

			if (!strcmp(f[i].name, "FCW"))
				want = j ? 0x02 : 0x7f;
			if (!strcmp(f[i].name, "MXCSR"))
				want = put[f[i].off + j]; /* within MXCSR_MASK: checked below */
			same &= put[f[i].off + j] == want;
		}
		if (same) {
			seen++;
		} else {
			clobbered++;
			snprintf(lost + strlen(lost), sizeof(lost) - strlen(lost), " %s%d", f[i].name,
				 f[i].name[0] == 'S' ? (int)(f[i].off - 32) / 16
				 : f[i].name[0] == 'X' ? (int)(f[i].off - 160) / 16
				 : f[i].name[0] == 'Y' ? (int)(f[i].off - FX_SIZE) / 16 : 0);
		}
	}
	EXPECT_EQ(put[24] & 0x80, 0x80);      /* MXCSR took the put's value... */
	EXPECT_EQ(put[25] & 0x60, 0x60);      /* ...round toward zero */
	EXPECT_TRUE(memcmp(put, base, blen)); /* a restore that did nothing would show */
	printf("# %d registers carried the put to the next call; %d not (the runtime's):%s\n", seen,
	       clobbered, lost[0] ? lost : " none");
	/* x87, MXCSR and XMM8-15 are not the runtime's: they must carry. */
	EXPECT_GE(seen, 2 + 8 + 8);

	ASSERT_OK(vmlet_sandbox_restore(sb));
	ASSERT_OK(regs_get(sb, after, &alen));
	ASSERT_EQ(alen, blen);
	for (int i = 0; i < nf; i++)
		if (f[i].off < blen && memcmp(after + f[i].off, base + f[i].off, f[i].len))
			ksft_fail_at("%s at byte %u differs from the snapshot's after restore",
				     f[i].name, f[i].off);
	/* And every other byte of the image too (FSW, FTW, FOP, FIP, FDP, ...). */
	EXPECT_TRUE(!memcmp(after, base, blen));
	teardown(sb);
}

/* XMM8 of this process's one vCPU as KVM holds it now (KVM_GET_XSAVE). */
static int vcpu_xmm8(uint8_t out[16])
{
	static struct kvm_xsave xs;
	int fd = -1, n = kvm_fds("anon_inode:kvm-vcpu:", &fd, 1);

	if (n != 1)
		return -ENOENT;
	if (ioctl(fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy(out, (uint8_t *)xs.region + 160 + 16 * 8, 16);
	return 0;
}

/* XCR0 of this process's one vCPU as KVM holds it (KVM_GET_XCRS); 0 when not found. */
static uint64_t vcpu_xcr0(void)
{
	struct kvm_xcrs xcrs = {0};
	int fd = -1, n = kvm_fds("anon_inode:kvm-vcpu:", &fd, 1);

	if (n != 1 || ioctl(fd, KVM_GET_XCRS, &xcrs) < 0)
		return 0;
	for (unsigned int i = 0; i < xcrs.nr_xcrs; i++)
		if (xcrs.xcrs[i].xcr == 0)
			return xcrs.xcrs[i].value;
	return 0;
}

/*
 * Two rounds on sb, whose state is its snapshot's: a call puts the
 * register file (seed 0x40: XMM8 then differs from the snapshot's) and
 * in the second round turns AVX off; restore; the next call must read
 * the snapshot's registers and XCR0. Where the stub puts them back, KVM
 * still holds the call's XMM8 after restore (restore set nothing).
 * With seed0, the snapshot's XMM8 must be that seed's (a live snapshot
 * taken after a regs_put with it).
 */
static void register_file_rounds(struct vmlet_sandbox *sb, const struct vmlet_platform *p,
				 uint32_t seed0)
{
	static uint8_t base[IMG_SIZE], after[IMG_SIZE];
	struct vmlet_value seed = vmlet_u32(0x40);
	bool stub = p->xsave && !p->emulated;
	uint8_t xmm8[16], put8[16];
	size_t blen, alen;
	uint64_t v;

	ASSERT_OK(regs_get(sb, base, &blen));
	ASSERT_OK(vmlet_sandbox_restore(sb));
	for (unsigned int i = 0; i < 16; i++) {
		put8[i] = (uint8_t)(0x40 + 160 + 16 * 8 + i);
		if (seed0)
			EXPECT_EQ(base[160 + 16 * 8 + i], (uint8_t)(seed0 + 160 + 16 * 8 + i));
	}
	ASSERT_TRUE(memcmp(put8, base + 160 + 16 * 8, 16)); /* else nothing would show */
	for (int round = 0; round < 2; round++) {
		ASSERT_OK(vmlet_sandbox_call(sb, "regs_put", &seed, 1, NULL));
		if (round && p->xsave)
			ASSERT_EQ(call2(sb, "xsetbv_", 2, 0, 3, &v), 0); /* AVX off */
		if (round && p->xsave)
			EXPECT_EQ(v, 3);
		ASSERT_OK(vmlet_sandbox_restore(sb));
		ASSERT_OK(vcpu_xmm8(xmm8));
		if (memcmp(xmm8, stub ? put8 : base + 160 + 16 * 8, 16))
			ksft_fail_at(stub ? "XMM8 after restore is not the call's: restore set it itself"
					  : "XMM8 after restore is not the snapshot's (no stub here)");
		if (p->xsave) {
			ASSERT_OK(call2(sb, "xgetbv_", 1, 0, 0, &v));
			EXPECT_EQ(v, p->xcr0);
			ASSERT_OK(vmlet_sandbox_restore(sb));
		}
		ASSERT_OK(regs_get(sb, after, &alen));
		ASSERT_EQ(alen, blen);
		EXPECT_TRUE(!memcmp(after, base, blen));
		ASSERT_OK(vcpu_xmm8(xmm8));
		EXPECT_TRUE(!memcmp(xmm8, base + 160 + 16 * 8, 16));
		ASSERT_OK(vmlet_sandbox_restore(sb));
	}
}

/*
 * Where the CPU runs guest code, restore leaves XCR0 and the x87, SSE and
 * AVX registers to the entry stub, which puts them back in the guest
 * before the next call's first instruction (lib/entry.c): after restore
 * KVM still holds what the call left, and the next call reads the
 * snapshot's registers, also after a call that turned AVX off in XCR0
 * (the stub must turn it back on before it loads YMM). A component the
 * snapshot's XCR0 lacks cannot be turned on, so none escapes the stub.
 * Where there is no stub (KVM emulates guest code, or offers guests no
 * XSAVE), restore puts the registers back itself, by ioctl. The same
 * holds for a sandbox of a live snapshot (vmlet_sandbox_snapshot()),
 * taken after a call put other registers (seed 0x20): its stub puts back
 * those, not the boot snapshot's.
 */
TEST(entry_stub_puts_back_xcr0_and_the_register_file)
{
	struct vmlet_sandbox *sb = setup(), *live = NULL;
	struct vmlet_value seed = vmlet_u32(0x20);
	const struct vmlet_fault *f;
	struct vmlet_snapshot *ls;
	struct vmlet_platform p;
	uint64_t v;

	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_platform_query(&p));
	register_file_rounds(sb, &p, 0);
	ASSERT_OK(vmlet_sandbox_call(sb, "regs_put", &seed, 1, NULL));
	ASSERT_OK(vmlet_sandbox_snapshot(sb, &ls));
	vmlet_sandbox_destroy(sb); /* vcpu_xmm8() reads the process's one vCPU */
	ASSERT_OK(vmlet_sandbox_create_from(ls, &live));
	register_file_rounds(live, &p, 0x20);
	vmlet_sandbox_destroy(live);
	vmlet_snapshot_destroy(ls);
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	f = vmlet_sandbox_fault(sb);
	if (!p.xsave) { /* no XCR0 to turn anything on with */
		teardown(sb);
		return;
	}
	/*
	 * PKRU (bit 9) and AVX-512 (5-7): KVM refuses them with #GP, as the
	 * vCPU's CPUID offers neither. QEMU's TCG (the vmtest VM) runs
	 * XSETBV without the SVM intercept, against its own CPUID: KVM
	 * never sees it, and the stub's XGETBV compare must set XCR0 back.
	 */
	for (int i = 0; i < 2; i++) {
		uint64_t bits = i ? 0xe0 : 1ULL << 9;
		struct vmlet_value a[2] = {vmlet_u32(0), vmlet_u64(p.xcr0 | bits)};
		int err = vmlet_sandbox_call(sb, "xsetbv_", a, 2, NULL);

		if (!err && vcpu_xcr0() == p.xcr0) {
			printf("# xsetbv of %#llx passed by KVM here (no intercept)\n",
			       (unsigned long long)bits);
		} else {
			EXPECT_EQ(err, -VMLET_EEXCEPTION);
			EXPECT_EQ(f->vector, 13);
		}
		ASSERT_OK(vmlet_sandbox_restore(sb));
		ASSERT_OK(call2(sb, "xgetbv_", 1, 0, 0, &v));
		EXPECT_EQ(v, p.xcr0);
		ASSERT_OK(vmlet_sandbox_restore(sb));
	}
	ASSERT_OK(call2(sb, "xgetbv_", 1, 0, 0, &v));
	EXPECT_EQ(v, p.xcr0);
	teardown(sb);
}

int main(void)
{
	return ksft_run();
}
