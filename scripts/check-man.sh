#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# check-man.sh: every public function of lib/include/vmlet.h (VMLET_API
# and static inline) has man/man3/<function>.3, either a page whose NAME
# line lists it or a `.so` link to such a page; every man3 page is named
# after a public function or struct (no stale pages); every tool installed
# into bin has a man1 page; and groff formats every page without a warning.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
man=$src/man
header=$src/lib/include/vmlet.h
status=0

fail() {
	echo "check-man: $*"
	status=1
}

# name_line PAGE: the line after .SH NAME.
name_line() {
	awk 'f { print; exit } /^\.SH NAME/ { f = 1 }' "$1"
}

funcs=$(awk '/^(VMLET_API|static inline)/ {
	if (match($0, /[A-Za-z_][A-Za-z0-9_]*\(/)) print substr($0, RSTART, RLENGTH - 1) }' "$header")
[ -n "$funcs" ] || fail "found no public functions in $header"
n=0
for fn in $funcs; do
	n=$((n + 1))
	page=$man/man3/$fn.3
	if [ ! -f "$page" ]; then
		fail "$fn has no man page (man/man3/$fn.3)"
		continue
	fi
	target=$(sed -n '1s/^\.so //p' "$page")
	if [ -n "$target" ]; then
		[ -f "$man/$target" ] || {
			fail "man3/$fn.3 links to $target, which does not exist"
			continue
		}
		[ "$(wc -l <"$page")" -eq 1 ] || fail "man3/$fn.3: a .so page has one line"
		page=$man/$target
	fi
	name_line "$page" | grep -qw -- "$fn" ||
		fail "$fn is not in the NAME line of ${page#"$man"/}"
done

for page in "$man"/man3/*.3; do
	base=$(basename "$page" .3)
	grep -qw -- "$base" <<<"$funcs" ||
		grep -q "^struct $base {" "$header" "$src/lib/include/vmlet/abi.h" ||
		fail "man3/$base.3 names no public function or struct of vmlet.h or vmlet/abi.h"
done

# Every program make install puts in bin (the Makefile's TOOLS and the two wrappers).
tools=$(sed -n 's/^TOOLS := //p' "$src/Makefile" | tr ' ' '\n' | sed 's|.*/||')
[ -n "$tools" ] || fail "no TOOLS := line in the Makefile"
for base in $tools vmlet-guest-cc vmlet-wasm-cc; do
	[ -f "$man/man1/$base.1" ] || fail "the tool $base has no man page (man/man1/$base.1)"
done
[ -f "$man/man7/vmlet.7" ] || fail "no vmlet(7) overview"

if command -v groff >/dev/null; then
	for page in "$man"/man[1357]/*.[1357]; do
		warn=$(cd "$man" && groff -t -man -ww -z -Tutf8 "$page" 2>&1 >/dev/null)
		[ -z "$warn" ] || fail "${page#"$man"/}: groff: $warn"
	done
else
	fail "groff is not installed (scripts/deps.sh build installs groff-base)"
fi

[ $status -ne 0 ] || echo "check-man: $n public functions documented," \
	"$(find "$man" -name '*.[1357]' | wc -l) pages format cleanly"
exit $status
