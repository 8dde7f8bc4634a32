#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# run-tests.sh NAME RESULTS TEST...: run test programs one by one, each
# under a time limit, print their output, and count results. TAP programs
# count per test line (ok / not ok / # SKIP); other programs (libcheck
# suites, the API checks) count as one test each by exit status. A program
# that ran nothing fails: a TAP plan of 1..0, a libcheck summary of
# "Checks: 0" (a CK_RUN_SUITE, CK_RUN_CASE or CK_INCLUDE_TAGS that matched
# nothing in it). A libcheck suite that passed under such a filter counts as
# skipped: it did not run everything. Appends "pass fail skip" to RESULTS
# and exits non-zero when anything failed.
set -u
name=$1 results=$2
shift 2
pass=0 fail=0 skip=0
limit=${VMLET_TEST_TIMEOUT:-600}
for t in "$@"; do
	echo "# $name: $(basename "$t")"
	out=$(mktemp)
	timeout "$limit" "$t" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if grep -q '^1\.\.[0-9]' "$out"; then
		p=$(grep -cE '^ok [0-9]+' "$out")
		s=$(grep -cE '^ok [0-9]+.*# SKIP' "$out")
		f=$(grep -cE '^not ok [0-9]+' "$out")
		planned=$(grep -m1 -oE '^1\.\.[0-9]+' "$out" | cut -d. -f3)
		p=$((p - s))
		if [ "$planned" -eq 0 ]; then
			echo "not ok - $(basename "$t") planned no tests (1..0)"
			f=$((f + 1))
		elif [ $((p + s + f)) -ne "$planned" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
			echo "not ok - $(basename "$t") ended early (status $rc, $((p + s + f)) of $planned)"
			f=$((f + 1))
		fi
	elif grep -qE '[0-9]+%: Checks: 0,' "$out"; then
		p=0 s=0 f=1
		echo "not ok - $(basename "$t") ran no checks (status $rc)"
	elif [ "$rc" -eq 0 ] && grep -qE '[0-9]+%: Checks: [0-9]' "$out" &&
		[ -n "${CK_RUN_SUITE:-}${CK_RUN_CASE:-}${CK_INCLUDE_TAGS:-}${CK_EXCLUDE_TAGS:-}" ]; then
		p=0 s=1 f=0
		echo "ok - $(basename "$t") # SKIP ran under a CK_RUN_SUITE/CK_RUN_CASE/CK_*_TAGS filter"
	elif [ "$rc" -eq 0 ]; then
		p=1 s=0 f=0
	else
		p=0 s=0 f=1
		echo "not ok - $(basename "$t") (status $rc)"
	fi
	pass=$((pass + p)) skip=$((skip + s)) fail=$((fail + f))
	rm -f "$out"
done
echo "$pass $fail $skip" >> "$results"
echo "# $name: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
