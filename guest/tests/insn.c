// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile guest: privileged and odd instructions, for hostile_test.
 *
 * Each function runs one instruction (or a short sequence) with operands
 * from the host: hlt, cli+hlt, rdmsr/wrmsr on any MSR, in/out of any size
 * on any port, string I/O, cpuid, xgetbv/xsetbv, int3, int $n, ud2, debug
 * registers, CR3, and a raw `syscall` (to see what a wrmsr to EFER or
 * LSTAR did to it). site() names the faulting instructions for exact rip
 * checks. The guest runs in ring 0, so none of these is refused by the
 * CPU for privilege: what stops them is the VM (exits) or the CPU's own
 * checks (#GP, #UD), and what the host must do is report, not crash.
 */
#include <stdint.h>
#include <string.h>
#include <vmlet/guest.h>

extern char rdmsr_site[], wrmsr_site[], xsetbv_site[], int3_site[], int80_site[], ud2_site[],
	syscall_site[];

static void halt(void)
{
	__asm__ volatile("hlt");
}

static void cli_halt(void)
{
	__asm__ volatile("cli; hlt");
}

static uint64_t rdmsr_(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile(".globl rdmsr_site\nrdmsr_site: rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void wrmsr_(uint32_t msr, uint64_t v)
{
	__asm__ volatile(".globl wrmsr_site\nwrmsr_site: wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

/* `syscall` as musl issues it; the shim answers getpid (39) with 1. */
static int64_t raw_syscall(uint64_t nr)
{
	int64_t ret;

	__asm__ volatile(".globl syscall_site\nsyscall_site: syscall"
			 : "=a"(ret)
			 : "a"(nr)
			 : "rcx", "r11", "memory");
	return ret;
}

static uint32_t port_in(uint32_t port, uint32_t size)
{
	uint32_t v = 0;
	uint16_t p = (uint16_t)port;

	if (size == 1)
		__asm__ volatile("inb %%dx, %%al" : "+a"(v) : "d"(p));
	else if (size == 2)
		__asm__ volatile("inw %%dx, %%ax" : "+a"(v) : "d"(p));
	else
		__asm__ volatile("inl %%dx, %%eax" : "+a"(v) : "d"(p));
	return v;
}

static void port_out(uint32_t port, uint32_t size, uint32_t v)
{
	uint16_t p = (uint16_t)port;

	if (size == 1)
		__asm__ volatile("outb %%al, %%dx" : : "a"(v), "d"(p));
	else if (size == 2)
		__asm__ volatile("outw %%ax, %%dx" : : "a"(v), "d"(p));
	else
		__asm__ volatile("outl %%eax, %%dx" : : "a"(v), "d"(p));
}

static uint8_t strbuf[64];

/* rep outsb / rep insb of count bytes (at most 64) on port. */
static void outs(uint32_t port, uint64_t count)
{
	const void *src = strbuf;

	count = count > sizeof(strbuf) ? sizeof(strbuf) : count;
	__asm__ volatile("rep outsb" : "+S"(src), "+c"(count) : "d"((uint16_t)port) : "memory");
}

static void ins(uint32_t port, uint64_t count)
{
	void *dst = strbuf;

	count = count > sizeof(strbuf) ? sizeof(strbuf) : count;
	__asm__ volatile("rep insb" : "+D"(dst), "+c"(count) : "d"((uint16_t)port) : "memory");
}

static struct vmlet_bytes cpuid_(uint32_t leaf, uint32_t sub)
{
	static uint32_t r[4];

	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
	return (struct vmlet_bytes){r, sizeof(r)};
}

static uint64_t xgetbv_(uint32_t xcr)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
	return (uint64_t)hi << 32 | lo;
}

/* Set XCRn, and read XCR0 back before anything leaves the VM. */
static uint64_t xsetbv_(uint32_t xcr, uint64_t v)
{
	__asm__ volatile(".globl xsetbv_site\nxsetbv_site: xsetbv"
			 :
			 : "c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
	return xgetbv_(0);
}

static void int3_(void)
{
	__asm__ volatile("int3\n.globl int3_site\nint3_site:");
}

static void int80(void)
{
	__asm__ volatile(".globl int80_site\nint80_site: int $0x80");
}

static void ud2_(void)
{
	__asm__ volatile(".globl ud2_site\nud2_site: ud2");
}

static uint64_t dr_get(uint32_t n)
{
	uint64_t v = 0;

	switch (n) {
	case 0:
		__asm__ volatile("mov %%dr0, %0" : "=r"(v));
		break;
	case 1:
		__asm__ volatile("mov %%dr1, %0" : "=r"(v));
		break;
	case 2:
		__asm__ volatile("mov %%dr2, %0" : "=r"(v));
		break;
	case 3:
		__asm__ volatile("mov %%dr3, %0" : "=r"(v));
		break;
	}
	return v;
}

static void dr_set(uint32_t n, uint64_t v)
{
	switch (n) {
	case 0:
		__asm__ volatile("mov %0, %%dr0" : : "r"(v));
		break;
	case 1:
		__asm__ volatile("mov %0, %%dr1" : : "r"(v));
		break;
	case 2:
		__asm__ volatile("mov %0, %%dr2" : : "r"(v));
		break;
	case 3:
		__asm__ volatile("mov %0, %%dr3" : : "r"(v));
		break;
	case 7:
		__asm__ volatile("mov %0, %%dr7" : : "r"(v));
		break;
	}
}

static void cr3_write(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static uint64_t site(const char *name)
{
	static const struct {
		const char *name;
		const char *addr;
	} sites[] = {
		{"rdmsr", rdmsr_site}, {"wrmsr", wrmsr_site}, {"xsetbv", xsetbv_site},
		{"int3", int3_site},   {"int80", int80_site}, {"ud2", ud2_site},
		{"syscall", syscall_site},
	};

	for (unsigned int i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
		if (!strcmp(name, sites[i].name))
			return (uint64_t)sites[i].addr;
	return 0;
}

static int32_t add(int32_t a, int32_t b)
{
	return a + b;
}

int main(void)
{
	VMLET_REGISTER(halt, VMLET_VOID);
	VMLET_REGISTER(cli_halt, VMLET_VOID);
	VMLET_REGISTER(rdmsr_, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(wrmsr_, VMLET_VOID, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(raw_syscall, VMLET_I64, VMLET_U64);
	VMLET_REGISTER(port_in, VMLET_U32, VMLET_U32, VMLET_U32);
	VMLET_REGISTER(port_out, VMLET_VOID, VMLET_U32, VMLET_U32, VMLET_U32);
	VMLET_REGISTER(outs, VMLET_VOID, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(ins, VMLET_VOID, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(cpuid_, VMLET_BYTES, VMLET_U32, VMLET_U32);
	VMLET_REGISTER(xgetbv_, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(xsetbv_, VMLET_U64, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(int3_, VMLET_VOID);
	VMLET_REGISTER(int80, VMLET_VOID);
	VMLET_REGISTER(ud2_, VMLET_VOID);
	VMLET_REGISTER(dr_get, VMLET_U64, VMLET_U32);
	VMLET_REGISTER(dr_set, VMLET_VOID, VMLET_U32, VMLET_U64);
	VMLET_REGISTER(cr3_write, VMLET_VOID, VMLET_U64);
	VMLET_REGISTER(site, VMLET_U64, VMLET_STRING);
	VMLET_REGISTER(add, VMLET_I32, VMLET_I32, VMLET_I32);
	vmlet_ready();
}
