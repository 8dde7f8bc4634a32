#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# wasm2c-unchecked.sh: Debian's wasm2c, then the explicit bounds checks of
# loads and stores compiled out of its C (MEMCHECK empty, as wasm2c makes
# it for guard pages), for the wasm-guest bench only: what the checks cost
# in a guest is the checked image against this one, and guard pages
# through the guest's page tables could at best reach this one. Such an
# image is not safe: a module reads and writes outside its memory.
# Used as VMLET_WASM2C by vmlet-wasm-cc; takes wasm2c's arguments.
set -eu
out=
prev=
for a in "$@"; do
	[ "$prev" = -o ] && out=$a
	prev=$a
done
wasm2c "$@"
[ -n "$out" ] || { echo "wasm2c-unchecked: no -o" >&2; exit 2; }
grep -qx '#if WASM_RT_MEMCHECK_SIGNAL_HANDLER' "$out" || {
	echo "wasm2c-unchecked: $out: no MEMCHECK switch (another wasm2c?)" >&2
	exit 1
}
sed -i 's/^#if WASM_RT_MEMCHECK_SIGNAL_HANDLER$/#if 1 \/* wasm2c-unchecked.sh *\//' "$out"
