// SPDX-License-Identifier: BSD-2-Clause
/*
 * The GDB remote serial protocol: framing, command parsing and reply
 * encoding for lib/gdbstub.c, without I/O (see gdbproto.h).
 *
 * The stub serves one process with one thread (thread id 1), so thread
 * selection and thread queries have fixed answers. Numbers are hex of at
 * most 16 digits; a length must fit what was sent and VMLET_GDB_DATA_MAX;
 * an address range must not wrap. Every check is on the packet alone:
 * whether an address is guest memory is the stub's business.
 */
#include <errno.h>
#include <string.h>
#include <vmlet.h>

#include "gdbproto.h"

enum { RX_IDLE, RX_DATA, RX_CS1, RX_CS2 };

void vmlet_gdb_rx_init(struct vmlet_gdb_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->state = RX_IDLE;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void rx_store(struct vmlet_gdb_rx *rx, char c)
{
	if (rx->len >= VMLET_GDB_PACKET_MAX)
		rx->overflow = true;
	else
		rx->buf[rx->len++] = c;
}

enum vmlet_gdb_rx_event vmlet_gdb_rx_byte(struct vmlet_gdb_rx *rx, uint8_t c)
{
	int v;

	switch (rx->state) {
	case RX_IDLE:
		break;
	case RX_DATA:
		if (c == '#') {
			rx->state = RX_CS1;
			return VMLET_GDB_RX_MORE;
		}
		if (c == '$')
			break; /* gdb started over */
		rx->sum += c;
		if (rx->escape) {
			rx->escape = false;
			rx_store(rx, (char)(c ^ 0x20));
		} else if (c == '}') {
			rx->escape = true;
		} else {
			rx_store(rx, (char)c);
		}
		return VMLET_GDB_RX_MORE;
	case RX_CS1:
		v = hexval(c);
		if (v < 0) {
			rx->state = RX_IDLE;
			return VMLET_GDB_RX_BAD;
		}
		rx->state = RX_CS2;
		rx->want = (uint8_t)(v << 4);
		return VMLET_GDB_RX_MORE;
	case RX_CS2:
		v = hexval(c);
		rx->state = RX_IDLE;
		if (v < 0 || rx->overflow || rx->escape || (rx->want | v) != rx->sum)
			return VMLET_GDB_RX_BAD;
		rx->buf[rx->len] = '\0';
		return VMLET_GDB_RX_PACKET;
	}
	switch (c) {
	case '$':
		rx->state = RX_DATA;
		rx->len = 0;
		rx->sum = 0;
		rx->overflow = rx->escape = false;
		return VMLET_GDB_RX_MORE;
	case '+':
		return VMLET_GDB_RX_ACK;
	case '-':
		return VMLET_GDB_RX_NACK;
	case 0x03:
		return VMLET_GDB_RX_BREAK;
	}
	return VMLET_GDB_RX_MORE;
}

/* A cursor over one packet. */
struct in {
	const char *p, *end;
};

static bool eat(struct in *in, char c)
{
	if (in->p < in->end && *in->p == c) {
		in->p++;
		return true;
	}
	return false;
}

static bool at_end(const struct in *in)
{
	return in->p == in->end;
}

/* One to 16 hex digits. */
static bool num(struct in *in, uint64_t *v)
{
	int n = 0, d;

	*v = 0;
	while (in->p < in->end && (d = hexval((unsigned char)*in->p)) >= 0) {
		if (++n > 16)
			return false;
		*v = *v << 4 | (uint64_t)d;
		in->p++;
	}
	return n > 0;
}

/* Hex digits to the end of the packet into cmd->data; want: their byte count, or 0 for any. */
static bool hex_data(struct in *in, struct vmlet_gdb_cmd *cmd, uint64_t want)
{
	size_t n = (size_t)(in->end - in->p);

	if (n % 2 || n / 2 > VMLET_GDB_DATA_MAX || (want && n / 2 != want))
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval((unsigned char)in->p[2 * i]),
		    lo = hexval((unsigned char)in->p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		cmd->data[i] = (uint8_t)(hi << 4 | lo);
	}
	cmd->ndata = n / 2;
	in->p = in->end;
	return true;
}

/* addr,len with the range inside the address space and len <= max. */
static bool range(struct in *in, struct vmlet_gdb_cmd *cmd, uint64_t max)
{
	uint64_t last;

	if (!num(in, &cmd->addr) || !eat(in, ',') || !num(in, &cmd->len) || cmd->len > max)
		return false;
	return !cmd->len || !__builtin_add_overflow(cmd->addr, cmd->len - 1, &last);
}

static bool prefix(const struct in *in, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(in->end - in->p) >= n && !memcmp(in->p, s, n);
}

/* Whether the exact packet is s, or s followed by c and anything. */
static bool is(const struct in *in, const char *s, char c)
{
	size_t n = strlen(s);

	return prefix(in, s) && (in->p + n == in->end || (c && in->p[n] == c));
}

/* gdb's qSupported features, ';'-separated: the stop reasons it takes. */
static void features(struct in *in, struct vmlet_gdb_cmd *cmd)
{
	while (!at_end(in)) {
		const char *semi = memchr(in->p, ';', (size_t)(in->end - in->p));
		const char *end = semi ? semi : in->end;
		size_t n = (size_t)(end - in->p);

		if (n == 8 && !memcmp(in->p, "swbreak+", 8))
			cmd->swbreak = true;
		if (n == 8 && !memcmp(in->p, "hwbreak+", 8))
			cmd->hwbreak = true;
		in->p = semi ? semi + 1 : in->end;
	}
}

static enum vmlet_gdb_cmd_type query(struct in *in, struct vmlet_gdb_cmd *cmd)
{
	static const struct {
		const char *name;
		char sep;
		const char *reply;
	} fixed[] = {
		{"qAttached", ':', "1"},   /* we attached to a running "process" */
		{"qfThreadInfo", 0, "m1"}, /* one thread, id 1 */
		{"qsThreadInfo", 0, "l"},
		{"qC", 0, "QC1"},
	};

	if (is(in, "qSupported", ':')) {
		in->p += strlen("qSupported");
		eat(in, ':');
		features(in, cmd);
		cmd->reply = "PacketSize=1000;swbreak+;hwbreak+"; /* hex: VMLET_GDB_PACKET_MAX */
		return cmd->type = VMLET_GDB_QSUPPORTED;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (is(in, fixed[i].name, fixed[i].sep)) {
			cmd->reply = fixed[i].reply;
			return cmd->type = VMLET_GDB_REPLY;
		}
	}
	return cmd->type = VMLET_GDB_UNSUPPORTED;
}

/* c [addr], s [addr], C sig [;addr], S sig [;addr]. */
static bool resume(struct in *in, struct vmlet_gdb_cmd *cmd, bool sig)
{
	uint64_t signo;

	if (sig && (!num(in, &signo) || signo > 0xff))
		return false;
	if (at_end(in))
		return true;
	if (sig && !eat(in, ';'))
		return false;
	cmd->has_addr = true;
	return num(in, &cmd->addr) && at_end(in);
}

static bool breakpoint(struct in *in, struct vmlet_gdb_cmd *cmd)
{
	uint64_t type;

	if (!num(in, &type) || type > VMLET_GDB_BP_ACCESS || !eat(in, ','))
		return false;
	cmd->bp = (unsigned int)type;
	return range(in, cmd, 8) && cmd->len && at_end(in);
}

enum vmlet_gdb_cmd_type vmlet_gdb_parse(const char *pkt, size_t len, struct vmlet_gdb_cmd *cmd)
{
	struct in in = {pkt + 1, pkt + len};
	uint64_t v;
	bool ok;

	cmd->type = VMLET_GDB_UNSUPPORTED;
	cmd->reply = NULL;
	cmd->addr = cmd->len = 0;
	cmd->has_addr = cmd->swbreak = cmd->hwbreak = false;
	cmd->reg = cmd->bp = 0;
	cmd->ndata = 0;
	if (!len)
		return cmd->type;
	switch (pkt[0]) {
	case '?':
		ok = at_end(&in);
		cmd->type = VMLET_GDB_STOP_REASON;
		break;
	case 'g':
		ok = at_end(&in);
		cmd->type = VMLET_GDB_READ_REGS;
		break;
	case 'G':
		ok = !at_end(&in) && hex_data(&in, cmd, 0);
		cmd->type = VMLET_GDB_WRITE_REGS;
		break;
	case 'p':
		ok = num(&in, &v) && v <= 0xffff && at_end(&in);
		cmd->reg = (unsigned int)v;
		cmd->type = VMLET_GDB_READ_REG;
		break;
	case 'P':
		ok = num(&in, &v) && v <= 0xffff && eat(&in, '=') && !at_end(&in) &&
		     hex_data(&in, cmd, 0);
		cmd->reg = (unsigned int)v;
		cmd->type = VMLET_GDB_WRITE_REG;
		break;
	case 'm':
		ok = range(&in, cmd, VMLET_GDB_DATA_MAX) && at_end(&in);
		cmd->type = VMLET_GDB_READ_MEM;
		break;
	case 'M':
		ok = range(&in, cmd, VMLET_GDB_DATA_MAX) && eat(&in, ':') &&
		     (cmd->len ? hex_data(&in, cmd, cmd->len) : at_end(&in));
		cmd->type = VMLET_GDB_WRITE_MEM;
		break;
	case 'X':
		ok = range(&in, cmd, VMLET_GDB_DATA_MAX) && eat(&in, ':') &&
		     (uint64_t)(in.end - in.p) == cmd->len;
		if (ok) {
			memcpy(cmd->data, in.p, cmd->len);
			cmd->ndata = cmd->len;
		}
		cmd->type = VMLET_GDB_WRITE_MEM;
		break;
	case 'c':
	case 's':
	case 'C':
	case 'S':
		ok = resume(&in, cmd, pkt[0] == 'C' || pkt[0] == 'S');
		cmd->type = pkt[0] == 'c' || pkt[0] == 'C' ? VMLET_GDB_CONTINUE : VMLET_GDB_STEP;
		break;
	case 'Z':
	case 'z':
		ok = breakpoint(&in, cmd);
		cmd->type = pkt[0] == 'Z' ? VMLET_GDB_INSERT_BP : VMLET_GDB_REMOVE_BP;
		break;
	case 'k':
		ok = true;
		cmd->type = VMLET_GDB_KILL;
		break;
	case 'D':
		ok = at_end(&in) || (eat(&in, ';') && num(&in, &v) && at_end(&in));
		cmd->type = VMLET_GDB_DETACH;
		break;
	case 'H': /* Hg1, Hc-1: there is one thread */
	case 'T': /* T1: it is alive */
		ok = true;
		cmd->reply = "OK";
		cmd->type = VMLET_GDB_REPLY;
		break;
	case 'q':
		in.p = pkt;
		return query(&in, cmd);
	default:
		return cmd->type;
	}
	if (!ok) {
		cmd->ndata = 0;
		cmd->type = VMLET_GDB_MALFORMED;
	}
	return cmd->type;
}

static const char digits[] = "0123456789abcdef";

size_t vmlet_gdb_hex(char *out, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	return 2 * len;
}

int64_t vmlet_gdb_frame(char *out, size_t cap, const char *payload, size_t len)
{
	uint8_t sum = 0;
	size_t n = 0;

	if (cap < 4)
		return -E2BIG;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		char c = payload[i];
		bool esc = c == '#' || c == '$' || c == '}' || c == '*';

		if (cap - n < 3 + (esc ? 2 : 1))
			return -E2BIG;
		if (esc) {
			out[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out[n++] = c;
		sum += (uint8_t)c;
	}
	out[n++] = '#';
	out[n++] = digits[sum >> 4];
	out[n++] = digits[sum & 15];
	return (int64_t)n;
}

int vmlet_gdb_fault_signal(int error, uint32_t vector)
{
	switch (error) {
	case -VMLET_EABORT:
		return VMLET_GDB_SIGABRT;
	case -VMLET_ESHUTDOWN:
		return VMLET_GDB_SIGSEGV;
	case -VMLET_EEXCEPTION:
		break;
	default:
		return 0;
	}
	switch (vector) {
	case 0:
	case 16:
	case 19:
		return VMLET_GDB_SIGFPE;
	case 1:
	case 3:
		return VMLET_GDB_SIGTRAP;
	case 6:
		return VMLET_GDB_SIGILL;
	case 17:
		return VMLET_GDB_SIGBUS;
	default:
		return VMLET_GDB_SIGSEGV;
	}
}
