// SPDX-License-Identifier: BSD-2-Clause
/*
 * embed: a service's view of libvmlet, built with nothing but pkg-config:
 *
 *	cc $(pkg-config --cflags libvmlet) -o embed embed.c \
 *		$(pkg-config --libs libvmlet)
 *	./embed hello.elf
 *
 * It boots the guest once, calls two of its functions, then shows that a
 * guest that faults is an error value on the host, not a crash.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <vmlet.h>

struct console {
	FILE *f;
	bool bol; /* at the beginning of a line */
};

/*
 * Guest stdout and stderr arrive here in pieces (one per buffer musl
 * writes, so a line may come in two): prefix each line, not each piece.
 */
static void print(void *ctx, const char *buf, size_t len)
{
	struct console *c = ctx;

	for (size_t i = 0; i < len; i++) {
		if (c->bol)
			fputs("guest: ", c->f);
		fputc(buf[i], c->f);
		c->bol = buf[i] == '\n';
	}
}

int main(int argc, char **argv)
{
	struct console console = {.f = stdout, .bol = true};
	struct vmlet_config cfg = {.sz = sizeof(cfg), .print = print, .print_ctx = &console};
	struct vmlet_value args[2], ret;
	const struct vmlet_fault *f;
	struct vmlet_sandbox *sb;
	struct vmlet_image *img;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: embed IMAGE\n");
		return 2;
	}
	err = vmlet_image_open(argv[1], &img);
	if (err) {
		fprintf(stderr, "embed: %s: %s\n", argv[1], vmlet_strerror(err));
		return 1;
	}
	err = vmlet_sandbox_create(img, &cfg, &sb);
	if (err) {
		fprintf(stderr, "embed: cannot create a sandbox: %s\n", vmlet_strerror(err));
		goto err_img;
	}

	args[0] = vmlet_i32(2);
	args[1] = vmlet_i32(40);
	err = vmlet_sandbox_call(sb, "add", args, 2, &ret);
	if (err)
		goto err_call;
	printf("add(2, 40) = %" PRId32 "\n", ret.i32);

	args[0] = vmlet_str("vmlet");
	err = vmlet_sandbox_call(sb, "greet", args, 1, &ret);
	if (err)
		goto err_call;
	printf("greet(\"vmlet\") = \"%.*s\"\n", (int)ret.buf.len, (const char *)ret.buf.ptr);

	/* A page fault in the guest: the call fails, the sandbox is dead. */
	args[0] = vmlet_u64(0);
	err = vmlet_sandbox_call(sb, "peek", args, 1, &ret);
	f = vmlet_sandbox_fault(sb);
	printf("peek(0): %s, vector %" PRIu32 ", address %#" PRIx64 "\n", vmlet_strerror(err),
	       f->vector, f->address);
	printf("add again: %s\n", vmlet_strerror(vmlet_sandbox_call(sb, "add", args, 0, &ret)));

	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
	return err == -VMLET_EEXCEPTION ? 0 : 1;

err_call:
	fprintf(stderr, "embed: call failed: %s: %s\n", vmlet_strerror(err),
		vmlet_sandbox_fault(sb)->message);
	vmlet_sandbox_destroy(sb);
err_img:
	vmlet_image_close(img);
	return 1;
}
