// SPDX-License-Identifier: BSD-2-Clause
/*
 * The gdb stub (lib/gdbstub.c) against a scripted client of its own, for
 * what Debian's gdb cannot stage (selftests/kvm/gdb_test.sh drives the
 * real one):
 *
 * - A software breakpoint is an int3 at a guest-physical address: when
 *   the guest maps another page at the breakpoint's virtual address
 *   before the call ends, the original byte still goes back where the
 *   int3 went, and the page now mapped there is left alone. Restore of a
 *   sandbox made from a COPY snapshot puts back the pages either way.
 * - After gdb detaches, or goes away, the call runs on under the
 *   sandbox's deadline, counted afresh from then: a spinning guest ends
 *   with -VMLET_ETIMEDOUT instead of running for ever.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <vmlet.h>

#include "gdbproto.h"
#include "util.h"

#define HOSTILE(name) HOSTILE_DIR "/" name ".elf"
#define GUEST(name)   GUEST_DIR "/" name "_guest.elf"

#define MIB	     (1ULL << 20)
#define WINDOW	     (511ULL << 21) /* guest/tests/memory.c: a 2 MiB page it remaps */
#define HUGE_MASK    ((1ULL << 21) - 1)
#define MAX_STEPS    8

/* One exchange: send a packet, then wait for a reply (NULL: none, close after). */
struct step {
	const char *send;
	const char *want; /* the reply's payload, exactly; or its start when it ends with '*' */
};

struct client {
	uint16_t port;
	pthread_t thread;
	bool started;
	struct step steps[MAX_STEPS];
	char why[512]; /* empty: the script went as written */
};

static int send_packet(int fd, const char *payload)
{
	char buf[VMLET_GDB_PACKET_MAX + 8];
	int64_t n = vmlet_gdb_frame(buf, sizeof(buf), payload, strlen(payload));

	return n < 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n ? -1 : 0;
}

/* The next packet from the stub into rx->buf (acked); -1 when the stub went away. */
static int recv_packet(int fd, struct vmlet_gdb_rx *rx)
{
	for (;;) {
		uint8_t c;
		ssize_t n = recv(fd, &c, 1, 0);

		if (n <= 0)
			return -1;
		if (vmlet_gdb_rx_byte(rx, c) == VMLET_GDB_RX_PACKET)
			return send(fd, "+", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
	}
}

static bool matches(const char *got, const char *want)
{
	size_t n = strlen(want);

	if (n && want[n - 1] == '*')
		return !strncmp(got, want, n - 1);
	return !strcmp(got, want);
}

static void *client_run(void *arg)
{
	struct client *cl = arg;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(cl->port)};
	struct vmlet_gdb_rx rx;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	vmlet_gdb_rx_init(&rx);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(cl->why, sizeof(cl->why), "connect: %s", strerror(errno));
		goto out;
	}
	for (struct step *s = cl->steps; s->send; s++) {
		if (send_packet(fd, s->send)) {
			snprintf(cl->why, sizeof(cl->why), "sending %s failed", s->send);
			break;
		}
		if (!s->want)
			break;
		if (recv_packet(fd, &rx)) {
			snprintf(cl->why, sizeof(cl->why), "no reply to %s", s->send);
			break;
		}
		if (!matches(rx.buf, s->want)) {
			snprintf(cl->why, sizeof(cl->why), "%s: got '%.64s', want '%s'", s->send,
				 rx.buf, s->want);
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* opts->listening: the client connects from a thread of its own. */
static void listening(void *ctx, uint16_t port)
{
	struct client *cl = ctx;

	cl->port = port;
	cl->started = !pthread_create(&cl->thread, NULL, client_run, cl);
}

/* Make the call under the client's script; the call's error. */
static int debug_call(struct vmlet_sandbox *sb, const char *name, const struct vmlet_value *args,
		      unsigned int nargs, struct client *cl)
{
	struct vmlet_debug_opts o = {.sz = sizeof(o), .listening = listening, .ctx = cl};
	struct vmlet_value ret;
	int err = vmlet_sandbox_debug_call(sb, name, args, nargs, &ret, &o);

	if (!cl->started) {
		ksft_fail_at("the client thread did not start");
		return err;
	}
	pthread_join(cl->thread, NULL);
	if (cl->why[0])
		ksft_fail_at("client: %s", cl->why);
	return err;
}

static uint64_t peek64(const struct vmlet_sandbox *sb, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)vmlet_sandbox_memory(sb, NULL) + gpa, sizeof(v));
	return v;
}

TEST(sw_breakpoint_comes_out_where_it_went_in_after_a_remap)
{
	struct vmlet_config cfg = {.sz = sizeof(cfg), .mem_size = 16 * MIB,
				   .restore = VMLET_RESTORE_COPY};
	struct vmlet_image *img = test_image(HOSTILE("memory"));
	const uint64_t v = 0x1122334455667788ULL;
	struct vmlet_snapshot *snap = NULL;
	struct vmlet_sandbox *sb = NULL;
	const struct vmlet_boot *b;
	struct vmlet_value args[2];
	struct client cl = {0};
	uint64_t a, c, bp;
	char z0[64], z0r[64];

	ASSERT_TRUE(img);
	ASSERT_OK(vmlet_snapshot_create(img, &cfg, &snap));
	ASSERT_OK(vmlet_sandbox_create_from(snap, &sb));
	b = (const struct vmlet_boot *)((const uint8_t *)vmlet_sandbox_memory(sb, NULL) +
					VMLET_BOOT_ADDR);
	/* Two heap addresses 2 MiB apart, the same offset in their 2 MiB pages. */
	a = ((b->heap_lo + HUGE_MASK) & ~HUGE_MASK) + 0x340;
	c = a + 2 * MIB;
	ASSERT_LT(c + 8, b->heap_hi);
	ASSERT_EQ(peek64(sb, a), 0);
	ASSERT_EQ(peek64(sb, c), 0);
	bp = WINDOW + (a & HUGE_MASK);

	/* The window shows a's page... */
	args[0] = vmlet_u64(a);
	ASSERT_OK(vmlet_sandbox_call(sb, "map_load", args, 1, NULL));
	/* ...gdb puts an int3 there, and the call maps c's page in its place. */
	snprintf(z0, sizeof(z0), "Z0,%llx,1", (unsigned long long)bp);
	snprintf(z0r, sizeof(z0r), "m%llx,1", (unsigned long long)bp);
	cl.steps[0] = (struct step){"?", "T05*"};
	cl.steps[1] = (struct step){z0, "OK"};
	cl.steps[2] = (struct step){z0r, "00"}; /* gdb sees the original byte */
	cl.steps[3] = (struct step){"c", "W00"};
	args[0] = vmlet_u64(c);
	args[1] = vmlet_u64(v);
	EXPECT_EQ(debug_call(sb, "map_store", args, 2, &cl), 0);
	/* The int3 left a's page; c's page holds what the guest stored, all of it. */
	EXPECT_EQ(peek64(sb, a), 0);
	EXPECT_EQ(peek64(sb, c), v);

	ASSERT_OK(vmlet_sandbox_restore(sb));
	EXPECT_EQ(peek64(sb, a), 0);
	EXPECT_EQ(peek64(sb, c), 0);
	vmlet_sandbox_destroy(sb);
	vmlet_snapshot_destroy(snap);
	vmlet_image_close(img);
}

/* spin() under a 200 ms deadline, gdb doing steps[] at its first stop. */
static void spin_after(const struct step *steps, unsigned int nsteps)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct client cl = {0};

	ASSERT_TRUE(sb);
	ASSERT_OK(vmlet_sandbox_set_timeout(sb, 200000));
	memcpy(cl.steps, steps, nsteps * sizeof(*steps));
	EXPECT_EQ(debug_call(sb, "spin", NULL, 0, &cl), -VMLET_ETIMEDOUT);
	EXPECT_TRUE(strstr(vmlet_sandbox_fault(sb)->message, "deadline of 200000 us passed"));
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

TEST(detach_leaves_the_call_to_its_deadline)
{
	const struct step steps[] = {{"?", "T05*"}, {"D", "OK"}};

	spin_after(steps, 2);
}

TEST(a_client_that_goes_away_leaves_the_call_to_its_deadline)
{
	const struct step steps[] = {{"?", "T05*"}, {"s", "T05*"}};

	spin_after(steps, 2);
}

/* A call the sandbox would refuse is refused before any gdb is waited for. */
TEST(refused_calls_open_no_port)
{
	struct vmlet_image *img = test_image(GUEST("interrupt"));
	struct vmlet_sandbox *sb = test_sandbox(img, NULL);
	struct vmlet_value args[1] = {vmlet_u64(1)}, ret;
	struct client cl = {0};
	struct vmlet_debug_opts o = {.sz = sizeof(o), .listening = listening, .ctx = &cl};

	ASSERT_TRUE(sb);
	/* Should a port open all the same, the client kills the call there. */
	cl.steps[0] = (struct step){"k", NULL};
	EXPECT_EQ(vmlet_sandbox_debug_call(sb, "spin", args, 1, &ret, &o), -EINVAL);
	EXPECT_EQ(vmlet_sandbox_debug_call(sb, "nosuch", NULL, 0, &ret, &o), -ENOENT);
	if (cl.started)
		pthread_join(cl.thread, NULL);
	EXPECT_TRUE(!cl.started);
	vmlet_sandbox_destroy(sb);
	vmlet_image_close(img);
}

int main(void)
{
	return ksft_run();
}
