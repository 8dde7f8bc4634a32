// SPDX-License-Identifier: BSD-2-Clause
/*
 * JavaScript guests (lib/js.c, runtimes/js/js.c): scripts load once and
 * run per event, JSON in and out; host functions, console and the clock;
 * and every way a script can go wrong, each with its exact outcome and
 * the next event working. Needs SSE in the guest (the engine computes in
 * doubles): `make check` runs it in the vmtest VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <vmlet.h>

#include "../hugepages.h"
#include "util.h"

struct printed {
	char buf[4096];
	size_t len;
	uint64_t total;
};

static void capture(void *ctx, const char *buf, size_t len)
{
	struct printed *p = ctx;
	size_t room = sizeof(p->buf) - 1 - p->len;

	p->total += len;
	if (len > room)
		len = room;
	memcpy(p->buf + p->len, buf, len);
	p->len += len;
	p->buf[p->len] = '\0';
}

static struct printed out;

static int add_fn(void *ctx, const struct vmlet_value *a, unsigned int n,
		      struct vmlet_value *ret)
{
	(void)ctx, (void)n;
	ret->i32 = a[0].i32 + a[1].i32;
	return 0;
}

static char upper_buf[256];

static int upper_fn(void *ctx, const struct vmlet_value *a, unsigned int n, struct vmlet_value *ret)
{
	(void)ctx, (void)n;
	if (a[0].buf.len >= sizeof(upper_buf))
		return -E2BIG;
	for (size_t i = 0; i < a[0].buf.len; i++) {
		char c = ((const char *)a[0].buf.ptr)[i];

		upper_buf[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	upper_buf[a[0].buf.len] = '\0';
	ret->buf.ptr = upper_buf;
	ret->buf.len = a[0].buf.len;
	return 0;
}

static uint8_t rev_buf[256];

static int reverse_fn(void *ctx, const struct vmlet_value *a, unsigned int n,
		      struct vmlet_value *ret)
{
	(void)ctx, (void)n;
	if (a[0].buf.len > sizeof(rev_buf))
		return -E2BIG;
	for (size_t i = 0; i < a[0].buf.len; i++)
		rev_buf[i] = ((const uint8_t *)a[0].buf.ptr)[a[0].buf.len - 1 - i];
	ret->buf.ptr = rev_buf;
	ret->buf.len = a[0].buf.len;
	return 0;
}

static int missing_fn(void *ctx, const struct vmlet_value *a, unsigned int n,
		      struct vmlet_value *ret)
{
	(void)ctx, (void)a, (void)n, (void)ret;
	return -ENOENT;
}

static const struct vmlet_host_func host_funcs[] = {
	{"add", VMLET_I32, 2, {VMLET_I32, VMLET_I32}, add_fn, NULL, VMLET_HOST_INLINE},
	{"upper", VMLET_STRING, 1, {VMLET_STRING}, upper_fn, NULL, VMLET_HOST_INLINE},
	{"reverse", VMLET_BYTES, 1, {VMLET_BYTES}, reverse_fn, NULL, VMLET_HOST_INLINE},
	{"missing", VMLET_VOID, 0, {0}, missing_fn, NULL, VMLET_HOST_INLINE},
};

/* Load src with the test config: output captured, a deadline, host functions. */
static uint64_t load_mem; /* the next load's mem_size; 0: lib/js.c's default */

static struct vmlet_js *load_opts(const char *src, uint64_t print_limit, struct vmlet_fault *f,
				  int *errp)
{
	struct vmlet_config cfg = {
		.sz = sizeof(cfg),
		.mem_size = load_mem,
		.print = capture,
		.print_ctx = &out,
		.timeout_us = 20 * 1000 * 1000, /* the endless loop's bound; TCG is slow */
		.print_limit = print_limit,
		.host_funcs = host_funcs,
		.nhost_funcs = sizeof(host_funcs) / sizeof(host_funcs[0]),
	};
	struct vmlet_js_config jc = {
		.sz = sizeof(jc), .image = JS_ELF, .filename = "test.js", .cfg = &cfg, .fault = f,
	};
	struct vmlet_js *js = NULL;

	*errp = vmlet_js_load(src, &jc, &js);
	return js;
}

static struct vmlet_js *load(const char *src)
{
	struct vmlet_fault f;
	int err;
	struct vmlet_js *js = load_opts(src, 0, &f, &err);

	if (err)
		ksft_fail_at("vmlet_js_load: %s (%s)", vmlet_strerror(err), f.message);
	return js;
}

/* The event's result, NUL-terminated, or NULL (the test failed). */
static const char *event(struct vmlet_js *js, const char *handler, const char *json)
{
	static char buf[4096];
	const char *r;
	int n = vmlet_js_event(js, handler, json, &r);

	if (n < 0) {
		ksft_fail_at("%s(%s): %s: %s", handler, json, vmlet_strerror(n),
			     vmlet_js_fault(js)->message);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%.*s", n, r);
	return buf;
}

/* An event that must fail with err and, for a script error, code and a message with text. */
static void event_fails(struct vmlet_js *js, const char *handler, const char *json, int err,
			int64_t code, const char *text)
{
	const struct vmlet_fault *f;
	const char *r;
	int n = vmlet_js_event(js, handler, json, &r);

	f = vmlet_js_fault(js);
	printf("# %s: %s, code %lld: %s\n", handler, vmlet_strerror(n), (long long)f->code,
	       f->message);
	EXPECT_EQ(n, err);
	if (err == -VMLET_EFAIL || err == -VMLET_EABORT) {
		EXPECT_EQ(f->error, err);
		EXPECT_EQ(f->code, code);
	}
	if (text && !strstr(f->message, text))
		ksft_fail_at("message has no \"%s\"", text);
}

#define OK_HANDLER "function ok(e) { return {ok: e.n + 1}; }\n"

/* After a failure, a fresh event on the same js works. */
static void next_event_works(struct vmlet_js *js)
{
	const char *r = event(js, "ok", "{\"n\": 41}");

	if (r)
		EXPECT_STREQ(r, "{\"ok\":42}");
}

TEST(event_returns_the_handlers_result_as_json)
{
	struct vmlet_js *js = load("function echo(e) { return {got: e, n: e.list.length}; }");
	const char *r;

	if (!js)
		return;
	r = event(js, "echo", "{\"s\":\"h\\u00e9\",\"list\":[1,2.5,null,true],\"o\":{}}");
	if (r)
		EXPECT_STREQ(r, "{\"got\":{\"s\":\"h\xc3\xa9\",\"list\":[1,2.5,null,true],\"o\":{}},"
				"\"n\":4}");
	vmlet_js_destroy(js);
}

TEST(language_features_work)
{
	struct vmlet_js *js = load(
		"function Point(x, y) { this.x = x; this.y = y; }\n"
		"Point.prototype.len2 = function () { return this.x * this.x + this.y * this.y; };\n"
		"function counter() { var n = 0; return function () { return ++n; }; }\n"
		"function f(e) {\n"
		"  var c = counter(); c(); var u = new Uint8Array([1, 2, 3]);\n"
		"  var m = /(\\d+)-(\\d+)/.exec('10-20');\n"
		"  var caught; try { null.x; } catch (err) { caught = err.name; }\n"
		"  return [new Point(3, 4).len2(), c(), u[2], m[2], caught,\n"
		"          [3, 1, 2].sort().join(''), 'abc'.toUpperCase(), Math.floor(7 / 2),\n"
		"          (0.1 + 0.2).toFixed(2), parseInt('ff', 16), Object.keys({a: 1, b: 2})];\n"
		"}\n");
	const char *r;

	if (!js)
		return;
	r = event(js, "f", "null");
	if (r)
		EXPECT_STREQ(r, "[25,2,3,\"20\",\"TypeError\",\"123\",\"ABC\",3,\"0.30\",255,"
				"[\"a\",\"b\"]]");
	vmlet_js_destroy(js);
}

/*
 * Numbers print and parse as ECMAScript says, the same in every VM: the
 * engine formats and parses them itself (no libc printf or strtod), in
 * doubles (SSE2, round to nearest, no flush to zero: the vCPU's reset
 * MXCSR), and the math library is the guest's, fixed by the image.
 */
TEST(numbers_print_and_parse_exactly)
{
	struct vmlet_js *js = load(
		"function nums(e) {\n"
		"  return [String(0.1 + 0.2), String(1e21), String(1e-7), String(-0),\n"
		"    JSON.stringify(-0), String(1 / -0), String(NaN), JSON.stringify([NaN, Infinity]),\n"
		"    (123.456).toFixed(2), (1.005).toFixed(2), (0.000001234).toPrecision(2),\n"
		"    (1e21).toFixed(2), String(5e-324), String(Number.MAX_VALUE), String(2 / 3),\n"
		"    parseFloat('3.14abc'), Number('0x1f'), Number(''), String(Math.pow(2, 53) + 1),\n"
		"    (255).toString(16), (0.5).toString(2), (1234.5678).toExponential(3),\n"
		"    String(123456789012345680000), String(1e-6 / 3), String(e * 3),\n"
		"    String(Math.sqrt(2)), String(Math.exp(1)), String(Math.sin(1)),\n"
		"    String(Math.log(10)), String(Math.pow(10, -5)), String(Math.atan2(1, 1) * 4),\n"
		"    String(1 / Math.round(-0.4)), Math.round(2.5),\n"
		"    JSON.stringify(JSON.parse('[0.1,1e-7,1.7976931348623157e308,4.9e-324,-0,1E400]'))];\n"
		"}\n");
	const char *r;

	if (!js)
		return;
	r = event(js, "nums", "0.1");
	/* As V8 prints them, but for pow(10, -5): V8's is off by one ulp, musl's is not. */
	if (r)
		EXPECT_STREQ(r, "[\"0.30000000000000004\",\"1e+21\",\"1e-7\",\"0\","
				"\"0\",\"-Infinity\",\"NaN\",\"[null,null]\","
				"\"123.46\",\"1.00\",\"0.0000012\","
				"\"1e+21\",\"5e-324\",\"1.7976931348623157e+308\",\"0.6666666666666666\","
				"3.14,31,0,\"9007199254740992\","
				"\"ff\",\"0.1\",\"1.235e+3\","
				"\"123456789012345680000\",\"3.333333333333333e-7\",\"0.30000000000000004\","
				"\"1.4142135623730951\",\"2.718281828459045\",\"0.8414709848078965\","
				"\"2.302585092994046\",\"0.00001\",\"3.141592653589793\","
				"\"-Infinity\",3,"
				"\"[0.1,1e-7,1.7976931348623157e+308,5e-324,0,null]\"]");
	vmlet_js_destroy(js);
}

/* The top level ran once, before the snapshot: every event starts from its state. */
TEST(fresh_events_start_from_the_loaded_state)
{
	struct vmlet_js *js = load("var loaded = 0; loaded++;\n"
				   "var table = {}; for (var i = 0; i < 100; i++) table[i] = i * i;\n"
				   "function f(e) { loaded++; Object.prototype.polluted = 1;\n"
				   "  Array.prototype.push = null; return [loaded, table[e], ({}).polluted]; }\n"
				   "function g(e) { return [loaded, ({}).polluted, typeof [].push]; }\n");
	const char *r;

	if (!js)
		return;
	for (int i = 0; i < 2; i++) {
		r = event(js, "f", "9");
		if (r)
			EXPECT_STREQ(r, "[2,81,1]");
	}
	/* Globals and prototypes the last event wrote are gone. */
	r = event(js, "g", "0");
	if (r)
		EXPECT_STREQ(r, "[1,null,\"function\"]");
	vmlet_js_destroy(js);
}

TEST(warm_calls_see_what_earlier_calls_left)
{
	struct vmlet_js *js = load("var n = 0; function inc(e) { n += e; return n; }");
	const char *r;
	int len;

	if (!js)
		return;
	for (int i = 1; i <= 3; i++) {
		len = vmlet_js_call(js, "inc", "10", &r);
		ASSERT_GE(len, 0);
		EXPECT_EQ(atoi(r), 10 * i);
	}
	/* And a fresh event does not. */
	r = event(js, "inc", "1");
	if (r)
		EXPECT_STREQ(r, "1");
	vmlet_js_destroy(js);
}

/* Loading src fails with a SyntaxError whose message starts with msg. */
static void syntax_error(const char *src, const char *msg)
{
	struct vmlet_fault f;
	int err;
	struct vmlet_js *js = load_opts(src, 0, &f, &err);

	printf("# %s, code %lld: %s\n", vmlet_strerror(err), (long long)f.code, f.message);
	EXPECT_TRUE(js == NULL);
	EXPECT_EQ(err, -VMLET_EFAIL);
	EXPECT_EQ(f.error, -VMLET_EFAIL);
	EXPECT_EQ(f.code, VMLET_JS_SYNTAX);
	if (strncmp(f.message, msg, strlen(msg)))
		ksft_fail_at("message is not \"%s...\"", msg);
	vmlet_js_destroy(js);
}

TEST(syntax_error_fails_load_with_its_line_and_column)
{
	syntax_error("var a = 1;\nfunction f(e) { return e +; }\n",
		     "SyntaxError: empty expression not allowed (line 2, column 27)");
	/* Columns count characters, not bytes; a tab is one. */
	syntax_error("var a = 1;\r\n\tvar \xc3\xa9 = '\xc3\xbc\xe2\x82\xac' +;\n",
		     "SyntaxError: empty expression not allowed (line 2, column 16)");
	syntax_error("x = 1 +\n\n  @;", "SyntaxError: invalid token (line 3, column 3)");
	syntax_error("var s = 'open\n", "SyntaxError: unterminated string (line 1, column 9)");
	syntax_error("function f() {\n  return 1;\n",
		     "SyntaxError: parse error (line 3, column 1, end of input)");
	/* Where the compiler noticed: here past the stray brace, at the end. */
	syntax_error("}", "SyntaxError: parse error (line 1, column 2, end of input)");
}

TEST(exception_at_load_fails_load)
{
	struct vmlet_fault f;
	int err;
	struct vmlet_js *js = load_opts("var a = 1;\nthrow new TypeError('at load');\n", 0, &f, &err);

	EXPECT_TRUE(js == NULL);
	EXPECT_EQ(err, -VMLET_EABORT);
	EXPECT_EQ(f.error, -VMLET_EABORT);
	EXPECT_EQ(f.code, VMLET_JS_THROW);
	EXPECT_TRUE(strstr(f.message, "TypeError: at load") != NULL);
	EXPECT_TRUE(strstr(f.message, "test.js:2") != NULL);
}

TEST(uncaught_exception_aborts_with_message_and_stack)
{
	struct vmlet_js *js = load(OK_HANDLER "function inner() { throw new Error('boom'); }\n"
				   "var n = 0; function f(e) { n++; return inner(); }\n"
				   "function count(e) { return n; }\n");
	const char *r;
	int len;

	if (!js)
		return;
	event_fails(js, "f", "{}", -VMLET_EABORT, VMLET_JS_THROW, "Error: boom");
	EXPECT_TRUE(strstr(vmlet_js_fault(js)->message, "at inner (test.js:2)") != NULL);
	EXPECT_TRUE(strstr(vmlet_js_fault(js)->message, "at f (test.js:3)") != NULL);
	/* Unlike an engine failure, the VM lives on: a warm call sees what f left. */
	len = vmlet_js_call(js, "count", "{}", &r);
	EXPECT_EQ(len, 1);
	if (len == 1)
		EXPECT_EQ(r[0], '1');
	EXPECT_EQ(vmlet_js_fault(js)->error, 0);
	/* The next failure says its own error, not the exception's. */
	event_fails(js, "nope", "{}", -VMLET_EFAIL, VMLET_JS_NOHANDLER, "nope is not a function");
	next_event_works(js);
	r = event(js, "count", "{}");
	if (r)
		EXPECT_STREQ(r, "0");
	/* A thrown non-Error value is its String(). */
	vmlet_js_destroy(js);
	js = load(OK_HANDLER "function f(e) { throw 42; }");
	if (!js)
		return;
	event_fails(js, "f", "{}", -VMLET_EABORT, VMLET_JS_THROW, "42");
	next_event_works(js);
	vmlet_js_destroy(js);
}

/*
 * What an exception says is the script's, however it is made: a message
 * longer than the fault's room is cut, not lost; one that ends like an
 * engine frame (" internal") is kept; a stack getter that throws is an
 * exception like any other, not an engine failure that kills the VM.
 */
TEST(uncaught_exceptions_keep_their_message)
{
	struct vmlet_js *js = load(OK_HANDLER
				   "function long(e) { throw new Error(new Array(1101).join('x')); }\n"
				   "function internal(e) { throw new Error('oops internal'); }\n"
				   "function getter(e) { var x = new Error('hidden');\n"
				   "  Object.defineProperty(x, 'stack', {get: function () { throw 1; }});\n"
				   "  throw x; }\n");

	if (!js)
		return;
	event_fails(js, "long", "{}", -VMLET_EABORT, VMLET_JS_THROW, "Error: xxxxxxxx");
	event_fails(js, "internal", "{}", -VMLET_EABORT, VMLET_JS_THROW, "Error: oops internal");
	event_fails(js, "getter", "{}", -VMLET_EABORT, VMLET_JS_THROW, "Error: hidden");
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(endless_loop_runs_into_the_deadline)
{
	struct vmlet_js *js = load(OK_HANDLER "function f(e) { for (;;) {} }");

	if (!js)
		return;
	ASSERT_OK(vmlet_sandbox_set_timeout(vmlet_js_sandbox(js), 300 * 1000));
	event_fails(js, "f", "{}", -VMLET_ETIMEDOUT, 0, NULL);
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(allocation_bomb_is_a_clean_out_of_memory_error)
{
	struct vmlet_js *js = load(OK_HANDLER "function f(e) { var s = 'x', a = [];\n"
				   "  for (;;) { s = s + s; a.push(s); } }\n");

	if (!js)
		return;
	event_fails(js, "f", "{}", -VMLET_EFAIL, VMLET_JS_NOMEM, "alloc failed");
	next_event_works(js);
	vmlet_js_destroy(js);
}

/*
 * The engine's heap is the guest's heap: what the config's mem_size
 * leaves after the image, buffers and stack. A script that allocates
 * until it fails gets about as many MiB more as the guest has, and the
 * failure is the engine's "alloc failed", which it can even catch.
 */
static int mib_until_out_of_memory(uint64_t mem)
{
	struct vmlet_js *js;
	const char *r;
	int mib = -1;

	load_mem = mem;
	js = load("function fill(e) { var a = [];\n"
		  "  try { for (;;) a.push(new Uint8Array(1 << 20)); }\n"
		  "  catch (err) { var n = a.length; a = null; return [n, err.message]; } }\n");
	load_mem = 0;
	if (!js)
		return -1;
	r = event(js, "fill", "{}");
	printf("# %llu MiB of guest memory: %s\n", (unsigned long long)(mem >> 20), r ? r : "-");
	if (r && sscanf(r, "[%d,\"alloc failed\"]", &mib) != 1)
		ksft_fail_at("%s", r);
	vmlet_js_destroy(js);
	return mib;
}

TEST(heap_follows_the_guest_memory)
{
	int small = mib_until_out_of_memory(16 << 20), large = mib_until_out_of_memory(32 << 20);

	/* 16 MiB: 1 MiB stack, the image (about 1.3 MiB), the engine's heap and buffers. */
	EXPECT_GE(small, 10);
	EXPECT_LT(small, 16);
	EXPECT_GE(large - small, 15);
	EXPECT_LT(large - small, 17);
}

/*
 * A guest of 48 MiB loads where the free hugetlb pages hold one copy of
 * its memory (the test makes exactly that many free): the loading
 * sandbox may take them, its snapshot and the sandbox of events are on
 * 4 KiB pages and say so. A hugetlb snapshot needed 24 pages more, and
 * every sandbox of it 24 for its private mapping: in the vmtest VM's 64
 * pages, loading failed with -ENOMEM from 44 MiB on.
 */
static void loads_with_pages_for_one_copy(void)
{
	struct vmlet_js *js;
	const char *r;

	ASSERT_EQ(set_free_hugepages(24), 0);
	load_mem = 48 << 20;
	js = load(OK_HANDLER);
	load_mem = 0;
	if (!js)
		return;
	EXPECT_EQ(vmlet_snapshot_backing(vmlet_js_snapshot(js)), VMLET_BACKING_4K);
	EXPECT_EQ(vmlet_sandbox_backing(vmlet_js_sandbox(js)), VMLET_BACKING_4K);
	EXPECT_EQ(hugepages_available(), 24);
	r = event(js, "ok", "{\"n\": 41}");
	if (r)
		EXPECT_STREQ(r, "{\"ok\":42}");
	next_event_works(js); /* on a VM restored to the snapshot */
	vmlet_js_destroy(js);
}

TEST(a_48_mib_guest_loads_with_huge_pages_for_one_copy)
{
	long old = meminfo_kib("HugePages_Total");

	if (getuid() != 0 || old < 0 || access(nr_hugepages, W_OK))
		SKIP("needs root and hugetlb to set the free 2 MiB pages");
	loads_with_pages_for_one_copy();
	EXPECT_EQ(write_long(nr_hugepages, old), 0);
}

TEST(deep_recursion_is_a_range_error)
{
	struct vmlet_js *js = load(OK_HANDLER "function f(e) { return f(e) + 1; }\n"
				   "function g(e) { return [e].map(g); }\n"
				   "function h(e) { var o = {}; for (var i = 0; i < 100000; i++) o = {o: o};\n"
				   "  return o; }\n");

	if (!js)
		return;
	event_fails(js, "f", "1", -VMLET_EABORT, VMLET_JS_THROW, "RangeError: callstack limit");
	next_event_works(js);
	/* Through native code (map), which recurses in C: a limit before the stack ends. */
	event_fails(js, "g", "1", -VMLET_EABORT, VMLET_JS_THROW, "RangeError: C stack depth limit");
	next_event_works(js);
	/* JSON of a deep object: the encoder's limit. */
	event_fails(js, "h", "1", -VMLET_EFAIL, VMLET_JS_BADOUTPUT, "RangeError");
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(printing_without_end_is_eoutput)
{
	struct vmlet_fault f;
	int err;
	struct vmlet_js *js = load_opts(OK_HANDLER "function f(e) { for (;;) console.log('spam'); }",
					4096, &f, &err);

	ASSERT_OK(err);
	out.total = 0;
	event_fails(js, "f", "{}", -VMLET_EOUTPUT, 0, NULL);
	EXPECT_EQ(out.total, 4096);
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(unknown_handler_fails)
{
	struct vmlet_js *js = load(OK_HANDLER "var notfn = 3;");

	if (!js)
		return;
	event_fails(js, "nope", "{}", -VMLET_EFAIL, VMLET_JS_NOHANDLER, "nope is not a function");
	event_fails(js, "notfn", "{}", -VMLET_EFAIL, VMLET_JS_NOHANDLER, "notfn is not a function");
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(invalid_json_in_or_out_fails)
{
	struct vmlet_js *js = load(OK_HANDLER "function undef(e) { }\n"
				   "function fn(e) { return function () {}; }\n"
				   "function cyc(e) { var o = {}; o.o = o; return o; }\n"
				   "function tojson(e) { return {toJSON: function () {}}; }\n"
				   "function big(e) { return new Array(70000).join('x'); }\n");

	if (!js)
		return;
	event_fails(js, "ok", "{\"n\":", -VMLET_EFAIL, VMLET_JS_BADINPUT, "SyntaxError");
	event_fails(js, "ok", "", -VMLET_EFAIL, VMLET_JS_BADINPUT, "SyntaxError");
	event_fails(js, "undef", "{}", -VMLET_EFAIL, VMLET_JS_BADOUTPUT, "undefined");
	event_fails(js, "fn", "{}", -VMLET_EFAIL, VMLET_JS_BADOUTPUT, "a function");
	event_fails(js, "cyc", "{}", -VMLET_EFAIL, VMLET_JS_BADOUTPUT, "TypeError");
	event_fails(js, "tojson", "{}", -VMLET_EFAIL, VMLET_JS_BADOUTPUT, "has no JSON form");
	/* 70001 bytes of JSON: past the default 64 KiB output buffer. */
	event_fails(js, "big", "{}", -VMLET_EFAIL, VMLET_JS_BADOUTPUT,
		    "big: the result (70001 bytes of JSON) does not fit the output buffer");
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(host_functions_are_callable_from_js)
{
	struct vmlet_js *js = load(
		"function f(e) {\n"
		"  var r = host.reverse(new Uint8Array([1, 2, 3]));\n"
		"  return [host.add(e.a, e.b), host.upper('mixed Case'), r instanceof Uint8Array,\n"
		"          Array.prototype.slice.call(r)];\n"
		"}\n");
	const char *r;

	if (!js)
		return;
	r = event(js, "f", "{\"a\":40,\"b\":2}");
	if (r)
		EXPECT_STREQ(r, "[42,\"MIXED CASE\",true,[3,2,1]]");
	vmlet_js_destroy(js);
}

TEST(host_functions_check_their_arguments)
{
	struct vmlet_js *js = load(OK_HANDLER "function f(e) { return host.add(e.a, e.b); }\n"
				   "function g(e) { return host.add(1); }\n"
				   "function h(e) { return host.upper(5); }\n"
				   "function k(e) { return host.exec('rm -rf /'); }\n");

	if (!js)
		return;
	event_fails(js, "f", "{\"a\":1.5,\"b\":2}", -VMLET_EABORT, VMLET_JS_THROW,
		    "TypeError: host.add: argument 1 must be an i32");
	event_fails(js, "f", "{\"a\":1,\"b\":\"2\"}", -VMLET_EABORT, VMLET_JS_THROW,
		    "TypeError: host.add: argument 2 must be an i32");
	event_fails(js, "f", "{\"a\":1,\"b\":4294967296}", -VMLET_EABORT, VMLET_JS_THROW,
		    "argument 2 must be an i32");
	event_fails(js, "g", "{}", -VMLET_EABORT, VMLET_JS_THROW,
		    "TypeError: host.add: takes 2 arguments, not 1");
	event_fails(js, "h", "{}", -VMLET_EABORT, VMLET_JS_THROW, "must be a string");
	/* Not registered: the host object has no such function. */
	event_fails(js, "k", "{}", -VMLET_EABORT, VMLET_JS_THROW, "TypeError");
	next_event_works(js);
	vmlet_js_destroy(js);
}

TEST(host_function_errors_are_js_exceptions)
{
	struct vmlet_js *js = load("function f(e) { try { host.missing(); } catch (err) {\n"
				   "  return [err.name, err.message, err.errno]; } }\n");
	const char *r;

	if (!js)
		return;
	r = event(js, "f", "{}");
	if (r)
		EXPECT_STREQ(r, "[\"Error\",\"host.missing: No such file or directory\",2]");
	vmlet_js_destroy(js);
}

TEST(console_goes_to_the_print_callback)
{
	struct vmlet_js *js = load("console.log('loaded');\n"
				   "function f(e) { console.log('n =', e.n, [1, 'a'], {k: true});\n"
				   "  console.error('oops'); return 0; }\n");

	if (!js)
		return;
	EXPECT_STREQ(out.buf, "loaded\n");
	out.len = 0;
	out.buf[0] = '\0';
	if (event(js, "f", "{\"n\":7}"))
		EXPECT_STREQ(out.buf, "n = 7 [1,\"a\"] {\"k\":true}\noops\n");
	vmlet_js_destroy(js);
}

TEST(date_is_the_hosts_clock)
{
	struct vmlet_js *js = load("var at_load = Date.now(); function f(e) { return Date.now(); }\n"
				   "function g(e) { return new Date(0).toISOString(); }\n");
	struct timespec ts;
	const char *r;
	double before, now;

	if (!js)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	before = (double)ts.tv_sec * 1000 + (double)(ts.tv_nsec / 1000000);
	r = event(js, "f", "0");
	if (!r)
		return;
	now = strtod(r, NULL);
	printf("# Date.now() %s, host before %.0f\n", r, before);
	EXPECT_GE(now, before);
	EXPECT_LT(now, before + 60000);
	r = event(js, "g", "0");
	if (r)
		EXPECT_STREQ(r, "\"1970-01-01T00:00:00.000Z\"");
	vmlet_js_destroy(js);
}

TEST(math_random_differs_between_fresh_events)
{
	struct vmlet_js *js = load("function f(e) { return [Math.random(), Math.random()]; }");
	char first[128];
	const char *r;
	double a, b;

	if (!js)
		return;
	r = event(js, "f", "0");
	if (!r)
		return;
	snprintf(first, sizeof(first), "%s", r);
	r = event(js, "f", "0");
	if (!r)
		return;
	printf("# %s then %s\n", first, r);
	EXPECT_NE(strcmp(first, r), 0);
	ASSERT_EQ(sscanf(first, "[%lf,%lf]", &a, &b), 2);
	EXPECT_NE(a, b);
	EXPECT_TRUE(a >= 0 && a < 1 && b >= 0 && b < 1);
	vmlet_js_destroy(js);
}

#define TYPED_SCRIPT                                                                        \
	"function echo(x) { return x; }\n"                                                  \
	"function kinds() { var k = [];\n"                                                  \
	"  for (var i = 0; i < arguments.length; i++)\n"                                    \
	"    k.push(arguments[i] instanceof Uint8Array ? 'Uint8Array' : typeof arguments[i]);\n" \
	"  return k.join(); }\n"                                                            \
	"function sum(a, b, c) { return a + b + c; }\n"                                     \
	"function rev(b) { var r = new Uint8Array(b.length);\n"                             \
	"  for (var i = 0; i < b.length; i++) r[i] = b[b.length - 1 - i]; return r; }\n"   \
	"function obj() { return {a: 1}; }\n"                                               \
	"function boom() { throw new Error('boom'); }\n"                                   \
	"var n = 0; function inc(d) { n += d; return n; }\n" OK_HANDLER

/* handler(args) must return a value of rtype; it lands in *ret. */
static int typed(struct vmlet_js *js, const char *handler, const struct vmlet_value *args,
		 unsigned int nargs, enum vmlet_type rtype, struct vmlet_value *ret)
{
	int err = vmlet_js_event_typed(js, handler, args, nargs, rtype, ret);

	if (err)
		ksft_fail_at("%s: %s (%s)", handler, vmlet_strerror(err),
			     vmlet_js_fault(js)->message);
	return err;
}

TEST(typed_events_pass_each_type_both_ways)
{
	static const uint8_t bytes[] = {0, 1, 0x7f, 0xff};
	struct vmlet_js *js = load(TYPED_SCRIPT);
	struct vmlet_value args[9], r;

	if (!js)
		return;
	args[0] = vmlet_bool(true);
	args[1] = vmlet_i32(-5);
	args[2] = vmlet_u32(4000000000u);
	args[3] = vmlet_i64(-((1LL << 53) - 1));
	args[4] = vmlet_u64((1ULL << 53) - 1);
	args[5] = vmlet_f32(1.5f);
	args[6] = vmlet_f64(0.1);
	args[7] = vmlet_str("h\xc3\xa9llo");
	args[8] = vmlet_bytes(bytes, sizeof(bytes));
	/* Into JS: each as the JS type it maps to. */
	if (!typed(js, "kinds", args, 9, VMLET_STRING, &r)) {
		EXPECT_EQ(r.type, VMLET_STRING);
		EXPECT_STREQ(r.buf.ptr, "boolean,number,number,number,number,number,number,"
					"string,Uint8Array");
	}
	/* And back: each through echo, as its own type. */
	for (unsigned int i = 0; i < 9; i++) {
		if (typed(js, "echo", &args[i], 1, args[i].type, &r))
			continue;
		printf("# echo %s\n", vmlet_type_name(args[i].type));
		EXPECT_EQ(r.type, args[i].type);
		switch (r.type) {
		case VMLET_BOOL: EXPECT_TRUE(r.b); break;
		case VMLET_I32: EXPECT_EQ(r.i32, -5); break;
		case VMLET_U32: EXPECT_EQ(r.u32, 4000000000u); break;
		case VMLET_I64: EXPECT_EQ(r.i64, -((1LL << 53) - 1)); break;
		case VMLET_U64: EXPECT_EQ(r.u64, (1ULL << 53) - 1); break;
		case VMLET_F32: EXPECT_TRUE(r.f32 == 1.5f); break;
		case VMLET_F64: EXPECT_TRUE(r.f64 == 0.1); break;
		case VMLET_STRING:
			EXPECT_EQ(r.buf.len, strlen("h\xc3\xa9llo"));
			EXPECT_STREQ(r.buf.ptr, "h\xc3\xa9llo");
			break;
		default:
			EXPECT_EQ(r.buf.len, sizeof(bytes));
			EXPECT_TRUE(!memcmp(r.buf.ptr, bytes, sizeof(bytes)));
		}
	}
	/* Computed results: a sum of three types, bytes made in JS. */
	args[0] = vmlet_i32(40);
	args[1] = vmlet_u64(1);
	args[2] = vmlet_f64(1.0);
	if (!typed(js, "sum", args, 3, VMLET_I64, &r))
		EXPECT_EQ(r.i64, 42);
	args[0] = vmlet_bytes(bytes, sizeof(bytes));
	if (!typed(js, "rev", args, 1, VMLET_BYTES, &r)) {
		EXPECT_EQ(r.buf.len, 4);
		EXPECT_TRUE(!memcmp(r.buf.ptr, "\xff\x7f\x01\x00", 4));
	}
	/* An empty string and empty bytes; no arguments; a void result. */
	args[0] = vmlet_str("");
	if (!typed(js, "echo", args, 1, VMLET_STRING, &r))
		EXPECT_EQ(r.buf.len, 0);
	args[0] = vmlet_bytes(NULL, 0);
	if (!typed(js, "echo", args, 1, VMLET_BYTES, &r))
		EXPECT_EQ(r.buf.len, 0);
	if (!typed(js, "kinds", NULL, 0, VMLET_STRING, &r))
		EXPECT_STREQ(r.buf.ptr, "");
	args[0] = vmlet_i32(7);
	EXPECT_EQ(vmlet_js_event_typed(js, "inc", args, 1, VMLET_VOID, NULL), 0);
	r.type = VMLET_I32;
	if (!typed(js, "inc", args, 1, VMLET_VOID, &r))
		EXPECT_EQ(r.type, VMLET_VOID);
	/* Warm calls keep the state; a fresh event does not. */
	args[0] = vmlet_u32(2);
	if (!typed(js, "inc", args, 1, VMLET_U32, &r))
		EXPECT_EQ(r.u32, 2);
	EXPECT_EQ(vmlet_js_call_typed(js, "inc", args, 1, VMLET_F64, &r), 0);
	EXPECT_TRUE(r.f64 == 4.0);
	if (!typed(js, "inc", args, 1, VMLET_U32, &r))
		EXPECT_EQ(r.u32, 2);
	next_event_works(js);
	vmlet_js_destroy(js);
}

/* A typed event that fails with code and msg (its first line); the next event works. */
static void typed_fails(struct vmlet_js *js, const char *handler, struct vmlet_value arg,
			enum vmlet_type rtype, int64_t code, const char *msg)
{
	struct vmlet_value r;
	const struct vmlet_fault *f;
	int err = vmlet_js_event_typed(js, handler, &arg, 1, rtype, &r);

	f = vmlet_js_fault(js);
	printf("# %s -> %s: %s, code %lld: %s\n", vmlet_type_name(arg.type),
	       vmlet_type_name(rtype), vmlet_strerror(err), (long long)f->code, f->message);
	/* An uncaught exception is -VMLET_EABORT, every other script error -VMLET_EFAIL. */
	EXPECT_EQ(err, code == VMLET_JS_THROW ? -VMLET_EABORT : -VMLET_EFAIL);
	EXPECT_EQ(f->error, err);
	EXPECT_EQ(f->code, code);
	/* The message's first line; a stack may follow. */
	EXPECT_TRUE(!strncmp(f->message, msg, strlen(msg)) &&
		    (!f->message[strlen(msg)] || f->message[strlen(msg)] == '\n'));
	next_event_works(js);
}

TEST(typed_events_refuse_wrong_types)
{
	struct vmlet_js *js = load(TYPED_SCRIPT);
	struct vmlet_value args[VMLET_MAX_ARGS + 1], r;

	if (!js)
		return;
	typed_fails(js, "echo", vmlet_str("1"), VMLET_I32, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be an i32, not a string");
	typed_fails(js, "echo", vmlet_f64(1.5), VMLET_I32, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be an i32, not 1.5");
	typed_fails(js, "echo", vmlet_i32(-1), VMLET_U32, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be a u32, not -1");
	typed_fails(js, "echo", vmlet_f64(4294967296.0), VMLET_U32, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be a u32, not 4294967296");
	typed_fails(js, "echo", vmlet_f64(9007199254740992.0), VMLET_I64, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be an i64, not 9007199254740992");
	typed_fails(js, "echo", vmlet_i32(1), VMLET_BOOL, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be a boolean, not 1");
	typed_fails(js, "echo", vmlet_bool(false), VMLET_F64, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be an f64, not a boolean");
	typed_fails(js, "echo", vmlet_str("ab"), VMLET_BYTES, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be a Uint8Array, not a string");
	typed_fails(js, "echo", vmlet_bytes("ab", 2), VMLET_STRING, VMLET_JS_BADOUTPUT,
		    "TypeError: echo: the result must be a string, not a buffer");
	typed_fails(js, "obj", vmlet_i32(0), VMLET_STRING, VMLET_JS_BADOUTPUT,
		    "TypeError: obj: the result must be a string, not an object");
	typed_fails(js, "kinds", vmlet_i32(0), VMLET_I32, VMLET_JS_BADOUTPUT,
		    "TypeError: kinds: the result must be an i32, not a string");
	typed_fails(js, "nothere", vmlet_i32(0), VMLET_I32, VMLET_JS_NOHANDLER,
		    "ReferenceError: nothere is not a function");
	typed_fails(js, "boom", vmlet_i32(0), VMLET_I32, VMLET_JS_THROW, "Error: boom");
	/* What the host refuses before the guest runs. */
	args[0] = vmlet_i64(1LL << 53);
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_I64, &r), -ERANGE);
	args[0] = vmlet_i64(-(1LL << 53));
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_I64, &r), -ERANGE);
	args[0] = vmlet_u64(UINT64_MAX);
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_U64, &r), -ERANGE);
	args[0] = (struct vmlet_value){.type = VMLET_VOID};
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_I32, &r), -EINVAL);
	args[0] = (struct vmlet_value){.type = VMLET_NTYPES};
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_I32, &r), -EINVAL);
	args[0] = vmlet_i32(1);
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_NTYPES, &r), -EINVAL);
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", args, 1, VMLET_I32, NULL), -EINVAL);
	EXPECT_EQ(vmlet_js_event_typed(js, NULL, args, 1, VMLET_I32, &r), -EINVAL);
	EXPECT_EQ(vmlet_js_event_typed(js, "echo", NULL, 1, VMLET_I32, &r), -EINVAL);
	EXPECT_EQ(vmlet_js_event_typed(NULL, "echo", args, 1, VMLET_I32, &r), -EINVAL);
	for (unsigned int i = 0; i <= VMLET_MAX_ARGS; i++)
		args[i] = vmlet_i32(1);
	EXPECT_EQ(vmlet_js_event_typed(js, "sum", args, VMLET_MAX_ARGS + 1, VMLET_I32, &r),
		  -EINVAL);
	if (!typed(js, "sum", args, VMLET_MAX_ARGS, VMLET_I32, &r))
		EXPECT_EQ(r.i32, 3);
	next_event_works(js);
	vmlet_js_destroy(js);
}

/* A snapshot file of a loaded script, opened again: events as on the original. */
TEST(saved_snapshot_runs_events_with_globals_initialized)
{
	struct vmlet_config cfg = {
		.sz = sizeof(cfg),
		.print = capture,
		.print_ctx = &out,
		.host_funcs = host_funcs,
		.nhost_funcs = sizeof(host_funcs) / sizeof(host_funcs[0]),
	};
	struct vmlet_js *js = load("var loads = 0; loads++;\n"
				   "var squares = []; for (var i = 0; i < 10; i++) squares.push(i * i);\n"
				   "function f(e) { loads++; squares.push(e);\n"
				   "  console.log('f', e); return [loads, squares.length, squares[e],\n"
				   "    host.add(e, 1), Math.random()]; }\n"
				   "function sq(i) { return squares[i]; }\n");
	struct vmlet_js *again = NULL;
	struct vmlet_snapshot *snap = NULL, *plain = NULL;
	struct vmlet_image *img = NULL;
	struct vmlet_value arg = vmlet_i32(7), r;
	char first[256];
	const char *res;
	int fd, n;

	if (!js)
		return;
	/* Not a file in /tmp: in the vmtest VM that is 9p, where an unlinked file is gone. */
	fd = memfd_create("js_test.snap", MFD_CLOEXEC);
	if (fd < 0) {
		ksft_fail_at("memfd_create: %s", strerror(errno));
		vmlet_js_destroy(js);
		return;
	}
	EXPECT_EQ(vmlet_snapshot_save(vmlet_js_snapshot(js), fd), 0);
	vmlet_js_destroy(js);
	EXPECT_EQ(vmlet_snapshot_load(fd, &cfg, &snap), 0);
	close(fd);
	if (!snap)
		return;
	EXPECT_EQ(vmlet_js_from_snapshot(snap, &again), 0);
	/* again holds its own reference. */
	vmlet_snapshot_destroy(snap);
	if (!again)
		return;
	out.len = 0;
	res = event(again, "f", "3");
	if (res) {
		snprintf(first, sizeof(first), "%s", res);
		EXPECT_TRUE(!strncmp(res, "[2,11,9,4,", 10));
		EXPECT_STREQ(out.buf, "f 3\n");
	}
	/* A fresh event: the last one's writes are gone, Math.random() is not the same. */
	res = event(again, "f", "3");
	if (res) {
		EXPECT_TRUE(!strncmp(res, "[2,11,9,4,", 10));
		EXPECT_TRUE(strcmp(res, first) != 0);
	}
	n = vmlet_js_call(again, "f", "4", &res);
	EXPECT_TRUE(n > 0 && !strncmp(res, "[3,12,16,5,", 11));
	if (!vmlet_js_event_typed(again, "sq", &arg, 1, VMLET_I32, &r))
		EXPECT_EQ(r.i32, 49);
	else
		ksft_fail_at("sq: %s", vmlet_js_fault(again)->message);
	vmlet_js_destroy(again);

	/* Snapshots of other guests are refused; the JS guest before a load has no handlers. */
	EXPECT_EQ(vmlet_js_from_snapshot(NULL, &again), -EINVAL);
	EXPECT_EQ(vmlet_image_open(GUEST("hostcall"), &img), 0);
	if (img && !vmlet_snapshot_create(img, NULL, &plain)) {
		again = UNTOUCHED;
		EXPECT_EQ(vmlet_js_from_snapshot(plain, &again), -EINVAL);
		EXPECT_TRUE(again == UNTOUCHED);
		EXPECT_EQ(vmlet_js_from_snapshot(plain, NULL), -EINVAL);
		vmlet_snapshot_destroy(plain);
	}
	vmlet_image_close(img);
	img = NULL;
	cfg = (struct vmlet_config){.sz = sizeof(cfg), .mem_size = 16 << 20, .stack_size = 1 << 20};
	EXPECT_EQ(vmlet_image_open(JS_ELF, &img), 0);
	if (img && !vmlet_snapshot_create(img, &cfg, &plain)) {
		EXPECT_EQ(vmlet_js_from_snapshot(plain, &again), 0);
		vmlet_snapshot_destroy(plain);
		if (again)
			event_fails(again, "f", "1", -VMLET_EFAIL, VMLET_JS_NOHANDLER,
				    "ReferenceError: f is not a function");
		vmlet_js_destroy(again);
	}
	vmlet_image_close(img);
}

TEST(bad_arguments_are_einval)
{
	struct vmlet_js_config jc = {.sz = 1};
	struct vmlet_js *js = NULL;
	const char *r;

	EXPECT_EQ(vmlet_js_load(NULL, NULL, &js), -EINVAL);
	EXPECT_EQ(vmlet_js_load("1", NULL, NULL), -EINVAL);
	EXPECT_EQ(vmlet_js_load("1", &jc, &js), -EINVAL);
	EXPECT_EQ(vmlet_js_event(NULL, "f", "{}", &r), -EINVAL);
	jc = (struct vmlet_js_config){.sz = sizeof(jc), .image = "/nonexistent/vmlet-js.elf"};
	EXPECT_EQ(vmlet_js_load("1", &jc, &js), -ENOENT);
	js = load(OK_HANDLER);
	if (!js)
		return;
	EXPECT_EQ(vmlet_js_event(js, NULL, "{}", &r), -EINVAL);
	EXPECT_EQ(vmlet_js_event(js, "ok", NULL, &r), -EINVAL);
	EXPECT_EQ(vmlet_js_call(js, "ok", "{}", NULL), -EINVAL);
	next_event_works(js);
	vmlet_js_destroy(js);
}

int main(void)
{
	return ksft_run();
}
