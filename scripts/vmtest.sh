#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# vmtest.sh [-t SECS] CMD [ARG...]: run CMD where a working /dev/kvm exists
# and exit with its status. If this machine's /dev/kvm runs a guest (checked
# with scripts/kvm-probe.c), CMD runs here. Otherwise, or with VMTEST_FORCE=1,
# it boots the newest /boot/vmlinuz-* under QEMU/TCG with an emulated AMD CPU
# (SVM + nested paging, so kvm-amd loads inside), mounts this machine's / over
# virtio-9p and runs CMD there as root, in the same directory, with the same
# PATH and HOME, CI, V, VMLET_* and *SAN_OPTIONS passed in. Its output
# (stdout and stderr merged, stdin empty) streams back live; /tmp is this
# machine's /tmp.
# What booting needs is installed with scripts/deps.sh vm when missing.
# Env: VMTEST_FORCE=1; VMTEST_TIMEOUT (s, default 600; -t wins); VMTEST_MEM
#      (MiB, default 4096); VMTEST_SMP (vCPUs, default 1: with 2, QEMU's
#      multi-threaded TCG livelocks after some tens of nested VM
#      create/destroy cycles, both vCPU threads spinning on futexes);
#      VMTEST_APPEND (more kernel parameters, e.g. ignore_loglevel);
#      VMTEST_PVH=0 (boot the bzImage, not the vmlinux in it: ~3 s slower).
# Exit: CMD's status; 124 on timeout or when the VM dies without a status;
#       125 when vmtest cannot set things up (no kernel or QEMU, the 9p mount
#       fails, no /dev/kvm inside the VM); 2 on a usage error.
# Owns /var/tmp/vmlet-vmtest: the probe binary, per kernel an initramfs (its
# name carries a hash of the init script below) and the vmlinux, and per run
# a directory with the command file.
set -u

usage() {
	echo "usage: vmtest.sh [-t SECS] CMD [ARG...]" >&2
	exit 2
}

die() {
	echo "vmtest: $*" >&2
	exit 125
}

here=$(cd "$(dirname "$0")" && pwd)
caller_path=$PATH
PATH=$PATH:/usr/sbin:/sbin
secs=${VMTEST_TIMEOUT:-600}
while getopts t: opt; do
	case $opt in
	t) secs=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage
case $secs in
'' | *[!0-9]* | 0) echo "vmtest: bad timeout '$secs'" >&2 && exit 2 ;;
esac

tmps=()
trap '[ ${#tmps[@]} -eq 0 ] || rm -rf "${tmps[@]}"' EXIT
# On a signal, stop QEMU too: it runs in the background, so that these traps
# run at once instead of when the VM ends.
run="" bg=""
# shellcheck disable=SC2317 # called from the traps
stop_qemu() {
	local pid="" i=0
	[ -n "$bg" ] || return 0
	while ! pid=$(cat "$run/qemu.pid" 2>/dev/null) && kill -0 "$bg" 2>/dev/null &&
		[ "$i" -lt 50 ]; do
		sleep 0.1 # QEMU is just starting
		i=$((i + 1))
	done
	[ -z "$pid" ] || kill "$pid" 2>/dev/null
	wait
}
trap 'stop_qemu; exit 129' HUP
trap 'stop_qemu; exit 130' INT
trap 'stop_qemu; exit 143' TERM

# The cache must be ours: /var/tmp is shared and we may be root.
cache=/var/tmp/vmlet-vmtest
mkdir -p "$cache" 2>/dev/null
if [ ! -O "$cache" ] || [ ! -w "$cache" ]; then
	cache=/var/tmp/vmlet-vmtest-$(id -u)
	mkdir -m 700 "$cache" 2>/dev/null
	{ [ -O "$cache" ] && [ -w "$cache" ]; } || die "cannot use $cache as a cache"
fi

# kvm_works: run kvm-probe (built on demand); on failure, $reason says why.
reason=
kvm_works() {
	local src=$here/kvm-probe.c bin=$cache/kvm-probe tmp
	if [ ! -e /dev/kvm ]; then
		reason="no /dev/kvm"
		return 1
	fi
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		tmp=$(mktemp "$bin.XXXXXX") || die "cannot write to $cache"
		tmps+=("$tmp")
		if ! reason=$(cc -O2 -o "$tmp" "$src" 2>&1); then
			reason="cannot build $src: $(printf '%s\n' "$reason" | head -n 1)"
			return 1
		fi
		mv -f "$tmp" "$bin" || die "cannot write $bin"
	fi
	reason=$(timeout 30 "$bin" 2>&1 >/dev/null) && return 0
	reason=${reason#kvm-probe: }
	[ -n "$reason" ] || reason="kvm-probe failed"
	return 1
}

if [ "${VMTEST_FORCE:-}" != 1 ] && kvm_works; then
	echo "vmtest: /dev/kvm works here, running directly" >&2
	exec "$@"
fi

newest_kernel() {
	local k
	k=$(printf '%s\n' /boot/vmlinuz-* | sort -V | tail -n 1)
	[ -e "$k" ] && echo "$k"
}

static_busybox() {
	[ -x /bin/busybox ] && ! LC_ALL=C ldd /bin/busybox >/dev/null 2>&1
}

have_vm_tools() {
	command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null &&
		command -v modinfo >/dev/null && newest_kernel >/dev/null && static_busybox
}

if ! have_vm_tools; then
	"$here/deps.sh" vm || die "cannot install what booting a VM needs (scripts/deps.sh vm)"
	have_vm_tools ||
		die "need qemu-system-x86_64, a /boot/vmlinuz-*, a static /bin/busybox, cpio and modinfo"
fi
kimg=$(newest_kernel)
kver=${kimg#/boot/vmlinuz-}
[ -r "$kimg" ] || die "cannot read $kimg"
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for $kimg"

if [ "${VMTEST_FORCE:-}" = 1 ]; then
	echo "vmtest: VMTEST_FORCE=1, booting $kimg under QEMU/TCG" >&2
else
	echo "vmtest: no usable /dev/kvm ($reason), booting $kimg under QEMU/TCG" >&2
fi

# --- the initramfs --------------------------------------------------------
# Loaded in this order; ones this kernel lacks (or has built in) are skipped.
mods="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	netfs fscache 9pnet 9pnet_virtio 9p irqbypass ccp kvm kvm-amd"

# The VM's /init. Markers carry the run's nonce so CMD's output can't fake them.
init=$(
	cat <<'EOF'
#!/bin/busybox sh
# /init of a scripts/vmtest.sh VM: mount the host's / over 9p, run the
# command in vmtest.cmd= there, report its status, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Loopback, for tests that talk to a server on 127.0.0.1 (serve_test.sh).
ip link set lo up
# kvm: nx_huge_pages=never spares each new VM the NX-recovery kthread KVM
# otherwise starts for it (no guest here runs untrusted code on the host's
# behalf: the iTLB-multihit mitigation buys nothing in this throwaway VM).
for m in /mods/*.ko; do
	case $m in
	*-kvm.ko) insmod "$m" nx_huge_pages=never 2>/dev/null || insmod "$m" 2>/dev/null ;;
	*) insmod "$m" 2>/dev/null ;;
	esac
done
nonce= cmdf=
for a in $(cat /proc/cmdline); do
	case $a in
	vmtest.nonce=*) nonce=${a#*=} ;;
	vmtest.cmd=*) cmdf=${a#*=} ;;
	esac
done
fail() {
	echo
	echo "vmtest-error:$nonce:$*"
	poweroff -f
	exit 1
}
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap host /host ||
	fail "cannot mount the host's / over virtio-9p"
for d in proc sys dev; do
	mount --bind /$d /host/$d || fail "cannot bind-mount /$d into the host's /"
done
mount -t tmpfs -o mode=755 run /host/run
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
mount -t bpf -o mode=700 bpf /host/sys/fs/bpf 2>/dev/null
mkdir -p /host/dev/pts /host/dev/shm /host/dev/hugepages
mount -t devpts -o newinstance,ptmxmode=666,mode=620 devpts /host/dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 shm /host/dev/shm
mount -t hugetlbfs hugetlbfs /host/dev/hugepages 2>/dev/null
echo 64 > /proc/sys/vm/nr_hugepages
if [ ! -c /dev/kvm ]; then
	dmesg | grep -i -e kvm -e svm -e ccp | tail -n 10
	fail "no /dev/kvm in the VM: kvm-amd did not load (see the kernel messages above)"
fi
cmd=$(cat "/host$cmdf") || fail "cannot read the command file $cmdf over 9p"
echo
echo "vmtest-start:$nonce"
chroot /host /usr/bin/env -i /bin/bash -c "$cmd" </dev/null
echo "vmtest-status:$nonce:$?"
sync
poweroff -f
exit 1
EOF
)

# build_initrd OUT: busybox, the modules and /init, as a gzipped cpio.
build_initrd() {
	local out=$1 root tmp m f dst n=0
	root=$(mktemp -d "$cache/initrd.XXXXXX") && tmp=$(mktemp "$out.XXXXXX") || return 1
	tmps+=("$root" "$tmp")
	mkdir -p "$root/bin" "$root/mods" "$root/proc" "$root/sys" "$root/dev" "$root/host" &&
		cp /bin/busybox "$root/bin/busybox" || return 1
	for m in $mods; do
		f=$(modinfo -k "$kver" -F filename "$m" 2>/dev/null | head -n 1)
		[ -f "$f" ] || continue
		dst=$root/mods/$(printf %02d $n)-$m.ko
		n=$((n + 1))
		case $f in
		*.ko.xz) xz -dc "$f" >"$dst" ;;
		*.ko.zst) zstd -qdc "$f" >"$dst" ;;
		*.ko.gz) gzip -dc "$f" >"$dst" ;;
		*) cp "$f" "$dst" ;;
		esac || return 1
	done
	printf '%s\n' "$init" >"$root/init" && chmod 755 "$root/init" || return 1
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$tmp" &&
		mv -f "$tmp" "$out" || return 1
	rm -rf "$root"
}

key=$(printf '%s\n%s\n' "$init" "$mods" | sha256sum | cut -c 1-16)
initrd=$cache/$kver/initrd-$key.cpio.gz
if [ ! -s "$initrd" ] || [ "$kimg" -nt "$initrd" ]; then
	if ! mkdir -p "$cache/$kver" || ! build_initrd "$initrd"; then
		die "cannot build $initrd"
	fi
	for f in "$cache/$kver"/initrd-*.cpio.gz; do
		[ "$f" = "$initrd" ] || rm -f "$f"
	done
fi

# --- the kernel -----------------------------------------------------------
# Decompressing a bzImage takes ~3 s under TCG, so where the kernel can boot
# through PVH, QEMU gets the ELF vmlinux inside it instead (cached).
# VMTEST_PVH=0 boots the bzImage as it is.
extract_vmlinux() {
	local out=$1 pos tmp
	pos=$(LC_ALL=C grep -aobUP '\xfd7zXZ\x00' "$kimg" | head -n 1 | cut -d : -f 1)
	[ -n "$pos" ] && tmp=$(mktemp "$out.XXXXXX") || return 1
	tmps+=("$tmp")
	tail -c +$((pos + 1)) "$kimg" | xz -dc --single-stream >"$tmp" 2>/dev/null &&
		[ "$(head -c 4 "$tmp" | od -An -c | tr -d ' ')" = 177ELF ] &&
		mv -f "$tmp" "$out"
}

kernel=$kimg
if [ "${VMTEST_PVH:-1}" != 0 ] && grep -q '^CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null &&
	command -v xz >/dev/null; then
	vmlinux=$cache/$kver/vmlinux
	if [ -s "$vmlinux" ] && [ "$vmlinux" -nt "$kimg" ] || extract_vmlinux "$vmlinux"; then
		kernel=$vmlinux
	fi
fi

# --- the command file -----------------------------------------------------
run=$(mktemp -d "$cache/run.XXXXXX") || die "cannot write to $cache"
tmps+=("$run")
nonce=${run##*.}
cmdf=$run/cmd
{
	printf 'cd -- %q || exit 125\n' "$PWD"
	printf 'export PATH=%q HOME=%q TERM=dumb\n' "$caller_path" "${HOME:-/root}"
	for v in CI V $(compgen -e | grep -E '^(VMLET_|[A-Z]+SAN_OPTIONS$)'); do
		[ -z "${!v+x}" ] || printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$cmdf" || die "cannot write $cmdf"

# --- boot -----------------------------------------------------------------
# Print the console lines between the start and status markers as they come
# (mawk needs -W interactive not to wait for a full input buffer); at the end
# write the status (or the VM's error) and the console's last 30 lines.
awk=(awk)
awk -W version 2>/dev/null | grep -q mawk && awk=(awk -W interactive)
# shellcheck disable=SC2016 # the awk program is meant to be literal
{
	timeout --foreground -k 10 "$secs" qemu-system-x86_64 -M q35 -accel tcg,thread=multi \
		-cpu max -smp "${VMTEST_SMP:-1}" -m "${VMTEST_MEM:-4096}" -nographic -no-reboot -nic none \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=1 panic=-1 vmtest.nonce=$nonce vmtest.cmd=$cmdf ${VMTEST_APPEND:-}" \
		-virtfs local,path=/,mount_tag=host,security_model=none,multidevs=remap \
		-pidfile "$run/qemu.pid" </dev/null 2>"$run/qemu.err"
	echo $? >"$run/qemu.status"
} |
	"${awk[@]}" -v start="vmtest-start:$nonce" -v end="vmtest-status:$nonce:" \
		-v error="vmtest-error:$nonce:" -v result="$run/result" -v tailf="$run/tail" '
	{
		gsub(/\r/, "")
		line = $0
		gsub(/\033(\[[0-9;?]*[A-Za-z]|c)/, "", line)
		last[NR % 30] = line
	}
	on {
		i = index($0, end)
		if (!i) {
			print
			fflush()
			next
		}
		if (i > 1)
			printf "%s", substr($0, 1, i - 1)
		fflush()
		status = substr($0, i + length(end))
		sub(/[^0-9].*/, "", status)
		on = 0
		done = 1
		next
	}
	!done && index($0, start) {
		on = 1
		next
	}
	!done && (i = index($0, error)) {
		err = substr($0, i + length(error))
	}
	END {
		if (status != "")
			print "status " status >result
		else if (err != "")
			print "error " err >result
		for (i = NR - 29; i <= NR; i++)
			if (i > 0)
				print last[i % 30] >tailf
	}' &
bg=$!
wait $bg
qemu_status=$(cat "$run/qemu.status" 2>/dev/null)

show_tail() {
	if [ -s "$run/qemu.err" ]; then
		echo "vmtest: QEMU said:" >&2
		sed 's/^/  | /' "$run/qemu.err" >&2
	fi
	if [ -s "$run/tail" ]; then
		echo "vmtest: the console's last lines:" >&2
		sed 's/^/  | /' "$run/tail" >&2
	fi
}

res=$(cat "$run/result" 2>/dev/null)
case $res in
"status "*)
	exit "${res#status }"
	;;
"error "*)
	echo "vmtest: ${res#error }" >&2
	show_tail
	exit 125
	;;
esac
if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
	echo "vmtest: timed out after $secs s" >&2
	exit 124
fi
echo "vmtest: the VM died without reporting a status" >&2
show_tail
exit 124
