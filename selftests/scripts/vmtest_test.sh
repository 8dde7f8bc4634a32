#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# vmtest_test.sh: TAP test of scripts/vmtest.sh. With VMTEST_FORCE=1 it boots
# throwaway VMs one after another (a few seconds each, plus one run that
# must time out after 40 s) and checks exit statuses, output, the host's /tmp
# and working directory seen over 9p, VMLET_* variables and /dev/kvm inside;
# then the direct path on this machine. Takes about 80 s.
# shellcheck disable=SC2016 # the single-quoted commands expand in the VM
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
vmtest=$src/scripts/vmtest.sh
tmp=$(mktemp -d /tmp/vmtest_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset VMTEST_FORCE VMTEST_TIMEOUT VMTEST_MEM

rc=0
# shellcheck source=tap.sh
. "$src/selftests/scripts/tap.sh"
# A failed check shows the last command's status and output.
on_fail() {
	echo "# status $rc; stdout:"
	sed 's/^/#   /' "$tmp/out"
	echo "# stderr:"
	sed 's/^/#   /' "$tmp/err"
}

# vm ARG...: vmtest.sh ARG... in a VM; sets rc, leaves stdout/stderr in files.
vm() {
	VMTEST_FORCE=1 "$vmtest" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

has_err() {
	grep -qF -- "$1" "$tmp/err"
}

echo "1..17"

vm true
check "VMTEST_FORCE=1: true returns 0" [ "$rc" -eq 0 ]
check "VMTEST_FORCE=1 boots a VM under QEMU/TCG" has_err "under QEMU/TCG"

vm sh -c 'exit 1'
check "exit 1 returns 1" [ "$rc" -eq 1 ]

vm sh -c 'exit 200'
check "exit 200 returns 200" [ "$rc" -eq 200 ]

vm echo hello-vmtest
printf 'hello-vmtest\n' >"$tmp/want"
check "echo output comes back as exactly one line" cmp -s "$tmp/want" "$tmp/out"

vm sh -c 'echo "written in the VM" >"$1"' sh "$tmp/from-vm"
check "a file written to /tmp in the VM is visible here" \
	grep -qx "written in the VM" "$tmp/from-vm"

mkdir "$tmp/a dir"
cd "$tmp/a dir" || exit 1
value='a b $c "d" '\''e'\'
VMLET_TEST_VALUE=$value vm sh -c 'pwd; printf "%s\n" "$VMLET_TEST_VALUE"'
cd "$src" || exit 1
check "the working directory inside is the same as here" \
	[ "$(sed -n 1p "$tmp/out")" = "$tmp/a dir" ]
check "VMLET_* variables pass in unchanged" [ "$(sed -n 2p "$tmp/out")" = "$value" ]

cc -O2 -o "$tmp/kvm-probe" "$src/scripts/kvm-probe.c"
vm sh -c '[ -c /dev/kvm ] && echo dev-kvm; "$1"' sh "$tmp/kvm-probe"
check "/dev/kvm exists inside the VM" grep -qx dev-kvm "$tmp/out"
check "a KVM guest runs inside the VM (kvm-probe)" [ "$rc" -eq 0 ]

# Inside, KVM works: vmtest.sh takes its direct path there.
vm sh -c 'env -u VMTEST_FORCE "$1" sh -c "exit 5" 2>&1; echo "status $?"' sh "$vmtest"
direct_inside() {
	grep -qF "vmtest: /dev/kvm works here, running directly" "$tmp/out" &&
		grep -qx "status 5" "$tmp/out"
}
check "inside the VM, vmtest.sh runs a command directly (exit 5 returns 5)" direct_inside

start=$SECONDS
vm -t 40 sleep 600
took=$((SECONDS - start))
check "-t 40 sleep 600 returns 124 (after $took s)" eval '[ "$rc" -eq 124 ] && [ "$took" -lt 70 ]'
check "and says it timed out" has_err "vmtest: timed out after 40 s"

VMTEST_MEM=32 vm -t 60 true
check "a VM that dies (32 MiB) returns 124 and says so" \
	eval '[ "$rc" -eq 124 ] && has_err "vmtest: the VM died without reporting a status"'

"$vmtest" sh -c 'exit 7' >"$tmp/out" 2>"$tmp/err"
rc=$?
check "without VMTEST_FORCE: exit 7 returns 7" [ "$rc" -eq 7 ]
if "$tmp/kvm-probe" 2>/dev/null; then
	check "/dev/kvm works here: ran directly" has_err "vmtest: /dev/kvm works here, running directly"
else
	check "/dev/kvm does not work here: booted a VM" has_err "vmtest: no usable /dev/kvm"
fi

"$vmtest" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "no command: usage, status 2" [ "$rc" -eq 2 ]

[ "$failed" -eq 0 ] || exit 1
