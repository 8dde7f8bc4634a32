// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for entropy_test: what a call draws from vmlet_random(), what it
 * finds in AT_RANDOM and its stack canary, and its wall clock.
 */
#include <stdint.h>
#include <sys/auxv.h>
#include <time.h>
#include <vmlet/guest.h>

static uint64_t draw(void)
{
	uint64_t v;

	vmlet_random(&v, sizeof(v));
	return v;
}

/* 64 bytes in two draws of 32: the second must not repeat the first. */
static struct vmlet_bytes draw_twice(void)
{
	static uint8_t buf[64];

	vmlet_random(buf, 32);
	vmlet_random(buf + 32, 32);
	return (struct vmlet_bytes){buf, sizeof(buf)};
}

static uint64_t at_random(void)
{
	const uint64_t *p = (const uint64_t *)getauxval(AT_RANDOM);

	return p ? p[0] ^ p[1] : 0;
}

static uint64_t canary(void)
{
	uint64_t v;

	__asm__ volatile("mov %%fs:0x28, %0" : "=r"(v));
	return v;
}

static int64_t realtime(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t unixtime(void)
{
	return (int64_t)time(NULL);
}

int main(void)
{
	VMLET_REGISTER(draw, VMLET_U64);
	VMLET_REGISTER(draw_twice, VMLET_BYTES);
	VMLET_REGISTER(at_random, VMLET_U64);
	VMLET_REGISTER(canary, VMLET_U64);
	VMLET_REGISTER(realtime, VMLET_I64);
	VMLET_REGISTER(unixtime, VMLET_I64);
	vmlet_ready();
}
