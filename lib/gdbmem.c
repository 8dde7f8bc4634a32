// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest memory as gdb sees it, and the stub's breakpoints in it
 * (lib/gdbmem.h). Nothing here is on a call path.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gdbmem.h"

#define INT3 0xcc

/* The guest-physical address of guest virtual addr and the bytes left in its page. */
static int translate(const struct vmlet_gdb_mem *m, uint64_t addr, uint64_t *gpa, uint64_t *room)
{
	struct kvm_translation tr = {.linear_address = addr};

	if (ioctl(m->vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -EFAULT;
	*room = VMLET_PAGE_SIZE - (addr & (VMLET_PAGE_SIZE - 1));
	if (!vmlet_mem_range_ok(m->vm->mem, tr.physical_address, *room))
		return -EFAULT;
	*gpa = tr.physical_address;
	return 0;
}

/*
 * The host wrote guest byte gpa: a COPY restore puts its page back
 * (KVM tracks only the guest's writes). The stub does not count on it for
 * its int3s, which go out at the latest when the call ends.
 */
static void host_wrote(struct vmlet_gdb_mem *m, uint64_t gpa, uint8_t v)
{
	m->vm->mem->host[gpa] = v;
	vmlet_hoststate_wrote(m->hs, gpa, 1);
}

/* Page by page: each page's int3s (by guest-physical address) as gdbmem.h says. */
int vmlet_gdb_mem_copy(struct vmlet_gdb_mem *m, uint64_t addr, uint8_t *buf, uint64_t len,
		       bool to_guest)
{
	while (len) {
		uint64_t gpa, n;
		uint8_t *p;
		int err = translate(m, addr, &gpa, &n);

		if (err)
			return err;
		if (n > len)
			n = len;
		p = m->vm->mem->host + gpa;
		if (to_guest) {
			memcpy(p, buf, n);
			vmlet_hoststate_wrote(m->hs, gpa, n);
		} else {
			memcpy(buf, p, n);
		}
		for (unsigned int i = 0; i < m->nsw; i++) {
			uint64_t off = m->sw[i].gpa - gpa;

			if (off >= n)
				continue;
			if (to_guest) {
				m->sw[i].orig = buf[off];
				p[off] = INT3;
			} else {
				buf[off] = m->sw[i].orig;
			}
		}
		addr += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int vmlet_gdb_sw_find(const struct vmlet_gdb_mem *m, uint64_t addr)
{
	for (unsigned int i = 0; i < m->nsw; i++)
		if (m->sw[i].addr == addr)
			return (int)i;
	return -1;
}

/* Another breakpoint of ours at guest-physical gpa (an alias of this one's page). */
static int sw_find_gpa(const struct vmlet_gdb_mem *m, uint64_t gpa, unsigned int but)
{
	for (unsigned int i = 0; i < m->nsw; i++)
		if (i != but && m->sw[i].gpa == gpa)
			return (int)i;
	return -1;
}

/*
 * Remembered by its guest-physical address: the guest may map another
 * page at addr before gdb removes it, and the original byte must go back
 * where the int3 went, not where addr leads then. An alias of a byte
 * under another int3 shares that one's original.
 */
int vmlet_gdb_sw_insert(struct vmlet_gdb_mem *m, uint64_t addr)
{
	uint64_t gpa, room;
	int alias;

	if (vmlet_gdb_sw_find(m, addr) >= 0)
		return 0;
	if (m->nsw == VMLET_GDB_SW_MAX)
		return -ENOSPC;
	if (translate(m, addr, &gpa, &room))
		return -EFAULT;
	alias = sw_find_gpa(m, gpa, VMLET_GDB_SW_MAX);
	m->sw[m->nsw].addr = addr;
	m->sw[m->nsw].gpa = gpa;
	m->sw[m->nsw].orig = alias >= 0 ? m->sw[alias].orig : m->vm->mem->host[gpa];
	m->nsw++;
	host_wrote(m, gpa, INT3);
	return 0;
}

void vmlet_gdb_sw_remove(struct vmlet_gdb_mem *m, uint64_t addr)
{
	int i = vmlet_gdb_sw_find(m, addr);

	if (i < 0)
		return;
	if (sw_find_gpa(m, m->sw[i].gpa, (unsigned int)i) < 0)
		host_wrote(m, m->sw[i].gpa, m->sw[i].orig);
	m->sw[i] = m->sw[--m->nsw];
}

int vmlet_gdb_hw_insert(struct vmlet_gdb_mem *m, uint64_t addr)
{
	for (unsigned int i = 0; i < 4; i++)
		if (m->dr7 & (2ULL << (2 * i)) && m->dr[i] == addr)
			return 0;
	for (unsigned int i = 0; i < 4; i++) {
		if (!(m->dr7 & (2ULL << (2 * i)))) {
			m->dr[i] = addr;
			m->dr7 |= 2ULL << (2 * i);
			return 0;
		}
	}
	return -ENOSPC;
}

void vmlet_gdb_hw_remove(struct vmlet_gdb_mem *m, uint64_t addr)
{
	for (unsigned int i = 0; i < 4; i++) {
		if (m->dr7 & (2ULL << (2 * i)) && m->dr[i] == addr) {
			m->dr7 &= ~(2ULL << (2 * i));
			m->dr[i] = 0;
		}
	}
}

void vmlet_gdb_remove_all(struct vmlet_gdb_mem *m)
{
	while (m->nsw)
		vmlet_gdb_sw_remove(m, m->sw[m->nsw - 1].addr);
	m->dr7 = 0;
}
