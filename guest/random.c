// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet_random(): ChaCha20 keyed with the 16 bytes of host entropy of the
 * current call (the 128-bit key variant, "expand 16-byte k"), nonce 0,
 * the block counter running on (across calls too: a new key needs no
 * new count, and the entry is spared the store). A call never sees a
 * block another call saw unless the host handed both the same key, which
 * getrandom(2) makes as likely as guessing it. Nothing is computed until
 * a guest asks, so calls that draw nothing pay only the entry's stores.
 */
#include <string.h>
#include <vmlet/guest.h>

#include "call.h"

static inline uint32_t rotl(uint32_t v, int n)
{
	return (v << n) | (v >> (32 - n));
}

#define QR(a, b, c, d)                        \
	do {                                  \
		a += b, d = rotl(d ^ a, 16);  \
		c += d, b = rotl(b ^ c, 12);  \
		a += b, d = rotl(d ^ a, 8);   \
		c += d, b = rotl(b ^ c, 7);   \
	} while (0)

static void block(const uint64_t key[2], uint64_t counter, uint32_t out[16])
{
	uint32_t in[16] = {
		0x61707865, 0x3120646e, 0x79622d36, 0x6b206574, /* "expand 16-byte k" */
		(uint32_t)key[0], (uint32_t)(key[0] >> 32), (uint32_t)key[1], (uint32_t)(key[1] >> 32),
		(uint32_t)key[0], (uint32_t)(key[0] >> 32), (uint32_t)key[1], (uint32_t)(key[1] >> 32),
		(uint32_t)counter, (uint32_t)(counter >> 32), 0, 0,
	};
	uint32_t *x = out;

	memcpy(x, in, sizeof(in));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		x[i] += in[i];
}

void vmlet_random(void *buf, size_t len)
{
	struct vmlet_call_state *c = vmlet_call_state;
	const uint64_t *key = c ? c->key : (const uint64_t *)((const struct vmlet_boot *)
							      VMLET_BOOT_ADDR)->random;
	static uint64_t boot_blocks; /* before the ready point: the boot's key */
	uint64_t *blocks = c ? &c->blocks : &boot_blocks;
	uint8_t *p = buf;
	uint32_t x[16];

	while (len) {
		size_t n = len < sizeof(x) ? len : sizeof(x);

		block(key, (*blocks)++, x);
		memcpy(p, x, n);
		p += n;
		len -= n;
	}
	memset(x, 0, sizeof(x));
}
