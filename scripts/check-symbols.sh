#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# check-symbols.sh [LIBSO]: the ABI check. The dynamic symbols libvmlet.so
# exports must be exactly the functions lib/include/vmlet.h declares with
# VMLET_API (no internal symbol leaks, no public one is missing), each
# under the version node of lib/libvmlet.map, and the map must list exactly
# those functions. Also checks the SONAME against VERSION_MAJOR in the
# Makefile. LIBSO defaults to $VMLET_OBJ (else the source tree)/lib/libvmlet.so.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
so=${1:-${VMLET_OBJ:-$src}/lib/libvmlet.so}
header=$src/lib/include/vmlet.h
map=$src/lib/libvmlet.map
tmp=$(mktemp -d /tmp/vmlet-symbols.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
status=0

[ -e "$so" ] || {
	echo "check-symbols: no $so (build it first)" >&2
	exit 1
}

# Declarations start on a VMLET_API line; the first identifier followed by
# '(' on it is the function's name.
awk '/^VMLET_API/ { if (match($0, /[A-Za-z_][A-Za-z0-9_]*\(/)) print substr($0, RSTART, RLENGTH - 1) }' \
	"$header" | sort >"$tmp/header"
# Defined, exported symbols with their version: "name@@NODE".
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | sort >"$tmp/versioned"
sed 's/@.*//' "$tmp/versioned" >"$tmp/exported"
node=$(awk 'NR == 1 { print $1 }' "$map")
awk '/global:/ { on = 1; next } /local:/ { on = 0 } on { gsub(/[ \t;]/, ""); if ($0 != "") print }' \
	"$map" | sort >"$tmp/map"

compare() {
	local what=$1 a=$2 b=$3
	if ! diff -u "$a" "$b" >"$tmp/diff"; then
		echo "check-symbols: $what differ (- $(basename "$a"), + $(basename "$b")):"
		sed -n '3,$p' "$tmp/diff" | grep '^[-+]'
		status=1
	fi
}

if [ ! -s "$tmp/header" ]; then
	echo "check-symbols: found no VMLET_API functions in $header"
	status=1
fi
compare "the header's functions and the exported symbols" "$tmp/header" "$tmp/exported"
compare "the header's functions and the version script" "$tmp/header" "$tmp/map"
if grep -v "@@$node\$" "$tmp/versioned" >"$tmp/unversioned"; then
	echo "check-symbols: exported outside version node $node:"
	cat "$tmp/unversioned"
	status=1
fi

major=$(sed -n 's/^VERSION_MAJOR := *//p' "$src/Makefile")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libvmlet.so.$major" ]; then
	echo "check-symbols: SONAME is '$soname', expected libvmlet.so.$major"
	status=1
fi

[ $status -ne 0 ] || echo "check-symbols: $(wc -l <"$tmp/exported") functions exported as" \
	"declared, version $node, SONAME $soname"
exit $status
