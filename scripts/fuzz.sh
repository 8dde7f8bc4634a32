#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# fuzz.sh SECS HARNESS...: the body of `make fuzz`. Runs each libFuzzer
# harness (selftests/fuzz/NAME_fuzz.c, built as .../NAME_fuzz) for SECS
# seconds, starting from its seed corpus selftests/fuzz/corpus/NAME. The
# harness works on a copy of the corpus (new inputs land in the copy, which
# is thrown away), so the tree is never modified. libFuzzer's output goes to
# a log that is printed when the harness fails (all of it with V=1). A crash,
# a sanitizer report, a leak, a slow input (> 10 s) or an out-of-memory is a
# failure: the input is kept as an artifact beside the harness binary
# (NAME-crash-..., reproduce with `HARNESS ARTIFACT`), and the script exits 1
# after running the others.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
secs=$1
shift
case $secs in
'' | *[!0-9]* | 0) echo "fuzz.sh: bad FUZZ_SECS '$secs'" >&2 && exit 2 ;;
esac
command -v llvm-symbolizer >/dev/null && export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

work=$(mktemp -d /tmp/vmlet-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for h in "$@"; do
	name=$(basename "$h" _fuzz)
	seeds=$src/selftests/fuzz/corpus/$name
	corpus=$work/$name log=$work/$name.log
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "not ok - $name: no seed corpus in $seeds"
		status=1
		continue
	fi
	mkdir "$corpus" && cp "$seeds"/* "$corpus"/ || exit 1
	nseeds=$(find "$corpus" -type f | wc -l)
	start=$(date +%s)
	touch "$work/$name.start"
	"$h" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$(dirname "$h")/$name-" "$corpus" >"$log" 2>&1
	rc=$?
	[ "${V:-}" = 1 ] && cat "$log"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -ne 0 ] || [ -z "$runs" ] || [ "$runs" -le "$nseeds" ]; then
		[ "${V:-}" = 1 ] || tail -n 60 "$log"
		echo "not ok - $name: libFuzzer status $rc after $(($(date +%s) - start)) s" \
			"(${runs:-no} runs)"
		find "$(dirname "$h")" -maxdepth 1 -name "$name-*" -newer "$work/$name.start" -printf '# input kept: %p\n'
		status=1
		continue
	fi
	echo "ok - $name: $runs runs in $(($(date +%s) - start)) s," \
		"corpus $nseeds -> $(find "$corpus" -type f | wc -l) inputs"
done
exit $status
