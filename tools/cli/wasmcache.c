// SPDX-License-Identifier: BSD-2-Clause
/*
 * The cache of compiled Wasm modules that `vmlet wasm run` and vmlet-serve
 * share (wasmcache.h): a module is compiled once by vmlet-wasm-cc(1) into
 * a guest image kept in a cache directory ($VMLET_CACHE_DIR, else
 * $XDG_CACHE_HOME/vmlet/wasm, else ~/.cache/vmlet/wasm) under a hash of the
 * module's bytes and of the compiler's identity (its size and mtime); a
 * copy of the module sits beside the image and must match byte for byte,
 * so a hash collision recompiles instead of running the wrong image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wasmcache.h"

extern char **environ;

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int read_fd(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (buf_add(b, chunk, (size_t)n))
			return -ENOMEM;
	}
	return 0;
}

int read_path(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = read_fd(fd, b);
	close(fd);
	return err;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* The compiler: $VMLET_WASM_CC, else vmlet-wasm-cc beside this program, else from PATH. */
static const char *compiler(char *path, size_t len)
{
	const char *env = getenv("VMLET_WASM_CC");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, len - 1);
	if (n > 0) {
		path[n] = '\0';
		slash = strrchr(path, '/');
		if (slash && (size_t)(slash - path) + sizeof("/vmlet-wasm-cc") <= len) {
			strcpy(slash, "/vmlet-wasm-cc");
			if (!access(path, X_OK))
				return path;
		}
	}
	return "vmlet-wasm-cc";
}

static int cache_dir(char *dir, size_t len)
{
	const char *env = getenv("VMLET_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env && *env)
		n = snprintf(dir, len, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(dir, len, "%s/vmlet/wasm", xdg);
	else if (home && *home)
		n = snprintf(dir, len, "%s/.cache/vmlet/wasm", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	/* mkdir -p */
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int run_compiler(const char *cc, const char *in, const char *out)
{
	char *const argv[] = {(char *)cc, (char *)in, "-o", (char *)out, NULL};
	int status, err;
	pid_t pid;

	err = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
	if (err) {
		fprintf(stderr, "vmlet: cannot run %s: %s\n", cc, strerror(err));
		return -err;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EINVAL;
}

static int write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, p, n) != (ssize_t)n)
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/*
 * The cached image of module (its bytes in mod) in elf, compiled first if
 * it is not there. 0 or a negative errno; messages on stderr.
 */
int wasm_cached_image(const char *module, const struct buf *mod, char *elf, size_t len)
{
	char cc_path[4096], dir[4000], copy[4200], tmp[4300], tdir[4100], tmod[4400];
	const char *base = strrchr(module, '/') ? strrchr(module, '/') + 1 : module;
	const char *cc = compiler(cc_path, sizeof(cc_path));
	struct buf old = {0};
	struct stat st;
	uint64_t h = 0xcbf29ce484222325ULL;
	int err;

	err = cache_dir(dir, sizeof(dir));
	if (err) {
		fprintf(stderr, "vmlet: no cache directory: %s\n", strerror(-err));
		return err;
	}
	h = fnv1a(h, mod->p, mod->len);
	if (strchr(cc, '/') && !stat(cc, &st)) {
		h = fnv1a(h, &st.st_size, sizeof(st.st_size));
		h = fnv1a(h, &st.st_mtim, sizeof(st.st_mtim));
	}
	snprintf(elf, len, "%s/%016llx-%zu.elf", dir, (unsigned long long)h, mod->len);
	snprintf(copy, sizeof(copy), "%s/%016llx-%zu.wasm", dir, (unsigned long long)h, mod->len);
	if (!access(elf, R_OK) && !read_path(copy, &old) && old.len == mod->len &&
	    !memcmp(old.p, mod->p, mod->len)) {
		free(old.p);
		return 0;
	}
	free(old.p);
	/*
	 * Compile the bytes the key was made of (module itself may have
	 * changed since, or be a pipe), from a private copy to a private
	 * name, then rename both: a racing run sees all or nothing.
	 */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", elf, (int)getpid());
	/* Under the module's own name, which the compiler's messages give. */
	snprintf(tdir, sizeof(tdir), "%s/.%d.tmp", dir, (int)getpid());
	snprintf(tmod, sizeof(tmod), "%s/%s", tdir, *base ? base : "module.wasm");
	if (mkdir(tdir, 0700) && errno != EEXIST)
		err = -errno;
	else
		err = write_file(tmod, mod->p, mod->len);
	if (err) {
		fprintf(stderr, "vmlet: %s: cannot cache the module: %s\n", module, strerror(-err));
	} else if ((err = run_compiler(cc, tmod, tmp))) {
		fprintf(stderr, "vmlet: %s: cannot compile the module\n", module);
	} else if (rename(tmod, copy) || rename(tmp, elf)) {
		err = -errno;
		fprintf(stderr, "vmlet: %s: cannot cache the image: %s\n", module, strerror(-err));
	}
	if (err) {
		unlink(tmp);
		unlink(tmod);
	}
	rmdir(tdir);
	return err;
}
