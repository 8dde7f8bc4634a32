// SPDX-License-Identifier: BSD-2-Clause
/*
 * Snapshot files (vmlet_snapshot_save(), vmlet_snapshot_load()): a
 * sandbox made from a live snapshot, one made from its file in another
 * process, and one restored give the same results and hold the same
 * bytes; nothing written after the snapshot reaches the next call; chains
 * of snapshots through files; threads making sandboxes from one loaded
 * snapshot; pools; configs that contradict the file; and real saved files
 * broken in the ways the loader must name (the full corpus of broken
 * files is the unit test selftests/unit/snapfmt_test.c, without KVM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vmlet.h>

#include "livesnap_calls.h"
#include "util.h"

#define PAGE 4096

/*
 * Files go to tmpfs: under scripts/vmtest.sh /tmp is the host's over 9p,
 * where a file written with pwritev() and then mapped reads stale pages
 * (the loader's checksum catches it) and an unlinked file cannot be
 * written.
 */
#define TMPDIR "/dev/shm"

static const enum vmlet_restore methods[] = {VMLET_RESTORE_DROP, VMLET_RESTORE_COPY};

static struct vmlet_snapshot *loaded(int fd, enum vmlet_restore m)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .restore = m};
	struct vmlet_snapshot *snap = NULL;
	int err = fd < 0 ? -EBADF : vmlet_snapshot_load(fd, &cfg, &snap);

	if (err)
		ksft_fail_at("vmlet_snapshot_load: %s: %s", vmlet_strerror(err),
			     vmlet_snapshot_load_error());
	return snap;
}

/* FNV-1a of a sandbox's memory: what another process reports of its own. */
static uint64_t hash(const void *p, size_t size)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < size; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* The calls both processes make, and what they report: results and memory. */
struct report {
	uint64_t sum, peek, count, loaded, mem_hash, restored_hash, after_restore;
};

/*
 * Whether two runs of run_calls() gave the same: all but mem_hash, which
 * differs by design (each call gets fresh entropy and the wall clock,
 * abi.h "Call entry"); restored_hash says the memory came back the same.
 */
static bool same_report(const struct report *a, const struct report *b)
{
	return a->sum == b->sum && a->peek == b->peek && a->count == b->count &&
	       a->loaded == b->loaded && a->restored_hash == b->restored_hash &&
	       a->after_restore == b->after_restore;
}

static void run_calls(struct vmlet_sandbox *sb, struct report *r)
{
	size_t size;
	const void *mem = vmlet_sandbox_memory(sb, &size);

	r->sum = call0(sb, "sum");
	r->peek = call0(sb, "peek");
	r->count = call0(sb, "count");
	r->loaded = load(sb, 40, 8, 7);
	r->mem_hash = hash(mem, size);
	r->after_restore = vmlet_sandbox_restore(sb) ? 0 : call0(sb, "count");
	vmlet_sandbox_restore(sb);
	r->restored_hash = hash(mem, size);
}

/* In the child process: load argv's file, make a sandbox, report on stdout. */
static int child(const char *path)
{
	struct vmlet_snapshot *snap;
	struct vmlet_sandbox *sb;
	struct report r = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return 2;
	err = vmlet_snapshot_load(fd, NULL, &snap);
	close(fd);
	if (err) {
		fprintf(stderr, "load: %s: %s\n", vmlet_strerror(err), vmlet_snapshot_load_error());
		return 3;
	}
	err = vmlet_sandbox_create_from(snap, &sb);
	if (err)
		return 4;
	run_calls(sb, &r);
	if (write(1, &r, sizeof(r)) != sizeof(r))
		return 5;
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	return 0;
}

/*
 * A sandbox of the live snapshot, one of its file loaded in another
 * process (fork and exec: nothing shared but the file) and one restored
 * in each make the same calls with the same results and leave the same
 * bytes; the loaded snapshot's memory is the live one's, byte for byte.
 */
TEST(file_in_another_process_gives_same_results_and_bytes)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_snapshot *live = loaded_live(img, methods[m], NULL), *file;
		struct vmlet_sandbox *a, *b;
		struct report ra, rb, rc = {0};
		char path[] = TMPDIR "/vmlet-snapfile.XXXXXX", *argv[4];
		int fd = mkstemp(path), pipefd[2], status;
		size_t size;
		pid_t pid;

		ASSERT_GE(fd, 0);
		ASSERT_OK(vmlet_snapshot_save(live, fd));
		file = loaded(fd, methods[m]);
		if (!file)
			return;
		vmlet_snapshot_memory(live, &size);
		EXPECT_TRUE(same_bytes(vmlet_snapshot_memory(file, NULL),
				       vmlet_snapshot_memory(live, NULL), size));
		EXPECT_EQ(vmlet_snapshot_restore_method(file), methods[m]);
		a = from(live);
		b = from(file);
		if (!a || !b)
			return;
		EXPECT_EQ(vmlet_sandbox_nfuncs(b), vmlet_sandbox_nfuncs(a));
		EXPECT_TRUE(same_bytes(vmlet_sandbox_memory(a, NULL), vmlet_sandbox_memory(b, NULL),
				       size));
		run_calls(a, &ra);
		run_calls(b, &rb);
		EXPECT_EQ(ra.sum, LOADED_SUM);
		EXPECT_EQ(ra.peek, 0x5ec7e7);
		EXPECT_EQ(ra.count, 4);
		EXPECT_EQ(ra.loaded, 8);
		EXPECT_EQ(ra.after_restore, 4);
		EXPECT_EQ(ra.restored_hash, hash(vmlet_snapshot_memory(live, NULL), size));
		EXPECT_TRUE(same_report(&ra, &rb));

		ASSERT_EQ(pipe(pipefd), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			dup2(pipefd[1], 1);
			argv[0] = "snapfile_test";
			argv[1] = "--child";
			argv[2] = path;
			argv[3] = NULL;
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		close(pipefd[1]);
		EXPECT_EQ(read(pipefd[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
		close(pipefd[0]);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		printf("# %s: parent sum %llu hash %#llx, child sum %llu hash %#llx\n",
		       m ? "copy" : "drop", (unsigned long long)ra.sum,
		       (unsigned long long)ra.mem_hash, (unsigned long long)rc.sum,
		       (unsigned long long)rc.mem_hash);
		EXPECT_TRUE(same_report(&ra, &rc));
		unlink(path);
		close(fd);
		vmlet_sandbox_destroy(a);
		vmlet_sandbox_destroy(b);
		vmlet_snapshot_destroy(file);
		vmlet_snapshot_destroy(live);
	}
	vmlet_image_close(img);
}

/*
 * A loaded snapshot's sandbox keeps nothing of its own calls after a
 * restore, and the file is not written: it reads the same afterwards.
 */
TEST(nothing_written_after_the_snapshot_reaches_the_next_call)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_snapshot *live = loaded_live(img, methods[m], NULL), *snap;
		int fd = test_snapshot_saved(live, NULL);
		struct vmlet_sandbox *t;
		struct stat st0, st1;
		const void *view;
		size_t size;
		uint64_t h;

		vmlet_snapshot_destroy(live); /* the file stands alone */
		ASSERT_EQ(fstat(fd, &st0), 0);
		snap = loaded(fd, methods[m]);
		t = from(snap);
		if (!t)
			return;
		view = vmlet_snapshot_memory(snap, &size);
		h = hash(view, size);
		for (int round = 0; round < 3; round++) {
			EXPECT_EQ(call0(t, "peek"), 0x5ec7e7);
			EXPECT_EQ(call0(t, "sum"), LOADED_SUM);
			EXPECT_EQ(call1(t, "stash", 0xbad2), 0);
			EXPECT_EQ(load(t, 20, 100, 99), 100);
			EXPECT_EQ(call0(t, "count"), 4);
			EXPECT_EQ(call0(t, "count"), 5);
			ASSERT_OK(vmlet_sandbox_restore(t));
			EXPECT_TRUE(same_bytes(vmlet_sandbox_memory(t, NULL), view, size));
		}
		EXPECT_EQ(hash(view, size), h);
		ASSERT_EQ(fstat(fd, &st1), 0);
		EXPECT_EQ(st1.st_size, st0.st_size);
		EXPECT_EQ(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
		vmlet_sandbox_destroy(t);
		vmlet_snapshot_destroy(snap);
		close(fd);
	}
	vmlet_image_close(img);
}

/*
 * Zero pages are not stored: the file holds the header and metadata
 * plus exactly the snapshot's pages that are not zero.
 */
TEST(file_stores_only_the_pages_that_are_not_zero)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_COPY, NULL);
	static const uint8_t zero[PAGE];
	uint64_t nonzero = 0;
	const uint8_t *mem;
	struct stat st;
	size_t size;
	int fd = test_snapshot_saved(live, NULL);

	ASSERT_GE(fd, 0);
	mem = vmlet_snapshot_memory(live, &size);
	for (size_t off = 0; off < size; off += PAGE)
		nonzero += memcmp(mem + off, zero, PAGE) != 0;
	ASSERT_EQ(fstat(fd, &st), 0);
	printf("# %llu pages not zero of %zu; file %lld bytes\n", (unsigned long long)nonzero,
	       size / PAGE, (long long)st.st_size);
	/* Metadata: header, CPU state, layout, function table, runs: under 4 pages. */
	EXPECT_GE((uint64_t)st.st_size, nonzero * PAGE + PAGE);
	EXPECT_LT((uint64_t)st.st_size, nonzero * PAGE + 4 * PAGE);
	EXPECT_EQ(st.st_size % PAGE, 0);
	close(fd);
	vmlet_snapshot_destroy(live);
	vmlet_image_close(img);
}

/*
 * Chains through files: a snapshot of a sandbox made from a loaded
 * snapshot is a layer over the file, and it saves and loads in turn.
 */
TEST(chains_of_snapshots_through_files)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));

	for (unsigned int m = 0; img && m < 2; m++) {
		struct vmlet_snapshot *snap = test_snapshot(img, methods[m]);
		int fds[4] = {-1, -1, -1, -1};

		for (unsigned int k = 1; k < 4; k++) {
			struct vmlet_snapshot *file, *layer = NULL;
			struct vmlet_sandbox *sb;

			fds[k] = test_snapshot_saved(snap, NULL);
			vmlet_snapshot_destroy(snap);
			file = loaded(fds[k], methods[m]);
			sb = from(file);
			if (!sb)
				return;
			EXPECT_EQ(call0(sb, "count"), k);
			EXPECT_EQ(load(sb, (k - 1) * 16, 16, 2000), 16);
			ASSERT_OK(vmlet_sandbox_snapshot(sb, &layer));
			printf("# %s layer %u over a file: own memory %llu KiB\n",
			       m ? "copy" : "drop", k,
			       (unsigned long long)vmlet_snapshot_own_size(layer) / 1024);
			EXPECT_LT(vmlet_snapshot_own_size(layer), 24 * PAGE);
			vmlet_sandbox_destroy(sb);
			vmlet_snapshot_destroy(file); /* the layer holds it */
			snap = layer;
		}
		{
			struct vmlet_sandbox *sb = from(snap);
			uint64_t want = 0;

			if (!sb)
				return;
			for (uint64_t i = 0; i < 48; i++)
				want += 2000 + i;
			EXPECT_EQ(call0(sb, "sum"), want + 3);
			ASSERT_OK(vmlet_sandbox_restore(sb));
			EXPECT_EQ(call0(sb, "count"), 4);
			vmlet_sandbox_destroy(sb);
		}
		vmlet_snapshot_destroy(snap);
		for (unsigned int k = 1; k < 4; k++)
			close(fds[k]);
	}
	vmlet_image_close(img);
}

/*
 * A loaded snapshot's sandboxes map its file: saving over that file (the
 * same descriptor, or the same file opened again), from it or from a
 * layer over it, is refused and writes nothing; elsewhere it saves.
 */
TEST(saving_over_the_file_a_snapshot_maps_is_ebusy)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *snap = test_snapshot(img, VMLET_RESTORE_COPY), *file, *layer = NULL;
	int fd = test_snapshot_saved(snap, NULL), again, other;
	struct vmlet_sandbox *sb;
	char path[64];
	off_t size;

	vmlet_snapshot_destroy(snap);
	file = loaded(fd, VMLET_RESTORE_COPY);
	sb = from(file);
	ASSERT_TRUE(sb);
	EXPECT_EQ(call0(sb, "count"), 1);
	ASSERT_OK(vmlet_sandbox_snapshot(sb, &layer));
	size = lseek(fd, 0, SEEK_END);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	again = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_GE(again, 0);
	EXPECT_EQ(vmlet_snapshot_save(file, fd), -EBUSY);
	EXPECT_EQ(vmlet_snapshot_save(file, again), -EBUSY);
	EXPECT_EQ(vmlet_snapshot_save(layer, again), -EBUSY);
	EXPECT_EQ(lseek(fd, 0, SEEK_END), size);
	other = test_tmpfile();
	ASSERT_GE(other, 0);
	EXPECT_EQ(vmlet_snapshot_save(layer, other), 0);
	EXPECT_GE(lseek(other, 0, SEEK_END), 4096);
	/* The file's sandbox goes on as before. */
	ASSERT_OK(vmlet_sandbox_restore(sb));
	EXPECT_EQ(call0(sb, "count"), 1);
	close(other);
	close(again);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(layer);
	vmlet_snapshot_destroy(file);
	close(fd);
	vmlet_image_close(img);
}

struct worker {
	struct vmlet_snapshot *snap;
	uint64_t sum, count;
	int err;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 4; i++) {
		struct vmlet_sandbox *sb;

		w->err = vmlet_sandbox_create_from(w->snap, &sb);
		if (w->err)
			return NULL;
		w->sum = call0(sb, "sum");
		w->count = call0(sb, "count");
		EXPECT_EQ(call1(sb, "stash", (uint64_t)i), 0);
		vmlet_sandbox_destroy(sb);
	}
	return NULL;
}

/* Threads make sandboxes from one loaded snapshot at once. */
TEST(threads_make_sandboxes_from_one_loaded_snapshot)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_COPY, NULL);
	int fd = test_snapshot_saved(live, NULL);
	struct vmlet_snapshot *snap = loaded(fd, VMLET_RESTORE_COPY);
	struct worker w[4];
	pthread_t t[4];

	if (!snap)
		return;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.snap = snap};
		ASSERT_EQ(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(w[i].err, 0);
		EXPECT_EQ(w[i].sum, LOADED_SUM);
		EXPECT_EQ(w[i].count, 4);
	}
	vmlet_snapshot_destroy(snap);
	vmlet_snapshot_destroy(live);
	close(fd);
	vmlet_image_close(img);
}

/* A pool of a loaded snapshot: every call a fresh VM in the snapshot's state. */
TEST(pool_of_a_loaded_snapshot)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_COPY, NULL);
	int fd = test_snapshot_saved(live, NULL);
	struct vmlet_snapshot *snap = loaded(fd, VMLET_RESTORE_COPY);
	struct vmlet_pool_config pcfg = {.sz = sizeof(pcfg), .size = 2};
	struct vmlet_pool *pool;

	if (!snap)
		return;
	vmlet_snapshot_destroy(live);
	ASSERT_OK(vmlet_pool_create_from(snap, &pcfg, &pool));
	for (int i = 0; i < 4; i++) {
		struct vmlet_value r = {0};

		ASSERT_OK(vmlet_pool_call(pool, "count", NULL, 0, &r, NULL, 0));
		EXPECT_EQ(r.u64, 4);
	}
	EXPECT_EQ(vmlet_pool_destroy(pool), 0);
	vmlet_snapshot_destroy(snap);
	close(fd);
	vmlet_image_close(img);
}

static int answer(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *r)
{
	(void)ctx;
	(void)a;
	(void)n;
	r->i64 = 42;
	return 0;
}

/* The host side comes from the load's config: host functions, deadline. */
TEST(host_functions_come_from_the_load_config)
{
	struct vmlet_host_func fn = {
		.name = "answer", .ret = VMLET_I64, .fn = answer, .flags = VMLET_HOST_INLINE};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .host_funcs = &fn, .nhost_funcs = 1};
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_COPY, NULL), *a, *b;
	int fd = test_snapshot_saved(live, NULL);
	struct vmlet_value arg = vmlet_str("answer"), r = {0};
	struct vmlet_sandbox *sa, *sbb;

	ASSERT_GE(fd, 0);
	ASSERT_OK(vmlet_snapshot_load(fd, &cfg, &a));
	ASSERT_OK(vmlet_snapshot_load(fd, NULL, &b));
	EXPECT_STREQ(vmlet_snapshot_load_error(), "");
	sa = from(a);
	sbb = from(b);
	if (!sa || !sbb)
		return;
	ASSERT_OK(vmlet_sandbox_call(sa, "hostcall", &arg, 1, &r));
	EXPECT_EQ(r.i64, 42);
	ASSERT_OK(vmlet_sandbox_call(sbb, "hostcall", &arg, 1, &r));
	EXPECT_EQ(r.i64, -ENOENT);
	vmlet_sandbox_destroy(sa);
	vmlet_sandbox_destroy(sbb);
	vmlet_snapshot_destroy(a);
	vmlet_snapshot_destroy(b);
	vmlet_snapshot_destroy(live);
	close(fd);
	vmlet_image_close(img);
}

/* A config whose sizes or backing contradict the file, or no file at all. */
TEST(configs_that_contradict_the_file_are_einval)
{
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_COPY, NULL);
	struct vmlet_config cfg = {.sz = sizeof(cfg), .mem_size = 8 << 20};
	struct vmlet_snapshot *snap = UNTOUCHED;
	int fd = test_snapshot_saved(live, NULL), p[2];

	ASSERT_GE(fd, 0);
	EXPECT_EQ(vmlet_snapshot_load(fd, &cfg, &snap), -EINVAL);
	EXPECT_STREQ(vmlet_snapshot_load_error(),
		     "config mem_size 0x800000 differs from the file's 0x400000");
	cfg = (struct vmlet_config){.sz = sizeof(cfg), .in_size = 2 * PAGE};
	EXPECT_EQ(vmlet_snapshot_load(fd, &cfg, &snap), -EINVAL);
	EXPECT_STREQ(vmlet_snapshot_load_error(),
		     "config in_size 0x2000 differs from the file's 0x10000");
	cfg = (struct vmlet_config){.sz = sizeof(cfg), .backing = VMLET_BACKING_HUGETLB};
	EXPECT_EQ(vmlet_snapshot_load(fd, &cfg, &snap), -EINVAL);
	EXPECT_STREQ(vmlet_snapshot_load_error(),
		     "config backing hugetlb-2M: a loaded snapshot is the file's pages");
	cfg = (struct vmlet_config){.sz = 3};
	EXPECT_EQ(vmlet_snapshot_load(fd, &cfg, &snap), -EINVAL);
	EXPECT_STREQ(vmlet_snapshot_load_error(), "the config is invalid");
	ASSERT_EQ(pipe(p), 0);
	EXPECT_EQ(vmlet_snapshot_load(p[0], NULL, &snap), -EINVAL);
	EXPECT_STREQ(vmlet_snapshot_load_error(), "not a regular file");
	EXPECT_EQ(vmlet_snapshot_load(-1, NULL, &snap), -EINVAL);
	EXPECT_TRUE(snap == UNTOUCHED);
	EXPECT_EQ(vmlet_snapshot_save(NULL, fd), -EINVAL);
	EXPECT_EQ(vmlet_snapshot_save(live, -1), -EINVAL);
	EXPECT_EQ(vmlet_snapshot_save(live, p[1]), -ESPIPE);
	close(p[0]);
	close(p[1]);
	/* Appending, pwritev() would put the file after what is there: refused, nothing written. */
	p[0] = test_tmpfile();
	ASSERT_GE(p[0], 0);
	ASSERT_EQ(pwrite(p[0], "25 bytes of an older file", 25, 0), 25);
	ASSERT_EQ(fcntl(p[0], F_SETFL, O_APPEND), 0);
	EXPECT_EQ(vmlet_snapshot_save(live, p[0]), -EINVAL);
	EXPECT_EQ(lseek(p[0], 0, SEEK_END), 25);
	close(p[0]);
	close(fd);
	vmlet_snapshot_destroy(live);
	vmlet_image_close(img);
}

/* Copy fd's first len bytes to a new temporary file, with one byte flipped at flip (or none). */
static int copy_of(int fd, size_t len, long flip)
{
	int out = test_tmpfile();
	uint8_t *buf = malloc(len ? len : 1);

	if (out < 0 || !buf || pread(fd, buf, len, 0) != (ssize_t)len)
		return -1;
	if (flip >= 0)
		buf[flip] ^= 0x40;
	if (pwrite(out, buf, len, 0) != (ssize_t)len)
		return -1;
	free(buf);
	return out;
}

struct sect {
	uint32_t type, crc;
	uint64_t off, size;
};

/*
 * A real saved file cut at the end of each section, and one with a byte
 * flipped in each: the load names the section (the unit test has the
 * rest of the corpus), and a truncated file under a live snapshot's
 * sandboxes is not a case: the file must stay (vmlet_snapshot_load(3)).
 */
TEST(truncated_or_corrupted_files_name_the_section)
{
	static const char *const names[] = {"cpu", "layout", "funcs", "runs", "pages"};
	struct vmlet_image *img = test_image(GUEST("livesnap"));
	struct vmlet_snapshot *live = loaded_live(img, VMLET_RESTORE_COPY, NULL), *snap = UNTOUCHED;
	int fd = test_snapshot_saved(live, NULL);
	struct sect s[5];
	char want[256];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(pread(fd, s, sizeof(s), 80), (ssize_t)sizeof(s));
	for (int i = 0; i < 5; i++) {
		int cut = copy_of(fd, s[i].off + s[i].size - 1, -1);
		int bad = copy_of(fd, s[4].off + s[4].size, (long)(s[i].off + s[i].size / 2));

		ASSERT_GE(cut, 0);
		ASSERT_GE(bad, 0);
		EXPECT_EQ(vmlet_snapshot_load(cut, NULL, &snap), -EBADMSG);
		snprintf(want, sizeof(want),
			 "truncated: section %s (%#llx-%#llx) ends past the end of the file (%llu "
			 "bytes)",
			 names[i], (unsigned long long)s[i].off,
			 (unsigned long long)(s[i].off + s[i].size),
			 (unsigned long long)(s[i].off + s[i].size - 1));
		EXPECT_STREQ(vmlet_snapshot_load_error(), want);
		EXPECT_EQ(vmlet_snapshot_load(bad, NULL, &snap), -EBADMSG);
		snprintf(want, sizeof(want), "section %s checksum mismatch", names[i]);
		if (strncmp(vmlet_snapshot_load_error(), want, strlen(want)))
			ksft_fail_at("section %s: \"%s\"", names[i], vmlet_snapshot_load_error());
		close(cut);
		close(bad);
	}
	EXPECT_TRUE(snap == UNTOUCHED);
	close(fd);
	vmlet_snapshot_destroy(live);
	vmlet_image_close(img);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
	return ksft_run();
}
