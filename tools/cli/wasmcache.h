/* SPDX-License-Identifier: BSD-2-Clause */
/* Compiled Wasm modules, cached (wasmcache.c): `vmlet wasm run` and vmlet-serve. */
#ifndef VMLET_TOOLS_WASMCACHE_H
#define VMLET_TOOLS_WASMCACHE_H

#include <stddef.h>

/* Growable bytes. */
struct buf {
	char *p;
	size_t len, cap;
};

int buf_add(struct buf *b, const void *p, size_t n);
/* All of fd / of the file at path appended to b; 0 or -errno. */
int read_fd(int fd, struct buf *b);
int read_path(const char *path, struct buf *b);
/*
 * The path of the cached image of module (its bytes in mod) in elf,
 * compiled first by vmlet-wasm-cc ($VMLET_WASM_CC, else beside this
 * program, else from PATH) if it is not there. 0 or a negative errno;
 * messages on stderr.
 */
int wasm_cached_image(const char *module, const struct buf *mod, char *elf, size_t len);

#endif /* VMLET_TOOLS_WASMCACHE_H */
