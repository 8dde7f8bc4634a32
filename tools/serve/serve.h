/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmlet-serve: what its files share. main.c sets up and tears down,
 * http.c speaks HTTP (libmicrohttpd), json.c converts between JSON and
 * vmlet values, worker.c runs calls in sandboxes on confined threads,
 * native.c loads the native baseline, metrics.c counts and prints.
 */
#ifndef VMLET_SERVE_H
#define VMLET_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmlet.h>

#include "native.h"

/* How a call gets its sandbox; names as hyperlight-bench's. */
enum lifecycle {
	LC_REUSE,   /* one warm sandbox per worker, restored only after a failure */
	LC_RESTORE, /* a fresh VM per call: pool acquire, call, release (restore) */
	LC_RENEW,   /* create a sandbox from the snapshot per call, destroy it after */
	LC_NATIVE,  /* the same C function in-process, no VM */
	LC_N
};

extern const char *const lifecycle_names[LC_N];
int lifecycle_parse(const char *s, enum lifecycle *lc);

/* What the served file is. */
enum guest_kind {
	GUEST_C,    /* a guest image: its functions, typed */
	GUEST_WASM, /* a guest image made by vmlet-wasm-cc (or a .wasm compiled to one) */
	GUEST_JS,   /* a script: its handlers, each called with a JSON event */
};

/*
 * One callable function: its signature and how it is served. A JS
 * handler's route calls the guest's event(handler, json) at index, with
 * sig.name the handler.
 */
struct route {
	struct vmlet_func sig; /* sig.name owned */
	unsigned int index;    /* in the image (and in the native object) */
	enum lifecycle lc;
};

/* Per-call guest output kept for the response. */
#define OUTPUT_CAP (16 * 1024)
/* Result bytes kept for the response: the guest's output buffer size. */
#define RESULT_CAP (64 * 1024)

/* A call handed to a worker, and its outcome. */
struct job {
	const struct route *route;
	struct vmlet_value args[VMLET_MAX_ARGS];
	void *json; /* the parsed body (jansson), which string arguments point into */
	int err;
	struct vmlet_value ret; /* string/bytes point into result */
	struct vmlet_fault fault;
	char output[OUTPUT_CAP];
	size_t outlen;
	char result[RESULT_CAP];
	/* CLOCK_MONOTONIC ns: handed over, taken by the worker, answered by it. */
	uint64_t posted_ns, taken_ns, answered_ns;
	/* How the worker found the job, and the HTTP thread the answer: WAIT_*. */
	unsigned char taken_how, answered_how;
};

/* How a hand-over found the thread it went to. */
enum { WAIT_READY, WAIT_SPINNING, WAIT_SLEEPING, WAIT_N };

struct server {
	/* options */
	const char *image_path;
	const char *path; /* as given: the image, the .wasm module or the script */
	enum guest_kind kind;
	const char *native_path;
	const char *listen_addr;
	unsigned int port;
	const char *port_file;
	unsigned int workers;
	unsigned int pool_size;
	uint64_t timeout_ms;
	size_t max_body;
	unsigned int conn_timeout_s;
	uint64_t spin_ns;  /* on a hand-over, before sleeping */
	unsigned int cpus; /* the server's, for spinning */
	enum lifecycle lc;
	bool confine;
	bool lcs[LC_N]; /* which lifecycles some route uses */

	struct vmlet_image *img;
	struct vmlet_js *js;	     /* GUEST_JS: the loaded script, which owns snap */
	struct vmlet_snapshot *snap; /* what every sandbox is made from */
	struct route *routes;
	unsigned int nroutes;
	char *functions_json; /* GET /functions, made once */
	size_t functions_len;

	vmlet_native_call_fn native_call;
	void *native_handle;

	struct worker **w;
	struct metrics *m;
	void *daemon;
	unsigned int bound_port;
	int draining;
	unsigned int in_flight;
};

/* worker.c */
int workers_start(struct server *s);
void workers_stop(struct server *s);
struct worker *worker_for_thread(struct server *s);
unsigned int worker_id(const struct worker *w);
void worker_print(void *ctx, const char *buf, size_t len);
void job_output(struct job *job, const char *buf, size_t len);
/* Run job on the calling thread's worker; job's outcome is set on return. */
void worker_call(struct worker *w, struct job *job);
void worker_pool_stats(const struct worker *w, struct vmlet_pool_stats *st);
uint64_t worker_restores(const struct worker *w);
uint64_t worker_renewed(const struct worker *w);

/* http.c */
int http_start(struct server *s, int listen_fd);
int http_quiesce(struct server *s);
void http_stop(struct server *s);

/* native.c */
int native_open(struct server *s, const char *path);
void native_call(struct server *s, struct job *job);

/* json.c */
struct argbuf {
	uint8_t *bytes; /* decoded bytes arguments, freed with the request */
	size_t used, cap;
};
/* Parse body into job->args for route; 0 or the JSON error text in err. */
int json_args(const struct route *r, const char *body, size_t len, struct job *job,
	      struct argbuf *ab, char *err, size_t errlen);
/* Append the JSON text of v / of string bytes to a growing buffer. */
struct text {
	char *p;
	size_t len, cap;
	bool oom;
};
void text_put(struct text *t, const char *s, size_t n);
void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_json_string(struct text *t, const char *s, size_t n);
void text_json_value(struct text *t, const struct vmlet_value *v);
int functions_json(struct server *s);

/* metrics.c */
enum err_kind {
	EK_BAD_JSON,
	EK_BAD_ARGS,
	EK_NOT_FOUND,
	EK_METHOD,
	EK_TOO_LARGE,
	EK_DEADLINE,
	EK_EXCEPTION,
	EK_ABORT,
	EK_EXIT,
	EK_SHUTDOWN,
	EK_PROTO,
	EK_VMEXIT,
	EK_DEAD,
	EK_REFUSED,
	EK_INTERRUPTED,
	EK_OUTPUT,
	EK_UNAVAILABLE,
	EK_FAIL,	  /* the function failed (vmlet_fail) */
	EK_JS_EXCEPTION,  /* the handler threw */
	EK_JS_BAD_OUTPUT, /* its result has no JSON form */
	EK_JS_NOMEM,	  /* the engine ran out of guest memory */
	EK_WASM_TRAP,
	EK_N
};
extern const char *const err_kind_names[EK_N];
int metrics_init(struct server *s);
void metrics_free(struct server *s);
unsigned int metrics_slot(struct server *s);
void metrics_request(struct server *s, unsigned int slot, unsigned int status);
void metrics_error(struct server *s, unsigned int slot, enum err_kind k);
void metrics_call(struct server *s, unsigned int slot, enum lifecycle lc, uint64_t ns);
/* The two hand-overs of a call run by a worker (worker.c), from the job's times. */
void metrics_handoff(struct server *s, unsigned int slot, const struct job *job, uint64_t back_ns);
void metrics_text(struct server *s, struct text *t);

uint64_t now_ns(void);

#endif /* VMLET_SERVE_H */
