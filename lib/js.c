// SPDX-License-Identifier: BSD-2-Clause
/*
 * JavaScript guests, the convenience layer: boot vmlet-js.elf (Debian's
 * Duktape in a guest, runtimes/js/js.c), load a script, snapshot it, and
 * run events on a VM restored to that snapshot. Everything here is built
 * from the public API (sandboxes, live snapshots, restore), but for the
 * warm-up a pool's sandboxes get (lib/sandbox.h), which the sandbox of
 * events has too; the guest protocol is two functions, load and event
 * (see runtimes/js/js.c).
 *
 * The JS guest gets 16 MiB and a 1 MiB stack unless the config says
 * otherwise: the engine's C recursion limits are set for that stack
 * (runtimes/js/duk_config_vmlet.h), and its heap is what memory is left.
 * The input buffer grows to hold the script.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet.h>

#include "frame.h"
#include "layout.h"
#include "sandbox.h"

#ifndef VMLET_JS_IMAGE_PATH
#define VMLET_JS_IMAGE_PATH "/usr/local/lib/vmlet-guest/vmlet-js.elf"
#endif

#define JS_MEM	 (16ULL << 20)
#define JS_STACK (1ULL << 20)

struct vmlet_js {
	struct vmlet_image *img;
	struct vmlet_snapshot *snap;
	struct vmlet_sandbox *sb;
	unsigned int event, event_typed;
	void *args; /* typed arguments, encoded */
	size_t args_cap;
	bool used;		  /* sb ran an event since it was made or restored */
	bool dead;		  /* and it failed in a way that leaves it dead */
	bool threw;		  /* the last event was an uncaught exception: fault holds it */
	struct vmlet_fault fault; /* sb's fault with the error the event returned */
};

/* One letter per type, as runtimes/js/js.c reads them. */
static char sig_letter(enum vmlet_type t)
{
	return "vbiulqfdsy"[t];
}

/* "name:R:AB;..." for the guest's host object; NULL when out of memory. */
static char *host_sigs(const struct vmlet_config *c)
{
	size_t size = 1;
	char *s, *p;

	for (unsigned int i = 0; i < c->nhost_funcs; i++)
		size += strlen(c->host_funcs[i].name) + 4 + c->host_funcs[i].nargs;
	s = p = malloc(size);
	if (!s)
		return NULL;
	for (unsigned int i = 0; i < c->nhost_funcs; i++) {
		const struct vmlet_host_func *f = &c->host_funcs[i];

		p += strlen(strcpy(p, f->name));
		*p++ = ':';
		*p++ = sig_letter(f->ret);
		*p++ = ':';
		for (unsigned int a = 0; a < f->nargs; a++)
			*p++ = sig_letter(f->args[a]);
		*p++ = ';';
	}
	*p = '\0';
	return s;
}

static const char *image_path(const struct vmlet_js_config *j)
{
	const char *env = getenv("VMLET_JS_IMAGE");

	if (j && j->image)
		return j->image;
	return env && *env ? env : VMLET_JS_IMAGE_PATH;
}

static int js_config(const struct vmlet_js_config *j, size_t script, struct vmlet_config *c)
{
	uint64_t in;
	int err = vmlet_config_normalize(j ? j->cfg : NULL, c);

	if (err)
		return err;
	if (!j || !j->cfg || !j->cfg->mem_size)
		c->mem_size = JS_MEM;
	if (!j || !j->cfg || !j->cfg->stack_size)
		c->stack_size = JS_STACK;
	/* The script, the host signatures and the frame around them. */
	in = (script + 2 * VMLET_PAGE_SIZE + c->nhost_funcs * 80 + VMLET_PAGE_SIZE - 1) &
	     ~(VMLET_PAGE_SIZE - 1);
	if (in > c->in_size)
		c->in_size = in;
	return 0;
}

/*
 * An uncaught exception is -VMLET_EABORT with VMLET_JS_THROW (vmlet-js(7)),
 * though the guest ends the call with vmlet_fail() (-VMLET_EFAIL): the
 * VM lives on, and a warm next call sees what the handler left.
 */
static bool uncaught(int err, const struct vmlet_fault *f)
{
	return err == -VMLET_EFAIL && f->code == VMLET_JS_THROW;
}

/* Does function index in sb return ret and take these arguments? */
static bool has_sig(struct vmlet_sandbox *sb, int index, enum vmlet_type ret, unsigned int nargs,
		    const enum vmlet_type *args)
{
	const struct vmlet_func *f =
		index < 0 ? NULL : vmlet_sandbox_func_at(sb, (unsigned int)index);

	return f && f->ret == ret && f->nargs == nargs &&
	       !memcmp(f->args, args, nargs * sizeof(*args));
}

/* The guest's event functions in js->sb; -EINVAL when it is no JS guest. */
static int find_events(struct vmlet_js *js)
{
	static const enum vmlet_type event_args[] = {VMLET_STRING, VMLET_STRING};
	static const enum vmlet_type typed_args[] = {VMLET_STRING, VMLET_BYTES, VMLET_U32};
	int event = vmlet_sandbox_func(js->sb, "event");
	int typed = vmlet_sandbox_func(js->sb, "event_typed");

	if (!has_sig(js->sb, event, VMLET_STRING, 2, event_args) ||
	    !has_sig(js->sb, typed, VMLET_BYTES, 3, typed_args))
		return -EINVAL;
	js->event = (unsigned int)event;
	js->event_typed = (unsigned int)typed;
	return 0;
}

static int load(struct vmlet_js *js, const char *source, const struct vmlet_js_config *j,
		struct vmlet_fault *fault)
{
	struct vmlet_sandbox *cold = NULL;
	struct vmlet_value args[3];
	struct vmlet_config c;
	char *sigs = NULL;
	int err;

	err = js_config(j, strlen(source), &c);
	if (err)
		return err;
	err = vmlet_image_open(image_path(j), &js->img);
	if (err)
		return err;
	sigs = host_sigs(&c);
	if (!sigs)
		return -ENOMEM;
	err = vmlet_sandbox_create(js->img, &c, &cold);
	if (err)
		goto out;
	args[0] = vmlet_str(j && j->filename ? j->filename : "script.js");
	args[1] = vmlet_str(source);
	args[2] = vmlet_str(sigs);
	err = vmlet_sandbox_call(cold, "load", args, 3, NULL);
	if (err) {
		if (uncaught(err, vmlet_sandbox_fault(cold)))
			err = -VMLET_EABORT;
		if (fault) {
			*fault = *vmlet_sandbox_fault(cold);
			fault->error = err;
		}
		goto out;
	}
	err = vmlet_sandbox_snapshot(cold, &js->snap);
	if (!err)
		err = __vmlet_sandbox_create_from(js->snap, true, &js->sb);
	if (!err)
		err = find_events(js);
out:
	vmlet_sandbox_destroy(cold);
	free(sigs);
	return err;
}

VMLET_API int vmlet_js_load(const char *source, const struct vmlet_js_config *jcfg,
			    struct vmlet_js **out)
{
	struct vmlet_fault *fault = NULL;
	struct vmlet_js *js;
	int err;

	if (!source || !out)
		return -EINVAL;
	if (jcfg) {
		if (jcfg->sz < offsetof(struct vmlet_js_config, fault) || jcfg->sz > sizeof(*jcfg))
			return -EINVAL;
		if (jcfg->sz > offsetof(struct vmlet_js_config, fault))
			fault = jcfg->fault;
	}
	if (fault)
		memset(fault, 0, sizeof(*fault));
	js = calloc(1, sizeof(*js));
	if (!js)
		return -ENOMEM;
	err = load(js, source, jcfg, fault);
	if (err) {
		if (fault && !fault->error)
			fault->error = err;
		vmlet_js_destroy(js);
		return err;
	}
	*out = js;
	return 0;
}

VMLET_API int vmlet_js_from_snapshot(struct vmlet_snapshot *snap, struct vmlet_js **out)
{
	struct vmlet_js *js;
	int err;

	if (!snap || !out)
		return -EINVAL;
	js = calloc(1, sizeof(*js));
	if (!js)
		return -ENOMEM;
	__vmlet_snapshot_get(snap);
	js->snap = snap;
	err = __vmlet_sandbox_create_from(snap, true, &js->sb);
	if (!err)
		err = find_events(js);
	if (err) {
		vmlet_js_destroy(js);
		return err;
	}
	*out = js;
	return 0;
}

/* Before an event: restore for a fresh one, and a dead VM for a warm one too. */
static int prepare(struct vmlet_js *js, bool fresh)
{
	int err;

	js->threw = false;
	if (js->used && (fresh || js->dead)) {
		err = vmlet_sandbox_restore(js->sb);
		if (err)
			return err;
		js->used = js->dead = false;
	}
	js->used = true;
	return 0;
}

static int call(struct vmlet_js *js, unsigned int func, const struct vmlet_value *args,
		unsigned int nargs, struct vmlet_value *r)
{
	int err = vmlet_sandbox_call_index(js->sb, func, args, nargs, r);

	if (!err)
		return 0;
	/* vmlet_fail() (every script error) and refusals leave it alive. */
	js->dead = err <= -VMLET_EEXCEPTION && err != -VMLET_EFAIL && err != -VMLET_EREFUSED;
	if (uncaught(err, vmlet_sandbox_fault(js->sb))) {
		js->fault = *vmlet_sandbox_fault(js->sb);
		js->fault.error = err = -VMLET_EABORT;
		js->threw = true;
	}
	return err;
}

static int run(struct vmlet_js *js, bool fresh, const char *handler, const char *json,
	       const char **result)
{
	struct vmlet_value args[2], r;
	int err;

	if (!js || !handler || !json || !result)
		return -EINVAL;
	err = prepare(js, fresh);
	if (err)
		return err;
	args[0] = vmlet_str(handler);
	args[1] = vmlet_str(json);
	err = call(js, js->event, args, 2, &r);
	if (err)
		return err;
	*result = r.buf.ptr;
	return (int)r.buf.len;
}

VMLET_API int vmlet_js_event(struct vmlet_js *js, const char *handler, const char *json,
			     const char **result)
{
	return run(js, true, handler, json, result);
}

VMLET_API int vmlet_js_call(struct vmlet_js *js, const char *handler, const char *json,
			    const char **result)
{
	return run(js, false, handler, json, result);
}

/* The largest integer a JS number (a double) holds exactly, and all below it. */
#define JS_MAX_SAFE_INTEGER ((1LL << 53) - 1)

/* args as records in js->args: their size, or -EINVAL / -ERANGE / -ENOMEM. */
static int64_t encode_args(struct vmlet_js *js, const struct vmlet_value *args, unsigned int nargs)
{
	uint64_t size = 0, off = 0;

	if (nargs > VMLET_MAX_ARGS || (nargs && !args))
		return -EINVAL;
	for (unsigned int i = 0; i < nargs; i++) {
		const struct vmlet_value *v = &args[i];

		if (v->type == VMLET_VOID || v->type >= VMLET_NTYPES)
			return -EINVAL;
		if ((v->type == VMLET_I64 &&
		     (v->i64 > JS_MAX_SAFE_INTEGER || v->i64 < -JS_MAX_SAFE_INTEGER)) ||
		    (v->type == VMLET_U64 && v->u64 > JS_MAX_SAFE_INTEGER))
			return -ERANGE;
		if (!vmlet_type_is_scalar(v->type) && v->buf.len > UINT32_MAX)
			return -E2BIG;
		size += vmlet_type_is_scalar(v->type)
				? vmlet_rec_size(v->type, 8)
				: vmlet_rec_size(v->type, (uint32_t)v->buf.len);
	}
	if (size > js->args_cap) {
		void *p = realloc(js->args, size);

		if (!p)
			return -ENOMEM;
		js->args = p;
		js->args_cap = size;
	}
	for (unsigned int i = 0; i < nargs; i++) {
		int64_t n = vmlet_rec_encode((uint8_t *)js->args + off, size - off, &args[i]);

		if (n < 0)
			return n;
		off += (uint64_t)n;
	}
	return (int64_t)size;
}

static int run_typed(struct vmlet_js *js, bool fresh, const char *handler,
		     const struct vmlet_value *args, unsigned int nargs, enum vmlet_type rtype,
		     struct vmlet_value *ret)
{
	struct vmlet_value a[3], r, v;
	int64_t size;
	int err;

	if (!js || !handler || (unsigned int)rtype >= VMLET_NTYPES || (!ret && rtype != VMLET_VOID))
		return -EINVAL;
	size = encode_args(js, args, nargs);
	if (size < 0)
		return (int)size;
	err = prepare(js, fresh);
	if (err)
		return err;
	a[0] = vmlet_str(handler);
	a[1] = vmlet_bytes(js->args, (size_t)size);
	a[2] = vmlet_u32(rtype);
	err = call(js, js->event_typed, a, 3, &r);
	if (err)
		return err;
	if (rtype == VMLET_VOID) {
		if (r.buf.len)
			return -VMLET_EPROTO;
		if (ret)
			*ret = (struct vmlet_value){.type = VMLET_VOID};
		return 0;
	}
	/* The guest's record, checked as any frame from it; strings stay in place. */
	size = vmlet_rec_decode(r.buf.ptr, r.buf.len, &v);
	if (size < 0)
		return (int)size;
	if ((size_t)size != r.buf.len || v.type != rtype)
		return -VMLET_EPROTO;
	*ret = v;
	return 0;
}

VMLET_API int vmlet_js_event_typed(struct vmlet_js *js, const char *handler,
				   const struct vmlet_value *args, unsigned int nargs,
				   enum vmlet_type rtype, struct vmlet_value *ret)
{
	return run_typed(js, true, handler, args, nargs, rtype, ret);
}

VMLET_API int vmlet_js_call_typed(struct vmlet_js *js, const char *handler,
				  const struct vmlet_value *args, unsigned int nargs,
				  enum vmlet_type rtype, struct vmlet_value *ret)
{
	return run_typed(js, false, handler, args, nargs, rtype, ret);
}

VMLET_API const struct vmlet_fault *vmlet_js_fault(const struct vmlet_js *js)
{
	if (!js)
		return NULL;
	return js->threw ? &js->fault : vmlet_sandbox_fault(js->sb);
}

VMLET_API struct vmlet_sandbox *vmlet_js_sandbox(struct vmlet_js *js)
{
	return js ? js->sb : NULL;
}

VMLET_API struct vmlet_snapshot *vmlet_js_snapshot(struct vmlet_js *js)
{
	return js ? js->snap : NULL;
}

VMLET_API void vmlet_js_destroy(struct vmlet_js *js)
{
	if (!js)
		return;
	vmlet_sandbox_destroy(js->sb);
	vmlet_snapshot_destroy(js->snap);
	vmlet_image_close(js->img);
	free(js->args);
	free(js);
}
