#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# run_tests_test.sh: TAP test of scripts/run-tests.sh on small fake test
# programs written here: what each kind of output counts as. A program
# that ran nothing (a TAP plan of 1..0, a libcheck "Checks: 0") fails; a
# libcheck suite that passed under a CK_* filter counts as skipped; a
# TAP skip is a skip; a plan that ran short fails.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
runner=$src/scripts/run-tests.sh
tmp=$(mktemp -d /tmp/run_tests_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset CK_RUN_SUITE CK_RUN_CASE CK_INCLUDE_TAGS CK_EXCLUDE_TAGS
# shellcheck source=tap.sh
. "$src/selftests/scripts/tap.sh"

# fake NAME EXIT LINE...: a program that prints the lines and exits.
fake() {
	local name=$1 rc=$2
	shift 2
	printf '#!/bin/sh\n' >"$tmp/$name"
	for l in "$@"; do
		printf "printf '%%s\\\\n' '%s'\n" "$l" >>"$tmp/$name"
	done
	printf 'exit %s\n' "$rc" >>"$tmp/$name"
	chmod +x "$tmp/$name"
}

# counts WANT PROGRAM [ENV...]: run-tests.sh on it appends "pass fail skip" = WANT.
counts() {
	local want=$1 prog=$2 res=$tmp/res
	shift 2
	rm -f "$res"
	env "$@" "$runner" t "$res" "$tmp/$prog" >/dev/null 2>&1
	[ "$(cat "$res")" = "$want" ]
}

fake tap_ok 0 "1..2" "ok 1 a" "ok 2 b"
fake tap_skip 0 "1..2" "ok 1 a" "ok 2 b # SKIP no such thing"
fake tap_none 0 "1..0"
fake tap_short 0 "1..3" "ok 1 a"
fake ck_ok 0 "Running suite(s): x" "100%: Checks: 3, Failures: 0, Errors: 0"
fake ck_none 0 "Running suite(s):100%: Checks: 0, Failures: 0, Errors: 0"
fake plain_fail 1 "broken"

echo "1..8"
check tap_passes_count_each counts "2 0 0" tap_ok
check tap_skip_is_a_skip counts "1 0 1" tap_skip
check tap_plan_of_nothing_fails counts "0 1 0" tap_none
check tap_plan_run_short_fails counts "1 1 0" tap_short
check libcheck_suite_is_one_pass counts "1 0 0" ck_ok
check libcheck_suite_that_ran_no_check_fails counts "0 1 0" ck_none
check libcheck_suite_under_a_filter_is_a_skip counts "0 0 1" ck_ok CK_RUN_CASE=x
check failing_program_fails counts "0 1 0" plain_fail

[ "$failed" -eq 0 ]
