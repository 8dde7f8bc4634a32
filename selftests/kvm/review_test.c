// SPDX-License-Identifier: BSD-2-Clause
/*
 * The defects of the review in issue 14, one test each: each of these
 * failed before its fix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <vmlet.h>

#include "util.h"

static struct vmlet_pool *review_pool(struct vmlet_image *img, unsigned int size,
				      enum vmlet_restore m)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = m};
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = size, .timeout_ms = -1};
	struct vmlet_pool *pool = NULL;
	int err = vmlet_pool_create(img, &cfg, &pc, &pool);

	if (err)
		ksft_fail_at("vmlet_pool_create: %s", vmlet_strerror(err));
	return pool;
}

/*
 * A sandbox made from the pool's own snapshot was taken in as if the pool
 * had lent it: idle 2 of a pool of 1, live 1, and -EBUSY from destroy for
 * ever after.
 */
TEST(pool_release_refuses_a_sandbox_it_never_lent)
{
	struct vmlet_image *img = test_image(GUEST("state"));
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_pool *other = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_sandbox *own = NULL, *stray = NULL, *theirs = NULL;
	struct vmlet_pool_stats st;

	if (!pool || !other)
		return;
	ASSERT_OK(vmlet_sandbox_create_from((struct vmlet_snapshot *)vmlet_pool_snapshot(pool),
					    &stray));
	EXPECT_EQ(vmlet_pool_release(pool, stray), -EINVAL);
	ASSERT_OK(vmlet_pool_acquire(other, 0, &theirs));
	EXPECT_EQ(vmlet_pool_release(pool, theirs), -EINVAL);
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.idle, 1);
	EXPECT_EQ(st.live, 1);
	EXPECT_EQ(st.restored, 0);

	/* Its own sandbox, once, and then not again. */
	ASSERT_OK(vmlet_pool_acquire(pool, 0, &own));
	EXPECT_EQ(vmlet_pool_release(pool, stray), -EINVAL);
	ASSERT_OK(vmlet_pool_release(pool, own));
	EXPECT_EQ(vmlet_pool_release(pool, own), -EALREADY);
	vmlet_pool_stats(pool, &st);
	EXPECT_EQ(st.idle, 1);
	EXPECT_EQ(st.live, 1);
	EXPECT_EQ(st.restored, 1);

	vmlet_sandbox_destroy(stray);
	EXPECT_EQ(vmlet_pool_destroy(pool), 0);
	ASSERT_OK(vmlet_pool_release(other, theirs));
	EXPECT_EQ(vmlet_pool_destroy(other), 0);
	vmlet_image_close(img);
}

/* The guest instructions of add(1, 2) on sb, or 0 with the test failed. */
static uint64_t add_insns(struct vmlet_sandbox *sb)
{
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	int err = vmlet_sandbox_call(sb, "add", a, 2, &r);

	if (err || r.i32 != 3) {
		ksft_fail_at("add(1, 2): %d (%s), %d", err, vmlet_strerror(err), r.i32);
		return 0;
	}
	return vmlet_sandbox_insns(sb);
}

/*
 * A sandbox from a pool counted 0 instructions: KVM took the trap flag away
 * when the snapshot's registers, pending since the restore, reached it.
 * Every call from the snapshot's state runs the same instructions, so the
 * count is the same after every restore, after a successful call too:
 * which also says that restore leaves rip exactly at the snapshot's (KVM
 * drops the last call's pending `out` instead of stepping past it).
 */
TEST(count_insns_counts_calls_on_sandboxes_from_a_snapshot)
{
	struct vmlet_image *img = test_image(DEMO_ELF);
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_config boot = {.sz = sizeof(boot), .flags = VMLET_CONFIG_BOOT};
	struct vmlet_sandbox *cold, *sb;
	uint64_t first, warm, fresh, unbooted;

	if (!pool)
		return;
	cold = test_sandbox(img, &boot);
	ASSERT_TRUE(cold);
	ASSERT_OK(vmlet_sandbox_count_insns(cold, true));
	first = add_insns(cold);
	warm = add_insns(cold);
	vmlet_sandbox_destroy(cold);
	/* A cold sandbox from the image's boot snapshot starts where the snapshot was taken. */
	cold = test_sandbox(img, NULL);
	ASSERT_TRUE(cold);
	ASSERT_OK(vmlet_sandbox_count_insns(cold, true));
	unbooted = add_insns(cold);
	vmlet_sandbox_destroy(cold);

	ASSERT_OK(vmlet_pool_acquire(pool, 0, &sb));
	ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
	fresh = add_insns(sb);
	printf("# add: %llu instructions fresh from the snapshot; cold: %llu first, %llu warm\n",
	       (unsigned long long)fresh, (unsigned long long)first, (unsigned long long)warm);
	EXPECT_NE(fresh, 0);
	/*
	 * A booted sandbox's first call starts on the ready point's `out`,
	 * which KVM steps past as one step; a sandbox at a snapshot starts
	 * right after it, where the snapshot was taken.
	 */
	EXPECT_EQ(fresh, first - 1);
	EXPECT_EQ(unbooted, fresh);
	EXPECT_EQ(add_insns(sb), warm);
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(vmlet_sandbox_restore(sb));
		EXPECT_EQ(add_insns(sb), fresh);
	}
	ASSERT_OK(vmlet_pool_release(pool, sb));
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

/* The next user of a pooled sandbox ran single-stepped, and counted. */
TEST(pool_release_turns_instruction_counting_off)
{
	struct vmlet_image *img = test_image(DEMO_ELF);
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_sandbox *sb, *again;

	if (!pool)
		return;
	ASSERT_OK(vmlet_pool_acquire(pool, 0, &sb));
	ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
	ASSERT_NE(add_insns(sb), 0);
	ASSERT_OK(vmlet_pool_release(pool, sb));
	ASSERT_OK(vmlet_pool_acquire(pool, 0, &again));
	ASSERT_TRUE(again == sb); /* a pool of one */
	EXPECT_EQ(add_insns(again), 0);
	ASSERT_OK(vmlet_pool_release(pool, again));
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

/*
 * Swap space for a test that pages guest memory out. A private copy of a
 * page of the snapshot is anonymous memory, which goes nowhere without
 * swap. Where there is none, root adds a swap file and takes it away after;
 * where the file system cannot hold a swap file (tmpfs, 9p: the vmtest VM's
 * /var/tmp), the file goes behind a loop device. Under CI=true, a test that
 * cannot get swap fails instead of skipping.
 */
struct test_swap {
	char path[64]; /* our swap file, or "" */
	char dev[32];  /* its loop device, or "" */
	int loop_fd;
};

#define SWAP_MIB 16

static bool swap_present(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1; /* a header, then one line per area */
}

/* A file of SWAP_MIB MiB with the header mkswap(8) writes (version 1, no bad pages). */
static int swap_file_write(int fd)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint32_t npages = (uint32_t)(SWAP_MIB * 1024 * 1024 / pg);
	char *buf = calloc(1, (size_t)pg);
	uint32_t hdr[3] = {1, npages - 1, 0}; /* version, last_page, nr_badpages */

	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < npages; i++) {
		if (i == 0) {
			memcpy(buf + 1024, hdr, sizeof(hdr));
			memcpy(buf + pg - 10, "SWAPSPACE2", 10);
		}
		if (write(fd, buf, (size_t)pg) != pg) {
			free(buf);
			return -EIO;
		}
		if (i == 0)
			memset(buf, 0, (size_t)pg);
	}
	free(buf);
	return fsync(fd) ? -errno : 0;
}

/* Put the file behind a free loop device and swap on that. */
static int swap_on_loop(struct test_swap *sw, int file_fd)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), n, err = 0;

	if (ctl < 0 && errno == ENOENT && system("modprobe loop 2>/dev/null") == 0)
		ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -errno;
	snprintf(sw->dev, sizeof(sw->dev), "/dev/loop%d", n);
	sw->loop_fd = open(sw->dev, O_RDWR | O_CLOEXEC);
	if (sw->loop_fd < 0 || ioctl(sw->loop_fd, LOOP_SET_FD, file_fd) < 0)
		err = -errno;
	else if (swapon(sw->dev, 0) < 0)
		err = -errno;
	if (err) {
		if (sw->loop_fd >= 0) {
			ioctl(sw->loop_fd, LOOP_CLR_FD, 0);
			close(sw->loop_fd);
		}
		sw->loop_fd = -1;
		sw->dev[0] = '\0';
	}
	return err;
}

static void swap_teardown(struct test_swap *sw)
{
	if (sw->dev[0]) {
		if (swapoff(sw->dev) < 0)
			ksft_fail_at("swapoff(%s): %s", sw->dev, strerror(errno));
		ioctl(sw->loop_fd, LOOP_CLR_FD, 0);
		close(sw->loop_fd);
	} else if (sw->path[0] && swapoff(sw->path) < 0) {
		ksft_fail_at("swapoff(%s): %s", sw->path, strerror(errno));
	}
	if (sw->path[0])
		unlink(sw->path);
	sw->path[0] = sw->dev[0] = '\0';
}

/* 0 with swap on (sw says what to undo), or an error and why. */
static int swap_setup(struct test_swap *sw, char *why, size_t len)
{
	int fd, err;

	*sw = (struct test_swap){.loop_fd = -1};
	if (swap_present())
		return 0;
	if (geteuid()) {
		snprintf(why, len, "no swap, and only root can add some");
		return -EPERM;
	}
	snprintf(sw->path, sizeof(sw->path), "/var/tmp/vmlet-swap.XXXXXX");
	fd = mkstemp(sw->path);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "cannot make a swap file in /var/tmp: %s", strerror(-err));
		sw->path[0] = '\0';
		return err;
	}
	err = swap_file_write(fd);
	if (!err && swapon(sw->path, 0) < 0) {
		err = -errno;
		if (err == -EINVAL) /* the file system cannot hold a swap file */
			err = swap_on_loop(sw, fd);
	}
	close(fd);
	if (err) {
		snprintf(why, len, "cannot swap on %s (%s): %s", sw->path,
			 sw->dev[0] ? sw->dev : "file, then loop device", strerror(-err));
		swap_teardown(sw);
	}
	return err;
}

static bool under_ci(void)
{
	const char *ci = getenv("CI");

	return ci && !strcmp(ci, "true");
}

/* The pagemap entry of the page at p. */
static uint64_t pagemap_entry(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p / 4096 * sizeof(e))) != sizeof(e))
			e = 0;
		close(fd);
	}
	return e;
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP	   (1ULL << 62)

/*
 * Page p out (MADV_PAGEOUT) until pagemap says swapped: reclaim passes
 * over a page it finds referenced (KVM's accessed bit counts) and clears
 * that, so it may take more than one try. Bounded by tries, not time.
 */
static bool page_out(void *p)
{
	for (int i = 0; i < 100; i++) {
		uint64_t e;

		if (madvise(p, 4096, MADV_PAGEOUT) < 0)
			return false;
		e = pagemap_entry(p);
		if ((e & PM_SWAP) && !(e & PM_PRESENT))
			return true;
	}
	return false;
}

/*
 * A sandbox of a DROP snapshot stashes a secret, every page holding it is
 * paged out, restore, and the secret must be gone. *paged is false when
 * MADV_PAGEOUT did not swap the pages (not the library's fault).
 */
static void drop_after_page_out(struct vmlet_image *img, bool *paged)
{
	static const char secret[] = "swapped-s3cr3t-0123456789";
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = VMLET_RESTORE_DROP};
	struct vmlet_value arg = vmlet_str(secret), r;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb = NULL;
	unsigned int nout = 0;
	uint8_t *mem;
	size_t size;

	*paged = false;
	ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	ASSERT_OK(vmlet_sandbox_call(sb, "stash", &arg, 1, NULL));

	/* Every page that holds the secret (the input buffer, stash_buf) goes to swap. */
	mem = (uint8_t *)vmlet_sandbox_memory(sb, &size);
	for (size_t off = 0; off < size; off += 4096) {
		if (!memmem(mem + off, 4096, secret, sizeof(secret) - 1))
			continue;
		if (!page_out(mem + off)) {
			printf("# cannot page out guest page %#zx: pagemap %#llx\n", off,
			       (unsigned long long)pagemap_entry(mem + off));
			goto out;
		}
		nout++;
	}
	printf("# %u guest pages with the secret paged out\n", nout);
	*paged = true;
	EXPECT_GE(nout, 2);

	EXPECT_EQ(vmlet_sandbox_restore(sb), 0);
	EXPECT_EQ(vmlet_sandbox_call(sb, "peek", NULL, 0, &r), 0);
	EXPECT_EQ(r.buf.len, 0);
	EXPECT_TRUE(!memmem(mem, size, secret, sizeof(secret) - 1));
out:
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
}

/*
 * DROP restore dropped only the copies pagemap said were present: a
 * written page that was swapped out stayed, and the next call swapped the
 * last call's data back in. That is one tenant's data in the next
 * tenant's call under memory pressure.
 */
TEST(drop_restore_drops_written_pages_that_are_swapped_out)
{
	struct vmlet_image *img = test_image(GUEST("state"));
	struct test_swap sw;
	bool paged = false;
	char why[256];
	int err;

	if (!img)
		return;
	err = swap_setup(&sw, why, sizeof(why));
	if (err && under_ci()) {
		ksft_fail_at("CI=true and no swap to page guest memory out to: %s", why);
		return;
	}
	if (err)
		SKIP("%s", why);
	drop_after_page_out(img, &paged);
	swap_teardown(&sw);
	vmlet_image_close(img);
	if (!paged && under_ci())
		ksft_fail_at("CI=true and MADV_PAGEOUT did not swap guest pages out");
	else if (!paged && !ksft_failed)
		SKIP("MADV_PAGEOUT did not swap guest pages out");
}

/*
 * Restore after a call that returned leaves the vCPU with KVM's pending
 * completion of the return's `out`, which KVM must drop rather than step
 * rip past (lib/snapshot.c, restore()). A restored sandbox then runs
 * exactly the instructions of a sandbox fresh from the snapshot, after
 * calls that returned and after one that failed (which restore settles),
 * with either restore method. One instruction off would change the count.
 */
TEST(restore_puts_rip_exactly_at_the_snapshot_after_any_call)
{
	static const enum vmlet_restore methods[] = {VMLET_RESTORE_DROP, VMLET_RESTORE_COPY};
	struct vmlet_image *img = test_image(GUEST("state"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = methods[m]};
		struct vmlet_snapshot *snap = NULL;
		struct vmlet_sandbox *sb = NULL;
		uint64_t fresh;

		ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
		ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
		ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
		fresh = add_insns(sb);
		ASSERT_NE(fresh, 0);
		for (int i = 0; i < 3; i++) {
			ASSERT_OK(vmlet_sandbox_restore(sb)); /* after add, which returned */
			EXPECT_EQ(add_insns(sb), fresh);
			ASSERT_OK(vmlet_sandbox_restore(sb));
			ASSERT_OK(vmlet_sandbox_call(sb, "count", NULL, 0, NULL));
			EXPECT_EQ(vmlet_sandbox_call(sb, "crash", NULL, 0, NULL),
				  -VMLET_EEXCEPTION);
			ASSERT_OK(vmlet_sandbox_restore(sb));
			EXPECT_EQ(add_insns(sb), fresh);
		}
		vmlet_sandbox_destroy(sb);
		vmlet_snapshot_destroy(snap);
	}
	vmlet_image_close(img);
}

/*
 * A guest that returns through `outsb` (guest/tests/outs.c) instead of
 * `out` exits alike, but KVM completes `outs` in its emulator, which
 * writes back its own rip at the next KVM_RUN over the one restore
 * loaded: the next call would resume inside the hostile function, not at
 * the snapshot. Restore must leave the next call at the snapshot.
 */
TEST(restore_after_a_return_through_outs_starts_at_the_snapshot)
{
	static const enum vmlet_restore methods[] = {VMLET_RESTORE_DROP, VMLET_RESTORE_COPY};
	struct vmlet_image *img = test_image(HOSTILE_DIR "/outs.elf");

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = methods[m]};
		struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
		struct vmlet_snapshot *snap = NULL;
		struct vmlet_sandbox *sb = NULL;
		struct {
			struct vmlet_frame h;
			struct vmlet_rec r;
			uint64_t v;
		} fr;
		struct vmlet_value f = vmlet_bytes(&fr, sizeof(fr));

		ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
		ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
		fr.h = (struct vmlet_frame){sizeof(fr),
					    (uint32_t)vmlet_sandbox_func(sb, "ret_outs"), 0, 1};
		fr.r = (struct vmlet_rec){VMLET_U32, 8};
		fr.v = 99;
		for (int i = 0; i < 3; i++) {
			ASSERT_OK(vmlet_sandbox_call(sb, "ret_outs", &f, 1, &r));
			EXPECT_EQ(r.u32, 99);
			ASSERT_OK(vmlet_sandbox_restore(sb));
			r.i32 = 0;
			EXPECT_EQ(vmlet_sandbox_call(sb, "add", a, 2, &r), 0);
			EXPECT_EQ(r.i32, 3);
			ASSERT_OK(vmlet_sandbox_restore(sb));
		}
		vmlet_sandbox_destroy(sb);
		vmlet_snapshot_destroy(snap);
	}
	vmlet_image_close(img);
}

/*
 * A guest that returns through an `out` of its own at a rip restore loads
 * (guest/tests/landing.c) leaves KVM a step past it at the next KVM_RUN:
 * the next call would start up to 15 bytes into the entry stub, skipping
 * what it puts back (the previous call's xmm8 would stay), or into the
 * resume code at the snapshot's rip (which restore loads when it counts
 * instructions, as the stub would be counted). Every length, both rips,
 * both restore methods: the next calls see the snapshot's state.
 */
#define ENTRY_RIP (VMLET_STUB_ADDR + 0x400) /* lib/entry.h: VMLET_ENTRY_ADDR */

static void landing(struct vmlet_sandbox *sb, uint64_t rip, uint64_t clean)
{
	struct vmlet_value a[2] = {vmlet_i32(1), vmlet_i32(2)}, r;
	struct {
		struct vmlet_frame h;
		struct vmlet_rec r;
		uint64_t v;
	} fr;

	fr.h = (struct vmlet_frame){sizeof(fr), (uint32_t)vmlet_sandbox_func(sb, "ret_at"), 0, 1};
	fr.r = (struct vmlet_rec){VMLET_U32, 8};
	fr.v = 99;
	for (uint32_t len = 2; len <= 15; len++) {
		struct vmlet_value args[3] = {vmlet_u64(rip), vmlet_u32(len),
					      vmlet_bytes(&fr, sizeof(fr))};
		int err;

		ASSERT_OK(vmlet_sandbox_call(sb, "ret_at", args, 3, &r));
		EXPECT_EQ(r.u32, 99);
		ASSERT_OK(vmlet_sandbox_restore(sb));
		r.u64 = 0;
		err = vmlet_sandbox_call(sb, "xmm8", NULL, 0, &r);
		if (err || r.u64 != clean)
			ksft_fail_at("out of %u bytes at %#llx: the next call got %s, xmm8 %#llx "
				     "(want %#llx)",
				     len, (unsigned long long)rip, vmlet_strerror(err),
				     (unsigned long long)r.u64, (unsigned long long)clean);
		ASSERT_OK(vmlet_sandbox_restore(sb));
		r.i32 = 0;
		EXPECT_EQ(vmlet_sandbox_call(sb, "add", a, 2, &r), 0);
		EXPECT_EQ(r.i32, 3);
		ASSERT_OK(vmlet_sandbox_restore(sb));
	}
}

TEST(restore_after_a_return_through_an_out_at_the_restored_rip_starts_clean)
{
	static const enum vmlet_restore methods[] = {VMLET_RESTORE_DROP, VMLET_RESTORE_COPY};
	struct vmlet_image *img = test_image(HOSTILE_DIR "/landing.elf");

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = methods[m]};
		struct vmlet_snapshot *snap = NULL;
		struct vmlet_sandbox *sb = NULL;
		struct vmlet_value r;
		uint64_t clean, resume;

		ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
		ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
		ASSERT_OK(vmlet_sandbox_call(sb, "xmm8", NULL, 0, &r));
		clean = r.u64;
		ASSERT_OK(vmlet_sandbox_restore(sb));
		ASSERT_OK(vmlet_sandbox_call(sb, "resume_rip", NULL, 0, &r));
		resume = r.u64;
		ASSERT_NE(resume, 0);
		ASSERT_OK(vmlet_sandbox_restore(sb));
		landing(sb, ENTRY_RIP, clean);
		ASSERT_OK(vmlet_sandbox_count_insns(sb, true));
		landing(sb, resume, clean);
		ASSERT_OK(vmlet_sandbox_count_insns(sb, false));
		vmlet_sandbox_destroy(sb);
		vmlet_snapshot_destroy(snap);
	}
	vmlet_image_close(img);
}

/*
 * vmlet_pool_call() could only return an error code: the release wiped
 * the fault record before the caller could read it. vmlet_pool_call_opts()
 * returns it.
 */
TEST(pool_call_opts_says_why_a_fresh_call_failed)
{
	struct vmlet_image *img = test_image(GUEST("state"));
	struct vmlet_pool *pool = img ? review_pool(img, 1, VMLET_RESTORE_AUTO) : NULL;
	struct vmlet_value arg = vmlet_str("kept"), r;
	struct vmlet_fault f;
	struct vmlet_pool_call_opts o = {.sz = sizeof(o), .fault = &f};
	char buf[64];

	if (!pool)
		return;
	EXPECT_EQ(vmlet_pool_call_opts(pool, "crash", NULL, 0, &r, &o), -VMLET_EEXCEPTION);
	EXPECT_EQ(f.error, -VMLET_EEXCEPTION);
	EXPECT_EQ(f.vector, 14);
	EXPECT_EQ(f.address, 0);
	EXPECT_NE(f.rip, 0);

	EXPECT_EQ(vmlet_pool_call_opts(pool, "die", NULL, 0, NULL, &o), -VMLET_EABORT);
	EXPECT_EQ(f.error, -VMLET_EABORT);
	EXPECT_EQ(f.code, 7);
	EXPECT_STREQ(f.message, "state_guest gives up");

	/* A call that succeeds clears it; a result still needs its buffer. */
	EXPECT_EQ(vmlet_pool_call_opts(pool, "stash", &arg, 1, NULL, &o), 0);
	EXPECT_EQ(f.error, 0);
	EXPECT_EQ(vmlet_pool_call_opts(pool, "peek", NULL, 0, &r, &o), -ENOSPC);
	EXPECT_EQ(f.error, 0);
	o.buf = buf;
	o.size = sizeof(buf);
	ASSERT_OK(vmlet_pool_call_opts(pool, "peek", NULL, 0, &r, &o));
	EXPECT_EQ(r.buf.len, 0); /* a fresh VM: nothing stashed */
	EXPECT_TRUE(r.buf.ptr == buf);

	/* No options at all, options of an older caller, and ones from the future. */
	EXPECT_EQ(vmlet_pool_call_opts(pool, "count", NULL, 0, &r, NULL), 0);
	EXPECT_EQ(r.u64, 1);
	o.sz = sizeof(size_t);
	EXPECT_EQ(vmlet_pool_call_opts(pool, "crash", NULL, 0, NULL, &o), -VMLET_EEXCEPTION);
	o.sz = sizeof(o) + 8;
	EXPECT_EQ(vmlet_pool_call_opts(pool, "count", NULL, 0, NULL, &o), -EINVAL);
	o.sz = sizeof(o);
	EXPECT_EQ(vmlet_pool_call_opts(NULL, "count", NULL, 0, NULL, &o), -EINVAL);
	EXPECT_EQ(f.error, -EINVAL);
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
