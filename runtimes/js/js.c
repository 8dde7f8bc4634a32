// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet-js.elf: Debian's Duktape in a vmlet guest, driven by lib/js.c.
 *
 * main() makes the Duktape heap and the globals vmlet adds (console,
 * host), and parks at the ready point. The host then calls
 *
 *   load(filename, source, host_sigs)   compile and run the script once,
 *                                       and make host.NAME for each host
 *                                       function; the host snapshots after
 *   event(handler, json)                JSON.stringify(handler(JSON.parse(json)))
 *   event_typed(handler, args, rtype)   handler(...args) as typed values
 *
 * and every failure ends the call with vmlet_fail(VMLET_JS_*, message):
 * the code says which (vmlet.h), the message carries the JS error and,
 * for an exception, its stack. The VM lives on (a warm next event sees
 * what the failed one left, as in any JS engine); the host runs fresh
 * events on a VM restored to the snapshot.
 *
 * Host functions are described by lib/js.c as "name:R:AB;..." with one
 * letter per vmlet type (sig_type() below): arguments are checked and
 * converted by that signature, a mismatch is a TypeError, and a host
 * error an Error with the errno in .errno. Nothing else of the host is
 * reachable from JS.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <duktape.h>
#include <vmlet.h>
#include <vmlet/guest.h>

#define MAX_HOST_FUNCS 64

struct host_fn {
	char name[VMLET_MAX_NAME + 1];
	enum vmlet_type ret;
	unsigned int nargs;
	enum vmlet_type args[VMLET_MAX_ARGS];
};

static duk_context *ctx;
static struct host_fn host_fns[MAX_HOST_FUNCS];
static unsigned int nhost_fns;

double vmlet_js_random_double(void *udata)
{
	uint64_t v;

	(void)udata;
	vmlet_random(&v, sizeof(v));
	return (double)(v >> 11) * 0x1.0p-53;
}

static void fatal(void *udata, const char *msg)
{
	(void)udata;
	vmlet_abort(VMLET_JS_FATAL, msg ? msg : "fatal error");
}

/*
 * The error at the top of the stack as text: its stack when it has one,
 * without the engine's own frames ("at [anon] (duk_js_call.c:73)
 * internal") and flags ("preventsyield"), which say nothing about the
 * script and would take the room of its frames in the host's message.
 */
static duk_ret_t get_prop(duk_context *c, void *key)
{
	duk_get_prop_string(c, -1, key);
	return 1;
}

/*
 * Push property key of the value at the top, read where a getter the
 * script defined may throw (outside a protected call, that would be a
 * fatal error): true when it is a string, else false with nothing pushed.
 */
static bool push_prop_string(duk_context *c, const char *key)
{
	duk_dup(c, -1);
	if (!duk_safe_call(c, get_prop, (void *)key, 1, 1) && duk_is_string(c, -1))
		return true;
	duk_pop(c);
	return false;
}

/*
 * The error at the top of the stack as text: its stack when it has one,
 * without the engine's own frames ("at [anon] (duk_js_call.c:73)
 * internal", never the first line, which is the message) and flags
 * ("preventsyield"), which say nothing about the script and would take
 * the room of its frames in the host's message. A first line too long
 * for the room is cut, not dropped.
 */
static const char *error_text(duk_context *c)
{
	static char buf[1024];
	const char *s, *line;
	size_t n = 0;
	bool first = true;

	if (!duk_is_error(c, -1) || !push_prop_string(c, "stack"))
		return duk_safe_to_string(c, -1);
	for (s = duk_get_string(c, -1); *s; s = *line ? line + 1 : line, first = false) {
		size_t len;

		line = strchr(s, '\n');
		if (!line)
			line = s + strlen(s);
		len = (size_t)(line - s);
		if (!first && len >= 9 && !memcmp(s + len - 9, " internal", 9))
			continue;
		if (len >= 14 && !memcmp(s + len - 14, " preventsyield", 14))
			len -= 14;
		if (n + len + 2 > sizeof(buf)) {
			if (!first)
				break;
			len = sizeof(buf) - 1;
		}
		if (n)
			buf[n++] = '\n';
		memcpy(buf + n, s, len);
		n += len;
	}
	buf[n] = '\0';
	return buf;
}

static _Noreturn void fail(duk_context *c, int code)
{
	/* Duktape reports a failed allocation as an Error "alloc failed". */
	if (code == VMLET_JS_THROW && duk_is_error(c, -1) && push_prop_string(c, "message")) {
		if (!strcmp(duk_get_string(c, -1), "alloc failed"))
			code = VMLET_JS_NOMEM;
		duk_pop(c);
	}
	vmlet_fail(code, error_text(c));
}

/* console.log and console.error: the arguments as String() gives them, one line. */
static duk_ret_t console_print(duk_context *c)
{
	duk_idx_t n = duk_get_top(c);

	for (duk_idx_t i = 0; i < n; i++) {
		if (duk_is_object(c, i) && !duk_is_function(c, i) && !duk_is_error(c, i)) {
			duk_dup(c, i);
			duk_json_encode(c, -1);
			duk_replace(c, i);
		}
		duk_safe_to_string(c, i);
	}
	duk_push_string(c, " ");
	duk_insert(c, 0);
	duk_join(c, n);
	duk_push_string(c, "\n");
	duk_concat(c, 2);
	{
		duk_size_t len;
		const char *s = duk_get_lstring(c, -1, &len);

		vmlet_print(s, len);
	}
	return 0;
}

static enum vmlet_type sig_type(char ch)
{
	switch (ch) {
	case 'v': return VMLET_VOID;
	case 'b': return VMLET_BOOL;
	case 'i': return VMLET_I32;
	case 'u': return VMLET_U32;
	case 'l': return VMLET_I64;
	case 'q': return VMLET_U64;
	case 'f': return VMLET_F32;
	case 'd': return VMLET_F64;
	case 's': return VMLET_STRING;
	case 'y': return VMLET_BYTES;
	}
	return VMLET_NTYPES;
}

static const char *type_name(enum vmlet_type t)
{
	static const char *const names[] = {
		"void", "a boolean", "an i32", "a u32", "an i64", "a u64", "an f32",
		"an f64", "a string", "a Uint8Array",
	};

	return (unsigned int)t < VMLET_NTYPES ? names[t] : "?";
}

/* The JS value at idx as a value of type t: false when it is not one. */
static bool to_value(duk_context *c, duk_idx_t idx, enum vmlet_type t, struct vmlet_value *v)
{
	double d;
	duk_size_t len;

	v->type = t;
	switch (t) {
	case VMLET_BOOL:
		if (!duk_is_boolean(c, idx))
			return false;
		v->b = duk_get_boolean(c, idx);
		return true;
	case VMLET_F32:
	case VMLET_F64:
		if (!duk_is_number(c, idx))
			return false;
		d = duk_get_number(c, idx);
		if (t == VMLET_F32)
			v->f32 = (float)d;
		else
			v->f64 = d;
		return true;
	case VMLET_STRING:
		if (!duk_is_string(c, idx))
			return false;
		v->buf.ptr = duk_get_lstring(c, idx, &len);
		v->buf.len = len;
		return true;
	case VMLET_BYTES:
		if (!duk_is_buffer_data(c, idx))
			return false;
		v->buf.ptr = duk_get_buffer_data(c, idx, &len);
		v->buf.len = len;
		return true;
	case VMLET_VOID:
	case VMLET_NTYPES:
		return false;
	default: /* integers: a number with no fraction, in range */
		if (!duk_is_number(c, idx))
			return false;
		d = duk_get_number(c, idx);
		if (d != (double)(int64_t)d)
			return false;
		if (t == VMLET_I32 && d >= -2147483648.0 && d <= 2147483647.0) {
			v->i32 = (int32_t)d;
			return true;
		}
		if (t == VMLET_U32 && d >= 0 && d <= 4294967295.0) {
			v->u32 = (uint32_t)d;
			return true;
		}
		/* 64-bit integers: what a JS number holds exactly. */
		if (t == VMLET_I64 && d >= -9007199254740991.0 && d <= 9007199254740991.0) {
			v->i64 = (int64_t)d;
			return true;
		}
		if (t == VMLET_U64 && d >= 0 && d <= 9007199254740991.0) {
			v->u64 = (uint64_t)d;
			return true;
		}
		return false;
	}
}

static void push_value(duk_context *c, const struct vmlet_value *v)
{
	void *p;

	switch (v->type) {
	case VMLET_VOID: duk_push_undefined(c); break;
	case VMLET_BOOL: duk_push_boolean(c, v->b); break;
	case VMLET_I32: duk_push_int(c, v->i32); break;
	case VMLET_U32: duk_push_uint(c, v->u32); break;
	case VMLET_I64: duk_push_number(c, (double)v->i64); break;
	case VMLET_U64: duk_push_number(c, (double)v->u64); break;
	case VMLET_F32: duk_push_number(c, v->f32); break;
	case VMLET_F64: duk_push_number(c, v->f64); break;
	case VMLET_STRING: duk_push_lstring(c, v->buf.ptr, v->buf.len); break;
	case VMLET_BYTES:
		p = duk_push_fixed_buffer(c, v->buf.len);
		if (v->buf.len)
			memcpy(p, v->buf.ptr, v->buf.len);
		duk_push_buffer_object(c, -1, 0, v->buf.len, DUK_BUFOBJ_UINT8ARRAY);
		duk_remove(c, -2);
		break;
	default: duk_push_undefined(c);
	}
}

/* host.NAME(...): the function's index is its magic. */
static duk_ret_t host_call(duk_context *c)
{
	const struct host_fn *f = &host_fns[duk_get_current_magic(c)];
	struct vmlet_value args[VMLET_MAX_ARGS], ret;
	duk_idx_t n = duk_get_top(c);
	int err;

	if (n != (duk_idx_t)f->nargs)
		return duk_type_error(c, "host.%s: takes %u arguments, not %d", f->name, f->nargs,
				      (int)n);
	for (unsigned int i = 0; i < f->nargs; i++)
		if (!to_value(c, (duk_idx_t)i, f->args[i], &args[i]))
			return duk_type_error(c, "host.%s: argument %u must be %s", f->name, i + 1,
					      type_name(f->args[i]));
	err = vmlet_host_call(f->name, args, f->nargs, &ret);
	if (err) {
		duk_push_error_object(c, DUK_ERR_ERROR, "host.%s: %s", f->name, strerror(-err));
		duk_push_int(c, -err);
		duk_put_prop_string(c, -2, "errno");
		return duk_throw(c);
	}
	push_value(c, &ret);
	return 1;
}

/* "name:R:AB;..." into host_fns and host.NAME; 0 or a message. */
static const char *parse_sigs(const char *s)
{
	while (*s) {
		const char *colon = strchr(s, ':');
		struct host_fn *f = &host_fns[nhost_fns];
		size_t len;

		if (nhost_fns == MAX_HOST_FUNCS)
			return "too many host functions";
		if (!colon || colon == s || (size_t)(colon - s) > VMLET_MAX_NAME)
			return "bad host function name";
		len = (size_t)(colon - s);
		memcpy(f->name, s, len);
		f->name[len] = '\0';
		s = colon + 1;
		f->ret = sig_type(*s++);
		if (f->ret == VMLET_NTYPES || *s++ != ':')
			return "bad host function result";
		for (f->nargs = 0; *s && *s != ';'; f->nargs++) {
			if (f->nargs == VMLET_MAX_ARGS)
				return "too many host function arguments";
			f->args[f->nargs] = sig_type(*s++);
			if (f->args[f->nargs] == VMLET_NTYPES || f->args[f->nargs] == VMLET_VOID)
				return "bad host function argument";
		}
		if (*s == ';')
			s++;
		duk_get_global_string(ctx, "host");
		duk_push_c_function(ctx, host_call, DUK_VARARGS);
		duk_set_magic(ctx, -1, (duk_int_t)nhost_fns);
		duk_put_prop_string(ctx, -2, f->name);
		duk_pop(ctx);
		nhost_fns++;
	}
	return NULL;
}

/* runtimes/js/engine.c: the byte offset of the token being compiled, or -1. */
long vmlet_duk_compile_offset(duk_context *c);

static const char *compiling; /* the source load() compiles, for where() */

/*
 * Duktape.errCreate while load() compiles: to the " (line N" the compiler
 * appended to a SyntaxError's message, add ", column C", counted in
 * characters (code points) from the start of that line to the token the
 * compiler stopped at, from 1.
 */
static duk_ret_t where(duk_context *c)
{
	long off = vmlet_duk_compile_offset(c);
	const char *msg, *at;
	unsigned long col = 1;

	if (off < 0 || !compiling || !duk_is_error(c, 0))
		return 1;
	for (const char *p = compiling + off; p > compiling; p--) {
		unsigned char ch = (unsigned char)p[-1];

		/* Line terminators as the lexer counts them: LF, CR, U+2028/9. */
		if (ch == '\n' || ch == '\r' ||
		    (p - compiling >= 3 && !memcmp(p - 3, "\xe2\x80", 2) && (ch == 0xa8 || ch == 0xa9)))
			break;
		if ((ch & 0xc0) != 0x80)
			col++;
	}
	duk_get_prop_string(c, 0, "message");
	msg = duk_get_string(c, -1);
	at = msg ? strstr(msg, " (line ") : NULL;
	if (!at)
		return 1;
	at += strlen(" (line ");
	at += strspn(at, "0123456789");
	duk_push_lstring(c, msg, (duk_size_t)(at - msg));
	duk_push_sprintf(c, ", column %lu", col);
	duk_push_string(c, at);
	duk_concat(c, 3);
	duk_put_prop_string(c, 0, "message");
	duk_push_uint(c, (duk_uint_t)col);
	duk_put_prop_string(c, 0, "columnNumber");
	duk_set_top(c, 1);
	return 1;
}

static const char *load(const char *filename, const char *source, const char *sigs)
{
	const char *err;
	duk_int_t rc;

	duk_set_top(ctx, 0);
	err = parse_sigs(sigs);
	if (err)
		vmlet_fail(-EINVAL, err);
	/* Only while compiling: the script must not see it, nor pay for it. */
	duk_get_global_string(ctx, "Duktape");
	duk_push_c_function(ctx, where, 1);
	duk_put_prop_string(ctx, -2, "errCreate");
	duk_pop(ctx);
	compiling = source;
	duk_push_string(ctx, filename);
	rc = duk_pcompile_string_filename(ctx, 0, source);
	compiling = NULL;
	duk_get_global_string(ctx, "Duktape");
	duk_del_prop_string(ctx, -1, "errCreate");
	duk_pop(ctx);
	if (rc)
		fail(ctx, VMLET_JS_SYNTAX);
	if (duk_pcall(ctx, 0))
		fail(ctx, VMLET_JS_THROW);
	duk_set_top(ctx, 0);
	/* Collect the garbage of loading before the snapshot: fewer pages to copy. */
	duk_gc(ctx, 0);
	duk_gc(ctx, 0);
	return "";
}

static duk_ret_t json_decode(duk_context *c, void *udata)
{
	(void)udata;
	duk_json_decode(c, -1);
	return 1;
}

static duk_ret_t json_encode(duk_context *c, void *udata)
{
	(void)udata;
	if (duk_is_undefined(c, -1) || duk_is_function(c, -1))
		return duk_type_error(c, "the result is %s, which has no JSON form",
				      duk_is_undefined(c, -1) ? "undefined" : "a function");
	duk_json_encode(c, -1);
	/* JSON.stringify() gives undefined too: a Symbol, a toJSON() returning nothing. */
	if (!duk_is_string(c, -1))
		return duk_type_error(c, "the result has no JSON form");
	return 1;
}

/* Push the global function handler, or fail with VMLET_JS_NOHANDLER. */
static void push_handler(const char *handler)
{
	duk_set_top(ctx, 0);
	if (!duk_get_global_string(ctx, handler) || !duk_is_function(ctx, -1)) {
		duk_push_error_object(ctx, DUK_ERR_REFERENCE_ERROR, "%s is not a function", handler);
		fail(ctx, VMLET_JS_NOHANDLER);
	}
}

static const char *event(const char *handler, const char *json)
{
	const char *result;
	duk_size_t len;
	size_t cap;

	push_handler(handler);
	duk_push_string(ctx, json);
	if (duk_safe_call(ctx, json_decode, NULL, 1, 1))
		fail(ctx, VMLET_JS_BADINPUT);
	if (duk_pcall(ctx, 1))
		fail(ctx, VMLET_JS_THROW);
	if (duk_safe_call(ctx, json_encode, NULL, 1, 1))
		fail(ctx, VMLET_JS_BADOUTPUT);
	result = duk_get_lstring(ctx, -1, &len);
	vmlet_result_buf(&cap);
	if (len >= cap) {
		duk_push_error_object(ctx, DUK_ERR_RANGE_ERROR,
				      "%s: the result (%zu bytes of JSON) does not fit the output buffer",
				      handler, (size_t)len);
		fail(ctx, VMLET_JS_BADOUTPUT);
	}
	return result;
}

/* What the value at idx is, for a message: its text for a number. */
static const char *describe(duk_context *c, duk_idx_t idx)
{
	if (duk_is_number(c, idx)) {
		duk_dup(c, idx);
		return duk_safe_to_string(c, -1);
	}
	if (duk_is_buffer_data(c, idx))
		return "a buffer";
	switch (duk_get_type(c, idx)) {
	case DUK_TYPE_UNDEFINED: return "undefined";
	case DUK_TYPE_NULL: return "null";
	case DUK_TYPE_BOOLEAN: return "a boolean";
	case DUK_TYPE_STRING: return "a string";
	}
	return duk_is_function(c, idx) ? "a function" : "an object";
}

/*
 * A typed event (vmlet_js_event_typed): args are the records lib/js.c
 * encoded (vmlet/abi.h), each passed as a JS value (push_value); the
 * result, converted to rtype as host function arguments are, comes back
 * as one record (none for VMLET_VOID, whose result is dropped).
 */
static struct vmlet_bytes event_typed(const char *handler, const void *args, size_t len,
				      uint32_t rtype)
{
	const uint8_t *p = args, *end = p + len;
	struct vmlet_value v;
	duk_idx_t n = 0;
	size_t cap;
	void *buf;

	push_handler(handler);
	while (p < end) {
		struct vmlet_rec rec;
		uint64_t bits;

		if ((size_t)(end - p) < sizeof(rec))
			vmlet_fail(-EINVAL, "truncated arguments");
		memcpy(&rec, p, sizeof(rec));
		if (rec.type == VMLET_VOID || rec.type >= VMLET_NTYPES ||
		    vmlet_rec_size(rec.type, rec.len) > (size_t)(end - p))
			vmlet_fail(-EINVAL, "bad arguments");
		v.type = (enum vmlet_type)rec.type;
		if (vmlet_type_is_scalar(rec.type)) {
			memcpy(&bits, p + sizeof(rec), 8);
			switch (v.type) {
			case VMLET_BOOL: v.b = bits != 0; break;
			case VMLET_I32: v.i32 = (int32_t)bits; break;
			case VMLET_U32: v.u32 = (uint32_t)bits; break;
			case VMLET_F32: memcpy(&v.f32, &bits, 4); break;
			default: v.u64 = bits;
			}
		} else {
			v.buf.ptr = p + sizeof(rec);
			v.buf.len = rec.len;
		}
		push_value(ctx, &v);
		p += vmlet_rec_size(rec.type, rec.len);
		n++;
	}
	if (duk_pcall(ctx, n))
		fail(ctx, VMLET_JS_THROW);
	if (rtype == VMLET_VOID)
		return (struct vmlet_bytes){NULL, 0};
	if (!to_value(ctx, -1, (enum vmlet_type)rtype, &v)) {
		duk_push_error_object(ctx, DUK_ERR_TYPE_ERROR, "%s: the result must be %s, not %s",
				      handler, type_name((enum vmlet_type)rtype), describe(ctx, -1));
		fail(ctx, VMLET_JS_BADOUTPUT);
	}
	buf = vmlet_result_buf(&cap);
	if (vmlet_type_is_scalar(v.type))
		return (struct vmlet_bytes){buf, vmlet_rec_put_scalar(buf, v.type,
								     vmlet_scalar_bits(&v))};
	if (v.buf.len > UINT32_MAX || vmlet_rec_size(v.type, (uint32_t)v.buf.len) > cap) {
		duk_push_error_object(ctx, DUK_ERR_RANGE_ERROR,
				      "%s: the result (%zu bytes) does not fit the output buffer",
				      handler, (size_t)v.buf.len);
		fail(ctx, VMLET_JS_BADOUTPUT);
	}
	return (struct vmlet_bytes){buf, vmlet_rec_put_buf(buf, v.type, v.buf.ptr,
							   (uint32_t)v.buf.len)};
}

int main(void)
{
	static const duk_function_list_entry console[] = {
		{"log", console_print, DUK_VARARGS},
		{"error", console_print, DUK_VARARGS},
		{"warn", console_print, DUK_VARARGS},
		{"info", console_print, DUK_VARARGS},
		{NULL, NULL, 0},
	};

	ctx = duk_create_heap(NULL, NULL, NULL, NULL, fatal);
	if (!ctx)
		vmlet_abort(-ENOMEM, "cannot create the Duktape heap");
	duk_push_object(ctx);
	duk_put_function_list(ctx, -1, console);
	duk_put_global_string(ctx, "console");
	duk_push_object(ctx);
	duk_put_global_string(ctx, "host");
	VMLET_REGISTER(load, VMLET_STRING, VMLET_STRING, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(event, VMLET_STRING, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(event_typed, VMLET_BYTES, VMLET_STRING, VMLET_BYTES, VMLET_U32);
	vmlet_ready();
}
