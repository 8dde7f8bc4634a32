#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# examples_test.sh: TAP test of examples/ as `make examples` built them
# against a staged install in $VMLET_OBJ/examples (default: the source
# tree): the embedding program runs on the staged libvmlet.so and calls
# the guest that the staged vmlet-guest-cc built, and the staged vmlet CLI
# lists that guest. Starts VMs, so scripts/check.sh runs it through
# scripts/vmtest.sh.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
ex=${VMLET_OBJ:-$src}/examples
stage=$ex/stage
tmp=$(mktemp -d /tmp/examples_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../scripts/tap.sh
. "$src/selftests/scripts/tap.sh"

# same_file EXPECTED ACTUAL: files equal, else the difference as diagnostics.
same_file() {
	diff -u "$1" "$2" >"$tmp/diff" && return 0
	sed 's/^/# /' "$tmp/diff"
	return 1
}

echo "1..5"
libso=$(find "$stage" -name libvmlet.so.0 | head -n 1)
bindir=$(dirname "$(find "$stage" -name vmlet-guest-cc | head -n 1)")
libdir=$(dirname "$libso")

LD_LIBRARY_PATH=$libdir ldd "$ex/embed" >"$tmp/ldd" 2>&1
check embed_links_staged_libvmlet grep -qF "libvmlet.so.0 => $libso " "$tmp/ldd"

LD_LIBRARY_PATH=$libdir "$ex/embed" "$ex/hello.elf" >"$tmp/out" 2>"$tmp/err"
rc=$?
sed 's/^/# stderr: /' "$tmp/err"
cat >"$tmp/want-calls" <<'OUT'
add(2, 40) = 42
guest: greeting vmlet
greet("vmlet") = "hello, vmlet"
OUT
cat >"$tmp/want-fault" <<'OUT'
peek(0): Guest CPU exception, vector 14, address 0
add again: Sandbox is dead after an earlier failure
OUT
head -n 3 "$tmp/out" >"$tmp/calls"
tail -n +4 "$tmp/out" >"$tmp/fault"
check embed_calls_hello_guest same_file "$tmp/want-calls" "$tmp/calls"
fault_reported() {
	[ "$rc" -eq 0 ] || echo "# embed exited with $rc"
	same_file "$tmp/want-fault" "$tmp/fault" && [ "$rc" -eq 0 ]
}
check embed_reports_guest_page_fault fault_reported

"$bindir/vmlet" list "$ex/hello.elf" >"$tmp/list" 2>&1
printf '%s\n' 'add(i32, i32) -> i32' 'greet(string) -> string' 'peek(u64) -> u64' >"$tmp/want-list"
check vmlet_list_hello_guest same_file "$tmp/want-list" "$tmp/list"

# The JavaScript example, on the staged guest image (installed ones are
# found by their configured path, which a staged install is not at).
jsimg=$(find "$stage" -name vmlet-js.elf | head -n 1)
VMLET_JS_IMAGE=$jsimg LD_LIBRARY_PATH=$libdir "$ex/js" >"$tmp/js" 2>&1
echo '{"sum":3}' >"$tmp/want-js"
check js_example_runs_a_handler same_file "$tmp/want-js" "$tmp/js"

[ "$failed" -eq 0 ]
