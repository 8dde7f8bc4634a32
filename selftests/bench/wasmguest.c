// SPDX-License-Identifier: BSD-2-Clause
/*
 * wasm-guest: Wasm modules compiled ahead of time into vmlet guests
 * (vmlet-wasm-cc), against the C demo guest and against the same wasm2c
 * code run natively in this process:
 *
 * - c_warm, warm: a warm call of add(1, 2) in the C demo and in
 *   wasm/checksum.wasm's add, with guest instructions by single-step;
 * - c_fresh, fresh: the same as fresh-VM calls (pool, copy restore),
 *   the Wasm one against the C one;
 * - checksum: a warm call of checksum over 4 KiB of bytes (vmlet_alloc,
 *   copy, Adler-32), against native.checked (the same wasm2c code with
 *   explicit bounds checks, natively, plus floor.out, one exit round
 *   trip) and native.guard (Debian's default build of it: guard pages);
 *   native.checked against native.guard is what the checks cost.
 * - sum_fresh: checksum over the same 4 KiB as a fresh-VM call (pool,
 *   copy restore), against the warm one;
 * - unchecked: the same warm checksum call on an image whose wasm2c code
 *   has the bounds checks compiled out (wasm/wasm2c-unchecked.sh), with
 *   guest instructions of one call by single-step for both images: what
 *   the explicit checks cost in the guest, and the most that guard pages
 *   through the guest's own page tables could save (they would add the
 *   page-table work on top, which this does not measure).
 *
 * - the target, checksum against native.checked + floor.out, as its own
 *   interleaved measurement (target() says how), so that load on the
 *   machine does not decide it.
 *
 * Where KVM emulates guest code (vmlet_platform.emulated), the ratio of
 * checksum to native.checked + floor.out means nothing here (guest code
 * runs in KVM's instruction emulator, native code on the CPU) and is not
 * measured: the target figures (floor.out, native.checked, checksum and
 * the interleaved ratio) run in the vmtest VM (`bench -W FILE`, nested
 * KVM under QEMU/TCG, where guest and native code both run under TCG),
 * embedded as "wasm_guest_vmtest" with "where": "vmtest".
 *
 * V8's figures for add and for checksum (instantiate + call, warm call)
 * are in the wasm group, a process per call in the process group: they run beside these
 * in a full run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CALLS  5000
#define FRESH  2000
#define NATIVE 200000
#define SUMLEN 4096
#define TARGET 1.3 /* issue 17: warm checksum / (native + one exit round trip) */

int native_cg_init(void);
int native_cc_init(void);
uint32_t native_cg_checksum(const void *p, size_t n);
uint32_t native_cc_checksum(const void *p, size_t n);

static uint8_t data[SUMLEN];

static void warm(struct bench *b, const char *key, const char *label, const char *path,
		 struct fig **keep)
{
	struct vmlet_value args[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct fig *f = fig_new(key, CALLS, "%s", label);
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_image *img = NULL;
	int err, add;

	err = vmlet_image_open(path, &img);
	if (!err)
		err = vmlet_sandbox_create(img, NULL, &sb);
	if (err) {
		fig_fail(f, "%s: %s", path, vmlet_strerror(err));
		goto out;
	}
	add_calls(f, sb, NULL, CALLS);
	add = vmlet_sandbox_func(sb, "add");
	if (fig_ok(f) && !vmlet_sandbox_count_insns(sb, true)) {
		if (!vmlet_sandbox_call_index(sb, (unsigned int)add, args, 2, &r))
			f->insns_ss = (double)vmlet_sandbox_insns(sb);
		vmlet_sandbox_count_insns(sb, false);
	}
out:
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
	fig_ratio(f, b->floor_out, "floor.out");
	fig_emit(b->j, f);
	if (keep)
		*keep = f;
	else
		fig_free(f);
}

static struct fig *fresh(const char *key, const char *label, const char *path)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = VMLET_RESTORE_COPY};
	struct fig *f = fig_new(key, FRESH, "%s", label);
	struct vmlet_pool *pool = NULL;
	struct vmlet_image *img = NULL;
	int err;

	err = vmlet_image_open(path, &img);
	if (!err)
		err = vmlet_pool_create(img, &cfg, &pc, &pool);
	if (err)
		fig_fail(f, "%s: %s", path, vmlet_strerror(err));
	else
		add_calls(f, NULL, pool, FRESH);
	vmlet_pool_destroy(pool);
	vmlet_image_close(img);
	return f;
}

static struct fig *native(const char *key, const char *label, uint32_t (*sum)(const void *, size_t),
			  uint32_t want, int calls)
{
	struct fig *f = fig_new(key, 100, "%s", label);

	for (int s = 0; s < 100; s++) {
		uint64_t t = now_ns();
		uint32_t got = 0;

		for (int i = 0; i < calls / 100; i++)
			got |= sum(data, sizeof(data)) ^ want;
		fig_add(f, (double)(now_ns() - t) / (calls / 100));
		if (got) {
			fig_fail(f, "checksum differs from the guard-page build's");
			break;
		}
	}
	return f;
}

/*
 * Where KVM emulates every guest instruction, a checksum of 4 KiB is tens
 * of thousands of them per call: fewer calls there.
 */
static struct fig *checksum(const struct bench *b, const char *key, const char *label,
			    const char *path, uint32_t want, struct counters *c)
{
	int calls = b->plat.emulated ? 20 : CALLS, counted = b->plat.emulated ? 5 : 500;
	struct fig *f = fig_new(key, calls, "%s", label);
	struct vmlet_value arg = vmlet_bytes(data, sizeof(data)), r;
	struct vmlet_sandbox *sb = NULL;
	struct vmlet_image *img = NULL;
	int err, idx = -1;

	err = vmlet_image_open(path, &img);
	if (!err)
		err = vmlet_sandbox_create(img, NULL, &sb);
	if (!err)
		err = idx = vmlet_sandbox_func(sb, "checksum");
	if (err < 0) {
		fig_fail(f, "%s: %s", path, vmlet_strerror(err));
		goto out;
	}
	for (int i = 0; i < calls + 5; i++) {
		uint64_t t = now_ns();

		err = vmlet_sandbox_call_index(sb, (unsigned int)idx, &arg, 1, &r);
		if (i >= 5)
			fig_add(f, (double)(now_ns() - t));
		if (err || (uint32_t)r.i32 != want) {
			fig_fail(f, "checksum: %s, %#x (want %#x)", vmlet_strerror(err),
				 err ? 0 : (uint32_t)r.i32, want);
			goto out;
		}
	}
	ctr_open(c, false);
	ctr_start(c);
	for (int i = 0; i < counted; i++)
		vmlet_sandbox_call_index(sb, (unsigned int)idx, &arg, 1, &r);
	ctr_stop(c, f->counts, counted);
	ctr_close(c);
	/* One call's guest instructions, exactly. */
	if (!vmlet_sandbox_count_insns(sb, true)) {
		if (!vmlet_sandbox_call_index(sb, (unsigned int)idx, &arg, 1, &r))
			f->insns_ss = (double)vmlet_sandbox_insns(sb);
		vmlet_sandbox_count_insns(sb, false);
	}
out:
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
	return f;
}

/* checksum(4 KiB) as a fresh-VM call: fewer where KVM emulates the guest. */
static struct fig *sum_fresh(const struct bench *b, uint32_t want)
{
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 2, .timeout_ms = -1};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = VMLET_RESTORE_COPY};
	int calls = b->plat.emulated ? 10 : FRESH;
	struct fig *f = fig_new("sum_fresh", calls, "wasm-guest: fresh-VM call checksum(4 KiB)");
	struct vmlet_value arg = vmlet_bytes(data, sizeof(data)), r;
	struct vmlet_pool *pool = NULL;
	struct vmlet_image *img = NULL;
	int err;

	err = vmlet_image_open(WASM_CHECKSUM_ELF, &img);
	if (!err)
		err = vmlet_pool_create(img, &cfg, &pc, &pool);
	for (int i = 0; !err && i < calls; i++) {
		uint64_t t = now_ns();

		err = vmlet_pool_call(pool, "checksum", &arg, 1, &r, NULL, 0);
		fig_add(f, (double)(now_ns() - t));
		if (!err && (uint32_t)r.i32 != want)
			err = -EIO;
	}
	if (err)
		fig_fail(f, "%s: %s", WASM_CHECKSUM_ELF, vmlet_strerror(err));
	vmlet_pool_destroy(pool);
	vmlet_image_close(img);
	return f;
}

/*
 * The target: the warm checksum call against the same wasm2c code natively
 * plus one exit round trip, measured so that load does not decide it:
 * ROUNDS rounds, each running BATCH floor.out round trips (a floor VM of
 * its own), BATCH native checked checksums, BATCH warm checksum calls and
 * BATCH of the same call on the image with the bounds checks compiled out,
 * back to back in an order that rotates from round to round, each
 * operation timed alone, each batch after one operation not counted (what
 * switching from one VM to another costs stays out). A round takes a few
 * milliseconds, so whatever else runs on the machine meets all four alike.
 * Load only ever adds time, and on a busy machine it adds more to a long
 * operation than to a short one (a preemption is likelier within it), so
 * the verdict is on the ratio of each figure's fastest of its 3000 (best
 * of N: the cost with the least load); the ratio of the medians and of
 * the 10th percentiles stand beside it.
 * The fourth figure gives, in the same rounds, what the bounds checks cost
 * in time, and a fifth, a warm call of add(1, 2) on the same sandbox, what
 * a call costs without the work: where the time beyond the floor goes.
 */
#define ROUNDS	300
#define BATCH	10
#define SAMPLES (ROUNDS * BATCH)
#define NFIG	5

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One operation of what k names, its time in *ns: 0 or a negative error. */
static int one(int k, struct floor_vm *fv, struct vmlet_sandbox **sb, const int *idx, uint32_t want,
	       double *ns)
{
	struct vmlet_value arg = vmlet_bytes(data, sizeof(data)), r;
	uint64_t t = now_ns();
	uint32_t got;
	int err;

	switch (k) {
	case 0:
		err = floor_vm_trips(fv, 1);
		*ns = (double)(now_ns() - t);
		return err;
	case 1:
		got = native_cc_checksum(data, sizeof(data));
		*ns = (double)(now_ns() - t);
		return got == want ? 0 : -EIO;
	case 4: {
		struct vmlet_value two[2] = {vmlet_i32(1), vmlet_i32(2)};

		err = vmlet_sandbox_call_index(sb[0], (unsigned int)idx[2], two, 2, &r);
		*ns = (double)(now_ns() - t);
		return err ? err : r.i32 == 3 ? 0 : -EIO;
	}
	}
	err = vmlet_sandbox_call_index(sb[k - 2], (unsigned int)idx[k - 2], &arg, 1, &r);
	*ns = (double)(now_ns() - t);
	return err ? err : (uint32_t)r.i32 == want ? 0 : -EIO;
}

static void target(struct bench *b, uint32_t want)
{
	static const char *const what[] = {"floor.out", "native checked", "warm checksum",
					   "checks compiled out", "warm add"};
	static const char *const path[] = {WASM_CHECKSUM_ELF, WASM_UNCHECKED_ELF};
	static const char *const key[] = {"out", "native", "checksum", "unchecked", "add"};
	static double ns[NFIG][SAMPLES];
	double p10[NFIG], p50[NFIG], min[NFIG], ratio, fastest;
	struct vmlet_sandbox *sb[2] = {NULL, NULL};
	struct vmlet_image *img[2] = {NULL, NULL};
	struct floor_vm *fv = NULL;
	int err, idx[3] = {-1, -1, -1};

	if (b->plat.emulated) {
		printf("  checksum warm / (native checked + floor.out): not measured here, KVM "
		       "emulates guest code (the vmtest VM measures it)\n");
		return;
	}
	err = floor_vm_open(&fv);
	for (int i = 0; err >= 0 && i < 2; i++) {
		err = vmlet_image_open(path[i], &img[i]);
		if (!err)
			err = vmlet_sandbox_create(img[i], NULL, &sb[i]);
		if (!err)
			err = idx[i] = vmlet_sandbox_func(sb[i], "checksum");
	}
	if (err >= 0)
		err = idx[2] = vmlet_sandbox_func(sb[0], "add");
	for (int k = 0; err >= 0 && k < NFIG; k++) /* warm-up, not counted */
		err = one(k, fv, sb, idx, want, &ns[k][0]);
	for (int r = 0; err >= 0 && r < ROUNDS; r++)
		for (int i = 0; err >= 0 && i < NFIG; i++) {
			int k = (r + i) % NFIG;

			err = one(k, fv, sb, idx, want, &ns[k][r * BATCH]);
			for (int j = 0; err >= 0 && j < BATCH; j++)
				err = one(k, fv, sb, idx, want, &ns[k][r * BATCH + j]);
		}
	for (int i = 0; i < 2; i++) {
		vmlet_sandbox_destroy(sb[i]);
		vmlet_image_close(img[i]);
	}
	floor_vm_close(fv);
	if (err < 0) {
		printf("  checksum warm / (native checked + floor.out): %s\n", vmlet_strerror(err));
		json_str(b->j, "checksum_vs_native_plus_exit_error", vmlet_strerror(err));
		return;
	}
	for (int k = 0; k < NFIG; k++) {
		char name[64];

		qsort(ns[k], SAMPLES, sizeof(ns[k][0]), dcmp);
		min[k] = ns[k][0];
		p10[k] = ns[k][SAMPLES / 10];
		p50[k] = ns[k][SAMPLES / 2];
		snprintf(name, sizeof(name), "interleaved_%s_us", key[k]);
		json_num(b->j, name, p50[k] / 1e3);
		printf("  %-20s min %9.2f us, p10 %9.2f, p50 %9.2f (%d rounds of %d, "
		       "interleaved)\n",
		       what[k], min[k] / 1e3, p10[k] / 1e3, p50[k] / 1e3, ROUNDS, BATCH);
	}
	fastest = min[2] / (min[1] + min[0]);
	ratio = p50[2] / (p50[1] + p50[0]);
	json_num(b->j, "checksum_vs_native_plus_exit", fastest);
	json_num(b->j, "checksum_vs_native_plus_exit_p10", p10[2] / (p10[1] + p10[0]));
	json_num(b->j, "checksum_vs_native_plus_exit_p50", ratio);
	json_num(b->j, "checksum_vs_native_plus_exit_target", TARGET);
	json_num(b->j, "checksum_vs_native_plus_exit_rounds", ROUNDS);
	json_num(b->j, "checksum_vs_native_plus_exit_batch", BATCH);
	json_num(b->j, "checksum_vs_unchecked", min[2] / min[3]);
	json_num(b->j, "checksum_vs_unchecked_p50", p50[2] / p50[3]);
	printf("  warm checksum with bounds checks / compiled out, same rounds: %.3fx (min), "
	       "%.3fx (p50)\n",
	       min[2] / min[3], p50[2] / p50[3]);
	printf("  beyond the floor (min): the call itself (add - floor.out) %.2f us, the 4 KiB "
	       "argument and the work beyond native (checksum - add - native) %.2f us\n",
	       (min[4] - min[0]) / 1e3, (min[2] - min[4] - min[1]) / 1e3);
	printf("  checksum warm / (native checked + floor.out), interleaved: %.3fx (min), %.3fx "
	       "(p10), %.3fx (p50) (target %.1fx on min: %s)\n",
	       fastest, p10[2] / (p10[1] + p10[0]), ratio, TARGET,
	       fastest <= TARGET ? "met" : "not met");
}

static void fill(void)
{
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
}

/*
 * `bench -W FILE` in the vmtest VM: the target's figures alone (its own
 * floor.out, native.checked, the warm checksum call) and their ratio.
 */
int bench_wasm_guest_fragment(struct bench *b)
{
	const char *here = getenv("VMLET_BENCH_HERE_ERROR");
	struct fig *checked, *sum;
	struct counters c;
	uint32_t want;
	int err;

	if (here)
		json_str(b->j, "here_error", here);
	err = bench_floor(b, false);
	fill();
	section("wasm-guest in the vmtest VM: checksum(4 KiB), warm and native (us)");
	native_cg_init();
	native_cc_init();
	want = native_cg_checksum(data, sizeof(data));
	checked = native("native_checked", "wasm-guest: native checksum, bounds checks",
			 native_cc_checksum, want, NATIVE / 10);
	fig_emit(b->j, checked);
	sum = checksum(b, "checksum", "wasm-guest: warm call checksum(4 KiB)", WASM_CHECKSUM_ELF,
		       want, &c);
	fig_ratio(sum, checked, "wasm_guest_vmtest.native_checked");
	fig_emit(b->j, sum);
	target(b, want);
	fig_free(checked);
	fig_free(sum);
	return err;
}

/* Where KVM emulates guest code: the target's figures in the vmtest VM. */
static void in_vmtest(struct bench *b)
{
	char why[320];
	struct fig *f;

	if (!bench_vmtest_fragment(b, "-W", "wasm_guest_vmtest", "wasm-guest-vmtest.json",
				   "this KVM emulates guest code, native code runs on the CPU: "
				   "their ratio means nothing",
				   why, sizeof(why)))
		return;
	json_obj(b->j, "wasm_guest_vmtest");
	json_str(b->j, "where", "vmtest");
	f = fig_new("checksum", 0, "wasm-guest: warm call checksum(4 KiB)");
	fig_fail(f, "%s", why);
	fig_emit(b->j, f);
	fig_free(f);
	json_end(b->j);
}

void bench_wasm_guest(struct bench *b)
{
	struct fig *c_warm = NULL, *c_fresh, *w_fresh, *sum, *guard, *checked, *unchecked, *sfresh;
	struct counters c;
	uint32_t want;

	fill();
	json_obj(b->j, "wasm_guest");
	json_str(b->j, "module", "wasm/checksum.c, clang --target=wasm32, vmlet-wasm-cc");
	section("wasm-guest: Wasm compiled into vmlet guests (us)");
	warm(b, "c_warm", "wasm-guest: C demo warm call add", DEMO_ELF, &c_warm);
	warm(b, "warm", "wasm-guest: Wasm warm call add", WASM_CHECKSUM_ELF, NULL);

	c_fresh = fresh("c_fresh", "wasm-guest: C demo fresh-VM call add", DEMO_ELF);
	fig_ratio(c_fresh, b->floor_out, "floor.out");
	fig_emit(b->j, c_fresh);
	w_fresh = fresh("fresh", "wasm-guest: Wasm fresh-VM call add", WASM_CHECKSUM_ELF);
	fig_ratio(w_fresh, c_fresh, "wasm_guest.c_fresh");
	fig_emit(b->j, w_fresh);

	native_cg_init();
	native_cc_init();
	want = native_cg_checksum(data, sizeof(data));
	guard = native("native_guard", "wasm-guest: native checksum, guard pages",
		       native_cg_checksum, want, NATIVE);
	fig_emit(b->j, guard);
	checked = native("native_checked", "wasm-guest: native checksum, bounds checks",
			 native_cc_checksum, want, NATIVE);
	fig_ratio(checked, guard, "wasm_guest.native_guard");
	fig_emit(b->j, checked);
	sum = checksum(b, "checksum", "wasm-guest: warm call checksum(4 KiB)", WASM_CHECKSUM_ELF,
		       want, &c);
	fig_ratio(sum, checked, "wasm_guest.native_checked");
	fig_emit(b->j, sum);
	sfresh = sum_fresh(b, want);
	fig_ratio(sfresh, sum, "wasm_guest.checksum");
	fig_emit(b->j, sfresh);
	unchecked = checksum(b, "unchecked", "wasm-guest: warm call checksum, checks compiled out",
			     WASM_UNCHECKED_ELF, want, &c);
	fig_ratio(unchecked, sum, "wasm_guest.checksum");
	fig_emit(b->j, unchecked);
	/* Bounds: explicit checks against none (the best guard pages could do). */
	if (fig_ok(sum) && fig_ok(unchecked) && sum->insns_ss > 0 && unchecked->insns_ss > 0) {
		json_num(b->j, "checks_insns", sum->insns_ss - unchecked->insns_ss);
		json_num(b->j, "checks_insn_ratio", sum->insns_ss / unchecked->insns_ss);
		printf("  bounds checks: %.0f guest instructions per checksum(4 KiB) call against "
		       "%.0f without (%.3fx)\n",
		       sum->insns_ss, unchecked->insns_ss, sum->insns_ss / unchecked->insns_ss);
	}
	target(b, want);
	json_end(b->j);
	fig_free(c_warm);
	fig_free(c_fresh);
	fig_free(w_fresh);
	fig_free(guard);
	fig_free(checked);
	fig_free(sum);
	fig_free(unchecked);
	fig_free(sfresh);
	if (b->plat.emulated)
		in_vmtest(b);
}
