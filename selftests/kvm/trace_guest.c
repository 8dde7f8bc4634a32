// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for trace_test: a function whose name, the guest's to choose,
 * holds a quote, a backslash and a control byte, which vmlet-trace must
 * print escaped.
 */
#include <stdint.h>
#include <vmlet/guest.h>

static uint32_t one(void)
{
	return 1;
}

int main(void)
{
	static const enum vmlet_type none[1];

	vmlet_register("q\"b\\c\x01", (const void *)one, VMLET_U32, 0, none);
	vmlet_ready();
}
