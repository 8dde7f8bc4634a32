// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-call entropy, drawn from getrandom(2) without a system call on
 * every call: each thread keeps one page of kernel randomness and hands
 * out 16 bytes at a time, so a call pays one getrandom per 255 calls.
 *
 * The page is mapped MADV_WIPEONFORK and keeps its fill count inside
 * itself, so a forked child finds it zeroed and empty and never hands
 * out the bytes its parent did. Bytes are used once and wiped as they
 * go. Where the kernel refuses MADV_WIPEONFORK (before 4.14) there is
 * no page: every call asks getrandom for its 16 bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "entropy.h"

#define POOL_SIZE 4096

struct pool {
	uint64_t left; /* 16-byte draws left, counted down from the end */
	uint64_t words[(POOL_SIZE - 16) / 8];
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool have_key;
static __thread struct pool *pool;
static __thread bool no_pool;

static void pool_free(void *p)
{
	munmap(p, POOL_SIZE);
}

static void key_init(void)
{
	have_key = pthread_key_create(&key, pool_free) == 0;
}

static int fill(void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((char *)buf + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* The thread's page, mapped on first use; NULL: draw straight from the kernel. */
static struct pool *pool_get(void)
{
	void *p;

	if (pool || no_pool)
		return pool;
	pthread_once(&once, key_init);
	p = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!have_key || madvise(p, POOL_SIZE, MADV_WIPEONFORK) || pthread_setspecific(key, p)) {
		munmap(p, POOL_SIZE);
		no_pool = true;
		return NULL;
	}
	pool = p;
	return pool;
}

int vmlet_entropy_get(uint64_t out[2])
{
	struct pool *p = pool_get();
	uint64_t *w;
	int err;

	if (!p)
		return fill(out, 16);
	if (!p->left) {
		err = fill(p->words, sizeof(p->words));
		if (err)
			return err;
		p->left = sizeof(p->words) / 16;
	}
	w = &p->words[--p->left * 2];
	out[0] = w[0];
	out[1] = w[1];
	w[0] = w[1] = 0;
	return 0;
}
