/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small TAP harness for tests that start VMs, after kselftest_harness.h:
 * each test runs in a forked child (a crash or hang fails that test only),
 * with a time limit, and reports ok, not ok, or ok ... # SKIP reason.
 *
 *	TEST(guest_null_deref_reports_pf) { ... EXPECT_EQ(a, b); ... }
 *	int main(void) { return ksft_run(); }
 *
 * KSFT_ONLY=text in the environment runs only the tests whose names
 * contain it (for debugging; the others report SKIP).
 *
 * ASSERT_* stop the test at the first failure, EXPECT_* carry on. SKIP()
 * is for a missing optional feature only: a missing /dev/kvm is a failure.
 */
#ifndef VMLET_KSELFTEST_H
#define VMLET_KSELFTEST_H

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4
#define KSFT_MAX_TESTS 128
#define KSFT_TIMEOUT_S 300

struct ksft_test {
	const char *name;
	void (*fn)(void);
};

static struct ksft_test ksft_tests[KSFT_MAX_TESTS];
static int ksft_ntests;
static int ksft_failed;
static char *ksft_skip_reason; /* shared with the child */

static inline void ksft_register(const char *name, void (*fn)(void))
{
	if (ksft_ntests < KSFT_MAX_TESTS)
		ksft_tests[ksft_ntests++] = (struct ksft_test){ name, fn };
}

#define TEST(name)                                                            \
	static void name(void);                                               \
	__attribute__((constructor)) static void ksft_reg_##name(void)        \
	{                                                                     \
		ksft_register(#name, name);                                   \
	}                                                                     \
	static void name(void)

#define ksft_fail_at(...)                                                     \
	do {                                                                  \
		printf("# %s:%d: ", __FILE__, __LINE__);                      \
		printf(__VA_ARGS__);                                          \
		printf("\n");                                                 \
		fflush(stdout);                                               \
		ksft_failed = 1;                                              \
	} while (0)

#define KSFT_CMP(a, op, b, onfail)                                            \
	do {                                                                  \
		__typeof__(a) _a = (a);                                       \
		__typeof__(a) _b = (__typeof__(a))(b);              \
		if (!(_a op _b)) {                                            \
			ksft_fail_at("%s %s %s: got %lld (%#llx), want %s%lld", \
				     #a, #op, #b, (long long)_a,              \
				     (unsigned long long)_a, #op " ", (long long)_b); \
			onfail;                                               \
		}                                                             \
	} while (0)

#define EXPECT_EQ(a, b) KSFT_CMP(a, ==, b, (void)0)
#define EXPECT_NE(a, b) KSFT_CMP(a, !=, b, (void)0)
#define EXPECT_GE(a, b) KSFT_CMP(a, >=, b, (void)0)
#define EXPECT_LT(a, b) KSFT_CMP(a, <, b, (void)0)
#define ASSERT_EQ(a, b) KSFT_CMP(a, ==, b, return)
#define ASSERT_NE(a, b) KSFT_CMP(a, !=, b, return)
#define ASSERT_GE(a, b) KSFT_CMP(a, >=, b, return)
#define ASSERT_LT(a, b) KSFT_CMP(a, <, b, return)
#define EXPECT_TRUE(c) KSFT_CMP(!!(c), ==, 1, (void)0)
#define ASSERT_TRUE(c) KSFT_CMP(!!(c), ==, 1, return)
#define EXPECT_STREQ(a, b)                                                    \
	do {                                                                  \
		const char *_a = (a), *_b = (b);                              \
		if (!_a || strcmp(_a, _b)) {                                  \
			ksft_fail_at("%s: got \"%s\", want \"%s\"", #a,        \
				     _a ? _a : "(null)", _b);                  \
		}                                                             \
	} while (0)

/* Call a vmlet function and fail the test unless it returns 0. */
#define ASSERT_OK(expr)                                                       \
	do {                                                                  \
		int _e = (expr);                                              \
		if (_e) {                                                     \
			ksft_fail_at("%s: %d (%s)", #expr, _e, vmlet_strerror(_e)); \
			return;                                               \
		}                                                             \
	} while (0)

#define SKIP(...)                                                             \
	do {                                                                  \
		snprintf(ksft_skip_reason, 256, __VA_ARGS__);                 \
		fflush(stdout);                                               \
		_exit(KSFT_SKIP);                                             \
	} while (0)

/*
 * A test runs in a child that leaves with _exit(), where LeakSanitizer's
 * check at exit never runs: in a build with LSan (make check SAN=address),
 * run it when the test returns and fail the test on a leak. Without LSan
 * the symbol is NULL.
 */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static inline int ksft_leaked(void)
{
	return __lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check();
}

static inline int ksft_run(void)
{
	int failed = 0;

	ksft_skip_reason = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);
	if (ksft_skip_reason == MAP_FAILED)
		return KSFT_FAIL;
	printf("TAP version 13\n1..%d\n", ksft_ntests);
	fflush(stdout);
	for (int i = 0; i < ksft_ntests; i++) {
		const char *only = getenv("KSFT_ONLY");
		int status = 0;
		pid_t pid;

		if (only && !strstr(ksft_tests[i].name, only)) {
			printf("ok %d %s # SKIP not in KSFT_ONLY\n", i + 1, ksft_tests[i].name);
			continue;
		}

		ksft_skip_reason[0] = '\0';
		pid = fork();
		if (pid == 0) {
			alarm(KSFT_TIMEOUT_S);
			ksft_tests[i].fn();
			if (ksft_leaked()) {
				printf("# LeakSanitizer: the test leaked memory (report above)\n");
				ksft_failed = 1;
			}
			fflush(stdout);
			_exit(ksft_failed ? KSFT_FAIL : KSFT_PASS);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			printf("not ok %d %s # fork failed\n", i + 1, ksft_tests[i].name);
			failed++;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_PASS) {
			printf("ok %d %s\n", i + 1, ksft_tests[i].name);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP) {
			printf("ok %d %s # SKIP %s\n", i + 1, ksft_tests[i].name, ksft_skip_reason);
		} else {
			if (WIFSIGNALED(status))
				printf("# killed by signal %d%s\n", WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
			printf("not ok %d %s\n", i + 1, ksft_tests[i].name);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? KSFT_FAIL : KSFT_PASS;
}

#endif /* VMLET_KSELFTEST_H */
