// SPDX-License-Identifier: BSD-2-Clause
/*
 * vmlet-serve: an HTTP/1.1 front end that runs each request's function in
 * a micro-VM (man vmlet-serve(1)). main() parses the options, boots the
 * image once to its ready point and snapshots it (a .wasm module is first
 * compiled to an image through the cache `vmlet wasm run` uses; a .js
 * script is loaded into the JS guest with vmlet_js_load(), which boots,
 * runs the script's top level and snapshots), reads the functions,
 * starts one worker per core (worker.c: its pool or sandbox, then
 * seccomp) and as many HTTP threads (http.c), says which port it bound,
 * and waits for SIGTERM or SIGINT: then it stops accepting, lets the
 * requests in flight finish (their deadline bounds them), tears down and
 * exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "wasmcache.h"

/*
 * The guest's input buffer: the library's default (struct vmlet_config),
 * and what a call's frame needs beside its arguments' bytes (its header,
 * and a record header, padding and NUL for each of VMLET_MAX_ARGS).
 */
#define IN_DEFAULT    (64 * 1024)
#define IN_FRAME_ROOM 4096

const char *const lifecycle_names[LC_N] = {
	[LC_REUSE] = "reuse",
	[LC_RESTORE] = "restore",
	[LC_RENEW] = "renew",
	[LC_NATIVE] = "native",
};

int lifecycle_parse(const char *str, enum lifecycle *lc)
{
	for (unsigned int i = 0; i < LC_N; i++)
		if (!strcmp(str, lifecycle_names[i])) {
			*lc = i;
			return 0;
		}
	return -EINVAL;
}

static void usage(FILE *f, int status)
{
	fprintf(f,
		"usage: vmlet-serve [OPTION]... IMAGE|MODULE.wasm|SCRIPT.js\n"
		"Serve the functions of guest IMAGE (or of a Wasm module, or the handlers of a\n"
		"JavaScript script) over HTTP/1.1: POST /call/FUNC with a JSON array of\n"
		"arguments (a handler: with a JSON event), GET /functions, GET /metrics.\n"
		"  -l, --listen ADDR        IPv4 address to listen on (default 127.0.0.1)\n"
		"  -p, --port N             port (default 8080; 0: any free port)\n"
		"  -P, --port-file FILE     write the bound port to FILE once serving\n"
		"  -L, --lifecycle L        reuse, restore (default), renew or native\n"
		"  -r, --route FUNC=L       lifecycle L for function FUNC only\n"
		"  -H, --handler NAME       serve the script's global function NAME (repeatable)\n"
		"  -W, --wasm               IMAGE was made by vmlet-wasm-cc: name its traps\n"
		"  -n, --native SO          the same functions built for the host (native)\n"
		"  -w, --workers N          workers and HTTP threads (default: online CPUs)\n"
		"  -s, --pool-size N        sandboxes in each worker's pool (default 2)\n"
		"  -t, --timeout-ms MS      each call's deadline (default 1000; 0: none)\n"
		"  -b, --max-body BYTES     largest request body (default 65536)\n"
		"  -c, --conn-timeout SECS  close connections idle this long (default 10)\n"
		"  -d, --drain-timeout SECS how long SIGTERM waits for requests in flight\n"
		"                           (default: twice the deadline plus 10 s)\n"
		"  -y, --spin-us US         spin this long before sleeping on a hand-over, while\n"
		"                           each busy pair of threads can have 2 CPUs\n"
		"                           (default 200; 0: never)\n"
		"  -C, --cpus N             the CPUs the server may count on (default: those\n"
		"                           of its CPU affinity)\n"
		"  -S, --no-seccomp         do not confine the workers with seccomp\n"
		"  -h, --help               this text\n");
	exit(status);
}

static int parse_u64(const char *str, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(str, &end, 10);
	if (errno || end == str || *end || *str == '-' || *out > max)
		return -EINVAL;
	return 0;
}

struct route_opt {
	const char *name;
	enum lifecycle lc;
};

/* A script's routes: its handlers, each a call of the guest's event(). */
static int js_routes(struct server *s, const struct route_opt *ro, unsigned int nro)
{
	int event = vmlet_sandbox_func(vmlet_js_sandbox(s->js), "event");

	if (event < 0)
		return event;
	if (!nro) {
		fprintf(stderr, "vmlet-serve: %s: name the handlers to serve (--handler NAME)\n",
			s->path);
		return -EINVAL;
	}
	s->routes = calloc(nro, sizeof(*s->routes));
	if (!s->routes)
		return -ENOMEM;
	for (unsigned int i = 0; i < nro; i++) {
		struct route *r = &s->routes[i];

		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(s->routes[j].sig.name, ro[i].name)) {
				fprintf(stderr, "vmlet-serve: handler %s named twice\n",
					ro[i].name);
				return -EINVAL;
			}
		r->sig = *vmlet_sandbox_func_at(vmlet_js_sandbox(s->js), (unsigned int)event);
		r->sig.name = strdup(ro[i].name);
		if (!r->sig.name)
			return -ENOMEM;
		r->index = (unsigned int)event;
		r->lc = ro[i].lc;
		s->lcs[r->lc] = true;
		s->nroutes++;
	}
	return 0;
}

/* Load the script at s->path into the JS guest and snapshot it. */
static int js_open(struct server *s, const struct vmlet_config *cfg)
{
	struct vmlet_fault fault = {0};
	struct vmlet_js_config jc = {
		.sz = sizeof(jc),
		.filename = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path,
		.cfg = cfg,
		.fault = &fault,
	};
	struct buf src = {0};
	int err = read_path(s->path, &src);

	if (!err)
		err = buf_add(&src, "", 1);
	if (err) {
		fprintf(stderr, "vmlet-serve: %s: %s\n", s->path, strerror(-err));
		free(src.p);
		return err;
	}
	err = vmlet_js_load(src.p, &jc, &s->js);
	free(src.p);
	if (err) {
		fprintf(stderr, "vmlet-serve: %s: cannot load it into the JS guest: %s%s%s\n",
			s->path, vmlet_strerror(err), fault.message[0] ? ": " : "", fault.message);
		return err;
	}
	s->snap = vmlet_js_snapshot(s->js);
	return 0;
}

static bool ends_with(const char *str, const char *suffix)
{
	size_t n = strlen(str), m = strlen(suffix);

	return n >= m && !strcmp(str + n - m, suffix);
}

static int routes_read(struct server *s, const struct route_opt *ro, unsigned int nro)
{
	struct vmlet_sandbox *sb;
	int n, err = vmlet_sandbox_create_from(s->snap, &sb);

	if (err)
		return err;
	n = vmlet_sandbox_nfuncs(sb);
	s->routes = calloc((size_t)n, sizeof(*s->routes));
	if (!s->routes) {
		vmlet_sandbox_destroy(sb);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct route *r = &s->routes[i];

		r->sig = *vmlet_sandbox_func_at(sb, (unsigned int)i);
		r->sig.name = strdup(r->sig.name);
		if (!r->sig.name)
			err = -ENOMEM;
		r->index = (unsigned int)i;
		r->lc = s->lc;
	}
	s->nroutes = (unsigned int)n;
	vmlet_sandbox_destroy(sb);
	for (unsigned int i = 0; !err && i < nro; i++) {
		unsigned int j = 0;

		while (j < s->nroutes && strcmp(s->routes[j].sig.name, ro[i].name))
			j++;
		if (j == s->nroutes) {
			fprintf(stderr, "vmlet-serve: --route: %s has no function %s\n",
				s->image_path, ro[i].name);
			return -ENOENT;
		}
		s->routes[j].lc = ro[i].lc;
	}
	for (unsigned int i = 0; i < s->nroutes; i++)
		s->lcs[s->routes[i].lc] = true;
	return err;
}

static int listen_on(struct server *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	socklen_t len = sizeof(sa);
	int one = 1, fd;

	if (inet_pton(AF_INET, s->listen_addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "vmlet-serve: --listen: not an IPv4 address: %s\n", s->listen_addr);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		int err = -errno;

		fprintf(stderr, "vmlet-serve: %s:%u: %s\n", s->listen_addr, s->port,
			strerror(-err));
		close(fd);
		return err;
	}
	s->bound_port = ntohs(sa.sin_port);
	return fd;
}

static int write_port_file(const struct server *s)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->port_file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", s->bound_port);
	if (fclose(f) || rename(tmp, s->port_file))
		return -errno;
	return 0;
}

/* Wait for requests in flight, at most `secs`; true when none is left. */
static bool drain(struct server *s, unsigned int secs)
{
	struct timespec tick = {.tv_nsec = 5000000};
	uint64_t end = now_ns() + (uint64_t)secs * 1000000000ULL;

	while (__atomic_load_n(&s->in_flight, __ATOMIC_ACQUIRE)) {
		if (now_ns() > end)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"port", required_argument, NULL, 'p'},
		{"port-file", required_argument, NULL, 'P'},
		{"lifecycle", required_argument, NULL, 'L'},
		{"route", required_argument, NULL, 'r'},
		{"native", required_argument, NULL, 'n'},
		{"handler", required_argument, NULL, 'H'},
		{"wasm", no_argument, NULL, 'W'},
		{"workers", required_argument, NULL, 'w'},
		{"pool-size", required_argument, NULL, 's'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"max-body", required_argument, NULL, 'b'},
		{"conn-timeout", required_argument, NULL, 'c'},
		{"drain-timeout", required_argument, NULL, 'd'},
		{"spin-us", required_argument, NULL, 'y'},
		{"cpus", required_argument, NULL, 'C'},
		{"no-seccomp", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct server s = {
		.listen_addr = "127.0.0.1",
		.port = 8080,
		.lc = LC_RESTORE,
		.pool_size = 2,
		.timeout_ms = 1000,
		.max_body = 65536,
		.conn_timeout_s = 10,
		.spin_ns = 200000,
		.confine = true,
	};
	struct route_opt ro[64];
	unsigned int nro = 0;
	char wasm_elf[4200];
	struct vmlet_config cfg = {
		.sz = sizeof(cfg),
		.print = worker_print,
		.print_limit = OUTPUT_CAP,
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), drain_s = -1;
	int c, err, fd = -1, status = 1, sig;
	uint64_t v;
	cpu_set_t cpus;
	sigset_t set;
	char *eq;

	s.workers = ncpu > 0 ? (unsigned int)ncpu : 1;
	s.cpus = sched_getaffinity(0, sizeof(cpus), &cpus) ? s.workers
							   : (unsigned int)CPU_COUNT(&cpus);
	while ((c = getopt_long(argc, argv, "l:p:P:L:r:n:H:Ww:s:t:b:c:d:y:C:Sh", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'l':
			s.listen_addr = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, 65535, &v))
				goto bad;
			s.port = (unsigned int)v;
			break;
		case 'P':
			s.port_file = optarg;
			break;
		case 'L':
			if (lifecycle_parse(optarg, &s.lc))
				goto bad;
			break;
		case 'r':
			eq = strchr(optarg, '=');
			if (!eq || nro == sizeof(ro) / sizeof(ro[0]))
				goto bad;
			*eq = '\0';
			ro[nro].name = optarg;
			if (lifecycle_parse(eq + 1, &ro[nro++].lc))
				goto bad;
			break;
		case 'n':
			s.native_path = optarg;
			break;
		case 'H':
			if (nro == sizeof(ro) / sizeof(ro[0]))
				goto bad;
			ro[nro].name = optarg;
			ro[nro++].lc = LC_N; /* the server's, once parsed */
			break;
		case 'W':
			s.kind = GUEST_WASM;
			break;
		case 'w':
			if (parse_u64(optarg, 1024, &v) || !v)
				goto bad;
			s.workers = (unsigned int)v;
			break;
		case 's':
			if (parse_u64(optarg, 1024, &v) || !v)
				goto bad;
			s.pool_size = (unsigned int)v;
			break;
		case 't':
			if (parse_u64(optarg, 3600000, &v))
				goto bad;
			s.timeout_ms = v;
			break;
		case 'b':
			if (parse_u64(optarg, 1 << 30, &v))
				goto bad;
			s.max_body = v;
			break;
		case 'c':
			if (parse_u64(optarg, 86400, &v))
				goto bad;
			s.conn_timeout_s = (unsigned int)v;
			break;
		case 'y':
			if (parse_u64(optarg, 1000000, &v))
				goto bad;
			s.spin_ns = v * 1000;
			break;
		case 'C':
			if (parse_u64(optarg, CPU_SETSIZE, &v) || !v)
				goto bad;
			s.cpus = (unsigned int)v;
			break;
		case 'd':
			if (parse_u64(optarg, 86400, &v))
				goto bad;
			drain_s = (long)v;
			break;
		case 'S':
			s.confine = false;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc - 1)
		usage(stderr, 2);
	s.path = s.image_path = argv[optind];
	cfg.timeout_us = s.timeout_ms * 1000;
	if (drain_s < 0)
		drain_s = (long)(s.timeout_ms / 1000) * 2 + 10;
	/*
	 * Any body --max-body lets in fits the guest's input buffer once
	 * decoded (never longer than its JSON), with its frame and records.
	 */
	if (s.max_body + IN_FRAME_ROOM > IN_DEFAULT)
		cfg.in_size = (s.max_body + IN_FRAME_ROOM + 4095) & ~(uint64_t)4095;
	for (unsigned int i = 0; i < nro; i++)
		if (ro[i].lc == LC_N)
			ro[i].lc = s.lc;
	if (ends_with(s.path, ".js"))
		s.kind = GUEST_JS;
	else if (ends_with(s.path, ".wasm"))
		s.kind = GUEST_WASM;

	/* Every thread made from here on leaves these to sigwait() below. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (s.kind == GUEST_JS) {
		if (js_open(&s, &cfg) || js_routes(&s, ro, nro))
			goto out;
	} else {
		if (ends_with(s.path, ".wasm")) {
			struct buf mod = {0};

			err = read_path(s.path, &mod);
			if (err)
				fprintf(stderr, "vmlet-serve: %s: %s\n", s.path, strerror(-err));
			else
				err = wasm_cached_image(s.path, &mod, wasm_elf, sizeof(wasm_elf));
			free(mod.p);
			if (err)
				return 1;
			s.image_path = wasm_elf;
		}
		err = vmlet_image_open(s.image_path, &s.img);
		if (err) {
			fprintf(stderr, "vmlet-serve: %s: %s\n", s.image_path, vmlet_strerror(err));
			return 1;
		}
		err = vmlet_snapshot_create(s.img, &cfg, &s.snap);
		if (err) {
			fprintf(stderr, "vmlet-serve: %s: cannot boot it: %s\n", s.image_path,
				vmlet_strerror(err));
			goto out;
		}
		err = routes_read(&s, ro, nro);
		if (err) {
			fprintf(stderr, "vmlet-serve: %s: %s\n", s.image_path, vmlet_strerror(err));
			goto out;
		}
	}
	if (s.lcs[LC_NATIVE] && s.kind == GUEST_JS) {
		fprintf(stderr, "vmlet-serve: a script has no native lifecycle\n");
		goto out;
	}
	if (s.lcs[LC_NATIVE] && !s.native_path) {
		fprintf(stderr, "vmlet-serve: the native lifecycle needs --native SO\n");
		goto out;
	}
	if (s.native_path && native_open(&s, s.native_path))
		goto out;
	err = functions_json(&s);
	if (!err)
		err = metrics_init(&s);
	if (!err)
		err = workers_start(&s);
	if (err) {
		fprintf(stderr, "vmlet-serve: cannot start the workers: %s\n", vmlet_strerror(err));
		goto out;
	}
	fd = listen_on(&s);
	if (fd < 0)
		goto out;
	err = http_start(&s, fd);
	if (err) {
		fprintf(stderr, "vmlet-serve: cannot start the HTTP daemon\n");
		goto out;
	}
	printf("vmlet-serve: serving %s on http://%s:%u/ (%u workers, %s)\n", s.path, s.listen_addr,
	       s.bound_port, s.workers, lifecycle_names[s.lc]);
	fflush(stdout);
	if (s.port_file && (err = write_port_file(&s))) {
		fprintf(stderr, "vmlet-serve: %s: %s\n", s.port_file, strerror(-err));
		goto out;
	}

	if (sigwait(&set, &sig))
		goto out;
	__atomic_store_n(&s.draining, 1, __ATOMIC_RELAXED);
	http_quiesce(&s);
	close(fd);
	fd = -1;
	if (!drain(&s, (unsigned int)drain_s)) {
		/*
		 * Their HTTP threads wait on calls that may never end (no
		 * deadline, or a native function): stopping the daemon would
		 * join them. Their connections close with the process.
		 */
		fprintf(stderr, "vmlet-serve: %s: requests still in flight, exiting\n",
			strsignal(sig));
		fflush(stdout);
		_exit(1);
	}
	status = 0;
	printf("vmlet-serve: %s: drained, exiting\n", strsignal(sig));
	fflush(stdout);
out:
	http_stop(&s);
	if (fd >= 0)
		close(fd);
	workers_stop(&s);
	metrics_free(&s);
	for (unsigned int i = 0; i < s.nroutes; i++)
		free((char *)s.routes[i].sig.name);
	free(s.routes);
	free(s.functions_json);
	if (s.js)
		vmlet_js_destroy(s.js);
	else if (s.snap)
		vmlet_snapshot_destroy(s.snap);
	vmlet_image_close(s.img);
	return status;
bad:
	fprintf(stderr, "vmlet-serve: bad value for -%c: %s\n", c, optarg);
	return 2;
}
