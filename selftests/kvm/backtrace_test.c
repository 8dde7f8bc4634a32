// SPDX-License-Identifier: BSD-2-Clause
/*
 * A guest that fails gets a backtrace named from its image's symbols: a
 * fault two calls deep names the faulting function and each caller, an
 * abort names vmlet_abort and its callers, a frame-pointer chain that
 * loops or points outside the guest ends the walk, and a stripped image
 * (no section headers) gives the same addresses without names. The pool
 * hands the backtrace out too, and to a caller built before struct
 * vmlet_fault grew (opts without fault_sz) only the old fields.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <vmlet.h>

#include "util.h"

static uint64_t addr(struct vmlet_sandbox *sb, const char *name)
{
	struct vmlet_value r, a = vmlet_str(name);

	if (vmlet_sandbox_call(sb, "addr", &a, 1, &r))
		return 0;
	return r.u64;
}

/* The index of the first frame named fn at or after from, or -1. */
static int frame_of(const struct vmlet_fault *f, const char *fn, unsigned int from)
{
	for (unsigned int i = from; i < f->nframes; i++)
		if (!strcmp(f->frames[i].func, fn))
			return (int)i;
	return -1;
}

static void dump(const struct vmlet_fault *f)
{
	for (unsigned int i = 0; i < f->nframes; i++)
		printf("# #%u %#" PRIx64 " %s+%#" PRIx64 "\n", i, f->frames[i].pc,
		       f->frames[i].func, f->frames[i].offset);
}

TEST(fault_in_nested_functions_names_each_caller)
{
	struct vmlet_image *img = test_image(GUEST("backtrace"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	const struct vmlet_fault *f;
	struct vmlet_value r;
	uint64_t leaf, middle, outer;

	if (!sb)
		return;
	leaf = addr(sb, "leaf_fault");
	middle = addr(sb, "middle");
	outer = addr(sb, "outer");
	ASSERT_NE(leaf, 0);
	ASSERT_EQ(vmlet_sandbox_call(sb, "nested_fault", NULL, 0, &r), -VMLET_EEXCEPTION);
	f = vmlet_sandbox_fault(sb);
	dump(f);
	EXPECT_EQ(f->vector, 14);
	EXPECT_TRUE(f->symbols);
	ASSERT_GE(f->nframes, 4);
	EXPECT_EQ(f->frames[0].pc, f->rip);
	EXPECT_STREQ(f->frames[0].func, "leaf_fault");
	EXPECT_EQ(f->frames[0].offset, f->rip - leaf);
	EXPECT_STREQ(f->frames[1].func, "middle");
	EXPECT_EQ(f->frames[1].offset, f->frames[1].pc - middle);
	EXPECT_STREQ(f->frames[2].func, "outer");
	EXPECT_EQ(f->frames[2].offset, f->frames[2].pc - outer);
	/* Then the registered function, and the runtime's dispatcher. */
	EXPECT_STREQ(f->frames[3].func, "nested_fault");
	EXPECT_GE(frame_of(f, "vmlet_invoke", 4), 4);
	EXPECT_GE(frame_of(f, "vmlet_ready", 4), 5);
	EXPECT_TRUE(f->nframes <= VMLET_FAULT_FRAMES);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(abort_names_vmlet_abort_and_its_callers)
{
	struct vmlet_image *img = test_image(GUEST("backtrace"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	const struct vmlet_fault *f;

	if (!sb)
		return;
	ASSERT_EQ(vmlet_sandbox_call(sb, "nested_abort", NULL, 0, NULL), -VMLET_EABORT);
	f = vmlet_sandbox_fault(sb);
	dump(f);
	EXPECT_EQ(f->code, 7);
	ASSERT_GE(f->nframes, 4);
	EXPECT_STREQ(f->frames[0].func, "vmlet_abort");
	EXPECT_STREQ(f->frames[1].func, "abort_inner");
	EXPECT_STREQ(f->frames[2].func, "abort_outer");
	EXPECT_STREQ(f->frames[3].func, "nested_abort");
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(looping_frame_chain_ends_the_walk)
{
	struct vmlet_image *img = test_image(GUEST("backtrace"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	const struct vmlet_fault *f;

	if (!sb)
		return;
	ASSERT_EQ(vmlet_sandbox_call(sb, "loop_fault", NULL, 0, NULL), -VMLET_EEXCEPTION);
	f = vmlet_sandbox_fault(sb);
	dump(f);
	ASSERT_GE(f->nframes, 1);
	EXPECT_STREQ(f->frames[0].func, "loop_fault");
	/* rip, then the one return address the self-pointing frame holds. */
	EXPECT_EQ(f->nframes, 2);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(frame_pointer_outside_the_guest_ends_the_walk)
{
	struct vmlet_image *img = test_image(GUEST("backtrace"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	const struct vmlet_fault *f;

	if (!sb)
		return;
	ASSERT_EQ(vmlet_sandbox_call(sb, "wild_fault", NULL, 0, NULL), -VMLET_EEXCEPTION);
	f = vmlet_sandbox_fault(sb);
	dump(f);
	/* wild_fault has no frame: its caller comes from rsp, then rbp is wild. */
	ASSERT_EQ(f->nframes, 2);
	EXPECT_STREQ(f->frames[0].func, "wild_fault");
	EXPECT_STREQ(f->frames[1].func, "vmlet_invoke");
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

/* The image with its section headers gone, as strip leaves no .symtab. */
static struct vmlet_image *stripped_image(void)
{
	struct vmlet_image *img = NULL;
	FILE *fp = fopen(GUEST("backtrace"), "rb");
	static uint8_t buf[4 << 20];
	Elf64_Ehdr eh;
	size_t len;
	int err;

	if (!fp) {
		ksft_fail_at("fopen: %s", strerror(errno));
		return NULL;
	}
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	memcpy(&eh, buf, sizeof(eh));
	eh.e_shoff = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = 0;
	memcpy(buf, &eh, sizeof(eh));
	err = vmlet_image_from_memory(buf, len, &img);
	if (err)
		ksft_fail_at("vmlet_image_from_memory: %s", vmlet_strerror(err));
	return img;
}

TEST(stripped_image_gives_addresses_only)
{
	struct vmlet_image *img = test_image(GUEST("backtrace"));
	struct vmlet_image *bare = stripped_image();
	struct vmlet_sandbox *sb = test_sandbox(img, NULL), *sbare = test_sandbox(bare, NULL);
	const struct vmlet_fault *f, *fb;

	if (!sb || !sbare)
		return;
	ASSERT_EQ(vmlet_sandbox_call(sb, "nested_fault", NULL, 0, NULL), -VMLET_EEXCEPTION);
	ASSERT_EQ(vmlet_sandbox_call(sbare, "nested_fault", NULL, 0, NULL), -VMLET_EEXCEPTION);
	f = vmlet_sandbox_fault(sb);
	fb = vmlet_sandbox_fault(sbare);
	dump(fb);
	EXPECT_TRUE(f->symbols);
	EXPECT_TRUE(!fb->symbols);
	EXPECT_EQ(fb->rip, f->rip);
	/*
	 * Without symbols the frameless leaf's caller cannot be told from
	 * rsp: the chain starts at the leaf's caller's caller (outer).
	 */
	ASSERT_GE(fb->nframes, 3);
	EXPECT_EQ(fb->frames[0].pc, f->frames[0].pc);
	for (unsigned int i = 1; i < fb->nframes && i + 1 < f->nframes; i++)
		EXPECT_EQ(fb->frames[i].pc, f->frames[i + 1].pc);
	for (unsigned int i = 0; i < fb->nframes; i++) {
		EXPECT_STREQ(fb->frames[i].func, "");
		EXPECT_EQ(fb->frames[i].offset, 0);
	}
	vmlet_sandbox_destroy(sb);
	vmlet_sandbox_destroy(sbare);
	vmlet_image_close(img);
	vmlet_image_close(bare);
}

TEST(pool_call_hands_out_the_backtrace_to_the_size_the_caller_knows)
{
	struct vmlet_image *img = test_image(GUEST("backtrace"));
	struct vmlet_pool_config pc = {.sz = sizeof(pc), .size = 1};
	struct vmlet_pool *pool = NULL;
	struct vmlet_fault f;
	struct vmlet_pool_call_opts o = {.sz = sizeof(o), .fault = &f};
	size_t old = offsetof(struct vmlet_fault, nframes);
	uint8_t *bytes = (uint8_t *)&f;

	if (!img)
		return;
	ASSERT_OK(vmlet_pool_create(img, NULL, &pc, &pool));
	memset(&f, 0xaa, sizeof(f));
	EXPECT_EQ(vmlet_pool_call_opts(pool, "nested_fault", NULL, 0, NULL, &o), -VMLET_EEXCEPTION);
	EXPECT_EQ(f.error, -VMLET_EEXCEPTION);
	EXPECT_GE(f.nframes, 4);
	EXPECT_STREQ(f.frames[0].func, "leaf_fault");
	EXPECT_EQ(f.core_error, 0);

	/* Built against the old header: opts end at fault, and so does the copy. */
	memset(&f, 0xaa, sizeof(f));
	o.sz = offsetof(struct vmlet_pool_call_opts, fault_sz);
	EXPECT_EQ(vmlet_pool_call_opts(pool, "nested_fault", NULL, 0, NULL, &o), -VMLET_EEXCEPTION);
	EXPECT_EQ(f.error, -VMLET_EEXCEPTION);
	EXPECT_EQ(f.vector, 14);
	for (size_t i = old; i < sizeof(f); i++)
		if (bytes[i] != 0xaa) {
			ksft_fail_at("byte %zu past the old struct written", i);
			break;
		}

	/* fault_sz says how much room there is. */
	memset(&f, 0xaa, sizeof(f));
	o.sz = sizeof(o);
	o.fault_sz = offsetof(struct vmlet_fault, frames[1]);
	EXPECT_EQ(vmlet_pool_call_opts(pool, "nested_fault", NULL, 0, NULL, &o), -VMLET_EEXCEPTION);
	EXPECT_STREQ(f.frames[0].func, "leaf_fault");
	EXPECT_EQ(bytes[offsetof(struct vmlet_fault, frames[1])], 0xaa);
	EXPECT_EQ(bytes[sizeof(f) - 1], 0xaa);
	ASSERT_OK(vmlet_pool_destroy(pool));
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
