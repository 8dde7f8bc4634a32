// SPDX-License-Identifier: BSD-2-Clause
/*
 * A gdb remote stub for one call: vmlet_sandbox_debug_call() listens on a
 * loopback TCP port, waits for gdb, and runs the call under it.
 *
 * The vCPU runs with KVM_SET_GUEST_DEBUG: software breakpoints are int3
 * bytes written into guest memory (KVM_GUESTDBG_USE_SW_BP turns the #BP
 * into KVM_EXIT_DEBUG, on AMD and Intel alike with rip at the int3; the
 * original byte goes back when gdb removes the breakpoint and, at the
 * latest, when the call ends, at the guest-physical address the int3
 * went to, whatever the guest mapped there since; a COPY restore would
 * revert the page too), hardware breakpoints are the debug
 * registers KVM loads for us (KVM_GUESTDBG_USE_HW_BP, kvm_guest_debug
 * .arch.debugreg), and steps are KVM_GUESTDBG_SINGLESTEP. The call starts
 * stepped, so gdb finds the guest stopped at the call's first
 * instruction. Each KVM_EXIT_DEBUG comes to stop() through the run loop's
 * debug hook (lib/vm.c), which talks to gdb until it resumes the guest;
 * between stops nothing reads the socket (no ^C).
 *
 * When the call ends, gdb hears how: W00 for a result, W01 for a call the
 * guest failed or refused, W<status> for exit(), and for a fault a stop
 * with its signal (SIGSEGV for #PF and #GP, SIGILL for #UD, SIGFPE for
 * #DE, SIGABRT for an abort), showing the registers at the faulting
 * instruction, not in the exception stub, so that bt works; gdb's next
 * resume ends the session with X<signal>. gdb's kill ends the call with
 * -VMLET_EINTR; detaching, or closing the connection, lets it run on
 * undebugged, under the sandbox's deadline counted afresh from then (no
 * deadline runs while gdb holds the guest).
 *
 * Guest memory and the breakpoints in it are lib/gdbmem.c's. The
 * register layout of 'g' is gdb's default for x86-64 without a target
 * description: the general registers, rip, eflags, the six segment
 * selectors, x87, SSE and mxcsr (536 bytes); gdb asks for the registers
 * it knows past those (fs_base, gs_base) with 'p' and hears that they are
 * unavailable. Only the general registers, rip and eflags are writable.
 *
 * Nothing here is on a call path: the run loop pays one branch per debug
 * exit, which does not happen when nobody debugs.
 */
#define _GNU_SOURCE /* accept4() */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gdbmem.h"
#include "gdbproto.h"
#include "gdbregs.h"
#include "sandbox.h"

enum action { SERVE, RESUME, STEP, KILL, DETACH };

struct stub {
	struct vmlet_sandbox *sb;
	struct vmlet_vm *vm;
	int fd;			  /* the connection to gdb; -1 once it is gone */
	bool swbreak, hwbreak;	  /* stop reasons gdb takes */
	bool writable;		  /* guest memory: not for a sandbox restore copies back to */
	bool post_mortem;	  /* the call ended: the vCPU will not run again */
	bool killed;		  /* by gdb's k */
	uint64_t timeout_ns;	  /* the sandbox's deadline, for the run after a detach */
	struct vmlet_xframe *x;	  /* post mortem, a fault: where it happened */
	char stop[32];		  /* the last stop reply, for '?' */
	struct vmlet_gdb_mem mem; /* guest memory and breakpoints */
	size_t rpos, rlen;
	char rbuf[4096];
	size_t outlen;
	char out[2 * VMLET_GDB_PACKET_MAX + 8]; /* the last reply, framed, for a nack */
	char payload[VMLET_GDB_PACKET_MAX];
	struct vmlet_gdb_rx rx;
	struct vmlet_gdb_cmd cmd;
};

static void gone(struct stub *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

static void send_all(struct stub *st, const char *buf, size_t len)
{
	while (len && st->fd >= 0) {
		ssize_t n = send(st->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			gone(st);
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void reply(struct stub *st, const char *payload, size_t len)
{
	int64_t n = vmlet_gdb_frame(st->out, sizeof(st->out), payload, len);

	if (n < 0) /* cannot happen: replies are at most VMLET_GDB_PACKET_MAX */
		n = vmlet_gdb_frame(st->out, sizeof(st->out), "E01", 3);
	st->outlen = (size_t)n;
	send_all(st, st->out, st->outlen);
}

static void reply_str(struct stub *st, const char *s)
{
	reply(st, s, strlen(s));
}

/* The next byte from gdb, or -1 when it went away. */
static int next_byte(struct stub *st)
{
	while (st->rpos == st->rlen && st->fd >= 0) {
		ssize_t n = recv(st->fd, st->rbuf, sizeof(st->rbuf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			gone(st);
			break;
		}
		st->rpos = 0;
		st->rlen = (size_t)n;
	}
	return st->fd >= 0 ? (uint8_t)st->rbuf[st->rpos++] : -1;
}

/* --- registers ----------------------------------------------------------- */

/*
 * The block gdb is shown (lib/gdbregs.h): at a fault, the registers of
 * the faulting instruction, which the exception stub's frame holds.
 */
static int regs_block(struct stub *st, uint8_t *b)
{
	struct kvm_regs r = *vmlet_vm_regs(st->vm);
	struct kvm_sregs s;
	struct kvm_fpu fpu;

	if (ioctl(st->vm->vcpu_fd, KVM_GET_SREGS, &s) < 0 ||
	    ioctl(st->vm->vcpu_fd, KVM_GET_FPU, &fpu) < 0)
		return -errno;
	if (st->x) {
		r.rip = st->x->rip;
		r.rsp = st->x->rsp;
		r.rflags = st->x->rflags;
		s.cs.selector = (uint16_t)st->x->cs;
		s.ss.selector = (uint16_t)st->x->ss;
	}
	vmlet_gdb_regs_encode(b, &r, &s, &fpu);
	return 0;
}

/*
 * Set the vCPU's registers now, with KVM_SET_REGS rather than through
 * kvm_run: a step armed afterwards then starts from the rip gdb gave.
 */
static int regs_set(struct stub *st, const struct kvm_regs *r)
{
	if (ioctl(st->vm->vcpu_fd, KVM_SET_REGS, r) < 0)
		return -errno;
	st->vm->run->s.regs.regs = *r; /* what the loop and the next stop read */
	return 0;
}

/* --- the conversation ---------------------------------------------------- */

static void reply_hex(struct stub *st, const uint8_t *buf, size_t len)
{
	reply(st, st->payload, vmlet_gdb_hex(st->payload, buf, len));
}

static void reply_err(struct stub *st, int err)
{
	char e[8];

	snprintf(e, sizeof(e), "E%02x", (unsigned int)-err & 0xff);
	reply_str(st, e);
}

static void read_mem(struct stub *st, const struct vmlet_gdb_cmd *c)
{
	uint8_t buf[VMLET_GDB_DATA_MAX];
	int err = vmlet_gdb_mem_copy(&st->mem, c->addr, buf, c->len, false);

	if (err)
		reply_err(st, err);
	else
		reply_hex(st, buf, c->len);
}

static void write_mem(struct stub *st, struct vmlet_gdb_cmd *c)
{
	int err = st->writable ? vmlet_gdb_mem_copy(&st->mem, c->addr, c->data, c->ndata, true)
			       : -EACCES;

	if (err)
		reply_err(st, err);
	else
		reply_str(st, "OK");
}

static void read_reg(struct stub *st, unsigned int n)
{
	uint8_t b[VMLET_GDB_REGS_SIZE];
	unsigned int off, size;
	int err;

	if (!vmlet_gdb_reg_span(n, &off, &size)) {
		reply_str(st, ""); /* not ours: gdb marks it unavailable */
		return;
	}
	err = regs_block(st, b);
	if (err)
		reply_err(st, err);
	else
		reply_hex(st, b + off, size);
}

static void write_regs(struct stub *st, const struct vmlet_gdb_cmd *c, unsigned int reg)
{
	struct kvm_regs r = *vmlet_vm_regs(st->vm);
	uint8_t b[VMLET_GDB_REGS_SIZE];
	unsigned int off = 0, size = (unsigned int)c->ndata;
	int err;

	if (st->post_mortem) {
		reply_err(st, -EACCES);
		return;
	}
	if (c->type == VMLET_GDB_WRITE_REG &&
	    (reg >= VMLET_GDB_WRITABLE || !vmlet_gdb_reg_span(reg, &off, &size) ||
	     c->ndata != size)) {
		reply_err(st, -EINVAL); /* segments, x87 and SSE are read-only here */
		return;
	}
	if (c->ndata > VMLET_GDB_REGS_SIZE) {
		reply_err(st, -EINVAL);
		return;
	}
	err = regs_block(st, b);
	if (!err) {
		memcpy(b + off, c->data, size);
		vmlet_gdb_regs_decode(&r, b, sizeof(b));
		err = regs_set(st, &r);
	}
	if (err)
		reply_err(st, err);
	else
		reply_str(st, "OK");
}

static void breakpoint(struct stub *st, const struct vmlet_gdb_cmd *c)
{
	bool insert = c->type == VMLET_GDB_INSERT_BP;
	int err = 0;

	if (c->bp == VMLET_GDB_BP_SW && insert)
		err = vmlet_gdb_sw_insert(&st->mem, c->addr);
	else if (c->bp == VMLET_GDB_BP_SW)
		vmlet_gdb_sw_remove(&st->mem, c->addr);
	else if (c->bp == VMLET_GDB_BP_HW && insert)
		err = vmlet_gdb_hw_insert(&st->mem, c->addr);
	else if (c->bp == VMLET_GDB_BP_HW)
		vmlet_gdb_hw_remove(&st->mem, c->addr);
	else
		err = 1; /* watchpoints: unsupported, gdb single-steps instead */
	if (err > 0)
		reply_str(st, "");
	else if (err)
		reply_err(st, err);
	else
		reply_str(st, "OK");
}

/* c ADDR, s ADDR: resume at addr. */
static int resume_at(struct stub *st, const struct vmlet_gdb_cmd *c)
{
	struct kvm_regs r = *vmlet_vm_regs(st->vm);

	if (!c->has_addr || st->post_mortem)
		return 0;
	r.rip = c->addr;
	return regs_set(st, &r);
}

static enum action command(struct stub *st, struct vmlet_gdb_cmd *c)
{
	uint8_t b[VMLET_GDB_REGS_SIZE];
	int err;

	switch (c->type) {
	case VMLET_GDB_UNSUPPORTED:
		reply_str(st, "");
		break;
	case VMLET_GDB_MALFORMED:
		reply_str(st, "E01");
		break;
	case VMLET_GDB_QSUPPORTED:
		st->swbreak = c->swbreak;
		st->hwbreak = c->hwbreak;
		/* fallthrough */
	case VMLET_GDB_REPLY:
		reply_str(st, c->reply);
		break;
	case VMLET_GDB_STOP_REASON:
		reply_str(st, st->stop);
		break;
	case VMLET_GDB_READ_REGS:
		err = regs_block(st, b);
		if (err)
			reply_err(st, err);
		else
			reply_hex(st, b, sizeof(b));
		break;
	case VMLET_GDB_WRITE_REGS:
	case VMLET_GDB_WRITE_REG:
		write_regs(st, c, c->reg);
		break;
	case VMLET_GDB_READ_REG:
		read_reg(st, c->reg);
		break;
	case VMLET_GDB_READ_MEM:
		read_mem(st, c);
		break;
	case VMLET_GDB_WRITE_MEM:
		write_mem(st, c);
		break;
	case VMLET_GDB_INSERT_BP:
	case VMLET_GDB_REMOVE_BP:
		breakpoint(st, c);
		break;
	case VMLET_GDB_CONTINUE:
	case VMLET_GDB_STEP:
		err = resume_at(st, c);
		if (err) {
			reply_err(st, err);
			break;
		}
		return c->type == VMLET_GDB_STEP ? STEP : RESUME;
	case VMLET_GDB_KILL:
		return KILL;
	case VMLET_GDB_DETACH:
		reply_str(st, "OK");
		return DETACH;
	}
	return SERVE;
}

/* Talk to gdb until it resumes the guest, kills it or lets go. */
static enum action serve(struct stub *st)
{
	for (;;) {
		int c = next_byte(st);
		enum action a;

		if (c < 0)
			return DETACH;
		switch (vmlet_gdb_rx_byte(&st->rx, (uint8_t)c)) {
		case VMLET_GDB_RX_PACKET:
			send_all(st, "+", 1);
			vmlet_gdb_parse(st->rx.buf, st->rx.len, &st->cmd);
			a = command(st, &st->cmd);
			if (a != SERVE)
				return a;
			break;
		case VMLET_GDB_RX_BAD:
			send_all(st, "-", 1);
			break;
		case VMLET_GDB_RX_NACK:
			if (st->outlen)
				send_all(st, st->out, st->outlen);
			break;
		default:
			break;
		}
	}
}

static int arm(struct stub *st, bool step)
{
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP | KVM_GUESTDBG_USE_HW_BP |
			   (step ? KVM_GUESTDBG_SINGLESTEP : 0),
	};

	for (unsigned int i = 0; i < 4; i++)
		dbg.arch.debugreg[i] = st->mem.dr[i];
	dbg.arch.debugreg[7] = st->mem.dr7 ? st->mem.dr7 | 0x400 : 0;
	return vmlet_vm_guest_debug(st->vm, &dbg);
}

static void disarm(struct stub *st)
{
	struct kvm_guest_debug off = {0};

	vmlet_gdb_remove_all(&st->mem);
	vmlet_vm_guest_debug(st->vm, &off);
	st->vm->debug = NULL;
}

/* Why the vCPU stopped, as gdb wants to hear it. */
static void stop_reason(struct stub *st)
{
	const struct kvm_debug_exit_arch *d = &st->vm->run->debug.arch;
	struct kvm_regs r = *vmlet_vm_regs(st->vm);
	const char *why = "";

	if (d->exception == 3 && vmlet_gdb_sw_find(&st->mem, r.rip) < 0 &&
	    vmlet_gdb_sw_find(&st->mem, r.rip - 1) >= 0) {
		/* Stopped after our int3 (the guest's stub saw it, lib/vm.c): back to it. */
		r.rip--;
		regs_set(st, &r);
	}
	if (d->exception == 3 && vmlet_gdb_sw_find(&st->mem, r.rip) >= 0 && st->swbreak)
		why = "swbreak:;";
	else if (d->exception == 1 && (d->dr6 & 0xf) && st->hwbreak)
		why = "hwbreak:;";
	snprintf(st->stop, sizeof(st->stop), "T%02xthread:1;%s", VMLET_GDB_SIGTRAP, why);
}

/* The run loop's debug hook: one stop of the guest. */
static int stop(struct vmlet_vm *vm, void *ctx)
{
	struct stub *st = ctx;
	enum action a;

	(void)vm;
	stop_reason(st);
	if (st->cmd.type == VMLET_GDB_CONTINUE || st->cmd.type == VMLET_GDB_STEP)
		reply_str(st, st->stop); /* the answer to gdb's c or s */
	a = serve(st);
	switch (a) {
	case KILL:
		st->killed = true;
		return -VMLET_EINTR;
	case DETACH:
		/* On undebugged, under the sandbox's deadline, from now. */
		disarm(st);
		return vmlet_vm_restart_deadline(st->vm, st->timeout_ns);
	default:
		return arm(st, a == STEP);
	}
}

/*
 * Tell gdb how the call ended. A fault is a stop that gdb can look at
 * (registers, memory, backtrace) until it resumes, which ends it.
 */
static void finish(struct stub *st, int err)
{
	const struct vmlet_fault *f = &st->sb->fault;
	struct vmlet_xframe x;
	const struct kvm_regs *r = vmlet_vm_regs(st->vm);
	int sig = vmlet_gdb_fault_signal(f->error, f->vector);
	enum action a;

	if (st->fd < 0 || st->vm->debug == NULL || st->killed)
		return;
	st->post_mortem = true;
	if (!sig) {
		if (err == -VMLET_EEXIT)
			snprintf(st->stop, sizeof(st->stop), "W%02x", (unsigned int)f->code & 0xff);
		else if (!err || err == -VMLET_EFAIL || err == -VMLET_EREFUSED)
			snprintf(st->stop, sizeof(st->stop), "W%02x", err ? 1 : 0);
		else
			snprintf(st->stop, sizeof(st->stop), "X%02x", VMLET_GDB_SIGKILL);
		reply_str(st, st->stop);
		return;
	}
	/* The exception stubs left the faulting frame on their stack (lib/vm.c). */
	if (err == -VMLET_EEXCEPTION && r->rsp >= VMLET_XSTACK_ADDR &&
	    r->rsp <= VMLET_XSTACK_ADDR + VMLET_XSTACK_SIZE - sizeof(x)) {
		memcpy(&x, st->vm->mem->host + r->rsp, sizeof(x));
		st->x = &x;
	}
	snprintf(st->stop, sizeof(st->stop), "T%02xthread:1;", sig);
	reply_str(st, st->stop);
	a = serve(st);
	if (a == RESUME || a == STEP) {
		snprintf(st->stop, sizeof(st->stop), "X%02x", sig);
		reply_str(st, st->stop);
	}
	st->x = NULL;
}

/* Listen on 127.0.0.1:port, tell the caller, take one connection. */
static int wait_for_gdb(const struct vmlet_debug_opts *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port)};
	socklen_t alen = sizeof(a);
	int one = 1, fd, conn, err;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		goto err_fd;
	if (o->listening)
		o->listening(o->ctx, ntohs(a.sin_port));
	do
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		goto err_fd;
	close(fd);
	/* Packets are small and answered one at a time. */
	setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return conn;

err_fd:
	err = -errno;
	close(fd);
	return err;
}

VMLET_API int vmlet_sandbox_debug_call(struct vmlet_sandbox *sb, const char *name,
				       const struct vmlet_value *args, unsigned int nargs,
				       struct vmlet_value *ret, const struct vmlet_debug_opts *opts)
{
	struct vmlet_debug_opts o = {.sz = sizeof(o)};
	struct stub *st;
	int index, err;

	if (!sb || (opts && (opts->sz < offsetof(struct vmlet_debug_opts, listening) ||
			     opts->sz > sizeof(o))))
		return -EINVAL;
	if (opts)
		memcpy(&o, opts, opts->sz);
	index = vmlet_sandbox_func(sb, name);
	if (index < 0)
		return index;
	/* Before gdb connects: a refused call would leave it with no stop to show. */
	err = __vmlet_sandbox_may_call(sb, (unsigned int)index, args, nargs);
	if (err)
		return err;
	if (sb->vm.single_step)
		return -EBUSY; /* counting instructions */
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->sb = sb;
	st->vm = &sb->vm;
	st->mem.vm = &sb->vm;
	st->mem.hs = &sb->host;
	st->writable = !sb->snap;
	vmlet_gdb_rx_init(&st->rx);
	snprintf(st->stop, sizeof(st->stop), "T%02xthread:1;", VMLET_GDB_SIGTRAP);
	st->fd = wait_for_gdb(&o);
	if (st->fd < 0) {
		err = st->fd;
		goto out;
	}
	/* Registers a restore left to load go in first: stepping starts from their rip. */
	if (sb->vm.run->kvm_dirty_regs) {
		err = vmlet_vm_complete_io(&sb->vm);
		if (err)
			goto out;
	}
	err = arm(st, true);
	if (err)
		goto out;
	sb->vm.debug = stop;
	sb->vm.debug_ctx = st;
	/* No deadline while a person looks at the guest; after a detach, stop(). */
	st->timeout_ns = sb->vm.timeout_ns;
	sb->vm.timeout_ns = 0;
	err = vmlet_sandbox_call_index(sb, (unsigned int)index, args, nargs, ret);
	sb->vm.timeout_ns = st->timeout_ns;
	finish(st, err);
	disarm(st);
out:
	gone(st);
	free(st);
	return err;
}
