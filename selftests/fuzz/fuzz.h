/* SPDX-License-Identifier: BSD-2-Clause */
/* What the libFuzzer harnesses share: a check that crashes, so the fuzzer keeps the input. */
#ifndef VMLET_FUZZ_H
#define VMLET_FUZZ_H

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#endif /* VMLET_FUZZ_H */
