#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# deps.sh [GROUP...]: make sure the Debian 12 packages vmlet needs are
# installed. Groups: build (compiling and testing the library), vm (what
# scripts/vmtest.sh needs to boot a throwaway VM), bench (what `make bench`
# runs besides vmlet: QEMU, Node, wabt, gnuplot for the report's plots, wrk
# for the service group),
# all (the default: build and vm).
# Installs only what is missing (apt-get, as root); when not root, prints the
# apt-get line to run and exits 1. Silent when everything is there.
set -eu

# clang's sanitizer and libFuzzer runtimes (libclang-rt-14-dev) are only a
# recommendation of clang, and recommendations are not installed.
# python3: bench's report.py, which selftests/scripts/bench_report_test.sh tests.
# wabt: wasm2c and wasm-rt.h for vmlet-wasm-cc, wat2wasm for the Wasm tests;
# wasi-libc, libclang-rt-14-dev-wasm32 and lld: clang --target=wasm32-wasi
# for the tests' C programs.
# duktape-dev: the engine's source, built into the JavaScript guest.
# gdb: core_test opens guest core files with it (and binutils' readelf);
# gdb_test drives the gdb stub with it.
build="gcc make pkg-config musl-tools groff-base liburing-dev libbpf-dev bpftool check
	systemtap-sdt-dev libelf-dev zlib1g-dev libseccomp-dev clang llvm libclang-rt-14-dev
	libmicrohttpd-dev libjansson-dev curl
	python3 wabt wasi-libc libclang-rt-14-dev-wasm32 lld duktape-dev gdb"
vm="qemu-system-x86 linux-image-amd64 busybox-static cpio kmod"
bench="qemu-system-x86 nodejs wabt gnuplot-nox python3 wrk"

usage() {
	echo "usage: deps.sh [build|vm|bench|all]..." >&2
	exit 2
}

want=
for g in "${@:-all}"; do
	case $g in
	build) want="$want $build" ;;
	vm) want="$want $vm" ;;
	bench) want="$want $bench" ;;
	all) want="$want $build $vm" ;;
	*) usage ;;
	esac
done

missing=()
# shellcheck disable=SC2086 # $want is a list of words
for p in $(printf '%s\n' $want | sort -u); do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
	echo "deps.sh: not a Debian system; install the equivalent of: ${missing[*]}" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages; as root, run:" >&2
	echo "$line" >&2
	exit 1
fi

log=$(mktemp /tmp/vmlet-deps.XXXXXX)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: failed: apt-get update && $line" >&2
	exit 1
fi
