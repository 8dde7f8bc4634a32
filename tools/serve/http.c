// SPDX-License-Identifier: BSD-2-Clause
/*
 * HTTP/1.1 with libmicrohttpd (Debian's libmicrohttpd-dev). Why it: a
 * small, long-maintained C library (GNU, in Debian for years) whose
 * thread-pool mode runs one epoll loop per thread on a shared listening
 * socket, which is exactly "one HTTP thread per worker"; it parses
 * requests, bounds header memory, times out slow or idle clients
 * (MHD_OPTION_CONNECTION_TIMEOUT) and can stop accepting while in-flight
 * requests finish (MHD_quiesce_daemon), which SIGTERM's drain needs.
 *
 * Routes: POST /call/FUNC with a JSON array of arguments (a script's
 * handler: with a JSON event, which the guest parses), GET /functions,
 * GET /metrics. Every answer is JSON (metrics: Prometheus text), every
 * error {"error": KIND, ...} with its status: 400 bad JSON or arguments,
 * 404 unknown function or path, 405 wrong method, 413 body over
 * --max-body, 500 a guest fault (its kind, vector, guest address, abort
 * code and message: the guest's own, never the host's; a failed function
 * is kind "fail", a JS handler's exception "js_exception" with the JS
 * error and stack, a Wasm trap "wasm_trap" with the trap's name), 503 no sandbox
 * to be had (host-side failures, whose details stay in the host), 504
 * the call's deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define CALL_PREFIX "/call/"
#define INLINE_BODY 1024

struct req {
	char *body;
	size_t len, cap;
	bool too_large;
	size_t skipped; /* bytes of a too large body not kept */
	char inline_body[INLINE_BODY];
};

/* Each HTTP thread's job and argument bytes, reused request after request. */
struct tls {
	struct job job;
	struct argbuf args;
};
static pthread_key_t tls_key;
static __thread struct tls *tls;

static void tls_free(void *p)
{
	struct tls *t = p;

	free(t->args.bytes);
	free(t);
}

static const struct route *find_route(const struct server *s, const char *name)
{
	for (unsigned int i = 0; i < s->nroutes; i++)
		if (!strcmp(s->routes[i].sig.name, name))
			return &s->routes[i];
	return NULL;
}

static enum MHD_Result send_text(struct server *s, struct MHD_Connection *c, unsigned int status,
				 struct text *t, const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (t->oom) {
		free(t->p);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(t->len, t->p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(t->p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	metrics_request(s, metrics_slot(s), status);
	return r;
}

static enum MHD_Result send_json(struct server *s, struct MHD_Connection *c, unsigned int status,
				 struct text *t)
{
	return send_text(s, c, status, t, "application/json");
}

static enum MHD_Result send_error(struct server *s, struct MHD_Connection *c, unsigned int status,
				  enum err_kind k, const char *msg)
{
	struct text t = {0};

	text_printf(&t, "{\"error\":\"%s\"", err_kind_names[k]);
	if (msg) {
		text_put(&t, ",\"message\":", 11);
		text_json_string(&t, msg, strlen(msg));
	}
	text_put(&t, "}\n", 2);
	metrics_error(s, metrics_slot(s), k);
	return send_json(s, c, status, &t);
}

static enum err_kind fault_kind(int err)
{
	switch (-err) {
	case VMLET_ETIMEDOUT:
		return EK_DEADLINE;
	case VMLET_EEXCEPTION:
		return EK_EXCEPTION;
	case VMLET_EABORT:
		return EK_ABORT;
	case VMLET_EEXIT:
		return EK_EXIT;
	case VMLET_ESHUTDOWN:
		return EK_SHUTDOWN;
	case VMLET_EPROTO:
		return EK_PROTO;
	case VMLET_EVMEXIT:
		return EK_VMEXIT;
	case VMLET_EDEAD:
		return EK_DEAD;
	case VMLET_EREFUSED:
		return EK_REFUSED;
	case VMLET_EINTR:
		return EK_INTERRUPTED;
	case VMLET_EOUTPUT:
		return EK_OUTPUT;
	case VMLET_EFAIL:
		return EK_FAIL;
	default:
		return EK_UNAVAILABLE; /* a host-side errno: said nowhere but here */
	}
}

static void put_output(struct text *t, const struct job *job)
{
	if (!job->outlen)
		return;
	text_put(t, ",\"output\":", 10);
	text_json_string(t, job->output, job->outlen);
}

/* wasm-rt.h's wasm_rt_trap_t, the code of a Wasm trap's vmlet_fail(). */
static const char *const wasm_traps[] = {
	[1] = "oob",
	[2] = "int_overflow",
	[3] = "div_by_zero",
	[4] = "invalid_conversion",
	[5] = "unreachable",
	[6] = "call_indirect",
	[7] = "uncaught_exception",
	[8] = "exhaustion",
};

/* A failed call of a script's handler that is the request's fault: 400, 404; else 0. */
static enum MHD_Result js_request_fault(struct server *s, struct MHD_Connection *c,
					const struct job *job, bool *done)
{
	const struct vmlet_fault *f = &job->fault;

	*done = true;
	if (f->code == VMLET_JS_NOHANDLER)
		return send_error(s, c, 404, EK_NOT_FOUND, "no such handler");
	if (f->code == VMLET_JS_BADINPUT)
		return send_error(s, c, 400, EK_BAD_JSON,
				  strnlen(f->message, sizeof(f->message)) < sizeof(f->message)
					  ? f->message
					  : "bad JSON");
	*done = false;
	return MHD_NO;
}

static enum err_kind fail_kind(const struct server *s, const struct vmlet_fault *f)
{
	if (s->kind == GUEST_JS && f->code == VMLET_JS_THROW)
		return EK_JS_EXCEPTION;
	if (s->kind == GUEST_JS && f->code == VMLET_JS_BADOUTPUT)
		return EK_JS_BAD_OUTPUT;
	if (s->kind == GUEST_JS && f->code == VMLET_JS_NOMEM)
		return EK_JS_NOMEM;
	if (s->kind == GUEST_WASM && f->code > 0 &&
	    f->code < (long)(sizeof(wasm_traps) / sizeof(wasm_traps[0])) && wasm_traps[f->code])
		return EK_WASM_TRAP;
	return EK_FAIL;
}

static enum MHD_Result answer_call(struct server *s, struct MHD_Connection *c,
				   const struct job *job)
{
	const struct vmlet_fault *f = &job->fault;
	struct text t = {0};
	enum err_kind k;
	unsigned int status;
	enum MHD_Result r;
	bool done;

	if (!job->err) {
		text_put(&t, "{\"result\":", 10);
		if (s->kind == GUEST_JS) /* the guest's JSON.stringify() */
			text_put(&t, job->ret.buf.ptr, job->ret.buf.len);
		else
			text_json_value(&t, &job->ret);
		put_output(&t, job);
		text_put(&t, "}\n", 2);
		return send_json(s, c, 200, &t);
	}
	if (job->err == -VMLET_EFAIL && s->kind == GUEST_JS) {
		r = js_request_fault(s, c, job, &done);
		if (done)
			return r;
	}
	k = fault_kind(job->err);
	if (k == EK_FAIL)
		k = fail_kind(s, f);
	status = k == EK_DEADLINE ? 504 : k == EK_UNAVAILABLE ? 503 : 500;
	text_printf(&t, "{\"error\":\"%s\"", status == 500 ? "guest_fault" : err_kind_names[k]);
	if (status == 500)
		text_printf(&t, ",\"kind\":\"%s\"", err_kind_names[k]);
	if (k == EK_EXCEPTION) {
		text_printf(&t, ",\"vector\":%u,\"rip\":%lu", f->vector, f->rip);
		if (f->vector == 14)
			text_printf(&t, ",\"address\":%lu", f->address);
	} else if (k == EK_ABORT || k == EK_EXIT || k == EK_FAIL) {
		text_printf(&t, ",\"code\":%ld", f->code);
		if (k != EK_EXIT) {
			text_put(&t, ",\"message\":", 11);
			text_json_string(&t, f->message, strnlen(f->message, sizeof(f->message)));
		}
	} else if (k == EK_WASM_TRAP || k == EK_JS_EXCEPTION || k == EK_JS_BAD_OUTPUT ||
		   k == EK_JS_NOMEM) {
		if (k == EK_WASM_TRAP)
			text_printf(&t, ",\"trap\":\"%s\"", wasm_traps[f->code]);
		text_put(&t, ",\"message\":", 11);
		text_json_string(&t, f->message, strnlen(f->message, sizeof(f->message)));
	}
	put_output(&t, job);
	text_put(&t, "}\n", 2);
	metrics_error(s, metrics_slot(s), k);
	return send_json(s, c, status, &t);
}

static enum MHD_Result do_call(struct server *s, struct MHD_Connection *c, const char *name,
			       struct req *rq)
{
	const struct route *r = find_route(s, name);
	struct job *job;
	char err[256];
	uint64_t t0;
	int e;

	if (!r)
		return send_error(s, c, 404, EK_NOT_FOUND, "no such function");
	if (rq->too_large)
		return send_error(s, c, 413, EK_TOO_LARGE, "request body too large");
	if (!tls) {
		tls = calloc(1, sizeof(*tls));
		if (!tls || pthread_setspecific(tls_key, tls)) {
			free(tls);
			tls = NULL;
			return MHD_NO;
		}
	}
	job = &tls->job;
	job->route = r;
	tls->args.used = 0;
	if (s->kind == GUEST_JS) {
		/* event(handler, json): the guest parses the event itself. */
		job->args[0] = vmlet_strn(r->sig.name, strlen(r->sig.name));
		job->args[1] = vmlet_strn(rq->body, rq->len);
		/* The guest reads it as a C string: a NUL would cut it short. */
		e = rq->len && memchr(rq->body, 0, rq->len) ? -EBADMSG : 0;
		if (e)
			snprintf(err, sizeof(err), "malformed JSON: a NUL byte in the event");
	} else {
		e = json_args(r, rq->body, rq->len, job, &tls->args, err, sizeof(err));
	}
	if (e == -ENOMEM)
		return MHD_NO;
	if (e)
		return send_error(s, c, 400, e == -EBADMSG ? EK_BAD_JSON : EK_BAD_ARGS, err);
	t0 = now_ns();
	if (r->lc == LC_NATIVE) {
		native_call(s, job);
		metrics_call(s, metrics_slot(s), r->lc, now_ns() - t0);
	} else {
		uint64_t t1;

		worker_call(worker_for_thread(s), job);
		t1 = now_ns();
		metrics_call(s, metrics_slot(s), r->lc, t1 - t0);
		metrics_handoff(s, metrics_slot(s), job, t1);
	}
	e = answer_call(s, c, job);
	json_decref(job->json);
	job->json = NULL;
	return e;
}

static enum MHD_Result route(struct server *s, struct MHD_Connection *c, const char *url,
			     const char *method, struct req *rq)
{
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET),
	     post = !strcmp(method, MHD_HTTP_METHOD_POST);
	struct text t = {0};

	if (!strncmp(url, CALL_PREFIX, sizeof(CALL_PREFIX) - 1)) {
		if (!post)
			return send_error(s, c, 405, EK_METHOD, "use POST");
		return do_call(s, c, url + sizeof(CALL_PREFIX) - 1, rq);
	}
	if (!strcmp(url, "/functions")) {
		if (!get)
			return send_error(s, c, 405, EK_METHOD, "use GET");
		text_put(&t, s->functions_json, s->functions_len);
		return send_json(s, c, 200, &t);
	}
	if (!strcmp(url, "/metrics")) {
		if (!get)
			return send_error(s, c, 405, EK_METHOD, "use GET");
		metrics_text(s, &t);
		return send_text(s, c, 200, &t, "text/plain; version=0.0.4");
	}
	return send_error(s, c, 404, EK_NOT_FOUND, "no such path");
}

static bool append(struct server *s, struct req *rq, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (rq->too_large)
		return false;
	if (n > s->max_body - rq->len) {
		rq->too_large = true;
		return false;
	}
	if (rq->len + n > rq->cap) {
		cap = rq->cap * 2;
		while (cap < rq->len + n)
			cap *= 2;
		if (cap > s->max_body)
			cap = s->max_body;
		p = malloc(cap);
		if (!p)
			return false;
		memcpy(p, rq->body, rq->len);
		if (rq->body != rq->inline_body)
			free(rq->body);
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	return true;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct req *rq = *con_cls;
	const char *cl;

	(void)version;
	if (!rq) {
		rq = malloc(sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->body = rq->inline_body;
		rq->len = 0;
		rq->cap = INLINE_BODY;
		rq->too_large = false;
		rq->skipped = 0;
		*con_cls = rq;
		__atomic_fetch_add(&s->in_flight, 1, __ATOMIC_RELAXED);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > s->max_body) {
			rq->too_large = true;
			/* Answered before the body, which is then not read. */
			return send_error(s, c, 413, EK_TOO_LARGE, "request body too large");
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		/*
		 * A body without Content-Length (chunked) that grows too large
		 * is read to its end and then answered 413: libmicrohttpd
		 * cannot answer in the middle of a chunked upload. One that
		 * goes on past 16 times the limit loses its connection.
		 */
		if (!append(s, rq, upload_data, *upload_data_size) &&
		    (!rq->too_large || (rq->skipped += *upload_data_size) > 16 * s->max_body))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return route(s, c, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct req *rq = *con_cls;

	(void)c, (void)toe;
	if (!rq)
		return;
	if (rq->body != rq->inline_body)
		free(rq->body);
	free(rq);
	*con_cls = NULL;
	__atomic_fetch_sub(&s->in_flight, 1, __ATOMIC_RELEASE);
}

int http_start(struct server *s, int listen_fd)
{
	int err = -pthread_key_create(&tls_key, tls_free);

	if (err)
		return err;
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
		0, NULL, NULL, handler, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, s->workers, MHD_OPTION_CONNECTION_TIMEOUT,
		s->conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
	return s->daemon ? 0 : -EIO;
}

/* Stop accepting; the listening socket is the caller's to close. */
int http_quiesce(struct server *s)
{
	return MHD_quiesce_daemon(s->daemon);
}

void http_stop(struct server *s)
{
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
}
