// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for kick_test: a call that never ends, one that ends after a
 * known number of loop turns, and calls that make a host call first
 * (whose host function runs another sandbox, or this one).
 */
#include <stdint.h>
#include <vmlet/guest.h>

static void spin(void)
{
	for (;;)
		__asm__ volatile("");
}

static uint64_t turns(uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		__asm__ volatile("");
	return i;
}

/* Host call "nest", then 7, or the host call's error. */
static int32_t ask(void)
{
	int err = vmlet_host_call("nest", NULL, 0, NULL);

	return err ? err : 7;
}

/* Host call "nest", then spin: only the host can end it. */
static void ask_spin(void)
{
	vmlet_host_call("nest", NULL, 0, NULL);
	spin();
}

int main(void)
{
	VMLET_REGISTER(spin, VMLET_VOID);
	VMLET_REGISTER(turns, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(ask, VMLET_I32);
	VMLET_REGISTER(ask_spin, VMLET_VOID);
	vmlet_ready();
}
