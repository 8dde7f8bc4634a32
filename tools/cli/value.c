// SPDX-License-Identifier: BSD-2-Clause
/*
 * Arguments and results as the command line writes them: TYPE:VALUE
 * (i32:5, f64:2.5, str:hello, bytes:@file, bool:true) or a bare VALUE
 * read as the type the function's signature wants; results printed as
 * the same text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmlet.h>

#include "cli.h"

static enum vmlet_type type_by_name(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum vmlet_type type;
	} names[] = {
		{"bool", VMLET_BOOL},	{"i32", VMLET_I32},    {"u32", VMLET_U32},
		{"i64", VMLET_I64},	{"u64", VMLET_U64},    {"f32", VMLET_F32},
		{"f64", VMLET_F64},	{"str", VMLET_STRING}, {"string", VMLET_STRING},
		{"bytes", VMLET_BYTES},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n && !strncmp(names[i].name, s, n))
			return names[i].type;
	return VMLET_VOID;
}

static int parse_int(const char *s, int is_signed, int64_t lo, uint64_t hi, struct vmlet_value *v)
{
	char *end;

	errno = 0;
	if (is_signed) {
		long long x = strtoll(s, &end, 0);

		if (errno || *end || end == s || x < lo || (x > 0 && (uint64_t)x > hi))
			return -EINVAL;
		v->i64 = x;
	} else {
		unsigned long long x;

		if (*s == '-')
			return -EINVAL;
		x = strtoull(s, &end, 0);
		if (errno || *end || end == s || x > hi)
			return -EINVAL;
		v->u64 = x;
	}
	return 0;
}

/* Parse one argument for a parameter of type want; buffers stay owned by *owned. */
int cli_parse_arg(const char *arg, enum vmlet_type want, struct vmlet_value *v, void **owned)
{
	const char *colon = strchr(arg, ':'), *val = arg;
	enum vmlet_type t = want;
	char *end;
	int err = 0;

	if (colon) {
		enum vmlet_type named = type_by_name(arg, (size_t)(colon - arg));

		if (named != VMLET_VOID) {
			if (named != want) {
				fprintf(stderr,
					"vmlet: argument '%s' is %s, the function wants %s\n", arg,
					vmlet_type_name(named), vmlet_type_name(want));
				return -EINVAL;
			}
			val = colon + 1;
		}
	}
	memset(v, 0, sizeof(*v));
	v->type = t;
	switch (t) {
	case VMLET_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "1"))
			v->b = true;
		else if (strcmp(val, "false") && strcmp(val, "0"))
			err = -EINVAL;
		break;
	case VMLET_I32:
		err = parse_int(val, 1, INT32_MIN, INT32_MAX, v);
		v->i32 = (int32_t)v->i64;
		break;
	case VMLET_U32:
		err = parse_int(val, 0, 0, UINT32_MAX, v);
		v->u32 = (uint32_t)v->u64;
		break;
	case VMLET_I64:
		err = parse_int(val, 1, INT64_MIN, INT64_MAX, v);
		break;
	case VMLET_U64:
		err = parse_int(val, 0, 0, UINT64_MAX, v);
		break;
	case VMLET_F32:
		errno = 0;
		v->f32 = strtof(val, &end);
		err = errno || *end || end == val ? -EINVAL : 0;
		break;
	case VMLET_F64:
		errno = 0;
		v->f64 = strtod(val, &end);
		err = errno || *end || end == val ? -EINVAL : 0;
		break;
	case VMLET_STRING:
		v->buf.ptr = val;
		v->buf.len = strlen(val);
		break;
	case VMLET_BYTES:
		if (val[0] == '@') {
			*owned = cli_read_file(val + 1, &v->buf.len);
			if (!*owned)
				return -EIO; /* cli_read_file() said why */
			v->buf.ptr = *owned;
		} else {
			v->buf.ptr = val;
			v->buf.len = strlen(val);
		}
		break;
	default:
		err = -EINVAL;
	}
	if (err)
		fprintf(stderr, "vmlet: cannot read '%s' as %s\n", arg, vmlet_type_name(want));
	return err;
}

void cli_print_value(const struct vmlet_value *v)
{
	switch (v->type) {
	case VMLET_VOID:
		puts("(void)");
		break;
	case VMLET_BOOL:
		puts(v->b ? "true" : "false");
		break;
	case VMLET_I32:
		printf("%" PRId32 "\n", v->i32);
		break;
	case VMLET_U32:
		printf("%" PRIu32 "\n", v->u32);
		break;
	case VMLET_I64:
		printf("%" PRId64 "\n", v->i64);
		break;
	case VMLET_U64:
		printf("%" PRIu64 "\n", v->u64);
		break;
	case VMLET_F32:
		printf("%.9g\n", (double)v->f32);
		break;
	case VMLET_F64:
		printf("%.17g\n", v->f64);
		break;
	case VMLET_STRING:
		printf("%.*s\n", (int)v->buf.len, (const char *)v->buf.ptr);
		break;
	case VMLET_BYTES:
		for (size_t i = 0; i < v->buf.len; i++) {
			unsigned char c = ((const unsigned char *)v->buf.ptr)[i];

			if (c >= 0x20 && c < 0x7f && c != '\\')
				putchar(c);
			else
				printf("\\x%02x", c);
		}
		putchar('\n');
		break;
	default:
		puts("?");
	}
}
