// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest for hostcall_test and the host-call benchmark: relays values
 * through host functions, probes the host-call checks, and reads and
 * writes granted descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmlet/guest.h>

/* Pass v to the host function `fn` (named "<fn>") and return its result. */
#define RELAY(name, ctype, vtype, member)                                    \
	static ctype name(const char *fn, ctype v)                           \
	{                                                                    \
		struct vmlet_value a = {.type = vtype, .member = v}, r;       \
		int err = vmlet_host_call(fn, &a, 1, &r);                    \
                                                                             \
		if (err)                                                     \
			vmlet_abort(-err, "host call failed");               \
		if (r.type != vtype)                                         \
			vmlet_abort(0, "host call returned the wrong type"); \
		return r.member;                                             \
	}

RELAY(relay_bool, _Bool, VMLET_BOOL, b)
RELAY(relay_i32, int32_t, VMLET_I32, i32)
RELAY(relay_u32, uint32_t, VMLET_U32, u32)
RELAY(relay_i64, int64_t, VMLET_I64, i64)
RELAY(relay_u64, uint64_t, VMLET_U64, u64)
RELAY(relay_f32, float, VMLET_F32, f32)
RELAY(relay_f64, double, VMLET_F64, f64)

static const char *relay_str(const char *fn, const char *s)
{
	struct vmlet_value a = vmlet_hstr(s), r;
	int err = vmlet_host_call(fn, &a, 1, &r);

	if (err || r.type != VMLET_STRING)
		vmlet_abort(-err, "host call failed");
	return r.buf.ptr;
}

static struct vmlet_bytes relay_bytes(const char *fn, const void *p, size_t len)
{
	struct vmlet_value a = {.type = VMLET_BYTES, .buf = {p, len}}, r;
	int err = vmlet_host_call(fn, &a, 1, &r);

	if (err || r.type != VMLET_BYTES)
		vmlet_abort(-err, "host call failed");
	return (struct vmlet_bytes){r.buf.ptr, r.buf.len};
}

/* Call fn with nargs u32 arguments (or one string when nargs is 100); the error. */
static int32_t try_call(const char *fn, uint32_t nargs)
{
	struct vmlet_value a[VMLET_MAX_ARGS + 1];

	if (nargs == 100)
		return vmlet_host_call(fn, &(struct vmlet_value){.type = VMLET_STRING,
								.buf = {"x", 1}},
				       1, NULL);
	for (uint32_t i = 0; i < nargs && i <= VMLET_MAX_ARGS; i++)
		a[i] = (struct vmlet_value){.type = VMLET_U32, .u32 = i};
	return vmlet_host_call(fn, a, nargs, NULL);
}

/* Whether the host would take fn(u64) -> u64: vmlet_host_probe()'s answer. */
static int32_t probe_u64(const char *fn)
{
	enum vmlet_type t = VMLET_U64;

	return vmlet_host_probe(fn, VMLET_U64, &t, 1);
}

/* n host calls of fn(u64) -> u64 in a row, each fed the last result. */
static uint64_t chain(const char *fn, uint32_t n, uint64_t v)
{
	for (uint32_t i = 0; i < n; i++)
		v = relay_u64(fn, v);
	return v;
}

static int32_t open_(const char *path)
{
	int fd = open(path, O_RDONLY);

	return fd < 0 ? -errno : fd;
}

/* read(fd, addr, len) with any address, as a hostile guest would. */
static int64_t read_at(int32_t fd, uint64_t addr, uint64_t len)
{
	ssize_t n = read(fd, (void *)(uintptr_t)addr, len);

	return n < 0 ? -errno : n;
}

static char big[1 << 20];

static int64_t pread_big(int32_t fd, uint64_t len, uint64_t off)
{
	ssize_t n = pread(fd, big, len < sizeof(big) ? len : sizeof(big), (off_t)off);

	return n < 0 ? -errno : n;
}

/* The first len bytes of big, as read last. */
static struct vmlet_bytes big_bytes(uint32_t len)
{
	return (struct vmlet_bytes){big, len < sizeof(big) ? len : sizeof(big)};
}

static int64_t write_str(int32_t fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	return n < 0 ? -errno : n;
}

static int64_t pwrite_str(int32_t fd, const char *s, uint64_t off)
{
	ssize_t n = pwrite(fd, s, strlen(s), (off_t)off);

	return n < 0 ? -errno : n;
}

/* Sleep ns nanoseconds; how long it took by the guest's clock. */
static int64_t nap(uint64_t ns)
{
	struct timespec t0, t1, req = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (nanosleep(&req, NULL))
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
}

static uint64_t big_addr(void)
{
	return (uint64_t)(uintptr_t)big;
}

static uint64_t nothing(void)
{
	return 0;
}

int main(void)
{
	VMLET_REGISTER(relay_bool, VMLET_BOOL, VMLET_STRING, VMLET_BOOL);
	VMLET_REGISTER(relay_i32, VMLET_I32, VMLET_STRING, VMLET_I32);
	VMLET_REGISTER(relay_u32, VMLET_U32, VMLET_STRING, VMLET_U32);
	VMLET_REGISTER(relay_i64, VMLET_I64, VMLET_STRING, VMLET_I64);
	VMLET_REGISTER(relay_u64, VMLET_U64, VMLET_STRING, VMLET_U64);
	VMLET_REGISTER(relay_f32, VMLET_F32, VMLET_STRING, VMLET_F32);
	VMLET_REGISTER(relay_f64, VMLET_F64, VMLET_STRING, VMLET_F64);
	VMLET_REGISTER(relay_str, VMLET_STRING, VMLET_STRING, VMLET_STRING);
	VMLET_REGISTER(relay_bytes, VMLET_BYTES, VMLET_STRING, VMLET_BYTES);
	VMLET_REGISTER(try_call, VMLET_I32, VMLET_STRING, VMLET_U32);
	VMLET_REGISTER(probe_u64, VMLET_I32, VMLET_STRING);
	VMLET_REGISTER(chain, VMLET_U64, VMLET_STRING, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(open_, VMLET_I32, VMLET_STRING);
	VMLET_REGISTER(read_at, VMLET_I64, VMLET_I32, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(pread_big, VMLET_I64, VMLET_I32, VMLET_U64, VMLET_U64);
	VMLET_REGISTER(big_bytes, VMLET_BYTES, VMLET_U32);
	VMLET_REGISTER(write_str, VMLET_I64, VMLET_I32, VMLET_STRING);
	VMLET_REGISTER(pwrite_str, VMLET_I64, VMLET_I32, VMLET_STRING, VMLET_U64);
	VMLET_REGISTER(nap, VMLET_I64, VMLET_U64);
	VMLET_REGISTER(nothing, VMLET_U64);
	VMLET_REGISTER(big_addr, VMLET_U64);
	vmlet_ready();
}
