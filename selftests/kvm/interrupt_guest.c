// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for interrupt_test and kick_test: calls that never end on their
 * own, one that ends after a known number of loop turns, and ones that
 * make a host call first (whose function stops this call, or runs
 * another sandbox, or this one).
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

/* Host call "stop" (the host interrupts this very call from it), then 7. */
static int32_t ask(void)
{
	int err = vmlet_host_call("stop", NULL, 0, NULL);

	return err ? err : 7;
}

/* Host call "stop", then spin: only the host can end it. */
static void ask_spin(void)
{
	vmlet_host_call("stop", NULL, 0, NULL);
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
