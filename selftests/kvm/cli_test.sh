#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cli_test.sh: TAP test of `vmlet run` as built in $VMLET_OBJ (default:
# the source tree): its calls run on a thread confined with seccomp
# unless --no-seccomp, and calls, host calls, a granted file and fresh
# VMs all work there; --print-limit ends a call at exactly that much
# output. Starts VMs, so scripts/check.sh runs it through vmtest.sh.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
obj=${VMLET_OBJ:-$src}
vmlet=$obj/tools/vmlet
demo=$obj/guest/examples/demo.elf
tmp=$(mktemp -d /tmp/cli_test.XXXXXX)
bg=
trap '[ -z "$bg" ] || kill "$bg" 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=../scripts/tap.sh
. "$src/selftests/scripts/tap.sh"

# same EXPECTED-TEXT FILE: the file holds exactly the text.
same() {
	printf '%s' "$1" >"$tmp/want"
	diff -u "$tmp/want" "$2" >"$tmp/diff" && return 0
	sed 's/^/# /' "$tmp/diff"
	return 1
}

# seccomp_modes PID: the "Seccomp:" field of each of its threads, sorted.
seccomp_modes() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^Seccomp:/ { print $2 }' | sort | tr '\n' ' '
}

# threads_of ARGS...: start `vmlet run ARGS` with a long repeat, wait until
# it runs its calls (two threads, or one confined), print its threads'
# seccomp modes, stop it.
threads_of() {
	local modes="" i
	"$vmlet" run --repeat 10000000 "$@" "$demo" add 1 2 >/dev/null 2>&1 &
	bg=$!
	for i in $(seq 300); do
		modes=$(seccomp_modes "$bg")
		case $modes in
		*2*) break ;;
		"0 0 ") [ "$i" -gt 20 ] && break ;; # unconfined: give it 2 s to change
		esac
		sleep 0.1
	done
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	bg=
	echo "$modes"
}

echo "1..6"

"$vmlet" run "$demo" add i32:2 i32:40 >"$tmp/out" 2>&1
check run_prints_the_result same $'42\n' "$tmp/out"

modes=$(threads_of)
echo "# seccomp modes of vmlet run's threads: $modes"
check calls_run_on_a_thread_confined_with_seccomp [ "$modes" = "0 2 " ]

modes=$(threads_of --no-seccomp)
echo "# with --no-seccomp: $modes"
check no_seccomp_leaves_every_thread_unconfined [ "$modes" = "0 0 " ]

"$vmlet" run --kv colour=teal "$demo" kv_get str:colour >"$tmp/kv" 2>&1
printf 'granted\n' >"$tmp/file"
"$vmlet" run --grant "$tmp/file" "$demo" cat str:"$tmp/file" >"$tmp/cat" 2>&1
host_calls_work() {
	same $'teal\n' "$tmp/kv" && same $'granted\\x0a\n' "$tmp/cat"
}
check host_calls_and_grants_work_confined host_calls_work

"$vmlet" run --fresh 5 "$demo" add 1 2 >"$tmp/fresh" 2>&1
rc=$?
fresh_works() {
	[ "$rc" -eq 0 ] && [ "$(head -n 1 "$tmp/fresh")" = 3 ] &&
		grep -q '^fresh VM per call (pool of 2, ' "$tmp/fresh"
}
check fresh_vms_work_confined fresh_works

"$vmlet" run --print-limit 3 "$demo" hello str:world >"$tmp/out" 2>"$tmp/err"
rc=$?
print_limit_ends_the_call() {
	[ "$rc" -eq 1 ] && same 'hel' "$tmp/out" &&
		same $'vmlet: hello: Guest output exceeded the call\'s print limit: guest output over the limit of 3 bytes\n' "$tmp/err"
}
check print_limit_ends_the_call_at_exactly_that_output print_limit_ends_the_call

[ "$failed" -eq 0 ]
