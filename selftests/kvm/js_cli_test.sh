#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# js_cli_test.sh: TAP test of `vmlet js` as built in $VMLET_OBJ (default:
# the source tree): it prints a handler's JSON result and what the script
# prints, --kv reaches the script as host.kv_lookup, --repeat and --fresh
# print a distribution of N; a failing script (an event's or the top
# level's uncaught exception) prints its error and JS stack and exits 1, --timeout ends an endless loop, --print-limit a flood
# (of the event: the load's output is its own call's), --grant with
# --fresh is a usage error (grants end at restore), and a missing image
# is named. -o saves the loaded script as a snapshot file, which a new
# `vmlet js` runs events of without running the top level again; a snapshot
# file of another guest is refused. Starts VMs (and needs SSE in the guest), so
# scripts/check.sh runs it through vmtest.sh.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
obj=${VMLET_OBJ:-$src}
vmlet=$obj/tools/vmlet
tmp=$(mktemp -d /tmp/js_cli_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../scripts/tap.sh
. "$src/selftests/scripts/tap.sh"
export VMLET_JS_IMAGE=$obj/runtimes/js/vmlet-js.elf

# status WANT GOT: the exit status was WANT.
status() {
	[ "$1" = "$2" ] && return 0
	echo "# exit status $2, want $1"
	return 1
}

cat >"$tmp/s.js" <<'JS'
console.log('loading');
function add(e) { console.log('adding', e.a, e.b); return {sum: e.a + e.b}; }
function kv(k) { return host.kv_lookup(k); }
function boom(e) { return inner(); }
function inner() { throw new Error('boom'); }
function spin(e) { for (;;) {} }
function flood(e) { for (;;) console.log('spam'); }
var loads = 0; loads++; function count(e) { return ++loads; }
JS

echo "1..14"

"$vmlet" js "$tmp/s.js" add '{"a": 1, "b": 41}' >"$tmp/out" 2>&1
check js_prints_result_and_console same $'loading\nadding 1 41\n{"sum":42}\n' "$tmp/out"

"$vmlet" js --kv colour=teal "$tmp/s.js" kv '"colour"' >"$tmp/out" 2>&1
check js_kv_is_host_kv_lookup same $'loading\n"teal"\n' "$tmp/out"

"$vmlet" js --repeat 5 --fresh 5 "$tmp/s.js" add '{"a": 1, "b": 2}' >"$tmp/out" 2>&1
distributions() {
	grep -q '^warm calls on one VM:$' "$tmp/out" &&
		grep -q '^fresh VM per event' "$tmp/out" &&
		[ "$(grep -c '^calls 5  min ' "$tmp/out")" = 2 ] &&
		[ "$(grep -c '^adding 1 2$' "$tmp/out")" = 11 ] || { sed 's/^/# /' "$tmp/out"; false; }
}
check js_repeat_and_fresh_print_distributions distributions

"$vmlet" js "$tmp/s.js" boom '{}' >"$tmp/out" 2>"$tmp/err"
rc=$?
sed "s|$tmp/||" "$tmp/err" >"$tmp/err2"
check js_exception_prints_stack_and_fails same $'vmlet: boom: uncaught exception:\nError: boom\n    at inner (s.js:5)\n    at boom (s.js:4)\n' \
	"$tmp/err2"
check js_exception_exit_status status 1 "$rc"

# The top level throwing fails the load the same way (-VMLET_EABORT, VMLET_JS_THROW).
printf 'var a = 1;\nthrow new TypeError("at load");\n' >"$tmp/t.js"
"$vmlet" js "$tmp/t.js" f >"$tmp/out" 2>"$tmp/err"
rc=$?
sed "s|$tmp/||g" "$tmp/err" >"$tmp/err2"
load_exception() {
	status 1 "$rc" &&
		same $'vmlet: t.js: uncaught exception:\nTypeError: at load\n    at global (t.js:2)\n' \
			"$tmp/err2"
}
check js_exception_at_load_prints_stack_and_fails load_exception

# --timeout bounds the load's calls too (the boot, compiling, the top
# level): 300 ms was once too short for them in the loaded vmtest VM.
"$vmlet" js --timeout 5000 "$tmp/s.js" spin '{}' >"$tmp/out" 2>"$tmp/err"
rc=$?
timed_out() {
	status 1 "$rc" && grep -q "^vmlet: spin: Guest ran past its deadline" "$tmp/err" ||
		{ sed 's/^/# /' "$tmp/err"; false; }
}
check js_timeout_ends_endless_loop timed_out

"$vmlet" js --print-limit 100 "$tmp/s.js" flood '{}' >"$tmp/out" 2>"$tmp/err"
rc=$?
flooded() {
	status 1 "$rc" && grep -q "print limit" "$tmp/err" && [ "$(wc -c <"$tmp/out")" = 108 ] ||
		{ sed 's/^/# /' "$tmp/err"; false; }
}
check js_print_limit_ends_flood flooded

"$vmlet" js --grant "$tmp/s.js" --fresh 2 "$tmp/s.js" add '{}' >"$tmp/out" 2>&1
rc=$?
check js_grant_with_fresh_is_a_usage_error status 2 "$rc"

VMLET_JS_IMAGE=$tmp/none.elf "$vmlet" js "$tmp/s.js" add '{}' >"$tmp/out" 2>&1
check js_missing_image_is_named same \
	"vmlet: cannot open the JavaScript guest image $tmp/none.elf: No such file or directory (VMLET_JS_IMAGE names another)"$'\n' "$tmp/out"

# Saved with a --kv: host.kv_lookup is made at load; the run's --kv serves it.
"$vmlet" js --kv colour=teal -o "$tmp/s.snap" "$tmp/s.js" >"$tmp/out" 2>&1
rc=$?
saved() {
	status 0 "$rc" && same $'loading\n' "$tmp/out" && [ "$(head -c 8 "$tmp/s.snap")" = VMLETSNP ]
}
check js_output_saves_a_snapshot_file saved

# The top level ran once, before the save: loads is 1 in every fresh event.
"$vmlet" js --fresh 2 "$tmp/s.snap" count >"$tmp/out" 2>&1
rc=$?
from_file() {
	status 0 "$rc" && [ "$(head -n 1 "$tmp/out")" = 2 ] &&
		grep -q '^fresh VM per event' "$tmp/out" && ! grep -q loading "$tmp/out" ||
		{ sed 's/^/# /' "$tmp/out"; false; }
}
check js_snapshot_file_runs_events_with_globals_set from_file

"$vmlet" js --kv colour=blue "$tmp/s.snap" kv '"colour"' >"$tmp/out" 2>&1
check js_snapshot_file_with_kv same $'"blue"\n' "$tmp/out"

"$vmlet" snapshot "$obj/selftests/kvm/hostcall_guest.elf" -o "$tmp/c.snap" >/dev/null 2>&1
"$vmlet" js "$tmp/c.snap" add '{}' >"$tmp/out" 2>&1
rc=$?
not_js() {
	status 1 "$rc" && same "vmlet: $tmp/c.snap: not a snapshot of the JavaScript guest"$'\n' "$tmp/out"
}
check js_snapshot_file_of_another_guest_is_refused not_js

[ "$failed" -eq 0 ]
