#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench.sh BENCH OUTDIR: the body of `make bench`. Runs BENCH (the program
# from selftests/bench) here where /dev/kvm exists and in the vmtest VM
# where it does not (selftests/bench/main.c says why), writing
# OUTDIR/results.json; then selftests/bench/report.py draws OUTDIR/*.png,
# writes OUTDIR/results.md and prints the table. Exits 1 when a figure
# could not be measured or the report failed, after writing what it could.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || {
	echo "usage: bench.sh BENCH OUTDIR" >&2
	exit 2
}
bench=$1 out=$2
mkdir -p "$out" || exit 1
rm -f "$out"/results.json "$out"/*.png "$out"/hostcall-*.json
VMLET_BENCH_REV=$(git -C "$src" describe --always --dirty 2>/dev/null) || VMLET_BENCH_REV=
export VMLET_BENCH_REV
start=$SECONDS
if [ -c /dev/kvm ]; then
	"$bench" -o "$out/results.json"
else
	VMLET_BENCH_WHERE=vmtest "$src/scripts/vmtest.sh" -t 1200 "$bench" -o "$out/results.json"
fi
status=$?
if [ ! -s "$out/results.json" ]; then
	echo "bench.sh: $bench wrote no $out/results.json" >&2
	exit 1
fi
/usr/bin/python3 "$src/selftests/bench/report.py" "$out/results.json" || status=1
echo "bench.sh: $((SECONDS - start)) s; $out/results.json, results.md and plots in $out/"
exit $status
