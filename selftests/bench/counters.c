// SPDX-License-Identifier: BSD-2-Clause
/*
 * The counts that do not depend on noise: kernel tracepoints read with
 * counting perf events. kvm:kvm_userspace_exit fires each time KVM_RUN
 * returns to user space (every exit a VMM handles); kvm:kvm_emulate_insn
 * fires per guest instruction where KVM runs guest code through its
 * instruction emulator (as on the machine this was written on), so there
 * it counts guest instructions exactly; raw_syscalls:sys_enter counts
 * host system calls; kvm:kvm_exit fires at every exit from the guest, the
 * ones KVM handles itself too, and kvm:kvm_page_fault at each exit for a
 * nested page fault (EPT violation, NPF): dirty tracking's write
 * protection, and pages not yet mapped for the guest. Counters follow
 * this thread, or with inherit this thread and every thread and process
 * it starts after opening them (a QEMU, a forked process, the host-call
 * service threads): read() sums them all, live or exited.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

const char *const ev_names[NEV] = {
	"kvm/kvm_userspace_exit", "kvm/kvm_emulate_insn", "raw_syscalls/sys_enter",
	"kvm/kvm_exit",		  "kvm/kvm_page_fault",
};

static int tp_open(const char *event, bool inherit)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(a),
		.disabled = 1,
		.inherit = inherit,
	};
	char path[256];
	long id;

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/id", event);
	id = read_long(path);
	if (id < 0) {
		mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
		id = read_long(path);
	}
	if (id < 0)
		return -1;
	a.config = (uint64_t)id;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

void ctr_pause(struct counters *c)
{
	for (int i = 0; i < NEV; i++)
		if (c->fd[i] >= 0)
			ioctl(c->fd[i], PERF_EVENT_IOC_DISABLE, 0);
}

void ctr_resume(struct counters *c)
{
	c->spans++;
	for (int i = 0; i < NEV; i++)
		if (c->fd[i] >= 0)
			ioctl(c->fd[i], PERF_EVENT_IOC_ENABLE, 0);
}

static void raw(struct counters *c, uint64_t *out)
{
	ctr_pause(c);
	for (int i = 0; i < NEV; i++) {
		out[i] = 0;
		if (c->fd[i] >= 0 && read(c->fd[i], &out[i], sizeof(out[i])) != sizeof(out[i]))
			out[i] = 0;
	}
}

void ctr_start(struct counters *c)
{
	for (int i = 0; i < NEV; i++)
		if (c->fd[i] >= 0)
			ioctl(c->fd[i], PERF_EVENT_IOC_RESET, 0);
	c->spans = 0;
	ctr_resume(c);
}

void ctr_open(struct counters *c, bool inherit)
{
	for (int i = 0; i < NEV; i++) {
		c->fd[i] = tp_open(ev_names[i], inherit);
		c->base[i] = 0;
	}
	ctr_start(c);
	raw(c, c->base);
}

void ctr_stop(struct counters *c, double *per_op, double ops)
{
	uint64_t v[NEV];

	raw(c, v);
	for (int i = 0; i < NEV; i++) {
		if (c->fd[i] < 0) {
			per_op[i] = -1;
			continue;
		}
		uint64_t base = c->base[i] * c->spans;

		per_op[i] = v[i] > base ? (double)(v[i] - base) / ops : 0;
	}
}

void ctr_close(struct counters *c)
{
	for (int i = 0; i < NEV; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
}
