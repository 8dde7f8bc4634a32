// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness for the GDB remote protocol (lib/gdbproto.c), which
 * reads what a debugger (or anything that connects to the stub's port)
 * sends.
 *
 * The input is a byte stream from gdb: fed byte by byte to the receiver,
 * every packet it completes is parsed, and what comes out must hold what
 * the stub relies on (lengths within the buffers, ranges that do not
 * wrap, data as long as the command says). The input is also parsed as
 * one packet's payload (in a heap block of exactly its size, so ASan sees
 * a read past it), and framed as a reply: the receiver must give back
 * exactly those bytes as one packet.
 *
 *   make fuzz                     (builds and runs every harness; FUZZ_SECS)
 *   $(O)/selftests/fuzz/gdb_fuzz selftests/fuzz/corpus/gdb
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gdbproto.h"

static struct vmlet_gdb_rx rx;
static struct vmlet_gdb_cmd cmd;

static void check_cmd(const char *pkt, size_t len)
{
	enum vmlet_gdb_cmd_type t = vmlet_gdb_parse(pkt, len, &cmd);

	check(t == cmd.type && t <= VMLET_GDB_DETACH);
	check(cmd.ndata <= VMLET_GDB_DATA_MAX);
	switch (t) {
	case VMLET_GDB_REPLY:
	case VMLET_GDB_QSUPPORTED:
		check(cmd.reply != NULL);
		break;
	case VMLET_GDB_READ_MEM:
		check(cmd.len <= VMLET_GDB_DATA_MAX);
		check(!cmd.len || cmd.addr + (cmd.len - 1) >= cmd.addr);
		break;
	case VMLET_GDB_WRITE_MEM:
		check(cmd.ndata == cmd.len);
		check(!cmd.len || cmd.addr + (cmd.len - 1) >= cmd.addr);
		break;
	case VMLET_GDB_WRITE_REGS:
	case VMLET_GDB_WRITE_REG:
		check(cmd.ndata > 0);
		break;
	case VMLET_GDB_INSERT_BP:
	case VMLET_GDB_REMOVE_BP:
		check(cmd.bp <= VMLET_GDB_BP_ACCESS && cmd.len >= 1 && cmd.len <= 8);
		break;
	case VMLET_GDB_MALFORMED:
	case VMLET_GDB_UNSUPPORTED:
		check(cmd.ndata == 0);
		break;
	default:
		break;
	}
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	vmlet_gdb_rx_init(&rx);
	for (size_t i = 0; i < size; i++) {
		enum vmlet_gdb_rx_event ev = vmlet_gdb_rx_byte(&rx, data[i]);

		check(ev <= VMLET_GDB_RX_BREAK && rx.len <= VMLET_GDB_PACKET_MAX);
		if (ev == VMLET_GDB_RX_PACKET)
			check_cmd(rx.buf, rx.len);
	}
}

/* Framed, the bytes come back as one packet. */
static void fuzz_frame(const uint8_t *data, size_t size)
{
	size_t cap = 2 * size + 4;
	char *out = malloc(cap);
	int64_t n;
	int packets = 0;

	check(out != NULL);
	n = vmlet_gdb_frame(out, cap, (const char *)data, size);
	check(n >= (int64_t)size + 4 && (size_t)n <= cap);
	check(vmlet_gdb_frame(out, (size_t)n - 1, (const char *)data, size) == -E2BIG);
	vmlet_gdb_rx_init(&rx);
	for (int64_t i = 0; i < n; i++) {
		enum vmlet_gdb_rx_event ev = vmlet_gdb_rx_byte(&rx, (uint8_t)out[i]);

		if (i < n - 1)
			check(ev == VMLET_GDB_RX_MORE);
		else if (size <= VMLET_GDB_PACKET_MAX)
			check(ev == VMLET_GDB_RX_PACKET);
		else
			check(ev == VMLET_GDB_RX_BAD);
		packets += ev == VMLET_GDB_RX_PACKET;
	}
	if (packets)
		check(rx.len == size && !memcmp(rx.buf, data, size));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);

	check(copy != NULL);
	fuzz_stream(data, size);
	memcpy(copy, data, size);
	check_cmd(copy, size);
	free(copy);
	fuzz_frame(data, size);
	return 0;
}
