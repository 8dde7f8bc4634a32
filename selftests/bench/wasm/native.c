// SPDX-License-Identifier: BSD-2-Clause
/*
 * The wasm-guest bench's floor: wasm/checksum.wasm through Debian's
 * wasm2c and libwasm-rt-impl.a, run natively in the bench process. Built
 * twice, with M=cg (Debian's default: guard pages and a SIGSEGV handler,
 * no bounds checks in the code) and M=cc (explicit bounds checks, as in
 * vmlet's guests), so their ratio is what the checks cost.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include MODULE_H

#define CAT3(a, b, c)  a##b##c
#define XCAT3(a, b, c) CAT3(a, b, c)
#define INST	       XCAT3(Z_, M, _instance_t)
#define EXPORT(name)   XCAT3(Z_, M, name)

#if WASM_RT_USE_STACK_DEPTH_COUNT
uint32_t wasm_rt_call_stack_depth; /* Debian's library, built for guard pages, has none */
#endif

static INST inst;

int XCAT3(native_, M, _init)(void)
{
	if (!wasm_rt_is_initialized())
		wasm_rt_init();
	XCAT3(Z_, M, _init_module)();
	XCAT3(Z_, M, _instantiate)(&inst);
	return 0;
}

/* What a guest call does: vmlet_alloc, copy the argument in, call. */
uint32_t XCAT3(native_, M, _checksum)(const void *p, size_t n)
{
	wasm_rt_memory_t *mem = EXPORT(Z_memory)(&inst);
	uint32_t a = EXPORT(Z_vmlet_alloc)(&inst, (uint32_t)n);

	if (!a || (uint64_t)a + n > mem->size)
		return 0;
	memcpy(mem->data + a, p, n);
	return EXPORT(Z_bytesZ3Achecksum)(&inst, a, (uint32_t)n);
}
