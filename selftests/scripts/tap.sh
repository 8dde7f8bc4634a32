# SPDX-License-Identifier: BSD-2-Clause
# tap.sh: sourced by the shell tests. check NAME CMD...: one TAP line, ok
# when CMD succeeds; on failure also runs the test's on_fail function, if
# it has one, for diagnostics. $failed counts the failures. same TEXT FILE:
# whether FILE holds exactly TEXT, else the difference as TAP comments.
n=0
failed=0

check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		failed=$((failed + 1))
		if declare -F on_fail >/dev/null; then
			on_fail
		fi
	fi
}

same() {
	local d

	d=$(printf '%s' "$1" | diff -u - "$2") && return 0
	printf '%s\n' "$d" | sed 's/^/# /'
	return 1
}
