#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cli_test.sh: TAP test of the vmlet CLI as built in $VMLET_OBJ (default:
# the source tree): `run` prints typed results and guest errors with the
# documented exit status; its calls run on a thread confined with seccomp
# unless --no-seccomp, and calls, host calls, a granted file and fresh
# VMs all work there; --repeat and --fresh print a distribution of N
# calls; --count-insns gives the same exact count twice; a fault prints
# its backtrace with function names, and --core writes a core file that
# gdb reads (or says why it could not); --timeout and
# --print-limit end a call; `list` and `info` print what they promise;
# `snapshot` saves a file after its calls, and `run`, `list` and
# `snapshot` take that file where they take an image.
# Starts VMs, so scripts/check.sh runs it through vmtest.sh.
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

echo "1..22"

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

# Where KVM has no paravirtual TLB flush, restore flushes by KVM_SET_SREGS
# (lib/tlb.c), which the confined thread must be allowed to make.
VMLET_TLB_PV=0 "$vmlet" run --fresh 5 "$demo" add 1 2 >"$tmp/fresh" 2>&1
rc=$?
check fresh_vms_work_confined_without_the_pv_tlb_flush fresh_works

"$vmlet" run --print-limit 3 "$demo" hello str:world >"$tmp/out" 2>"$tmp/err"
rc=$?
print_limit_ends_the_call() {
	head -n 1 "$tmp/err" >"$tmp/err1"
	[ "$rc" -eq 1 ] && same 'hel' "$tmp/out" &&
		same $'vmlet: hello: Guest output exceeded the call\'s print limit: guest output over the limit of 3 bytes\n' "$tmp/err1" &&
		grep -Eqx '  #0  0x[0-9a-f]+ in vmlet_syscall\+0x[0-9a-f]+' "$tmp/err" &&
		grep -Eqx '  #1  0x[0-9a-f]+ in vmlet_syscall_entry\+0x[0-9a-f]+' "$tmp/err"
}
check print_limit_ends_the_call_at_exactly_that_output print_limit_ends_the_call

# status OUT ERR CMD...: run CMD with its stdout and stderr in files; $rc.
status() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err"
	rc=$?
}

status "$tmp/out" "$tmp/err" "$vmlet" run "$demo" reverse str:stressed
typed_results() {
	[ "$rc" -eq 0 ] && same $'desserts\n' "$tmp/out" &&
		"$vmlet" run "$demo" hypot f64:3 f64:4 >"$tmp/f" 2>&1 && same $'5\n' "$tmp/f" &&
		"$vmlet" run "$demo" sum bytes:vmlet >"$tmp/b" 2>&1 && same $'552\n' "$tmp/b"
}
check run_prints_typed_results typed_results

status "$tmp/out" "$tmp/err" "$vmlet" run "$demo" no_such_function
errors_exit_1() {
	local few usage junk dir cmd
	"$vmlet" run "$demo" add i32:1 >/dev/null 2>&1
	few=$?
	"$vmlet" run --repeat 0 "$demo" add 1 2 >/dev/null 2>&1
	usage=$?
	"$vmlet" run --repeat 3x "$demo" add 1 2 >/dev/null 2>&1
	junk=$?
	"$vmlet" run "$demo" sum "bytes:@$tmp" >/dev/null 2>"$tmp/dir"
	dir=$?
	"$vmlet" bogus >/dev/null 2>&1
	cmd=$?
	echo "# exit statuses: unknown function $rc, too few arguments $few, bad option $usage," \
		"number with junk $junk, directory as bytes $dir, bad command $cmd"
	[ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q 'no_such_function' "$tmp/err" &&
		[ "$few" -eq 1 ] && [ "$usage" -eq 2 ] && [ "$junk" -eq 2 ] && [ "$dir" -eq 1 ] &&
		[ "$(cat "$tmp/dir")" = "vmlet: $tmp: Is a directory" ] && [ "$cmd" -eq 2 ]
}
check unknown_function_and_bad_arguments_exit_1_usage_2 errors_exit_1

status "$tmp/out" "$tmp/err" "$vmlet" run --repeat 5 "$demo" add 1 2
repeat_distribution() {
	[ "$rc" -eq 0 ] && [ "$(head -n 1 "$tmp/out")" = 3 ] && grep -q '^calls 5  min ' "$tmp/out"
}
check repeat_prints_a_distribution_of_n_calls repeat_distribution

"$vmlet" run --count-insns "$demo" add 1 2 >"$tmp/c1" 2>&1
"$vmlet" run --count-insns "$demo" add 1 2 >"$tmp/c2" 2>&1
count_repeats() {
	grep -Eq '^guest instructions: [1-9][0-9]*$' "$tmp/c1" && cmp -s "$tmp/c1" "$tmp/c2"
}
check count_insns_is_exact_and_repeatable count_repeats
sed 's/^/# /' "$tmp/c1"

status "$tmp/out" "$tmp/err" "$obj/tools/vmlet" run --timeout 50 \
	"$obj/selftests/kvm/interrupt_guest.elf" spin
timeout_ends_the_call() {
	[ "$rc" -eq 1 ] && grep -q '^vmlet: spin: Guest ran past its deadline: deadline of 50000 us' \
		"$tmp/err"
}
check timeout_ends_an_endless_call timeout_ends_the_call

status "$tmp/out" "$tmp/err" "$vmlet" run "$obj/selftests/kvm/backtrace_guest.elf" nested_fault
fault_has_a_backtrace() {
	[ "$rc" -eq 1 ] && grep -q '^vmlet: nested_fault: Guest CPU exception: vector 14 (#PF)' \
		"$tmp/err" && grep -qx 'vmlet: backtrace:' "$tmp/err" &&
		grep -Eqx '  #0  0x[0-9a-f]+ in leaf_fault\+0' "$tmp/err" &&
		grep -Eqx '  #1  0x[0-9a-f]+ in middle\+0x[0-9a-f]+' "$tmp/err" &&
		grep -Eqx '  #2  0x[0-9a-f]+ in outer\+0x[0-9a-f]+' "$tmp/err"
}
check fault_prints_a_symbolized_backtrace fault_has_a_backtrace
sed 's/^/# /' "$tmp/err"

# A % in FILE is FILE's own, not a template's.
status "$tmp/out" "$tmp/err" "$vmlet" run --core "$tmp/core%i" "$obj/selftests/kvm/core_guest.elf" \
	core_fault 7
core_opens_in_gdb() {
	[ "$rc" -eq 1 ] && grep -q '^vmlet: core_fault: Guest CPU exception: vector 14 (#PF)' \
		"$tmp/err" && grep -qxF "vmlet: core written to $tmp/core%i" "$tmp/err" &&
		gdb -nx -batch -ex 'set style enabled off' -ex bt \
			"$obj/selftests/kvm/core_guest.elf" "$tmp/core%i" >"$tmp/gdb" 2>&1 &&
		grep -q '^#0  poke (p=p@entry=0x78, value=16969)' "$tmp/gdb" &&
		grep -q '^#1  0x[0-9a-f]* in crunch (' "$tmp/gdb"
}
check core_writes_a_core_file_gdb_opens core_opens_in_gdb
sed 's/^/# /' "$tmp/err" "$tmp/gdb"

status "$tmp/out" "$tmp/err" "$vmlet" run --core /nonexistent-vmlet/core \
	"$obj/selftests/kvm/core_guest.elf" core_fault 7
core_error_said() {
	[ "$rc" -eq 1 ] && grep -q '^vmlet: core_fault: Guest CPU exception: vector 14 (#PF)' \
		"$tmp/err" && grep -Eqx '  #0  0x[0-9a-f]+ in poke\+0x[0-9a-f]+' "$tmp/err" &&
		grep -qxF 'vmlet: no core written to /nonexistent-vmlet/core: No such file or directory' \
			"$tmp/err"
}
check unwritable_core_says_why_and_keeps_the_fault core_error_said

"$vmlet" list "$demo" >"$tmp/list" 2>&1
list_shows_signatures() {
	grep -qx 'add(i32, i32) -> i32' "$tmp/list" &&
		grep -qx 'echo(string) -> string' "$tmp/list" &&
		grep -qx 'sum(bytes) -> u64' "$tmp/list" &&
		grep -qx 'hypot(f64, f64) -> f64' "$tmp/list" &&
		grep -qx 'hello(string) -> void' "$tmp/list" &&
		grep -qx 'kv_get(string) -> string' "$tmp/list"
}
check list_prints_each_signature list_shows_signatures

"$vmlet" info >"$tmp/info" 2>&1
info_names_the_platform() {
	grep -qx 'kvm api version: 12' "$tmp/info" &&
		grep -Eq '^guest code: +(runs natively|emulated by KVM)' "$tmp/info" &&
		grep -Eq '^memory backing: +(hugetlb-2M|shmem-thp|shmem-4k) \(' "$tmp/info" &&
		grep -q '^capabilities: .*sync-regs' "$tmp/info" &&
		grep -Eq '^kvm pv msrs: +(refused to guests|writable by guests \(KVM lacks)' "$tmp/info"
}
check info_names_the_platform info_names_the_platform
sed 's/^/# /' "$tmp/info"

# Snapshot files: the demo's counter() counts the calls of one sandbox.
status "$tmp/out" "$tmp/err" "$vmlet" snapshot "$demo" -o "$tmp/c.snap" --call counter \
	--call add 20 22 --call counter
snapshot_prints_and_saves() {
	[ "$rc" -eq 0 ] && same $'1\n42\n2\n' "$tmp/out" && [ ! -s "$tmp/err" ] &&
		[ "$(head -c 8 "$tmp/c.snap")" = VMLETSNP ]
}
check snapshot_prints_the_calls_and_saves_a_file snapshot_prints_and_saves

"$vmlet" run "$tmp/c.snap" counter >"$tmp/run" 2>&1
"$vmlet" run --fresh 3 "$tmp/c.snap" counter >"$tmp/fresh" 2>&1
rc=$?
run_starts_where_the_calls_left() {
	same $'3\n' "$tmp/run" && [ "$rc" -eq 0 ] && [ "$(head -n 1 "$tmp/fresh")" = 3 ] &&
		grep -q '^fresh VM per call (pool of 2, ' "$tmp/fresh"
}
check run_of_a_snapshot_file_starts_where_its_calls_left run_starts_where_the_calls_left

"$vmlet" list "$tmp/c.snap" >"$tmp/list2" 2>&1
"$vmlet" snapshot "$tmp/c.snap" -o "$tmp/d.snap" --call counter >"$tmp/out" 2>&1
"$vmlet" run "$tmp/d.snap" counter >"$tmp/run2" 2>&1
list_and_snapshot_take_a_file() {
	cmp -s "$tmp/list" "$tmp/list2" && same $'3\n' "$tmp/out" && same $'4\n' "$tmp/run2"
}
check list_and_snapshot_take_a_snapshot_file list_and_snapshot_take_a_file

head -c 8192 "$tmp/c.snap" >"$tmp/cut.snap"
status "$tmp/out" "$tmp/err" "$vmlet" run "$tmp/cut.snap" add 1 2
cut_rc=$rc
status "$tmp/out2" "$tmp/err2" "$vmlet" run --mem 8 "$tmp/c.snap" add 1 2
bad_files_name_the_problem() {
	echo "# $(cat "$tmp/err")"
	[ "$cut_rc" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q "^vmlet: $tmp/cut.snap: Bad message: truncated: section pages (0x" "$tmp/err" &&
		[ "$rc" -eq 1 ] &&
		same "vmlet: $tmp/c.snap: Invalid argument: config mem_size 0x800000 differs from the file's 0x400000"$'\n' "$tmp/err2"
}
check a_broken_or_contradicted_snapshot_file_names_the_problem bad_files_name_the_problem

status "$tmp/out" "$tmp/err" "$vmlet" snapshot "$demo" -o "$tmp/e.snap" --call no_such
nosuch=$rc
"$vmlet" snapshot "$demo" >/dev/null 2>&1
no_out=$?
"$vmlet" snapshot "$demo" -o "$tmp/e.snap" --call >/dev/null 2>&1
no_fn=$?
snapshot_errors() {
	echo "# exit statuses: unknown function $nosuch, no -o $no_out, --call alone $no_fn"
	[ "$nosuch" -eq 1 ] && grep -q "no function 'no_such'" "$tmp/err" &&
		[ "$no_out" -eq 2 ] && [ "$no_fn" -eq 2 ] && ! ls "$tmp"/e.snap* >/dev/null 2>&1
}
check snapshot_errors_exit_1_usage_2_and_leave_no_file snapshot_errors

[ "$failed" -eq 0 ]
