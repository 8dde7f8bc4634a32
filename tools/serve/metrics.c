// SPDX-License-Identifier: BSD-2-Clause
/*
 * Counters and latency histograms, printed in the Prometheus text format
 * (version 0.0.4) for GET /metrics. Each HTTP thread counts into its own
 * slot (its worker's index) with relaxed atomic adds, so threads do not
 * share cache lines on the request path; /metrics sums the slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

static const unsigned int codes[] = {200, 400, 404, 405, 413, 500, 503, 504};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Bucket upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bounds_us[] = {25,     50,     100,     250,     500,	1000,
				     2500,   5000,   10000,   25000,   50000,	100000,
				     250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))

const char *const err_kind_names[EK_N] = {
	[EK_BAD_JSON] = "bad_json",
	[EK_BAD_ARGS] = "bad_arguments",
	[EK_NOT_FOUND] = "not_found",
	[EK_METHOD] = "method_not_allowed",
	[EK_TOO_LARGE] = "too_large",
	[EK_DEADLINE] = "deadline",
	[EK_EXCEPTION] = "exception",
	[EK_ABORT] = "abort",
	[EK_EXIT] = "exit",
	[EK_SHUTDOWN] = "shutdown",
	[EK_PROTO] = "protocol",
	[EK_VMEXIT] = "vm_exit",
	[EK_DEAD] = "dead",
	[EK_REFUSED] = "refused",
	[EK_INTERRUPTED] = "interrupted",
	[EK_OUTPUT] = "output_limit",
	[EK_UNAVAILABLE] = "unavailable",
	[EK_FAIL] = "fail",
	[EK_JS_EXCEPTION] = "js_exception",
	[EK_JS_BAD_OUTPUT] = "js_bad_output",
	[EK_JS_NOMEM] = "js_nomem",
	[EK_WASM_TRAP] = "wasm_trap",
};

/* Finer bounds for the hand-overs between HTTP thread and worker. */
static const uint64_t hbounds_us[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000};
#define NHBOUNDS (sizeof(hbounds_us) / sizeof(hbounds_us[0]))
enum { TO_WORKER, FROM_WORKER, NWAYS };
static const char *const way_names[NWAYS] = {"to_worker", "from_worker"};
static const char *const found_names[WAIT_N] = {
	[WAIT_READY] = "ready",
	[WAIT_SPINNING] = "spinning",
	[WAIT_SLEEPING] = "sleeping",
};

struct slot {
	uint64_t requests[NCODES + 1]; /* the last: any other status */
	uint64_t errors[EK_N];
	uint64_t hist[LC_N][NBOUNDS + 1];
	uint64_t sum_ns[LC_N];
	uint64_t hhist[NWAYS][NHBOUNDS + 1];
	uint64_t hsum_ns[NWAYS];
	uint64_t hfound[NWAYS][WAIT_N];
} __attribute__((aligned(64)));

struct metrics {
	struct slot *slots;
};

static void add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int metrics_init(struct server *s)
{
	s->m = calloc(1, sizeof(*s->m));
	if (!s->m)
		return -ENOMEM;
	s->m->slots = aligned_alloc(64, sizeof(struct slot) * s->workers);
	if (!s->m->slots) {
		free(s->m);
		s->m = NULL;
		return -ENOMEM;
	}
	memset(s->m->slots, 0, sizeof(struct slot) * s->workers);
	return 0;
}

void metrics_free(struct server *s)
{
	if (s->m)
		free(s->m->slots);
	free(s->m);
	s->m = NULL;
}

unsigned int metrics_slot(struct server *s)
{
	return worker_id(worker_for_thread(s));
}

void metrics_request(struct server *s, unsigned int slot, unsigned int status)
{
	unsigned int i = 0;

	while (i < NCODES && codes[i] != status)
		i++;
	add(&s->m->slots[slot].requests[i], 1);
}

void metrics_error(struct server *s, unsigned int slot, enum err_kind k)
{
	add(&s->m->slots[slot].errors[k], 1);
}

void metrics_call(struct server *s, unsigned int slot, enum lifecycle lc, uint64_t ns)
{
	struct slot *sl = &s->m->slots[slot];
	unsigned int b = 0;

	while (b < NBOUNDS && ns > bounds_us[b] * 1000)
		b++;
	add(&sl->hist[lc][b], 1);
	add(&sl->sum_ns[lc], ns);
}

static void handoff(struct slot *sl, unsigned int way, uint64_t ns, unsigned char found)
{
	unsigned int b = 0;

	while (b < NHBOUNDS && ns > hbounds_us[b] * 1000)
		b++;
	add(&sl->hhist[way][b], 1);
	add(&sl->hsum_ns[way], ns);
	add(&sl->hfound[way][found < WAIT_N ? found : WAIT_SLEEPING], 1);
}

/* From posting the job to the worker taking it, and from its answer to back_ns. */
void metrics_handoff(struct server *s, unsigned int slot, const struct job *job, uint64_t back_ns)
{
	struct slot *sl = &s->m->slots[slot];

	handoff(sl, TO_WORKER, job->taken_ns - job->posted_ns, job->taken_how);
	handoff(sl, FROM_WORKER, back_ns - job->answered_ns, job->answered_how);
}

static uint64_t sum(struct server *s, size_t off)
{
	uint64_t t = 0;

	for (unsigned int i = 0; i < s->workers; i++)
		t += get((const uint64_t *)((const char *)&s->m->slots[i] + off));
	return t;
}

#define SUM(s, field) sum((s), offsetof(struct slot, field))

/*
 * One Prometheus histogram series NAME{LABEL="VALUE"}: its buckets (the
 * counters at counts_off in each slot, one per bound and +Inf), sum (ns
 * at sum_off) and count.
 */
static void histogram(struct server *s, struct text *t, const char *name, const char *label,
		      const char *value, const uint64_t *bounds, unsigned int nbounds,
		      size_t counts_off, size_t sum_off)
{
	uint64_t cum = 0;

	for (unsigned int b = 0; b <= nbounds; b++) {
		cum += sum(s, counts_off + b * sizeof(uint64_t));
		if (b < nbounds)
			text_printf(t, "%s_bucket{%s=\"%s\",le=\"%g\"} %lu\n", name, label, value,
				    (double)bounds[b] / 1e6, cum);
		else
			text_printf(t, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %lu\n", name, label, value,
				    cum);
	}
	text_printf(t, "%s_sum{%s=\"%s\"} %.9f\n", name, label, value,
		    (double)sum(s, sum_off) / 1e9);
	text_printf(t, "%s_count{%s=\"%s\"} %lu\n", name, label, value, cum);
}

void metrics_text(struct server *s, struct text *t)
{
	uint64_t idle = 0, live = 0, size = 0, created = 0, restored = 0, discarded = 0;
	uint64_t reuse_restores = 0, renewed = 0;

	text_printf(t, "# HELP vmlet_serve_requests_total HTTP requests answered, by status.\n"
		       "# TYPE vmlet_serve_requests_total counter\n");
	for (unsigned int i = 0; i < NCODES; i++)
		text_printf(t, "vmlet_serve_requests_total{code=\"%u\"} %lu\n", codes[i],
			    SUM(s, requests[i]));
	text_printf(t, "vmlet_serve_requests_total{code=\"other\"} %lu\n",
		    SUM(s, requests[NCODES]));
	text_printf(t, "# HELP vmlet_serve_errors_total Failed requests, by kind.\n"
		       "# TYPE vmlet_serve_errors_total counter\n");
	for (unsigned int k = 0; k < EK_N; k++)
		text_printf(t, "vmlet_serve_errors_total{kind=\"%s\"} %lu\n", err_kind_names[k],
			    SUM(s, errors[k]));
	text_printf(t,
		    "# HELP vmlet_serve_in_flight Requests received and not yet answered.\n"
		    "# TYPE vmlet_serve_in_flight gauge\n"
		    "vmlet_serve_in_flight %u\n",
		    __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED));

	for (unsigned int i = 0; i < s->workers; i++) {
		struct vmlet_pool_stats st;

		worker_pool_stats(s->w[i], &st);
		idle += st.idle;
		live += st.live;
		size += st.size;
		created += st.created;
		restored += st.restored;
		discarded += st.discarded;
		reuse_restores += worker_restores(s->w[i]);
		renewed += worker_renewed(s->w[i]);
	}
	text_printf(t,
		    "# HELP vmlet_serve_pool_sandboxes Sandboxes of the workers' pools (restore).\n"
		    "# TYPE vmlet_serve_pool_sandboxes gauge\n"
		    "vmlet_serve_pool_sandboxes{state=\"idle\"} %lu\n"
		    "vmlet_serve_pool_sandboxes{state=\"live\"} %lu\n"
		    "vmlet_serve_pool_sandboxes{state=\"max\"} %lu\n"
		    "# HELP vmlet_serve_restores_total Sandboxes restored to the snapshot.\n"
		    "# TYPE vmlet_serve_restores_total counter\n"
		    "vmlet_serve_restores_total{lifecycle=\"restore\"} %lu\n"
		    "vmlet_serve_restores_total{lifecycle=\"reuse\"} %lu\n"
		    "# HELP vmlet_serve_sandboxes_created_total Sandboxes made from the snapshot.\n"
		    "# TYPE vmlet_serve_sandboxes_created_total counter\n"
		    "vmlet_serve_sandboxes_created_total{lifecycle=\"restore\"} %lu\n"
		    "vmlet_serve_sandboxes_created_total{lifecycle=\"renew\"} %lu\n"
		    "# HELP vmlet_serve_sandboxes_discarded_total Pool sandboxes that could not be "
		    "restored.\n"
		    "# TYPE vmlet_serve_sandboxes_discarded_total counter\n"
		    "vmlet_serve_sandboxes_discarded_total %lu\n",
		    idle, live, size, restored, reuse_restores, created, renewed, discarded);

	text_printf(t, "# HELP vmlet_serve_call_duration_seconds Calls, from parsed arguments to "
		       "result, by lifecycle.\n"
		       "# TYPE vmlet_serve_call_duration_seconds histogram\n");
	for (unsigned int lc = 0; lc < LC_N; lc++)
		if (s->lcs[lc])
			histogram(s, t, "vmlet_serve_call_duration_seconds", "lifecycle",
				  lifecycle_names[lc], bounds_us, NBOUNDS,
				  offsetof(struct slot, hist) +
					  lc * sizeof(((struct slot *)0)->hist[0]),
				  offsetof(struct slot, sum_ns) + lc * sizeof(uint64_t));

	text_printf(t,
		    "# HELP vmlet_serve_handoff_seconds Hand-overs of a call between its HTTP "
		    "thread and its worker: posting to taken, answered to the HTTP thread awake.\n"
		    "# TYPE vmlet_serve_handoff_seconds histogram\n");
	for (unsigned int way = 0; way < NWAYS; way++)
		histogram(s, t, "vmlet_serve_handoff_seconds", "way", way_names[way], hbounds_us,
			  NHBOUNDS,
			  offsetof(struct slot, hhist) + way * sizeof(((struct slot *)0)->hhist[0]),
			  offsetof(struct slot, hsum_ns) + way * sizeof(uint64_t));
	text_printf(t, "# HELP vmlet_serve_handoffs_total Hand-overs of a call, by how they found "
		       "the thread they went to: ready (not waiting), spinning, or sleeping "
		       "(on the futex).\n"
		       "# TYPE vmlet_serve_handoffs_total counter\n");
	for (unsigned int way = 0; way < NWAYS; way++)
		for (unsigned int f = 0; f < WAIT_N; f++)
			text_printf(t, "vmlet_serve_handoffs_total{way=\"%s\",found=\"%s\"} %lu\n",
				    way_names[way], found_names[f], SUM(s, hfound[way][f]));
}
