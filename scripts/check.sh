#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# check.sh OBJTREE: the body of `make check`. Unit tests, the API checks
# (exported symbols, man pages) and script tests run here; tests that start
# VMs (with the examples `make examples` built against a staged install)
# run through scripts/vmtest.sh, which runs them directly
# where /dev/kvm works and in a throwaway QEMU VM where it does not
# (VM=1 forces the VM). Under CI=true any skip, anywhere, fails the run:
# in CI a test never passes by skipping (a KSFT_ONLY or CK_RUN_* filter
# counts as skips too, see run-tests.sh). A sanitized build
# (make check SAN=...) stops at its first report, with a stack trace,
# which also goes to a file: a report exits 1, the status tests expect
# of the tools' ordinary errors, so any report fails the run here.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
obj=$1
results=$(mktemp /tmp/vmlet-check.XXXXXX)
sanlog=$(mktemp -d /tmp/vmlet-san.XXXXXX) # /tmp: the vmtest VM shares it
trap 'rm -f "$results"; rm -rf "$sanlog"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$sanlog/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:log_path=$sanlog/ubsan"
status=0
export VMLET_OBJ=$obj # for the tests that need the build: passed into the VM too

"$src/scripts/run-tests.sh" api "$results" "$src/scripts/check-symbols.sh" \
	"$src/scripts/check-man.sh" || status=1
"$src/scripts/run-tests.sh" unit "$results" "$obj"/selftests/unit/*_test || status=1
"$src/scripts/run-tests.sh" scripts "$results" "$src"/selftests/scripts/*_test.sh || status=1

# One VM runs every KVM test; VMLET_CHECK_VM_SECS bounds it (default 30 min:
# the nested VM runs the JS, Wasm and service tests too, and a loaded
# 2-core host is slow).
force=(env VMTEST_TIMEOUT="${VMLET_CHECK_VM_SECS:-1800}")
[ "${VM:-}" = 1 ] && force+=(VMTEST_FORCE=1)
vmres=$(mktemp /tmp/vmlet-check-vm.XXXXXX)
"${force[@]}" "$src/scripts/vmtest.sh" "$src/scripts/run-tests.sh" kvm "$vmres" \
	"$obj"/selftests/kvm/*_test "$src"/selftests/kvm/*_test.sh || status=1
if [ -s "$vmres" ]; then
	cat "$vmres" >> "$results"
else
	echo "# the VM tests reported nothing" >&2
	echo "0 1 0" >> "$results"
	status=1
fi
rm -f "$vmres"

if compgen -G "$sanlog/*" >/dev/null; then
	echo "# sanitizer reports (failing the run):" >&2
	cat "$sanlog"/* >&2
	status=1
fi
awk '{p += $1; f += $2; s += $3} END {printf "%d passed, %d failed, %d skipped\n", p, f, s}' \
	"$results"
skipped=$(awk '{s += $3} END {print s + 0}' "$results")
if [ "${CI:-}" = true ] && [ "$skipped" -ne 0 ]; then
	echo "# CI: $skipped test(s) skipped (the lines with '# SKIP' above): failing" >&2
	status=1
fi
exit $status
