// SPDX-License-Identifier: BSD-2-Clause
/*
 * JSON in and out. Arguments are parsed with jansson and checked against
 * the function's vmlet signature; responses are written by hand into one
 * growing buffer (struct text), which is all they need and saves
 * building a jansson tree per response.
 *
 * Type mapping: bool is true/false; i32, u32, i64 and u64 are JSON
 * integers in the type's range (u64 up to 2^63 - 1 in, as jansson holds
 * integers as long long; any u64 out); f32 and f64 are any JSON number
 * (non-finite results come out as null); string is a JSON string (no
 * NUL); bytes is an array of integers 0..255.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

static bool grow(struct text *t, size_t more)
{
	size_t cap;
	char *p;

	if (t->oom)
		return false;
	if (t->len + more + 1 <= t->cap)
		return true;
	cap = t->cap ? t->cap : 256;
	while (cap < t->len + more + 1)
		cap *= 2;
	p = realloc(t->p, cap);
	if (!p) {
		t->oom = true;
		return false;
	}
	t->p = p;
	t->cap = cap;
	return true;
}

void text_put(struct text *t, const char *s, size_t n)
{
	if (!grow(t, n))
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (t->p && (size_t)n < t->cap - t->len)) {
		if (n > 0)
			t->len += (size_t)n;
		return;
	}
	if (!grow(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	c = s[0] & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

/* A JSON string of n bytes; bytes that are not UTF-8 become U+FFFD. */
void text_json_string(struct text *t, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	text_put(t, "\"", 1);
	while (i < n) {
		unsigned char c = p[i];
		size_t l = 1;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			run++;
			i++;
			continue;
		}
		text_put(t, s + i - run, run);
		run = 0;
		if (c >= 0x80) {
			l = utf8_len(p + i, n - i);
			if (l)
				text_put(t, s + i, l);
			else
				text_put(t, "\\ufffd", 6), l = 1;
		} else if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			text_put(t, e, 2);
		} else if (c == '\n') {
			text_put(t, "\\n", 2);
		} else if (c == '\t') {
			text_put(t, "\\t", 2);
		} else {
			text_printf(t, "\\u%04x", c);
		}
		i += l;
	}
	text_put(t, s + i - run, run);
	text_put(t, "\"", 1);
}

static void put_real(struct text *t, double d, bool single)
{
	if (!isfinite(d))
		text_put(t, "null", 4);
	else
		text_printf(t, single ? "%.9g" : "%.17g", d);
}

void text_json_value(struct text *t, const struct vmlet_value *v)
{
	const uint8_t *b;

	switch (v->type) {
	case VMLET_VOID:
		text_put(t, "null", 4);
		break;
	case VMLET_BOOL:
		if (v->b)
			text_put(t, "true", 4);
		else
			text_put(t, "false", 5);
		break;
	case VMLET_I32:
		text_printf(t, "%" PRId32, v->i32);
		break;
	case VMLET_U32:
		text_printf(t, "%" PRIu32, v->u32);
		break;
	case VMLET_I64:
		text_printf(t, "%" PRId64, v->i64);
		break;
	case VMLET_U64:
		text_printf(t, "%" PRIu64, v->u64);
		break;
	case VMLET_F32:
		put_real(t, v->f32, true);
		break;
	case VMLET_F64:
		put_real(t, v->f64, false);
		break;
	case VMLET_STRING:
		text_json_string(t, v->buf.ptr, v->buf.len);
		break;
	case VMLET_BYTES:
		b = v->buf.ptr;
		text_put(t, "[", 1);
		for (size_t i = 0; i < v->buf.len; i++)
			text_printf(t, i ? ",%u" : "%u", b[i]);
		text_put(t, "]", 1);
		break;
	default:
		text_put(t, "null", 4);
	}
}

static bool int_in(const json_t *j, long long lo, long long hi, long long *out)
{
	if (!json_is_integer(j))
		return false;
	*out = json_integer_value(j);
	return *out >= lo && *out <= hi;
}

static int bytes_arg(const json_t *j, struct argbuf *ab, struct vmlet_value *v)
{
	size_t n = json_array_size(j), i;
	const json_t *e;
	uint8_t *p;

	if (ab->used + n > ab->cap) {
		size_t cap = ab->cap ? ab->cap : 256;

		while (cap < ab->used + n)
			cap *= 2;
		p = realloc(ab->bytes, cap);
		if (!p)
			return -ENOMEM;
		ab->bytes = p;
		ab->cap = cap;
	}
	/* Offsets, not pointers, until every argument is in: realloc moves. */
	p = ab->bytes + ab->used;
	json_array_foreach(j, i, e)
	{
		long long x = 0;

		if (!int_in(e, 0, 255, &x))
			return -EINVAL;
		p[i] = (uint8_t)x;
	}
	v->buf.ptr = (const void *)(uintptr_t)ab->used;
	v->buf.len = n;
	ab->used += n;
	return 0;
}

int json_args(const struct route *r, const char *body, size_t len, struct job *job,
	      struct argbuf *ab, char *err, size_t errlen)
{
	const struct vmlet_func *f = &r->sig;
	json_error_t je;
	json_t *root, *j;
	long long x = 0;
	int e = 0;

	root = json_loadb(body, len, 0, &je);
	if (!root) {
		snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
			 je.text);
		return -EBADMSG;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "the body must be a JSON array of arguments");
		e = -EINVAL;
		goto out;
	}
	if (json_array_size(root) != f->nargs) {
		snprintf(err, errlen, "%s takes %u argument%s, not %zu", f->name, f->nargs,
			 f->nargs == 1 ? "" : "s", json_array_size(root));
		e = -EINVAL;
		goto out;
	}
	for (unsigned int i = 0; i < f->nargs; i++) {
		struct vmlet_value *v = &job->args[i];
		bool ok = true;

		j = json_array_get(root, i);
		v->type = f->args[i];
		switch (f->args[i]) {
		case VMLET_BOOL:
			ok = json_is_boolean(j);
			v->b = json_is_true(j);
			break;
		case VMLET_I32:
			ok = int_in(j, INT32_MIN, INT32_MAX, &x);
			v->i32 = (int32_t)x;
			break;
		case VMLET_U32:
			ok = int_in(j, 0, UINT32_MAX, &x);
			v->u32 = (uint32_t)x;
			break;
		case VMLET_I64:
			ok = int_in(j, INT64_MIN, INT64_MAX, &x);
			v->i64 = x;
			break;
		case VMLET_U64:
			ok = int_in(j, 0, INT64_MAX, &x);
			v->u64 = (uint64_t)x;
			break;
		case VMLET_F32:
			ok = json_is_number(j);
			v->f32 = (float)json_number_value(j);
			break;
		case VMLET_F64:
			ok = json_is_number(j);
			v->f64 = json_number_value(j);
			break;
		case VMLET_STRING:
			ok = json_is_string(j);
			if (ok)
				*v = vmlet_strn(json_string_value(j), json_string_length(j));
			break;
		case VMLET_BYTES:
			ok = json_is_array(j) && bytes_arg(j, ab, v) == 0;
			break;
		default:
			ok = false;
		}
		if (!ok) {
			snprintf(err, errlen, "argument %u of %s must be %s%s", i + 1, f->name,
				 vmlet_type_name(f->args[i]),
				 f->args[i] == VMLET_BYTES ? " (an array of integers 0..255)" : "");
			e = -EINVAL;
			goto out;
		}
	}
	for (unsigned int i = 0; i < f->nargs; i++)
		if (job->args[i].type == VMLET_BYTES)
			job->args[i].buf.ptr = ab->bytes + (uintptr_t)job->args[i].buf.ptr;
	job->json = root;
	return 0;
out:
	json_decref(root);
	return e;
}

/* GET /functions: every route's signature and lifecycle, made once. */
int functions_json(struct server *s)
{
	struct text t = {0};

	text_put(&t, "[", 1);
	for (unsigned int i = 0; i < s->nroutes; i++) {
		const struct route *r = &s->routes[i];

		text_printf(&t, "%s{\"name\":", i ? "," : "");
		text_json_string(&t, r->sig.name, strlen(r->sig.name));
		if (s->kind == GUEST_JS) {
			/* A handler: a JSON event in, a JSON result out. */
			text_printf(
				&t,
				",\"result\":\"json\",\"args\":[\"json\"],\"lifecycle\":\"%s\"}",
				lifecycle_names[r->lc]);
			continue;
		}
		text_printf(&t, ",\"result\":\"%s\",\"args\":[", vmlet_type_name(r->sig.ret));
		for (unsigned int a = 0; a < r->sig.nargs; a++)
			text_printf(&t, "%s\"%s\"", a ? "," : "", vmlet_type_name(r->sig.args[a]));
		text_printf(&t, "],\"lifecycle\":\"%s\"}", lifecycle_names[r->lc]);
	}
	text_put(&t, "]\n", 2);
	if (t.oom) {
		free(t.p);
		return -ENOMEM;
	}
	s->functions_json = t.p;
	s->functions_len = t.len;
	return 0;
}
