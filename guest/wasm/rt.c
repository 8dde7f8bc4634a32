// SPDX-License-Identifier: BSD-2-Clause
/*
 * wasm-rt.h for vmlet guests: what code from Debian's wasm2c calls at run
 * time (traps, function types, linear memories, tables, exceptions),
 * written for a guest with no signals and no threads. Debian's
 * libwasm-rt-impl.a is built for glibc and recovers from out-of-bounds
 * accesses with signal handlers; here the generated code checks bounds
 * itself and a trap fails the call (vmlet/wasm.h says why).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet/guest.h>
#include <vmlet/wasm.h>

#define PAGE	  65536ULL
#define MAX_PAGES 65535U /* wasm_rt_memory_t.size is 32 bits */

uint32_t wasm_rt_call_stack_depth;
extern jmp_buf *vmlet_wasi_exit_to; /* wasi.c */
uintptr_t vmlet_wasm_stack_limit;
static bool initialized, serving;

/* Function types: interned, so equal signatures get equal indices. */
struct ftype {
	uint32_t params, results;
	uint8_t *types;
};
static struct ftype *ftypes;
static uint32_t nftypes, capftypes;

/* The exception being thrown (exception handling proposal). */
static uint32_t exc_tag, exc_size, ntags;
static uint8_t exc_data[256];
static WASM_RT_UNWIND_TARGET *unwind_target;

void vmlet_wasm_init(void)
{
	const struct vmlet_boot *boot = (const struct vmlet_boot *)VMLET_BOOT_ADDR;

	vmlet_wasm_stack_limit = boot->stack_lo + VMLET_WASM_STACK_RESERVE;
	wasm_rt_init();
}

void wasm_rt_init(void)
{
	initialized = true;
}

bool wasm_rt_is_initialized(void)
{
	return initialized;
}

void wasm_rt_free(void)
{
	initialized = false;
}

_Noreturn void vmlet_wasm_fail(int code, const char *fmt, ...)
{
	static char msg[200];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "wasm: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	wasm_rt_call_stack_depth = 0;
	vmlet_wasi_exit_to = NULL;
	/* A failed start-up is a failed sandbox creation: say why on the print callback too. */
	if (!serving) {
		vmlet_print(msg, strlen(msg));
		vmlet_print("\n", 1);
	}
	vmlet_fail(code, msg);
}

void vmlet_wasm_import(const char *module, const char *name, enum vmlet_type ret,
		       unsigned int nargs, const enum vmlet_type *args)
{
	int err = vmlet_host_probe(name, ret, args, nargs);

	if (err == -ENOENT)
		vmlet_wasm_fail(err, "import %s.%s: the host has no function of that name", module,
				name);
	if (err == -EINVAL)
		vmlet_wasm_fail(err, "import %s.%s: the host function has other types", module,
				name);
	if (err)
		vmlet_wasm_fail(err, "import %s.%s: %s", module, name, strerror(-err));
}

_Noreturn void vmlet_wasm_ready(void)
{
	serving = true;
	vmlet_ready();
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
	switch (trap) {
	case WASM_RT_TRAP_NONE:
		return "no trap";
	case WASM_RT_TRAP_OOB:
		return "out of bounds memory access";
	case WASM_RT_TRAP_INT_OVERFLOW:
		return "integer overflow";
	case WASM_RT_TRAP_DIV_BY_ZERO:
		return "integer divide by zero";
	case WASM_RT_TRAP_INVALID_CONVERSION:
		return "invalid conversion to integer";
	case WASM_RT_TRAP_UNREACHABLE:
		return "unreachable";
	case WASM_RT_TRAP_CALL_INDIRECT:
		return "indirect call type mismatch";
	case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
		return "uncaught exception";
	case WASM_RT_TRAP_EXHAUSTION:
		return "call stack exhausted";
	}
	return "unknown trap";
}

_Noreturn void wasm_rt_trap(wasm_rt_trap_t trap)
{
	static char msg[64];

	snprintf(msg, sizeof(msg), "wasm trap: %s", wasm_rt_strerror(trap));
	wasm_rt_call_stack_depth = 0;
	unwind_target = NULL;
	vmlet_wasi_exit_to = NULL;
	vmlet_fail((int)trap, msg);
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
	uint32_t n = params + results;
	uint8_t *types;
	va_list ap;

	if (n < params || n > 1024)
		vmlet_wasm_fail(-EINVAL, "function type with %u params and %u results", params,
				results);
	types = malloc(n ? n : 1);
	if (!types)
		vmlet_wasm_fail(-ENOMEM, "no memory for a function type");
	va_start(ap, results);
	for (uint32_t i = 0; i < n; i++)
		types[i] = (uint8_t)va_arg(ap, int);
	va_end(ap);
	for (uint32_t i = 0; i < nftypes; i++) {
		if (ftypes[i].params == params && ftypes[i].results == results &&
		    !memcmp(ftypes[i].types, types, n)) {
			free(types);
			return i;
		}
	}
	if (nftypes == capftypes) {
		uint32_t cap = capftypes ? 2 * capftypes : 16;
		struct ftype *p = realloc(ftypes, cap * sizeof(*p));

		if (!p)
			vmlet_wasm_fail(-ENOMEM, "no memory for function types");
		ftypes = p;
		capftypes = cap;
	}
	ftypes[nftypes] = (struct ftype){params, results, types};
	return nftypes++;
}

uint32_t wasm_rt_register_tag(uint32_t size)
{
	if (size > sizeof(exc_data))
		vmlet_wasm_fail(-E2BIG, "exception tag of %u bytes", size);
	return ntags++;
}

void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values)
{
	if (size > sizeof(exc_data))
		vmlet_wasm_fail(-E2BIG, "exception of %u bytes", size);
	exc_tag = tag;
	exc_size = size;
	if (size)
		memcpy(exc_data, values, size);
}

_Noreturn void wasm_rt_throw(void)
{
	if (!unwind_target)
		wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
	longjmp(*unwind_target, 1);
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void)
{
	return unwind_target;
}

void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target)
{
	unwind_target = target;
}

uint32_t wasm_rt_exception_tag(void)
{
	return exc_tag;
}

uint32_t wasm_rt_exception_size(void)
{
	return exc_size;
}

void *wasm_rt_exception(void)
{
	return exc_data;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max)
{
	if (max > MAX_PAGES)
		max = MAX_PAGES;
	/* calloc: one zeroed allocation, fresh pages from the guest heap. */
	mem->data = initial ? calloc(initial, PAGE) : NULL;
	if (initial > max || (initial && !mem->data))
		vmlet_wasm_fail(-ENOMEM, "cannot allocate %u pages (%llu KiB) of linear memory",
				initial, (unsigned long long)initial * PAGE / 1024);
	mem->pages = initial;
	mem->max_pages = max;
	mem->size = (uint32_t)(initial * PAGE);
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta)
{
	uint32_t old = mem->pages;
	uint64_t pages = (uint64_t)old + delta;
	uint8_t *p;

	if (pages > mem->max_pages)
		return UINT32_MAX;
	if (!delta)
		return old;
	p = realloc(mem->data, pages * PAGE);
	if (!p)
		return UINT32_MAX;
	memset(p + (uint64_t)old * PAGE, 0, (uint64_t)delta * PAGE);
	mem->data = p;
	mem->pages = (uint32_t)pages;
	mem->size = (uint32_t)(pages * PAGE);
	return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem)
{
	free(mem->data);
	mem->data = NULL;
	mem->pages = mem->size = 0;
}

/* Tables: elements zeroed (null references) and grown with init. */
static void *table_alloc(uint32_t n, size_t elem, uint32_t max)
{
	void *p = n ? calloc(n, elem) : NULL;

	if (n > max || (n && !p))
		vmlet_wasm_fail(-ENOMEM, "cannot allocate a table of %u elements", n);
	return p;
}

static int table_grow(void **data, uint32_t *size, uint32_t max, uint32_t delta, size_t elem)
{
	uint64_t n = (uint64_t)*size + delta;
	void *p;

	if (n > max || n * elem > UINT32_MAX)
		return -1;
	p = realloc(*data, n ? n * elem : 1);
	if (!p)
		return -1;
	*data = p;
	return 0;
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max)
{
	t->data = table_alloc(n, sizeof(*t->data), max);
	t->size = n;
	t->max_size = max;
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t)
{
	free(t->data);
	t->data = NULL;
	t->size = 0;
}

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta,
				    wasm_rt_funcref_t init)
{
	uint32_t old = t->size;

	if (table_grow((void **)&t->data, &t->size, t->max_size, delta, sizeof(*t->data)))
		return UINT32_MAX;
	for (uint32_t i = old; i < old + delta; i++)
		t->data[i] = init;
	t->size = old + delta;
	return old;
}

void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t n, uint32_t max)
{
	t->data = table_alloc(n, sizeof(*t->data), max);
	t->size = n;
	t->max_size = max;
}

void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t)
{
	free(t->data);
	t->data = NULL;
	t->size = 0;
}

uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t delta,
				      wasm_rt_externref_t init)
{
	uint32_t old = t->size;

	if (table_grow((void **)&t->data, &t->size, t->max_size, delta, sizeof(*t->data)))
		return UINT32_MAX;
	for (uint32_t i = old; i < old + delta; i++)
		t->data[i] = init;
	t->size = old + delta;
	return old;
}

uint32_t vmlet_wasm_put(wasm_rt_memory_t *mem, uint32_t (*alloc)(void *, uint32_t), void *inst,
			const void *src, size_t len)
{
	uint32_t addr;

	if (len > UINT32_MAX)
		vmlet_wasm_fail(-E2BIG, "argument of %zu bytes", len);
	addr = alloc(inst, (uint32_t)len);
	if (!addr || (uint64_t)addr + len > mem->size)
		vmlet_wasm_fail(-ENOMEM, "vmlet_alloc(%zu) returned %#x", len, addr);
	if (len)
		memcpy(mem->data + addr, src, len);
	return addr;
}

const void *vmlet_wasm_get(wasm_rt_memory_t *mem, uint64_t packed, size_t *len)
{
	uint32_t addr = (uint32_t)packed, n = (uint32_t)(packed >> 32);

	if ((uint64_t)addr + n > mem->size)
		vmlet_wasm_fail(-EFAULT, "result at %#x, %u bytes, is outside memory", addr, n);
	*len = n;
	return mem->data + addr;
}
