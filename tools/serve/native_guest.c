// SPDX-License-Identifier: BSD-2-Clause
/*
 * The guest API (guest/include/vmlet/guest.h) on the host, for
 * vmlet-serve's native lifecycle. A guest's C source compiled for the
 * host with -Dmain=vmlet_native_main and linked with this file and
 * guest/invoke.S into a shared object registers the same functions as in
 * its VM; vmlet-serve loads it (native.c) and calls them in-process with
 * the same argument passing (vmlet_invoke), so "native" is the very code
 * the VM runs, minus the VM.
 *
 * What differs from a VM, on purpose: no isolation (a crash takes the
 * server down), no deadline (native code cannot be stopped), no host
 * calls (vmlet_host_call() fails with -ENOENT), and only vmlet_print()
 * output is captured (printf() goes to the server's stdout). State is
 * shared by all threads, as a reuse sandbox's is by its calls. It is a
 * baseline for measurements, not a way to serve untrusted code.
 */
#include <errno.h>
#include <setjmp.h>
#include <string.h>
#include <vmlet/guest.h>

#include "native.h"

#define EXPORT		__attribute__((visibility("default")))
#define INVOKE_SSE_ARGS 1
#define INVOKE_SSE_RET	2
#define RESULT_BUF	(64 * 1024)

struct invoke_ret {
	uint64_t rax, rdx, xmm0, xmm0_hi;
};
/* guest/invoke.S */
extern void vmlet_invoke(const void *fn, const uint64_t *regs, struct invoke_ret *ret,
			 unsigned int flags);
/* The guest's main(), renamed at compile time. */
extern int vmlet_native_main(void);

struct nfn {
	const void *fn;
	unsigned int flags;
	struct vmlet_func sig;
};

static struct nfn fns[VMLET_MAX_FUNCS];
static unsigned int nfns;
static jmp_buf start_jb;
static int start_err;

struct call {
	jmp_buf jb;
	struct vmlet_fault *fault;
	void (*print)(void *ctx, const char *buf, size_t len);
	void *ctx;
};
static __thread struct call *cur;
static __thread char result_buf[RESULT_BUF];

_Noreturn void vmlet_abort(int code, const char *msg)
{
	if (!cur) {
		start_err = -VMLET_EABORT;
		longjmp(start_jb, 1);
	}
	cur->fault->error = -VMLET_EABORT;
	cur->fault->code = code;
	strncpy(cur->fault->message, msg, sizeof(cur->fault->message) - 1);
	longjmp(cur->jb, 1);
}

void vmlet_print(const char *buf, size_t len)
{
	if (cur && cur->print)
		cur->print(cur->ctx, buf, len);
}

void vmlet_register(const char *name, const void *fn, enum vmlet_type ret, unsigned int nargs,
		    const enum vmlet_type *args)
{
	unsigned int ints = 0, sses = 0;
	struct nfn *f = &fns[nfns];

	if (!name || !*name || strlen(name) > VMLET_MAX_NAME || !fn || nfns == VMLET_MAX_FUNCS ||
	    nargs > VMLET_MAX_ARGS || (unsigned int)ret >= VMLET_NTYPES)
		vmlet_abort(-EINVAL, "vmlet_register: bad registration");
	for (unsigned int i = 0; i < nargs; i++) {
		if (args[i] == VMLET_VOID || (unsigned int)args[i] >= VMLET_NTYPES)
			vmlet_abort(-EINVAL, "vmlet_register: bad argument type");
		if (args[i] == VMLET_F32 || args[i] == VMLET_F64) {
			sses++;
			f->flags |= INVOKE_SSE_ARGS;
		} else {
			ints += args[i] == VMLET_BYTES ? 2 : 1;
		}
		f->sig.args[i] = args[i];
	}
	if (ints > VMLET_MAX_INT_REGS || sses > VMLET_MAX_SSE_REGS)
		vmlet_abort(-EINVAL, "vmlet_register: arguments do not fit in registers");
	if (ret == VMLET_F32 || ret == VMLET_F64)
		f->flags |= INVOKE_SSE_RET;
	f->fn = fn;
	f->sig.name = name;
	f->sig.ret = ret;
	f->sig.nargs = nargs;
	nfns++;
}

_Noreturn void vmlet_ready(void)
{
	longjmp(start_jb, 1);
}

void *vmlet_result_buf(size_t *cap)
{
	*cap = sizeof(result_buf);
	return result_buf;
}

int vmlet_host_call(const char *name, const struct vmlet_value *args, unsigned int nargs,
		    struct vmlet_value *ret)
{
	(void)name, (void)args, (void)nargs, (void)ret;
	return -ENOENT;
}

EXPORT int vmlet_native_start(void)
{
	if (setjmp(start_jb) == 0) {
		vmlet_native_main();
		return -VMLET_EEXIT; /* main() returned without vmlet_ready() */
	}
	return start_err ? start_err : (int)nfns;
}

EXPORT int vmlet_native_func_at(unsigned int i, struct vmlet_func *f)
{
	if (i >= nfns)
		return -ENOENT;
	*f = fns[i].sig;
	return 0;
}

EXPORT int vmlet_native_call(unsigned int i, const struct vmlet_value *args, unsigned int nargs,
			     struct vmlet_value *ret, struct vmlet_fault *fault,
			     void (*print)(void *ctx, const char *buf, size_t len), void *ctx)
{
	uint64_t regs[VMLET_MAX_INT_REGS + VMLET_MAX_SSE_REGS + 1] = {0};
	uint64_t *sse = regs + VMLET_MAX_INT_REGS;
	unsigned int ni = 0, ns = 0;
	struct call c = {.fault = fault, .print = print, .ctx = ctx};
	struct invoke_ret r;
	const struct nfn *f;

	if (i >= nfns || nargs != fns[i].sig.nargs)
		return -EINVAL;
	f = &fns[i];
	for (unsigned int a = 0; a < nargs; a++) {
		if (args[a].type != f->sig.args[a])
			return -EINVAL;
		switch (args[a].type) {
		case VMLET_F32:
		case VMLET_F64:
			sse[ns++] = vmlet_scalar_bits(&args[a]);
			break;
		case VMLET_STRING:
			regs[ni++] = (uint64_t)args[a].buf.ptr;
			break;
		case VMLET_BYTES:
			regs[ni++] = (uint64_t)args[a].buf.ptr;
			regs[ni++] = args[a].buf.len;
			break;
		default:
			regs[ni++] = vmlet_scalar_bits(&args[a]);
		}
	}
	cur = &c;
	if (setjmp(c.jb)) {
		cur = NULL;
		return fault->error;
	}
	vmlet_invoke(f->fn, regs, &r, f->flags);
	cur = NULL;
	ret->type = f->sig.ret;
	switch (f->sig.ret) {
	case VMLET_VOID:
		break;
	case VMLET_STRING:
		ret->buf.ptr = (const void *)r.rax;
		ret->buf.len = r.rax ? strlen((const char *)r.rax) : 0;
		break;
	case VMLET_BYTES:
		ret->buf.ptr = (const void *)r.rax;
		ret->buf.len = r.rdx;
		break;
	case VMLET_BOOL:
		ret->b = (uint8_t)r.rax != 0;
		break;
	case VMLET_I32:
	case VMLET_U32:
		ret->u32 = (uint32_t)r.rax;
		break;
	case VMLET_F32:
		memcpy(&ret->f32, &r.xmm0, sizeof(float));
		break;
	case VMLET_F64:
		memcpy(&ret->f64, &r.xmm0, sizeof(double));
		break;
	default:
		ret->u64 = r.rax;
	}
	return 0;
}
