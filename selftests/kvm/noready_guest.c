// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for interrupt_test: it never reaches its ready point. (It names
 * vmlet_ready() all the same: that is what links the runtime in.)
 */
#include <vmlet/guest.h>

static volatile int forever = 1;

int main(void)
{
	while (forever)
		;
	vmlet_ready();
}
