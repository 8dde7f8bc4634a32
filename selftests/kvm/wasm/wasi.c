// SPDX-License-Identifier: BSD-2-Clause
/*
 * A WASI command for wasm_test, built with clang --target=wasm32-wasi
 * against Debian's wasi-libc: args, environ, stdin, malloc, qsort,
 * strings, printf, files the host granted under /data, and files made
 * in directories it granted as /out (read-write) and /ro (read-only).
 * Prints what it saw; exits with the status its first argument names.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Numbers from stdin, sorted. */
static void sort_stdin(void)
{
	size_t n = 0, cap = 4;
	long *v = malloc(cap * sizeof(*v)), x;

	while (v && scanf("%ld", &x) == 1) {
		if (n == cap) {
			long *p = realloc(v, (cap *= 2) * sizeof(*v));

			if (!p)
				break;
			v = p;
		}
		v[n++] = x;
	}
	qsort(v, n, sizeof(*v), cmp);
	printf("sorted:");
	for (size_t i = 0; i < n; i++)
		printf(" %ld", v[i]);
	printf("\n");
	free(v);
}

/* /data/in.txt upper-cased into /data/out.txt. */
static int files(void)
{
	char buf[256];
	FILE *in = fopen("/data/in.txt", "r"), *out;
	size_t n;

	if (!in) {
		perror("fopen /data/in.txt");
		return 1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, in);
	buf[n] = '\0';
	if (fseek(in, 2, SEEK_SET) || fgetc(in) != buf[2] || ftell(in) != 3) {
		printf("fseek/ftell failed\n");
		return 1;
	}
	fclose(in);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
	out = fopen("/data/out.txt", "w");
	if (!out) {
		perror("fopen /data/out.txt");
		return 1;
	}
	fputs(buf, out);
	fclose(out);
	printf("copied %zu bytes\n", n);
	if (!fopen("/data/missing.txt", "r"))
		perror("missing");
	return 0;
}

static long size_of(FILE *f)
{
	struct stat st;

	return fstat(fileno(f), &st) ? -1 : (long)st.st_size;
}

/* Create, truncate, seek from the end; and what may not be opened. */
static int create(void)
{
	FILE *f = fopen("/out/new.txt", "w");
	char buf[64] = {0};
	int c;

	if (!f) {
		perror("fopen w");
		return 1;
	}
	fputs("hello, created\n", f);
	fclose(f);
	f = fopen("/out/new.txt", "r+");
	if (!f) {
		perror("fopen r+");
		return 1;
	}
	fseek(f, 0, SEEK_END);
	printf("end %ld size %ld", ftell(f), size_of(f));
	fseek(f, -8, SEEK_END);
	c = fgetc(f);
	printf(" at -8 '%c' then %ld\n", c, ftell(f));
	fseek(f, 0, SEEK_END);
	fputs("more\n", f);
	fseek(f, 0, SEEK_END);
	printf("appended: end %ld\n", ftell(f));
	fclose(f);
	f = fopen("/out/new.txt", "w");
	fputs("ab", f);
	fflush(f);
	printf("truncated: size %ld\n", size_of(f));
	fclose(f);
	if (!fopen("/out/new.txt", "wx"))
		perror("wx existing");
	f = fopen("/out/fresh.txt", "wx");
	printf("wx fresh: %s\n", f ? "made" : strerror(errno));
	if (f)
		fclose(f);
	f = fopen("/ro/in.txt", "r");
	if (f && fgets(buf, sizeof(buf), f))
		printf("ro: %s", buf);
	if (f)
		fclose(f);
	if (!fopen("/ro/new.txt", "w"))
		perror("ro write");
	if (!fopen("/ro/in.txt", "r+"))
		perror("ro r+");
	if (!fopen("/out/../ro/in.txt", "r"))
		perror("dotdot");
	if (!fopen("/out/missing.txt", "r"))
		perror("missing");
	if (!fopen("/etc/passwd", "r"))
		perror("ungranted");
	if (!fopen("/out", "r"))
		perror("dir");
	/* WASI calls the runtime does not implement: ENOSYS, nothing else. */
	if (mkdir("/out/sub", 0755))
		perror("mkdir");
	if (rename("/out/new.txt", "/out/old.txt"))
		perror("rename");
	return 0;
}

int main(int argc, char **argv)
{
	const char *g = getenv("GREETING");
	char *s;

	printf("argc %d:", argc);
	for (int i = 0; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\n%s\n", g ? g : "(no GREETING)");
	s = strdup(argc > 2 ? argv[2] : "none");
	printf("strlen %zu strrchr %s\n", strlen(s), strrchr(s, '-') ? strrchr(s, '-') : "-");
	free(s);
	if (argc > 3 && !strcmp(argv[3], "sort"))
		sort_stdin();
	if (argc > 3 && !strcmp(argv[3], "files") && files())
		return 1;
	if (argc > 3 && !strcmp(argv[3], "create") && create())
		return 1;
	fprintf(stderr, "to stderr\n");
	return argc > 1 ? atoi(argv[1]) : 0;
}
