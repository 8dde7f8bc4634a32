// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest runtime: function registry, ready point and the call dispatcher.
 *
 * The host resolves names to indices once, so a call frame names its
 * function by index. The dispatcher checks the frame's bounds and types
 * against the registered signature, loads the arguments into an array in
 * System V register order, and vmlet_invoke (entry.S) moves them into
 * registers and calls the function. Every guest instruction costs on a host
 * where KVM emulates the guest, so this path is kept short: no libc calls
 * for scalar results, no copies of string or bytes arguments (they are
 * passed in place in the read-only input buffer).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>
#include <vmlet/guest.h>

#include "call.h"
#include "hypercall.h"

struct fn {
	const void *fn;
	uint8_t ret;
	uint8_t nargs;
	uint8_t flags; /* VMLET_INVOKE_* */
	uint8_t args[VMLET_MAX_ARGS];
};

static struct fn fns[VMLET_MAX_FUNCS];
static const char *names[VMLET_MAX_FUNCS];
static unsigned int nfns;
static const struct vmlet_frame *in;
static struct vmlet_frame *out;
static uint64_t in_size, out_size;
/* Where vmlet_fail() goes back to: set once at the ready point, so no call pays for it. */
static jmp_buf serving;
static bool ready;

/* Registers for vmlet_invoke: six integer, then eight SSE (entry.S). */
#define NREGS (VMLET_MAX_INT_REGS + VMLET_MAX_SSE_REGS + 1) /* +1: 16-byte loads */
struct invoke_ret {
	uint64_t rax, rdx, xmm0, xmm0_hi; /* entry.S stores all of xmm0 */
};
#define VMLET_INVOKE_SSE_ARGS 1
#define VMLET_INVOKE_SSE_RET 2
extern void vmlet_invoke(const void *fn, const uint64_t *regs, struct invoke_ret *ret,
			 unsigned int flags);
extern char vmlet_syscall_entry[];

/* Found by the host loader through PT_NOTE; see struct vmlet_note. */
static const struct {
	uint32_t namesz, descsz, type;
	char name[8];
	struct vmlet_note desc;
} __attribute__((packed)) note __attribute__((used, aligned(4), section(".note.vmlet"))) = {
	.namesz = sizeof(VMLET_NOTE_NAME),
	.descsz = sizeof(struct vmlet_note),
	.type = VMLET_NOTE_TYPE,
	.name = VMLET_NOTE_NAME,
	.desc = {
		.abi_version = VMLET_ABI_VERSION,
		.syscall_entry = (uint64_t)vmlet_syscall_entry,
	},
};

_Noreturn void vmlet_abort(int code, const char *msg)
{
	vmlet_hypercall(VMLET_PORT_ABORT, (uint64_t)code, (uint64_t)msg, strlen(msg));
	for (;;)
		__asm__ volatile("hlt");
}

void vmlet_print(const char *buf, size_t len)
{
	vmlet_hypercall(VMLET_PORT_PRINT, (uint64_t)buf, len, 0);
}

static _Noreturn void bad_register(const char *name, const char *why)
{
	static char msg[160];
	size_t n = 0;

	for (const char *p = "vmlet_register: "; *p && n < sizeof(msg) - 1; p++)
		msg[n++] = *p;
	for (const char *p = name ? name : "(null)"; *p && n < sizeof(msg) - 1; p++)
		msg[n++] = *p;
	for (const char *p = ": "; *p && n < sizeof(msg) - 1; p++)
		msg[n++] = *p;
	for (const char *p = why; *p && n < sizeof(msg) - 1; p++)
		msg[n++] = *p;
	msg[n] = '\0';
	vmlet_abort(-EINVAL, msg);
}

void vmlet_register(const char *name, const void *fn, enum vmlet_type ret, unsigned int nargs,
		    const enum vmlet_type *args)
{
	unsigned int ints = 0, sses = 0;
	struct fn *f;

	if (!name || !*name || strlen(name) > VMLET_MAX_NAME)
		bad_register(name, "bad name");
	if (!fn)
		bad_register(name, "NULL function");
	if (nfns == VMLET_MAX_FUNCS)
		bad_register(name, "too many functions");
	if (nargs > VMLET_MAX_ARGS)
		bad_register(name, "too many arguments");
	if ((unsigned int)ret >= VMLET_NTYPES)
		bad_register(name, "bad result type");
	for (unsigned int i = 0; i < nfns; i++)
		if (!strcmp(names[i], name))
			bad_register(name, "registered twice");
	f = &fns[nfns];
	for (unsigned int i = 0; i < nargs; i++) {
		if (args[i] == VMLET_VOID || (unsigned int)args[i] >= VMLET_NTYPES)
			bad_register(name, "bad argument type");
		if (args[i] == VMLET_F32 || args[i] == VMLET_F64) {
			sses++;
			f->flags |= VMLET_INVOKE_SSE_ARGS;
		}
		else
			ints += args[i] == VMLET_BYTES ? 2 : 1;
		f->args[i] = (uint8_t)args[i];
	}
	if (ints > VMLET_MAX_INT_REGS || sses > VMLET_MAX_SSE_REGS)
		bad_register(name, "arguments do not fit in registers");
	if (ret == VMLET_F32 || ret == VMLET_F64)
		f->flags |= VMLET_INVOKE_SSE_RET;
	f->fn = fn;
	f->ret = (uint8_t)ret;
	f->nargs = (uint8_t)nargs;
	names[nfns++] = name;
}

/* Write the function table (abi.h) into the output buffer. */
static void publish(void)
{
	uint8_t *p = (uint8_t *)(out + 1), *end = (uint8_t *)out + out_size;

	for (unsigned int i = 0; i < nfns; i++) {
		size_t len = strlen(names[i]);
		uint32_t size = (uint32_t)vmlet_align8(sizeof(struct vmlet_fdesc) + len + 1);
		struct vmlet_fdesc *d = (struct vmlet_fdesc *)p;

		if ((size_t)(end - p) < size)
			vmlet_abort(-E2BIG, "vmlet_ready: function table too large for the output buffer");
		memset(d, 0, size);
		d->size = size;
		d->ret = fns[i].ret;
		d->nargs = fns[i].nargs;
		memcpy(d->args, fns[i].args, sizeof(d->args));
		memcpy(d + 1, names[i], len);
		p += size;
	}
	out->size = (uint32_t)(p - (uint8_t *)out);
	out->func = 0;
	out->status = 0;
	out->nargs = nfns;
}

/* Append one record at *off of the output buffer: 0, -E2BIG or -EINVAL. */
static int put_rec(uint64_t *off, const struct vmlet_value *v)
{
	uint8_t *p = (uint8_t *)out + *off;

	if (vmlet_type_is_scalar(v->type)) {
		if (sizeof(struct vmlet_rec) + 8 > out_size - *off)
			return -E2BIG;
		*off += vmlet_rec_put_scalar(p, v->type, vmlet_scalar_bits(v));
		return 0;
	}
	if (v->type != VMLET_STRING && v->type != VMLET_BYTES)
		return -EINVAL;
	if (v->buf.len > UINT32_MAX || (v->buf.len && !v->buf.ptr))
		return -EINVAL;
	if (vmlet_rec_size(v->type, (uint32_t)v->buf.len) > out_size - *off)
		return -E2BIG;
	*off += vmlet_rec_put_buf(p, v->type, v->buf.ptr, (uint32_t)v->buf.len);
	return 0;
}

/* The call buffers, from the boot page: at the ready point, or at a host call before it. */
static void buffers(void)
{
	const struct vmlet_boot *boot = (const struct vmlet_boot *)VMLET_BOOT_ADDR;

	in = (const struct vmlet_frame *)boot->in_addr;
	in_size = boot->in_size;
	out = (struct vmlet_frame *)boot->out_addr;
	out_size = boot->out_size;
}

static int host_call(const char *name, const struct vmlet_value *args, unsigned int nargs,
		     struct vmlet_value *ret, int32_t status)
{
	struct vmlet_value n = {.type = VMLET_STRING, .buf = {name, name ? strlen(name) : 0}};
	const struct vmlet_rec *rec = (const struct vmlet_rec *)(out + 1);
	uint64_t off = sizeof(*out), bits;
	int err;

	if (!name || nargs > VMLET_MAX_ARGS || (nargs && !args))
		return -EINVAL;
	err = put_rec(&off, &n);
	for (unsigned int i = 0; !err && i < nargs; i++)
		err = put_rec(&off, &args[i]);
	if (err)
		return err;
	out->size = (uint32_t)off;
	out->func = VMLET_HOSTCALL_FUNC;
	out->status = status;
	out->nargs = nargs;
	vmlet_hypercall(VMLET_PORT_HOSTCALL, 0, 0, 0);

	/* The host's answer, in place of the request. */
	if (out->func != VMLET_HOSTCALL_FUNC || out->size < sizeof(*out) || out->size > out_size)
		return -EPROTO;
	if (out->status)
		return out->status < 0 ? out->status : -EPROTO;
	if (!ret)
		return 0;
	if (!out->nargs) {
		ret->type = VMLET_VOID;
		return 0;
	}
	if (out->size < sizeof(*out) + sizeof(*rec) ||
	    rec->len > out->size - sizeof(*out) - sizeof(*rec))
		return -EPROTO;
	ret->type = rec->type;
	if (rec->type == VMLET_STRING || rec->type == VMLET_BYTES) {
		ret->buf.ptr = rec + 1;
		ret->buf.len = rec->len;
		return 0;
	}
	if (rec->len != 8)
		return -EPROTO;
	memcpy(&bits, rec + 1, 8);
	switch (rec->type) {
	case VMLET_BOOL:
		ret->b = bits != 0;
		break;
	case VMLET_I32:
	case VMLET_U32:
		ret->u32 = (uint32_t)bits;
		break;
	case VMLET_F32:
		memcpy(&ret->f32, &bits, 4);
		break;
	default:
		ret->u64 = bits;
	}
	return 0;
}

int vmlet_host_call(const char *name, const struct vmlet_value *args, unsigned int nargs,
		    struct vmlet_value *ret)
{
	if (!out)
		buffers(); /* a host call before the ready point */
	return host_call(name, args, nargs, ret, 0);
}

int vmlet_host_probe(const char *name, enum vmlet_type ret, const enum vmlet_type *types,
		     unsigned int nargs)
{
	struct vmlet_value args[VMLET_MAX_ARGS] = {0};

	if (nargs > VMLET_MAX_ARGS || (nargs && !types) || (unsigned int)ret >= VMLET_NTYPES)
		return -EINVAL;
	for (unsigned int i = 0; i < nargs; i++)
		args[i].type = types[i];
	if (!out)
		buffers();
	return host_call(name, args, nargs, NULL, (int32_t)(VMLET_HOSTCALL_PROBE | ret));
}

void *vmlet_result_buf(size_t *cap)
{
	/* After the frame header and one record header; keep 8 for padding. */
	*cap = out_size - sizeof(struct vmlet_frame) - sizeof(struct vmlet_rec) - 8;
	return (uint8_t *)(out + 1) + sizeof(struct vmlet_rec);
}

static void refuse(uint32_t func, int32_t status)
{
	out->size = sizeof(*out);
	out->func = func;
	out->status = status;
	out->nargs = 0;
}

/* Copy a string or bytes result (which may already be in place) and pad it. */
static void put_buf(uint32_t func, uint32_t type, const void *src, uint64_t len)
{
	struct vmlet_rec *rec = (struct vmlet_rec *)(out + 1);
	uint64_t nul = type == VMLET_STRING, room;

	room = out_size - sizeof(*out) - sizeof(*rec);
	if (len > UINT32_MAX || vmlet_align8(len + nul) > room) {
		refuse(func, -E2BIG);
		return;
	}
	out->size = (uint32_t)(sizeof(*out) + vmlet_rec_put_buf(rec, type, src, (uint32_t)len));
	out->func = func;
	out->status = 0;
	out->nargs = 1;
}

/*
 * End the current call with VMLET_STATUS_FAIL and go back to the serving
 * loop, dropping the call's stack. Before the ready point there is no call
 * to fail: the start-up aborts instead.
 */
_Noreturn void vmlet_fail(int code, const char *msg)
{
	struct vmlet_value c = {.type = VMLET_I32, .i32 = code};
	struct vmlet_value m = vmlet_hstr(msg ? msg : "");
	uint64_t off = sizeof(*out);

	if (!ready)
		vmlet_abort(code, m.buf.ptr);
	if (m.buf.len > out_size / 2)
		m.buf.len = out_size / 2;
	put_rec(&off, &c);
	put_rec(&off, &m);
	out->size = (uint32_t)off;
	out->func = in->func; /* the input buffer still holds the call */
	out->status = VMLET_STATUS_FAIL;
	out->nargs = 2;
	longjmp(serving, 1);
}

static void serve(void)
{
	const uint8_t *p = (const uint8_t *)(in + 1), *end;
	uint64_t regs[NREGS], *sse = regs + VMLET_MAX_INT_REGS, v;
	unsigned int ni = 0, ns = 0;
	uint32_t func = in->func, size = in->size;
	struct vmlet_rec *rec;
	struct invoke_ret r;
	const struct fn *f;

	if (size < sizeof(*in) || size > in_size || func >= nfns)
		return refuse(func, -EINVAL);
	f = &fns[func];
	if (in->nargs != f->nargs)
		return refuse(func, -EINVAL);
	end = (const uint8_t *)in + size;
	for (unsigned int i = 0; i < f->nargs; i++) {
		const struct vmlet_rec *a = (const struct vmlet_rec *)p;
		uint64_t rs;

		if ((size_t)(end - p) < sizeof(*a) || a->type != f->args[i])
			return refuse(func, -EINVAL);
		rs = vmlet_rec_size(a->type, a->len);
		if (rs > (size_t)(end - p))
			return refuse(func, -EINVAL);
		v = *(const uint64_t *)(a + 1);
		switch (a->type) {
		case VMLET_F32:
		case VMLET_F64:
			sse[ns++] = v;
			break;
		case VMLET_STRING:
			regs[ni++] = (uint64_t)(a + 1);
			break;
		case VMLET_BYTES:
			regs[ni++] = (uint64_t)(a + 1);
			regs[ni++] = a->len;
			break;
		default:
			regs[ni++] = v;
		}
		p += rs;
	}
	vmlet_invoke(f->fn, regs, &r, f->flags);

	rec = (struct vmlet_rec *)(out + 1);
	switch (f->ret) {
	case VMLET_VOID:
		out->size = sizeof(*out);
		out->func = func;
		out->status = 0;
		out->nargs = 0;
		return;
	case VMLET_STRING:
		if (!r.rax)
			return refuse(func, -EFAULT);
		return put_buf(func, VMLET_STRING, (const void *)r.rax, strlen((const char *)r.rax));
	case VMLET_BYTES:
		if (!r.rax && r.rdx)
			return refuse(func, -EFAULT);
		return put_buf(func, VMLET_BYTES, (const void *)r.rax, r.rdx);
	case VMLET_BOOL:
		v = (uint8_t)r.rax != 0;
		break;
	case VMLET_I32:
		v = (uint64_t)(int64_t)(int32_t)r.rax;
		break;
	case VMLET_U32:
		v = (uint32_t)r.rax;
		break;
	case VMLET_F32:
		v = (uint32_t)r.xmm0;
		break;
	case VMLET_F64:
		v = r.xmm0;
		break;
	default:
		v = r.rax;
	}
	out->size = (uint32_t)(sizeof(*out) + vmlet_rec_put_scalar(rec, f->ret, v));
	out->func = func;
	out->status = 0;
	out->nargs = 1;
}

struct vmlet_call_state *vmlet_call_state;

/*
 * Leave through port and come back with the next call's entry values
 * (abi.h): its entropy becomes AT_RANDOM's bytes, vmlet_random()'s key
 * and the stack canary musl keeps at %fs:0x28 (the frames below this one
 * are all new in a call; this one never returns to check its own).
 */
static inline void wait_call(uint8_t port, struct vmlet_call_state *c)
{
	uint64_t k0, k1, t;
	uint32_t lo, hi;

	__asm__ volatile("out %%al, %3" : "=D"(k0), "=S"(k1), "=d"(t) : "i"(port) : "memory");
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	c->key[0] = k0;
	c->key[1] = k1;
	c->realtime_ns = t;
	c->tsc = ((uint64_t)hi << 32) | lo;
	/* As musl seeds it at start-up: from AT_RANDOM's first 8 bytes. */
	__asm__ volatile("mov %0, %%fs:0x28" : : "r"(k0) : "memory");
}

/*
 * Not inlined, and without SSE: the compiler zeroes a struct with SSE
 * stores, which KVM's emulator may not know (entry.S), and a target
 * attribute on vmlet_ready() would keep serve() from being inlined there.
 */
__attribute__((noinline, target("general-regs-only"))) static void
call_state_init(struct vmlet_call_state *c, uint64_t *key)
{
	const struct vmlet_boot *boot = (const struct vmlet_boot *)VMLET_BOOT_ADDR;

	c->key = (uint64_t *)getauxval(AT_RANDOM);
	if (!c->key)
		c->key = key;
	c->realtime_ns = boot->realtime_ns; /* and the TSC counts from 0 */
	c->tsc = 0;
	c->blocks = 0;
}

_Noreturn void vmlet_ready(void)
{
	struct vmlet_call_state c;
	uint64_t key[2];

	buffers();
	call_state_init(&c, key);
	/* Set before the ready point: a call writes only this frame's page. */
	vmlet_call_state = &c;
	publish();
	/* A failed call comes back here with its return frame written. */
	if (!setjmp(serving)) {
		ready = true;
		wait_call(VMLET_PORT_READY, &c);
	} else {
		wait_call(VMLET_PORT_RETURN, &c);
	}
	for (;;) {
		serve();
		wait_call(VMLET_PORT_RETURN, &c);
	}
}
