// SPDX-License-Identifier: BSD-2-Clause
/*
 * A traditional VM: Debian's qemu-system-x86_64 -M microvm -accel kvm
 * booting qemu/boot.S (a 64 KiB firmware image and nothing else: no
 * firmware of QEMU's, no kernel, no devices but isa-debugcon and
 * isa-debug-exit), which writes add(1, 2) to the debug console and exits.
 * Timed from just before fork to the byte arriving on a pipe ("boot"),
 * and to QEMU's exit status ("exit"). Both are checked: byte 3, status 7.
 * Counts per boot cover all of QEMU's threads. Runs stop at BOOTS or after
 * BUDGET_NS, whichever comes first (but at least MIN_BOOTS): under QEMU/TCG
 * a nested QEMU takes seconds.
 *
 * The CPU model: `-cpu host`, which is what a QEMU user runs, where it
 * boots. It does not boot everywhere: KVM advertises ARCH_CAPABILITIES
 * (CPUID.7.0:EDX[29]) on every host it emulates that MSR for, and QEMU
 * then aborts ("failed to set MSR 0x10a") on a KVM that advertises it but
 * refuses the write, as a KVM that runs guest code in its emulator on an
 * AMD host does. boot.S touches no MSR, so the first model of cpu_models[]
 * that boots one guest is the one measured, and bench prints it and
 * writes it to results.json ("cpu"): the boot itself does not depend on it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define BOOTS	  200
#define MIN_BOOTS 10
#define BUDGET_NS 20000000000ULL

static const char *const cpu_models[] = {
	"host",			   /* what a QEMU user runs */
	"host,-arch-capabilities", /* the same CPU without MSR 0x10a */
	"qemu64",		   /* QEMU's own model: no host MSR at all */
};

static pid_t spawn_cpu(const char *cpu, bool exit, int out_fd, int err_fd)
{
	char *argv[] = {
		QEMU,
		"-M",
		"microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=off",
		"-accel",
		"kvm",
		"-cpu",
		(char *)cpu,
		"-m",
		"2M",
		"-nodefaults",
		"-no-user-config",
		"-display",
		"none",
		"-bios",
		QEMU_BOOT,
		"-chardev",
		"stdio,id=dbg",
		"-device",
		"isa-debugcon,iobase=0xe9,chardev=dbg",
		exit ? "-device" : NULL,
		"isa-debug-exit,iobase=0xf4,iosize=1",
		NULL,
	};

	return spawn(argv, out_fd, err_fd);
}

/* One boot: 0 with the times, or the error and what QEMU said in why. */
static int boot_cpu(const char *cpu, double *to_byte, double *to_exit, char *why, size_t len)
{
	int out[2], err[2], status, n, r = -ECHILD;
	uint64_t t0;
	char byte = 0;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC))
		return -errno;
	if (pipe2(err, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		return -errno;
	}
	t0 = now_ns();
	pid = spawn_cpu(cpu, true, out[1], err[1]);
	close(out[1]);
	close(err[1]);
	if (pid > 0)
		r = read_byte(out[0], &byte, START_TIMEOUT_MS);
	*to_byte = (double)(now_ns() - t0);
	if (pid > 0 && r == -ETIMEDOUT)
		kill(pid, SIGKILL);
	if (pid > 0)
		waitpid(pid, &status, 0);
	*to_exit = (double)(now_ns() - t0);
	close(out[0]);
	if (!r && byte == 3 && WIFEXITED(status) && WEXITSTATUS(status) == 7) {
		close(err[0]);
		return 0;
	}
	if (r)
		n = snprintf(why, len, "no byte (%s), ", strerror(-r));
	else
		n = snprintf(why, len, "byte %d (want 3), ", byte);
	if (n > 0 && (size_t)n < len)
		n += snprintf(why + n, len - (size_t)n, "status %d (want 7): ",
			      pid <= 0		  ? -1
			      : WIFEXITED(status) ? WEXITSTATUS(status)
						  : 128 + WTERMSIG(status));
	if (n > 0 && (size_t)n < len)
		read_text(err[0], why + n, len - (size_t)n);
	close(err[0]);
	return -EIO;
}

/* The first of cpu_models[] that boots (tried once), or "host" when none does. */
static const char *qemu_cpu(void)
{
	static const char *cpu;
	char why[512];
	double tb, te;

	for (size_t i = 0; !cpu && i < sizeof(cpu_models) / sizeof(cpu_models[0]); i++) {
		if (!boot_cpu(cpu_models[i], &tb, &te, why, sizeof(why)))
			cpu = cpu_models[i];
		else
			progress("qemu: -cpu %s does not boot: %s", cpu_models[i], why);
	}
	if (!cpu)
		cpu = cpu_models[0]; /* the figures fail and say why */
	return cpu;
}

pid_t qemu_spawn(bool exit, int out_fd, int err_fd)
{
	return spawn_cpu(qemu_cpu(), exit, out_fd, err_fd);
}

static int boot(double *to_byte, double *to_exit, char *why, size_t len)
{
	return boot_cpu(qemu_cpu(), to_byte, to_exit, why, len);
}

void bench_qemu(struct bench *b)
{
	char *argv[] = {QEMU, "--version", NULL}, version[256], why[512], command[256];
	const char *cpu = qemu_cpu();
	struct fig *fb, *fe;
	struct counters c;
	uint64_t t0;

	json_obj(b->j, "qemu");
	first_line(argv, version, sizeof(version));
	json_str(b->j, "version", version);
	json_str(b->j, "cpu", cpu);
	snprintf(command, sizeof(command), "%s -M microvm -accel kvm -cpu %s -m 2M -bios boot.bin",
		 QEMU, cpu);
	json_str(b->j, "command", command);
	section("qemu: microvm, a guest of ours (us)");
	printf("# qemu: -cpu %s%s\n", cpu,
	       strcmp(cpu, cpu_models[0]) ? " (-cpu host does not boot here: see above)" : "");
	fflush(stdout);
	fb = fig_new("boot", BOOTS, "qemu: start to the guest's byte");
	fe = fig_new("exit", BOOTS, "qemu: start to exit");
	t0 = now_ns();
	for (int i = 0; more(i, MIN_BOOTS, BOOTS, t0, BUDGET_NS); i++) {
		double tb, te;

		if (boot(&tb, &te, why, sizeof(why))) {
			fig_fail(fb, "%s", why);
			fig_fail(fe, "%s", why);
			break;
		}
		fig_add(fb, tb);
		fig_add(fe, te);
	}
	if (fig_ok(fb)) {
		double tb, te;

		ctr_open(&c, true);
		ctr_start(&c);
		for (int i = 0; i < 5; i++)
			boot(&tb, &te, why, sizeof(why));
		ctr_stop(&c, fe->counts, 5);
		ctr_close(&c);
		memcpy(fb->counts, fe->counts, sizeof(fb->counts));
	}
	fig_ratio(fb, b->floor_create, "floor.create");
	fig_ratio(fe, b->floor_create, "floor.create");
	fig_emit(b->j, fb);
	fig_emit(b->j, fe);
	fig_free(fb);
	fig_free(fe);
	json_end(b->j);
}
