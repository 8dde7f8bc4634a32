// SPDX-License-Identifier: BSD-2-Clause
/*
 * A WASI command for wasm_test, built with clang --target=wasm32-wasi
 * against Debian's wasi-libc: args, environ, stdin, malloc, qsort,
 * strings, printf, and files the host granted under /data. Prints what
 * it saw; exits with the status its first argument names.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	fprintf(stderr, "to stderr\n");
	return argc > 1 ? atoi(argv[1]) : 0;
}
