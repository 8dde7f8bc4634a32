// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host calls, with the host-call guest's chain(fn, n, v): one guest call
 * that makes n host calls of fn in a row. Per host call: the whole call's
 * time over n = 200 (so 1/200 of the guest call is in it), through the
 * io_uring service and inline on the vCPU thread; exits and syscalls per
 * host call, the service threads' included. Also: the same call with no
 * host call, throughput with 1, 2 and 8 sandboxes on their own threads,
 * and a 1 MiB pread by the guest from a granted file (zero-copy) against
 * the host's pread and memcpy.
 *
 * The guest runtime's host-call path uses SSE (gcc zeroes and copies its
 * structs with pxor and movq), which a KVM that emulates guest code
 * cannot run. So the host calls are tried here first; when they fail on
 * such a KVM, this part runs again inside the vmtest VM (nested kvm-amd
 * under QEMU/TCG: full hardware semantics) as `bench -F FILE`, which
 * measures its own floor there and writes the "hostcall" object that
 * this run embeds, with "where": "vmtest" and the error seen here. Its
 * ratios are to the floor of the VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "../hostfn.h"

#define CHAIN	200
#define SAMPLES 200
#define PREADS	50
#define TPUT_NS 1000000000ULL

static const struct vmlet_host_func funcs[] = {
	{.name = "add1", .ret = VMLET_U64, .nargs = 1, .args = {VMLET_U64}, .fn = test_add1},
	{.name = "add1_in",
	 .ret = VMLET_U64,
	 .nargs = 1,
	 .args = {VMLET_U64},
	 .fn = test_add1,
	 .flags = VMLET_HOST_INLINE},
};

/* One guest call making n host calls of fn: 0 or the error. */
static int chain(struct vmlet_sandbox *sb, const char *fn, uint32_t n)
{
	struct vmlet_value args[3] = {vmlet_str(fn), vmlet_u32(n), vmlet_u64(0)}, r;
	int err = vmlet_sandbox_call(sb, "chain", args, 3, &r);

	if (!err && r.u64 != n)
		err = -EIO;
	return err;
}

static void chain_fail(struct fig *f, struct vmlet_sandbox *sb, int err)
{
	const struct vmlet_fault *fault = vmlet_sandbox_fault(sb);

	fig_fail(f, "%s%s%s", vmlet_strerror(err), fault->message[0] ? ": " : "", fault->message);
}

static void chains(struct bench *b, struct vmlet_sandbox *sb, struct fig *f, const char *fn,
		   uint32_t n, const char *floor)
{
	struct counters c;
	int err;

	for (int i = 0; i < SAMPLES; i++) {
		uint64_t t = now_ns();

		err = chain(sb, fn, n);
		fig_add(f, (double)(now_ns() - t) / (n ? n : 1));
		if (err) {
			chain_fail(f, sb, err);
			break;
		}
	}
	if (fig_ok(f)) {
		/* Inherit: the service threads' syscalls are the host call's too. */
		ctr_open(&c, true);
		ctr_start(&c);
		for (int i = 0; i < 10; i++)
			chain(sb, fn, n);
		ctr_stop(&c, f->counts, 10.0 * (n ? n : 1));
		ctr_close(&c);
	}
	fig_ratio(f, b->floor_out, floor);
	fig_emit(b->j, f);
	fig_free(f);
}

struct tput {
	struct vmlet_image *img;
	const struct vmlet_config *cfg;
	uint64_t calls, deadline;
	int err;
};

static void *tput_main(void *arg)
{
	struct tput *t = arg;
	struct vmlet_sandbox *sb;

	t->err = vmlet_sandbox_create(t->img, t->cfg, &sb);
	if (t->err)
		return NULL;
	while (now_ns() < t->deadline && !(t->err = chain(sb, "add1", 50)))
		t->calls += 50;
	vmlet_sandbox_destroy(sb);
	return NULL;
}

static void throughput(struct bench *b, struct vmlet_image *img, const struct vmlet_config *cfg)
{
	static const int conc[] = {1, 2, 8};
	char key[12];

	progress("host calls: throughput with 1, 2 and 8 sandboxes");
	json_obj(b->j, "throughput");
	json_str(b->j, "unit", "host calls/s, service, one thread per sandbox");
	for (unsigned int c = 0; c < sizeof(conc) / sizeof(conc[0]); c++) {
		struct tput t[8];
		pthread_t th[8];
		uint64_t total = 0, t0 = now_ns();
		int err = 0;

		for (int i = 0; i < conc[c]; i++) {
			t[i] = (struct tput){.img = img, .cfg = cfg, .deadline = t0 + TPUT_NS};
			pthread_create(&th[i], NULL, tput_main, &t[i]);
		}
		for (int i = 0; i < conc[c]; i++) {
			pthread_join(th[i], NULL);
			total += t[i].calls;
			err = err ? err : t[i].err;
		}
		snprintf(key, sizeof(key), "%d", conc[c]);
		if (err) {
			json_str(b->j, key, vmlet_strerror(err));
			printf("  throughput, %d sandbox%s: FAILED: %s\n", conc[c],
			       conc[c] > 1 ? "es" : "", vmlet_strerror(err));
			continue;
		}
		json_num(b->j, key, total / ((now_ns() - t0) / 1e9));
		printf("  throughput, %d sandbox%s: %.0f host calls/s (service)\n", conc[c],
		       conc[c] > 1 ? "es" : "", total / ((now_ns() - t0) / 1e9));
	}
	json_end(b->j);
}

static void pread_big(struct bench *b, struct vmlet_sandbox *sb)
{
	static char buf[1 << 20], dst[1 << 20];
	struct vmlet_value args[3] = {vmlet_i32(3), vmlet_u64(sizeof(buf)), vmlet_u64(0)}, r;
	char tmp[] = "/tmp/vmlet-bench-XXXXXX";
	struct fig *g = fig_new("guest", PREADS, "vmlet: guest pread 1 MiB, zero-copy");
	struct fig *h = fig_new("host", PREADS, "host: pread 1 MiB + memcpy");
	int fd = mkstemp(tmp), err;

	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		fig_fail(g, "cannot write %s: %s", tmp, strerror(errno));
		fig_fail(h, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	err = vmlet_sandbox_grant_fd(sb, 3, fd, VMLET_GRANT_READ, NULL);
	for (int i = 0; i < PREADS && !err; i++) {
		uint64_t t = now_ns();

		err = vmlet_sandbox_call(sb, "pread_big", args, 3, &r);
		fig_add(g, (double)(now_ns() - t));
		if (!err && r.i64 != (int64_t)sizeof(buf))
			err = -EIO;
	}
	if (err)
		fig_fail(g, "%s", vmlet_strerror(err));
	for (int i = 0; i < PREADS; i++) {
		uint64_t t = now_ns();

		if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
			fig_fail(h, "pread: %s", strerror(errno));
			break;
		}
		memcpy(dst, buf, sizeof(dst));
		fig_add(h, (double)(now_ns() - t));
	}
out:
	json_obj(b->j, "pread");
	fig_emit(b->j, g);
	fig_emit(b->j, h);
	json_end(b->j);
	fig_free(g);
	fig_free(h);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
}

/* Fail the figures of a part that could not start. */
static void failed(struct bench *b, const char *fmt, const char *why)
{
	struct fig *f = fig_new("service", 0, "vmlet: host call, io_uring service");

	fig_fail(f, fmt, why);
	fig_emit(b->j, f);
	fig_free(f);
}

/*
 * Set up the host-call guest with a service and make one host call;
 * 0, or the error with why filled in. On success *sb, *img and cfg->host
 * are the caller's to put away.
 */
static int setup(struct vmlet_config *cfg, struct vmlet_image **img, struct vmlet_sandbox **sb,
		 char *why, size_t len)
{
	int err;

	*cfg = (struct vmlet_config){.sz = sizeof(*cfg), .host_funcs = funcs, .nhost_funcs = 2};
	err = vmlet_image_open(HOSTCALL_ELF, img);
	if (err) {
		snprintf(why, len, "%s: %s", HOSTCALL_ELF, vmlet_strerror(err));
		return err;
	}
	err = vmlet_host_create(2, &cfg->host);
	if (err) {
		snprintf(why, len, "vmlet_host_create: %s", vmlet_strerror(err));
		goto err_img;
	}
	err = vmlet_sandbox_create(*img, cfg, sb);
	if (err) {
		snprintf(why, len, "vmlet_sandbox_create: %s", vmlet_strerror(err));
		goto err_host;
	}
	err = chain(*sb, "add1_in", 1);
	if (err) {
		const struct vmlet_fault *fault = vmlet_sandbox_fault(*sb);

		snprintf(why, len, "%s%s%s", vmlet_strerror(err), fault->message[0] ? ": " : "",
			 fault->message);
		goto err_sb;
	}
	return 0;

err_sb:
	vmlet_sandbox_destroy(*sb);
err_host:
	vmlet_host_destroy(cfg->host);
err_img:
	vmlet_image_close(*img);
	return err;
}

/*
 * The figures, into the current JSON object, from what setup() made (put
 * away here); floor names the floor of the ratios.
 */
static void measure(struct bench *b, const char *floor, struct vmlet_config *cfg,
		    struct vmlet_image *img, struct vmlet_sandbox *sb)
{
	chains(b, sb, fig_new("call", SAMPLES, "vmlet: call making no host call"), "add1", 0,
	       floor);
	chains(b, sb, fig_new("service", SAMPLES, "vmlet: host call, io_uring service"), "add1",
	       CHAIN, floor);
	chains(b, sb, fig_new("inline", SAMPLES, "vmlet: host call, inline"), "add1_in", CHAIN,
	       floor);
	throughput(b, img, cfg);
	pread_big(b, sb);
	vmlet_sandbox_destroy(sb);
	vmlet_host_destroy(cfg->host);
	vmlet_image_close(img);
}

/*
 * `bench -F FILE` in the vmtest VM: the "hostcall" object with its own
 * floor, and the error the run outside saw (VMLET_BENCH_HERE_ERROR).
 */
int bench_hostcall_fragment(struct bench *b)
{
	const char *here = getenv("VMLET_BENCH_HERE_ERROR");
	struct vmlet_config cfg;
	struct vmlet_sandbox *sb;
	struct vmlet_image *img;
	char why[320];
	int err;

	if (here)
		json_str(b->j, "here_error", here);
	err = bench_floor(b, false);
	section("vmlet: host calls (us per host call)");
	if (setup(&cfg, &img, &sb, why, sizeof(why)))
		failed(b, "%s", why);
	else
		measure(b, "vmlet.hostcall.floor.out", &cfg, img, sb);
	return err;
}

void bench_hostcall(struct bench *b)
{
	char here[320], why[320];
	struct vmlet_config cfg;
	struct vmlet_sandbox *sb;
	struct vmlet_image *img;

	int err;

	section("vmlet: host calls (us per host call)");
	err = setup(&cfg, &img, &sb, here, sizeof(here));
	if (err && b->plat.emulated) {
		printf("  here: %s\n", here);
		if (!bench_vmtest_fragment(b, "-F", "hostcall", "hostcall-vmtest.json", here, why,
					   sizeof(why)))
			return;
		json_obj(b->j, "hostcall");
		json_str(b->j, "where", "vmtest");
		json_str(b->j, "here_error", here);
		failed(b, "in the vmtest VM: %s", why);
		json_end(b->j);
		return;
	}
	json_obj(b->j, "hostcall");
	json_str(b->j, "where", "here");
	if (err)
		failed(b, "%s", here);
	else
		measure(b, "floor.out", &cfg, img, sb);
	json_end(b->j);
}
