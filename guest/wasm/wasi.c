// SPDX-License-Identifier: BSD-2-Clause
/*
 * WASI preview 1 for Wasm guests: the subset that programs built with
 * wasi-libc use, over what a vmlet guest has.
 *
 *   args, environ        per call: _start's argv and environ arguments
 *   fd 0                 per call: _start's stdin argument
 *   fd 1, 2              the host's print callback (print limit applies)
 *   fd 3                 a preopened directory "/": path_open finds a
 *                        file the host granted with that path, or opens
 *                        one beneath a directory it granted (with
 *                        O_CREAT, O_EXCL, O_TRUNC; reading and writing as
 *                        the rights ask), through open(2) in the guest
 *                        (vmlet_sandbox_grant_fd), as fd 4 and up
 *   fd_seek              SET, CUR and END (the size from fstat) on
 *                        opened files; fd_filestat_get: type and size
 *   clock_time_get       REALTIME: the host's wall clock (given at each
 *                        call's entry, then the TSC); the others: the
 *                        guest's monotonic TSC clock
 *   random_get           vmlet_random(): fresh host entropy every call
 *   proc_exit            ends _start with that status
 * Everything else is ENOSYS: the ones this file does not define are
 * written by vmlet-wasm-cc's glue, so any import of the module links.
 * Every address from the module is checked against its memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vmlet/guest.h>
#include <vmlet/wasm.h>

#define W struct Z_wasi_snapshot_preview1_instance_t

/* WASI errno values. */
enum {
	WE_SUCCESS = 0,
	WE_2BIG = 1,
	WE_ACCES = 2,
	WE_AGAIN = 6,
	WE_BADF = 8,
	WE_EXIST = 20,
	WE_FAULT = 21,
	WE_INVAL = 28,
	WE_IO = 29,
	WE_ISDIR = 31,
	WE_MFILE = 41,
	WE_NOENT = 44,
	WE_NOMEM = 48,
	WE_NOSYS = 52,
	WE_NOTDIR = 54,
	WE_NOTSUP = 58,
	WE_PERM = 63,
	WE_SPIPE = 70,
};

enum { FT_CHAR = 2, FT_DIR = 3, FT_FILE = 4 };

#define RIGHT_READ  (1ULL << 1)
#define RIGHT_SEEK  (1ULL << 2)
#define RIGHT_TELL  (1ULL << 5)
#define RIGHT_WRITE (1ULL << 6)

/* path_open's oflags. */
#define OF_CREAT     1
#define OF_DIRECTORY 2
#define OF_EXCL	     4
#define OF_TRUNC     8
#define PREOPEN	   3
#define FIRST_FILE 4
#define NFILES	   16

struct Z_wasi_snapshot_preview1_instance_t vmlet_wasi;

/* This call's argv, environ and stdin (in the read-only input buffer). */
static const uint8_t *argv_p, *env_p, *stdin_p;
static size_t argv_n, env_n, stdin_n, stdin_off;
/* _start's way out for proc_exit; a trap clears it (rt.c). */
jmp_buf *vmlet_wasi_exit_to;
static int32_t exit_status;

static struct file {
	int fd; /* the guest descriptor; 0: free */
	uint64_t off;
} files[NFILES];

static uint8_t *at(W *w, uint32_t addr, uint64_t len)
{
	wasm_rt_memory_t *m = w->memory;

	if (!m || (uint64_t)addr + len > m->size)
		return NULL;
	return m->data + addr;
}

static int put32(W *w, uint32_t addr, uint32_t v)
{
	uint8_t *p = at(w, addr, 4);

	if (!p)
		return -1;
	memcpy(p, &v, 4);
	return 0;
}

static int put64(W *w, uint32_t addr, uint64_t v)
{
	uint8_t *p = at(w, addr, 8);

	if (!p)
		return -1;
	memcpy(p, &v, 8);
	return 0;
}

static uint32_t werr(int err)
{
	switch (err) {
	case EBADF:
		return WE_BADF;
	case ENOENT:
		return WE_NOENT;
	case EACCES:
		return WE_ACCES;
	case EPERM:
		return WE_PERM;
	case EEXIST:
		return WE_EXIST;
	case EISDIR:
		return WE_ISDIR;
	case EMFILE:
		return WE_MFILE;
	case EFAULT:
		return WE_FAULT;
	case EINVAL:
		return WE_INVAL;
	case ESPIPE:
		return WE_SPIPE;
	case ENOMEM:
		return WE_NOMEM;
	case EAGAIN:
		return WE_AGAIN;
	case E2BIG:
		return WE_2BIG;
	case ENOSYS:
		return WE_NOSYS;
	}
	return WE_IO;
}

static struct file *file(uint32_t fd)
{
	if (fd < FIRST_FILE || fd >= FIRST_FILE + NFILES || !files[fd - FIRST_FILE].fd)
		return NULL;
	return &files[fd - FIRST_FILE];
}

/* A list of NUL-terminated strings; a last one without its NUL counts too. */
static void list_sizes(const uint8_t *p, size_t n, uint32_t *count, uint32_t *size)
{
	uint32_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\0';
	if (n && p[n - 1] != '\0') {
		c++;
		n++;
	}
	*count = c;
	*size = (uint32_t)n;
}

static uint32_t list_get(W *w, const uint8_t *p, size_t n, uint32_t ptrs, uint32_t buf)
{
	uint32_t count, size, start = 0, k = 0;
	uint8_t *dst;

	list_sizes(p, n, &count, &size);
	dst = at(w, buf, size);
	if (!dst || !at(w, ptrs, (uint64_t)count * 4))
		return WE_FAULT;
	if (n)
		memcpy(dst, p, n);
	if (size > n)
		dst[n] = '\0';
	for (uint32_t i = 0; i < size; i++) {
		if (dst[i] == '\0') {
			put32(w, ptrs + 4 * k++, buf + start);
			start = i + 1;
		}
	}
	return WE_SUCCESS;
}

static uint32_t sizes(W *w, const uint8_t *p, size_t n, uint32_t count_p, uint32_t size_p)
{
	uint32_t count, size;

	list_sizes(p, n, &count, &size);
	if (put32(w, count_p, count) || put32(w, size_p, size))
		return WE_FAULT;
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_args_sizes_get(W *w, uint32_t count, uint32_t size)
{
	return sizes(w, argv_p, argv_n, count, size);
}

uint32_t Z_wasi_snapshot_preview1Z_args_get(W *w, uint32_t ptrs, uint32_t buf)
{
	return list_get(w, argv_p, argv_n, ptrs, buf);
}

uint32_t Z_wasi_snapshot_preview1Z_environ_sizes_get(W *w, uint32_t count, uint32_t size)
{
	return sizes(w, env_p, env_n, count, size);
}

uint32_t Z_wasi_snapshot_preview1Z_environ_get(W *w, uint32_t ptrs, uint32_t buf)
{
	return list_get(w, env_p, env_n, ptrs, buf);
}

/* One buffer of fd_read or fd_write: bytes moved, or -errno. */
static long rw(uint32_t fd, uint8_t *p, uint32_t len, bool wr)
{
	struct file *f;
	long n;

	if (fd == 0 && !wr) {
		n = (long)(stdin_n - stdin_off < len ? stdin_n - stdin_off : len);
		memcpy(p, stdin_p + stdin_off, (size_t)n);
		stdin_off += (size_t)n;
		return n;
	}
	if ((fd == 1 || fd == 2) && wr) {
		vmlet_print((const char *)p, len);
		return len;
	}
	f = file(fd);
	if (!f)
		return fd == PREOPEN ? -EISDIR : -EBADF;
	n = wr ? pwrite(f->fd, p, len, (off_t)f->off) : pread(f->fd, p, len, (off_t)f->off);
	if (n < 0 && errno == ESPIPE)
		n = wr ? write(f->fd, p, len) : read(f->fd, p, len);
	else if (n > 0)
		f->off += (uint64_t)n;
	return n < 0 ? -errno : n;
}

static uint32_t rwv(W *w, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t done_p, bool wr)
{
	uint64_t total = 0;

	if (!at(w, iovs, (uint64_t)n * 8) || !at(w, done_p, 4))
		return WE_FAULT;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t buf, len;
		uint8_t *p;
		long r;

		memcpy(&buf, at(w, iovs + 8 * i, 4), 4);
		memcpy(&len, at(w, iovs + 8 * i + 4, 4), 4);
		p = at(w, buf, len);
		if (!p)
			return WE_FAULT;
		if (!len)
			continue;
		r = rw(fd, p, len, wr);
		if (r < 0) {
			if (total)
				break;
			return r == -EISDIR ? WE_ISDIR : werr((int)-r);
		}
		total += (uint64_t)r;
		if ((uint32_t)r < len)
			break;
	}
	put32(w, done_p, (uint32_t)total);
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_fd_write(W *w, uint32_t fd, uint32_t iovs, uint32_t n,
					    uint32_t done)
{
	return rwv(w, fd, iovs, n, done, true);
}

uint32_t Z_wasi_snapshot_preview1Z_fd_read(W *w, uint32_t fd, uint32_t iovs, uint32_t n,
					   uint32_t done)
{
	return rwv(w, fd, iovs, n, done, false);
}

uint32_t Z_wasi_snapshot_preview1Z_fd_close(W *w, uint32_t fd)
{
	struct file *f = file(fd);

	(void)w;
	if (fd <= PREOPEN)
		return WE_SUCCESS;
	if (!f)
		return WE_BADF;
	/* A file it opened is closed; a grant of the embedder's stays. */
	close(f->fd);
	f->fd = 0;
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_fd_seek(W *w, uint32_t fd, uint64_t off, uint32_t whence,
					   uint32_t new_p)
{
	struct file *f = file(fd);
	struct stat st;
	uint64_t pos;

	if (!f)
		return fd <= PREOPEN ? WE_SPIPE : WE_BADF;
	switch (whence) {
	case 0: /* SET */
		pos = off;
		break;
	case 1: /* CUR */
		pos = f->off + off;
		break;
	case 2: /* END */
		if (fstat(f->fd, &st))
			return werr(errno);
		pos = (uint64_t)st.st_size + off;
		break;
	default:
		return WE_INVAL;
	}
	if ((int64_t)pos < 0)
		return WE_INVAL;
	if (put64(w, new_p, pos))
		return WE_FAULT;
	f->off = pos;
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_fd_fdstat_get(W *w, uint32_t fd, uint32_t st)
{
	uint8_t *p = at(w, st, 24);
	uint64_t rights = ~0ULL;
	uint8_t type;

	if (!p)
		return WE_FAULT;
	if (fd <= 2) {
		type = FT_CHAR;
		rights &= ~(RIGHT_SEEK | RIGHT_TELL);
	} else if (fd == PREOPEN) {
		type = FT_DIR;
	} else if (file(fd)) {
		type = FT_FILE;
	} else {
		return WE_BADF;
	}
	memset(p, 0, 24);
	p[0] = type;
	memcpy(p + 8, &rights, 8);
	memcpy(p + 16, &rights, 8);
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_fd_filestat_get(W *w, uint32_t fd, uint32_t st_p)
{
	uint8_t *p = at(w, st_p, 64);
	struct file *f = file(fd);
	struct stat st;

	if (!p)
		return WE_FAULT;
	memset(p, 0, 64);
	if (fd <= 2 || fd == PREOPEN) {
		p[16] = fd == PREOPEN ? FT_DIR : FT_CHAR;
		return WE_SUCCESS;
	}
	if (!f)
		return WE_BADF;
	if (fstat(f->fd, &st))
		return werr(errno);
	p[16] = FT_FILE;
	put64(w, st_p + 24, 1); /* nlink */
	put64(w, st_p + 32, (uint64_t)st.st_size);
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_fd_prestat_get(W *w, uint32_t fd, uint32_t st)
{
	uint8_t *p = at(w, st, 8);
	uint32_t len = 1;

	if (fd != PREOPEN)
		return WE_BADF;
	if (!p)
		return WE_FAULT;
	memset(p, 0, 8); /* tag 0: a directory */
	memcpy(p + 4, &len, 4);
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(W *w, uint32_t fd, uint32_t path,
						       uint32_t len)
{
	uint8_t *p = at(w, path, len);

	if (fd != PREOPEN)
		return WE_BADF;
	if (!p)
		return WE_FAULT;
	if (len < 1)
		return WE_INVAL;
	p[0] = '/';
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_path_open(W *w, uint32_t dirfd, uint32_t dirflags,
					     uint32_t path, uint32_t len, uint32_t oflags,
					     uint64_t rights, uint64_t inheriting, uint32_t fdflags,
					     uint32_t fd_p)
{
	const uint8_t *src = at(w, path, len);
	char name[4098];
	struct file *f = NULL;
	size_t n = 0;
	int fd, flags;

	(void)dirflags, (void)inheriting, (void)fdflags;
	if (dirfd != PREOPEN)
		return file(dirfd) ? WE_NOTDIR : WE_BADF;
	if (!src || !at(w, fd_p, 4))
		return WE_FAULT;
	if (len > sizeof(name) - 2 || memchr(src, '\0', len))
		return WE_INVAL;
	if (oflags & OF_DIRECTORY) /* only the preopen is one */
		return WE_NOTDIR;
	if (!(rights & RIGHT_WRITE))
		flags = O_RDONLY;
	else
		flags = rights & RIGHT_READ ? O_RDWR : O_WRONLY;
	flags |= (oflags & OF_CREAT ? O_CREAT : 0) | (oflags & OF_EXCL ? O_EXCL : 0) |
		 (oflags & OF_TRUNC ? O_TRUNC : 0);
	for (unsigned int i = 0; i < NFILES && !f; i++)
		if (!files[i].fd)
			f = &files[i];
	if (!f)
		return WE_NOMEM;
	if (src[0] != '/')
		name[n++] = '/';
	memcpy(name + n, src, len);
	name[n + len] = '\0';
	fd = open(name, flags, 0644);
	if (fd < 0)
		return werr(errno);
	f->fd = fd;
	f->off = 0;
	put32(w, fd_p, (uint32_t)(FIRST_FILE + (f - files)));
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_clock_time_get(W *w, uint32_t id, uint64_t precision,
						  uint32_t time_p)
{
	struct timespec ts;

	(void)precision;
	if (id > 3)
		return WE_INVAL;
	if (clock_gettime(id == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts))
		return werr(errno);
	if (put64(w, time_p, (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec))
		return WE_FAULT;
	return WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_clock_res_get(W *w, uint32_t id, uint32_t res_p)
{
	if (id > 3)
		return WE_INVAL;
	return put64(w, res_p, 1) ? WE_FAULT : WE_SUCCESS;
}

uint32_t Z_wasi_snapshot_preview1Z_random_get(W *w, uint32_t buf, uint32_t len)
{
	uint8_t *p = at(w, buf, len);

	if (!p)
		return WE_FAULT;
	vmlet_random(p, len);
	return WE_SUCCESS;
}

void Z_wasi_snapshot_preview1Z_proc_exit(W *w, uint32_t code)
{
	(void)w;
	if (!vmlet_wasi_exit_to)
		vmlet_wasm_fail((int)code, "proc_exit(%d) outside _start", (int)code);
	exit_status = (int32_t)code;
	longjmp(*vmlet_wasi_exit_to, 1);
}

int32_t vmlet_wasi_start(void (*start)(void *), void *inst, const void *argv, size_t argv_len,
			 const void *env, size_t env_len, const void *in, size_t in_len)
{
	jmp_buf jb;

	argv_p = argv;
	argv_n = argv_len;
	env_p = env;
	env_n = env_len;
	stdin_p = in;
	stdin_n = in_len;
	stdin_off = 0;
	memset(files, 0, sizeof(files));
	exit_status = 0;
	if (!setjmp(jb)) {
		vmlet_wasi_exit_to = &jb;
		start(inst);
	}
	vmlet_wasi_exit_to = NULL;
	return exit_status;
}
