// SPDX-License-Identifier: BSD-2-Clause
/* libcheck suite for lib/entropy.c: fresh bytes per draw, per thread, per fork. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "entropy.h"
#include "unit.h"

#define DRAWS 600 /* more than one page of the pool: it refills */

static int cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

START_TEST(draws_do_not_repeat)
{
	static uint64_t v[DRAWS][2];

	for (int i = 0; i < DRAWS; i++)
		ck_assert_int_eq(vmlet_entropy_get(v[i]), 0);
	qsort(v, DRAWS, sizeof(v[0]), cmp);
	for (int i = 1; i < DRAWS; i++)
		ck_assert_int_ne(memcmp(v[i - 1], v[i], 16), 0);
}
END_TEST

/* A child must not hand out what its parent hands out next (MADV_WIPEONFORK). */
START_TEST(a_forked_child_draws_other_bytes)
{
	uint64_t mine[2], child[2], warm[2];
	int pipefd[2], status;
	pid_t pid;

	ck_assert_int_eq(vmlet_entropy_get(warm), 0); /* the pool exists before the fork */
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t v[2] = {0, 0};

		vmlet_entropy_get(v);
		_exit(write(pipefd[1], v, sizeof(v)) == sizeof(v) ? 0 : 1);
	}
	ck_assert_int_eq(vmlet_entropy_get(mine), 0);
	ck_assert_int_eq(read(pipefd[0], child, sizeof(child)), sizeof(child));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	ck_assert_int_ne(memcmp(mine, child, 16), 0);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

static void *draw_thread(void *arg)
{
	return (void *)(intptr_t)vmlet_entropy_get(arg);
}

START_TEST(threads_draw_their_own_bytes)
{
	uint64_t a[2], b[2];
	pthread_t t;
	void *ret;

	ck_assert_int_eq(pthread_create(&t, NULL, draw_thread, b), 0);
	ck_assert_int_eq(vmlet_entropy_get(a), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert_int_ne(memcmp(a, b, 16), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("entropy");
	TCase *tc = tcase_create("entropy");

	tcase_add_test(tc, draws_do_not_repeat);
	tcase_add_test(tc, a_forked_child_draws_other_bytes);
	tcase_add_test(tc, threads_draw_their_own_bytes);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_NOFORK);
}
