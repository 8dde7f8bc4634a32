/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The GDB remote serial protocol, the part a one-vCPU stub needs
 * (lib/gdbstub.c): framing ($payload#cs, acks, '}' escapes), the
 * commands gdb sends, and the encoding of replies. No I/O: bytes in,
 * commands and framed replies out, so all of it is unit-tested and
 * fuzzed (selftests/unit/gdbproto_test.c, selftests/fuzz/gdb_fuzz.c).
 *
 * Everything here comes from the other end of a socket and is untrusted:
 * a packet that is too long or has a wrong checksum is to be nacked, a
 * well-framed one that does not parse is VMLET_GDB_MALFORMED (reply
 * "E01"), one this stub does not implement is VMLET_GDB_UNSUPPORTED
 * (reply with an empty packet, as the protocol asks).
 */
#ifndef VMLET_GDBPROTO_H
#define VMLET_GDBPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Payload bytes of one packet, either way (qSupported's PacketSize). */
#define VMLET_GDB_PACKET_MAX 4096
/* Decoded bytes of one G, P, M or X packet. */
#define VMLET_GDB_DATA_MAX (VMLET_GDB_PACKET_MAX / 2)

/* What one byte from gdb completed. */
enum vmlet_gdb_rx_event {
	VMLET_GDB_RX_MORE,   /* nothing yet */
	VMLET_GDB_RX_PACKET, /* rx->buf[0..rx->len) is a packet (unescaped): ack it with '+' */
	VMLET_GDB_RX_BAD,    /* a packet with a bad checksum, or too long: nack it with '-' */
	VMLET_GDB_RX_ACK,    /* '+': the last reply arrived */
	VMLET_GDB_RX_NACK,   /* '-': send the last reply again */
	VMLET_GDB_RX_BREAK,  /* 0x03 outside a packet: gdb's interrupt */
};

struct vmlet_gdb_rx {
	int state;
	bool overflow; /* the packet outgrew buf: it ends as VMLET_GDB_RX_BAD */
	bool escape;   /* the last payload byte was '}' */
	uint8_t sum;   /* of the raw payload bytes so far */
	uint8_t want;  /* the checksum's first digit, then both */
	size_t len;
	char buf[VMLET_GDB_PACKET_MAX + 1]; /* NUL-terminated for convenience; may hold NULs */
};

void vmlet_gdb_rx_init(struct vmlet_gdb_rx *rx);
/* Feed one byte of the stream; bytes outside packets that mean nothing are dropped. */
enum vmlet_gdb_rx_event vmlet_gdb_rx_byte(struct vmlet_gdb_rx *rx, uint8_t c);

enum vmlet_gdb_cmd_type {
	VMLET_GDB_UNSUPPORTED, /* reply "" */
	VMLET_GDB_MALFORMED,   /* reply "E01" */
	VMLET_GDB_REPLY,       /* a query with a fixed answer: reply cmd->reply */
	VMLET_GDB_QSUPPORTED,  /* reply cmd->reply; swbreak, hwbreak: what gdb takes */
	VMLET_GDB_STOP_REASON, /* ? */
	VMLET_GDB_READ_REGS,   /* g */
	VMLET_GDB_WRITE_REGS,  /* G: data */
	VMLET_GDB_READ_REG,    /* p: reg */
	VMLET_GDB_WRITE_REG,   /* P: reg, data */
	VMLET_GDB_READ_MEM,    /* m: addr, len (<= VMLET_GDB_DATA_MAX) */
	VMLET_GDB_WRITE_MEM,   /* M, X: addr, data (len == ndata) */
	VMLET_GDB_CONTINUE,    /* c: from addr if has_addr */
	VMLET_GDB_STEP,	       /* s: from addr if has_addr */
	VMLET_GDB_INSERT_BP,   /* Z: bp (type), addr, len (kind) */
	VMLET_GDB_REMOVE_BP,   /* z: the same */
	VMLET_GDB_KILL,	       /* k: no reply */
	VMLET_GDB_DETACH,      /* D: reply "OK" */
};

/* Breakpoint types of Z and z. */
enum {
	VMLET_GDB_BP_SW = 0,
	VMLET_GDB_BP_HW = 1,
	VMLET_GDB_BP_WRITE = 2,
	VMLET_GDB_BP_READ = 3,
	VMLET_GDB_BP_ACCESS = 4,
};

struct vmlet_gdb_cmd {
	enum vmlet_gdb_cmd_type type;
	const char *reply; /* VMLET_GDB_REPLY, VMLET_GDB_QSUPPORTED: static */
	uint64_t addr;
	uint64_t len;
	bool has_addr;
	bool swbreak, hwbreak;
	unsigned int reg;
	unsigned int bp;
	size_t ndata;
	uint8_t data[VMLET_GDB_DATA_MAX];
};

/* Parse the packet pkt[0..len) (as rx left it) into *cmd; returns cmd->type. */
enum vmlet_gdb_cmd_type vmlet_gdb_parse(const char *pkt, size_t len, struct vmlet_gdb_cmd *cmd);

/* buf as 2 * len lowercase hex digits at out (no NUL); returns 2 * len. */
size_t vmlet_gdb_hex(char *out, const void *buf, size_t len);

/*
 * Frame payload[0..len) as a packet ($, the payload with '#', '$', '}'
 * and '*' escaped, '#', checksum) into out; its length, or -E2BIG when
 * it needs more than cap bytes.
 */
int64_t vmlet_gdb_frame(char *out, size_t cap, const char *payload, size_t len);

/* gdb's signal numbers (the remote protocol's, not the host's). */
enum {
	VMLET_GDB_SIGILL = 4,
	VMLET_GDB_SIGTRAP = 5,
	VMLET_GDB_SIGABRT = 6,
	VMLET_GDB_SIGFPE = 8,
	VMLET_GDB_SIGKILL = 9,
	VMLET_GDB_SIGBUS = 10,
	VMLET_GDB_SIGSEGV = 11,
};

/*
 * The signal gdb hears for a failed call (struct vmlet_fault's error and
 * vector): SIGSEGV for #PF, #GP and a triple fault, SIGILL for #UD,
 * SIGFPE for #DE and the x87/SIMD errors, SIGABRT for an abort; 0 for a
 * failure that is not a fault.
 */
int vmlet_gdb_fault_signal(int error, uint32_t vector);

#endif /* VMLET_GDBPROTO_H */
