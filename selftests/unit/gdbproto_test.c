// SPDX-License-Identifier: BSD-2-Clause
/*
 * libcheck suite for lib/gdbproto.c: packets are framed, checked and
 * unescaped byte by byte; every command the stub serves parses to its
 * exact fields; malformed packets of each command are MALFORMED (the
 * stub answers E01), unknown ones UNSUPPORTED (empty reply); replies are
 * framed with escapes and their checksum, and come back through the
 * receiver unchanged.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmlet.h>

#include "gdbproto.h"
#include "unit.h"

/* Feed s[0..n) and return the last event; *npackets counts the packets. */
static enum vmlet_gdb_rx_event feed(struct vmlet_gdb_rx *rx, const char *s, size_t n,
				    int *npackets)
{
	enum vmlet_gdb_rx_event ev = VMLET_GDB_RX_MORE;

	for (size_t i = 0; i < n; i++) {
		ev = vmlet_gdb_rx_byte(rx, (uint8_t)s[i]);
		if (ev == VMLET_GDB_RX_PACKET && npackets)
			(*npackets)++;
	}
	return ev;
}

/* A packet of payload as gdb sends it (escaping nothing: the payload must need none). */
static size_t packet(char *out, const char *payload)
{
	unsigned int sum = 0;

	for (const char *p = payload; *p; p++)
		sum += (uint8_t)*p;
	return (size_t)sprintf(out, "$%s#%02x", payload, sum & 0xff);
}

static struct vmlet_gdb_rx rx;
static struct vmlet_gdb_cmd cmd;

static enum vmlet_gdb_cmd_type parse(const char *s)
{
	return vmlet_gdb_parse(s, strlen(s), &cmd);
}

START_TEST(rx_takes_a_packet_and_acks)
{
	char buf[64];
	size_t n = packet(buf, "qSupported:swbreak+");

	vmlet_gdb_rx_init(&rx);
	ck_assert_int_eq(vmlet_gdb_rx_byte(&rx, '+'), VMLET_GDB_RX_ACK);
	ck_assert_int_eq(vmlet_gdb_rx_byte(&rx, '-'), VMLET_GDB_RX_NACK);
	ck_assert_int_eq(vmlet_gdb_rx_byte(&rx, 0x03), VMLET_GDB_RX_BREAK);
	ck_assert_int_eq(vmlet_gdb_rx_byte(&rx, 'x'), VMLET_GDB_RX_MORE); /* noise */
	ck_assert_int_eq(feed(&rx, buf, n - 1, NULL), VMLET_GDB_RX_MORE);
	ck_assert_int_eq(vmlet_gdb_rx_byte(&rx, (uint8_t)buf[n - 1]), VMLET_GDB_RX_PACKET);
	ck_assert_uint_eq(rx.len, strlen("qSupported:swbreak+"));
	ck_assert_str_eq(rx.buf, "qSupported:swbreak+");
	/* The checksum's digits in upper case are as good. */
	ck_assert_int_eq(feed(&rx, "$g#67", 5, NULL), VMLET_GDB_RX_PACKET);
	ck_assert_int_eq(feed(&rx, "$?#3F", 5, NULL), VMLET_GDB_RX_PACKET);
	ck_assert_str_eq(rx.buf, "?");
}
END_TEST

START_TEST(rx_refuses_bad_checksums)
{
	vmlet_gdb_rx_init(&rx);
	ck_assert_int_eq(feed(&rx, "$g#68", 5, NULL), VMLET_GDB_RX_BAD);
	ck_assert_int_eq(feed(&rx, "$g#z", 4, NULL), VMLET_GDB_RX_BAD);
	ck_assert_int_eq(feed(&rx, "$g#6z", 5, NULL), VMLET_GDB_RX_BAD);
	/* Then the next good packet. */
	ck_assert_int_eq(feed(&rx, "$g#67", 5, NULL), VMLET_GDB_RX_PACKET);
	/* A '$' in the middle starts over. */
	ck_assert_int_eq(feed(&rx, "$m0$g#67", 8, NULL), VMLET_GDB_RX_PACKET);
	ck_assert_str_eq(rx.buf, "g");
}
END_TEST

START_TEST(rx_unescapes_and_sums_the_raw_bytes)
{
	/* X0,2:} # as '}' ']' '}' 0x03: the checksum covers the escaped form. */
	const char raw[] = "X0,2:}]}\x03";
	char buf[32];
	unsigned int sum = 0;

	for (const char *p = raw; *p; p++)
		sum += (uint8_t)*p;
	snprintf(buf, sizeof(buf), "$%s#%02x", raw, sum & 0xff);
	vmlet_gdb_rx_init(&rx);
	ck_assert_int_eq(feed(&rx, buf, strlen(buf), NULL), VMLET_GDB_RX_PACKET);
	ck_assert_uint_eq(rx.len, 7);
	ck_assert_mem_eq(rx.buf, "X0,2:}#", 7);
	ck_assert_int_eq(vmlet_gdb_parse(rx.buf, rx.len, &cmd), VMLET_GDB_WRITE_MEM);
	ck_assert_uint_eq(cmd.ndata, 2);
	ck_assert_mem_eq(cmd.data, "}#", 2);
	/* An escape right before '#' is not a packet. */
	ck_assert_int_eq(feed(&rx, "$}#7d", 5, NULL), VMLET_GDB_RX_BAD);
}
END_TEST

START_TEST(rx_refuses_overlong_packets)
{
	static char big[VMLET_GDB_PACKET_MAX + 16];
	unsigned int sum = 0;
	int npackets = 0;
	size_t n;

	vmlet_gdb_rx_init(&rx);
	big[0] = '$';
	for (n = 1; n <= VMLET_GDB_PACKET_MAX + 1; n++) {
		big[n] = 'a';
		sum += 'a';
	}
	n += (size_t)sprintf(big + n, "#%02x", sum & 0xff);
	ck_assert_int_eq(feed(&rx, big, n, &npackets), VMLET_GDB_RX_BAD);
	ck_assert_int_eq(npackets, 0);
	/* One byte less fits exactly. */
	memmove(big + VMLET_GDB_PACKET_MAX, big + VMLET_GDB_PACKET_MAX + 1, 4);
	sprintf(big + VMLET_GDB_PACKET_MAX + 2, "%02x", (sum - 'a') & 0xff);
	ck_assert_int_eq(feed(&rx, big, VMLET_GDB_PACKET_MAX + 4, &npackets), VMLET_GDB_RX_PACKET);
	ck_assert_uint_eq(rx.len, VMLET_GDB_PACKET_MAX);
}
END_TEST

START_TEST(commands_parse_to_their_fields)
{
	ck_assert_int_eq(parse("?"), VMLET_GDB_STOP_REASON);
	ck_assert_int_eq(parse("g"), VMLET_GDB_READ_REGS);
	ck_assert_int_eq(parse("G0011ff"), VMLET_GDB_WRITE_REGS);
	ck_assert_uint_eq(cmd.ndata, 3);
	ck_assert_mem_eq(cmd.data, "\x00\x11\xff", 3);
	ck_assert_int_eq(parse("p10"), VMLET_GDB_READ_REG);
	ck_assert_uint_eq(cmd.reg, 16);
	ck_assert_int_eq(parse("P5=0200000000000000"), VMLET_GDB_WRITE_REG);
	ck_assert_uint_eq(cmd.reg, 5);
	ck_assert_uint_eq(cmd.ndata, 8);
	ck_assert_int_eq(cmd.data[0], 2);
	ck_assert_int_eq(parse("m101000,40"), VMLET_GDB_READ_MEM);
	ck_assert_uint_eq(cmd.addr, 0x101000);
	ck_assert_uint_eq(cmd.len, 0x40);
	ck_assert_int_eq(parse("mffffffffffffffff,1"), VMLET_GDB_READ_MEM);
	ck_assert_int_eq(parse("M2000,2:cc90"), VMLET_GDB_WRITE_MEM);
	ck_assert_uint_eq(cmd.addr, 0x2000);
	ck_assert_uint_eq(cmd.ndata, 2);
	ck_assert_mem_eq(cmd.data, "\xcc\x90", 2);
	ck_assert_int_eq(parse("X2000,0:"), VMLET_GDB_WRITE_MEM); /* gdb's probe for X */
	ck_assert_uint_eq(cmd.ndata, 0);
	ck_assert_int_eq(parse("c"), VMLET_GDB_CONTINUE);
	ck_assert(!cmd.has_addr);
	ck_assert_int_eq(parse("c101000"), VMLET_GDB_CONTINUE);
	ck_assert(cmd.has_addr);
	ck_assert_uint_eq(cmd.addr, 0x101000);
	ck_assert_int_eq(parse("s"), VMLET_GDB_STEP);
	ck_assert_int_eq(parse("C0b"), VMLET_GDB_CONTINUE);
	ck_assert(!cmd.has_addr);
	ck_assert_int_eq(parse("S05;1234"), VMLET_GDB_STEP);
	ck_assert_uint_eq(cmd.addr, 0x1234);
	ck_assert_int_eq(parse("Z0,101120,1"), VMLET_GDB_INSERT_BP);
	ck_assert_uint_eq(cmd.bp, VMLET_GDB_BP_SW);
	ck_assert_uint_eq(cmd.addr, 0x101120);
	ck_assert_uint_eq(cmd.len, 1);
	ck_assert_int_eq(parse("z1,101120,1"), VMLET_GDB_REMOVE_BP);
	ck_assert_uint_eq(cmd.bp, VMLET_GDB_BP_HW);
	ck_assert_int_eq(parse("k"), VMLET_GDB_KILL);
	ck_assert_int_eq(parse("D"), VMLET_GDB_DETACH);
	ck_assert_int_eq(parse("D;1"), VMLET_GDB_DETACH);
}
END_TEST

START_TEST(queries_have_fixed_answers)
{
	ck_assert_int_eq(parse("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+"),
			 VMLET_GDB_QSUPPORTED);
	ck_assert(cmd.swbreak && cmd.hwbreak);
	ck_assert_str_eq(cmd.reply, "PacketSize=1000;swbreak+;hwbreak+");
	ck_assert_int_eq(parse("qSupported:swbreak-;xhwbreak+"), VMLET_GDB_QSUPPORTED);
	ck_assert(!cmd.swbreak && !cmd.hwbreak);
	ck_assert_int_eq(parse("qSupported"), VMLET_GDB_QSUPPORTED);
	ck_assert_int_eq(parse("qAttached"), VMLET_GDB_REPLY);
	ck_assert_str_eq(cmd.reply, "1");
	ck_assert_int_eq(parse("qAttached:1"), VMLET_GDB_REPLY);
	ck_assert_int_eq(parse("qfThreadInfo"), VMLET_GDB_REPLY);
	ck_assert_str_eq(cmd.reply, "m1");
	ck_assert_int_eq(parse("qsThreadInfo"), VMLET_GDB_REPLY);
	ck_assert_str_eq(cmd.reply, "l");
	ck_assert_int_eq(parse("qC"), VMLET_GDB_REPLY);
	ck_assert_str_eq(cmd.reply, "QC1");
	ck_assert_int_eq(parse("Hg0"), VMLET_GDB_REPLY);
	ck_assert_str_eq(cmd.reply, "OK");
	ck_assert_int_eq(parse("T1"), VMLET_GDB_REPLY);
	/* Unknown: an empty reply. */
	ck_assert_int_eq(parse("vCont?"), VMLET_GDB_UNSUPPORTED);
	ck_assert_int_eq(parse("vMustReplyEmpty"), VMLET_GDB_UNSUPPORTED);
	ck_assert_int_eq(parse("qCRC:0,1"), VMLET_GDB_UNSUPPORTED);
	ck_assert_int_eq(parse("qTStatus"), VMLET_GDB_UNSUPPORTED);
	ck_assert_int_eq(parse("QStartNoAckMode"), VMLET_GDB_UNSUPPORTED);
	ck_assert_int_eq(vmlet_gdb_parse("", 0, &cmd), VMLET_GDB_UNSUPPORTED);
}
END_TEST

START_TEST(malformed_commands_are_errors)
{
	static const char *bad[] = {
		"?x", "gg", "G", "G0", "G0g", "p", "px", "p10000", "P5", "P5=", "P5=0",
		"m", "m10", "m10,", "mzz,4", "m10,801", "m1,2x", "m11111111111111111,1",
		"mffffffffffffffff,2", "M10,2:cc", "M10,1:ccdd", "M10,1", "M10,1:zz",
		"X10,2:a", "X10,1:ab", "X10,1", "cz", "c1x", "C", "Cx", "C100", "S05;", "S05,1",
		"Z", "Z0", "Z0,1", "Z0,1,", "Z5,1,1", "Z0,1,0", "Z0,1,9", "z0,1,1;x", "Dx", "D;",
	};
	static char big[2 * VMLET_GDB_DATA_MAX + 8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd.ndata = 12345;
		ck_assert_msg(parse(bad[i]) == VMLET_GDB_MALFORMED, "'%s' parsed as %d", bad[i],
			      cmd.type);
		ck_assert_uint_eq(cmd.ndata, 0);
	}
	/* G with more registers than a packet holds. */
	big[0] = 'G';
	memset(big + 1, '0', 2 * VMLET_GDB_DATA_MAX + 2);
	ck_assert_int_eq(vmlet_gdb_parse(big, 2 * VMLET_GDB_DATA_MAX + 3, &cmd),
			 VMLET_GDB_MALFORMED);
	ck_assert_int_eq(vmlet_gdb_parse(big, 2 * VMLET_GDB_DATA_MAX + 1, &cmd),
			 VMLET_GDB_WRITE_REGS);
	ck_assert_uint_eq(cmd.ndata, VMLET_GDB_DATA_MAX);
	/* A NUL inside a number. */
	ck_assert_int_eq(vmlet_gdb_parse("m1\0,1", 5, &cmd), VMLET_GDB_MALFORMED);
}
END_TEST

START_TEST(replies_are_framed_and_come_back)
{
	char out[64];
	const char payload[] = "a#b$c}d*e";
	int64_t n = vmlet_gdb_frame(out, sizeof(out), "OK", 2);

	ck_assert_int_eq(n, 6);
	ck_assert_mem_eq(out, "$OK#9a", 6);
	n = vmlet_gdb_frame(out, sizeof(out), "", 0);
	ck_assert_int_eq(n, 4);
	ck_assert_mem_eq(out, "$#00", 4);
	n = vmlet_gdb_frame(out, sizeof(out), payload, strlen(payload));
	ck_assert_int_eq(n, 1 + 9 + 4 + 3);
	ck_assert_mem_eq(out, "$a}\x03" "b}\x04" "c}]d}\x0a" "e#", 15);
	vmlet_gdb_rx_init(&rx);
	ck_assert_int_eq(feed(&rx, out, (size_t)n, NULL), VMLET_GDB_RX_PACKET);
	ck_assert_uint_eq(rx.len, strlen(payload));
	ck_assert_mem_eq(rx.buf, payload, strlen(payload));
	/* Exactly the room it needs, and one byte less. */
	ck_assert_int_eq(vmlet_gdb_frame(out, 17, payload, strlen(payload)), 17);
	ck_assert_int_eq(vmlet_gdb_frame(out, 16, payload, strlen(payload)), -E2BIG);
	ck_assert_int_eq(vmlet_gdb_frame(out, 3, "", 0), -E2BIG);
	ck_assert_uint_eq(vmlet_gdb_hex(out, "\x00\xab\x7f", 3), 6);
	ck_assert_mem_eq(out, "00ab7f", 6);
}
END_TEST

/* What gdb hears for each way a call can fail (lib/gdbstub.c's finish()). */
START_TEST(faults_are_the_signals_gdb_knows)
{
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 14), VMLET_GDB_SIGSEGV);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 13), VMLET_GDB_SIGSEGV);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 6), VMLET_GDB_SIGILL);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 0), VMLET_GDB_SIGFPE);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 16), VMLET_GDB_SIGFPE);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 19), VMLET_GDB_SIGFPE);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 3), VMLET_GDB_SIGTRAP);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EEXCEPTION, 17), VMLET_GDB_SIGBUS);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_ESHUTDOWN, 0), VMLET_GDB_SIGSEGV);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EABORT, 0), VMLET_GDB_SIGABRT);
	/* Not faults: gdb hears an exit (or a kill) instead. */
	ck_assert_int_eq(vmlet_gdb_fault_signal(0, 14), 0);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_ETIMEDOUT, 14), 0);
	ck_assert_int_eq(vmlet_gdb_fault_signal(-VMLET_EFAIL, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gdbproto");
	TCase *tc = tcase_create("gdbproto");

	tcase_add_test(tc, rx_takes_a_packet_and_acks);
	tcase_add_test(tc, rx_refuses_bad_checksums);
	tcase_add_test(tc, rx_unescapes_and_sums_the_raw_bytes);
	tcase_add_test(tc, rx_refuses_overlong_packets);
	tcase_add_test(tc, commands_parse_to_their_fields);
	tcase_add_test(tc, queries_have_fixed_answers);
	tcase_add_test(tc, malformed_commands_are_errors);
	tcase_add_test(tc, replies_are_framed_and_come_back);
	tcase_add_test(tc, faults_are_the_signals_gdb_knows);
	suite_add_tcase(s, tc);
	return unit_run(s, CK_FORK_GETENV);
}
