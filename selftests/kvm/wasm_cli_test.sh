#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# wasm_cli_test.sh: TAP test of the Wasm toolchain and CLI as built in
# $VMLET_OBJ (default: the source tree): vmlet-wasm-cc refuses a file that
# is not Wasm and a module with foreign imports, with clear errors; `vmlet
# run` calls an export of a compiled module; `vmlet wasm run` runs a WASI
# command with arguments, environment, stdin, a granted file and a
# granted directory, exits with
# its status (134 after a trap) and reuses its cached image. Starts VMs,
# so scripts/check.sh runs it through vmtest.sh.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
obj=${VMLET_OBJ:-$src}
vmlet=$obj/tools/vmlet
wasmcc=$obj/guest/local/bin/vmlet-wasm-cc
mods=$obj/selftests/kvm/wasm
tmp=$(mktemp -d /tmp/wasm_cli_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export VMLET_WASM_CC=$wasmcc VMLET_CACHE_DIR=$tmp/cache
# shellcheck source=../scripts/tap.sh
. "$src/selftests/scripts/tap.sh"

# status WANT CMD...: CMD exits with WANT.
status() {
	local want=$1 got
	shift
	"$@"
	got=$?
	[ "$got" -eq "$want" ] && return 0
	echo "# exit status $got, want $want"
	return 1
}

echo "1..12"

printf 'not wasm at all' >"$tmp/bad.wasm"
status 1 "$wasmcc" "$tmp/bad.wasm" -o "$tmp/bad.elf" 2>"$tmp/err"
check invalid_module_exit_status [ $? -eq 0 ]
head -n 2 "$tmp/err" >"$tmp/err2"
check invalid_module_clear_error same "vmlet-wasm-cc: $tmp/bad.wasm: not a valid WebAssembly module:
  0000004: error: bad magic value
" "$tmp/err2"

wat2wasm -o "$tmp/foreign.wasm" "$src/selftests/kvm/wasm/bad/foreign.wat"
"$wasmcc" "$tmp/foreign.wasm" -o "$tmp/foreign.elf" 2>"$tmp/err"
check foreign_import_refused same "vmlet-wasm-cc: foreign.wasm: import 'foo' 'bar': a module imports only from wasi_snapshot_preview1, vmlet and env
" "$tmp/err"

"$vmlet" run "$mods/traps.elf" add 2 3 >"$tmp/out" 2>&1
check run_calls_an_export same $'5\n' "$tmp/out"

printf '9 -4 7\n' >"$tmp/in"
status 5 "$vmlet" wasm run --env GREETING=hello --stdin "$tmp/in" "$mods/wasi.wasm" 5 a-b sort \
	>"$tmp/out" 2>&1
check wasm_run_exit_status [ $? -eq 0 ]
check wasm_run_args_env_stdin same "argc 4: [$mods/wasi.wasm] [5] [a-b] [sort]
hello
strlen 3 strrchr -b
sorted: -4 7 9
to stderr
" "$tmp/out"

# The second run reuses the first one's image: the same file, untouched.
ls -i --full-time "$tmp"/cache/*.elf >"$tmp/cache1" 2>&1
printf 'granted\n' >"$tmp/in.txt"
: >"$tmp/out.txt"
mkdir -p "$tmp/data"
ln -s "$tmp/in.txt" "$tmp/data/in.txt"
ln -s "$tmp/out.txt" "$tmp/data/out.txt"
(cd "$tmp" && "$vmlet" wasm run --grant data/in.txt --grant data/out.txt "$mods/wasi.wasm" 0 x \
	files >"$tmp/out" 2>&1)
check wasm_run_grants same $'GRANTED\n' "$tmp/out.txt"
sed 's/^/# /' "$tmp/out"
ls -i --full-time "$tmp"/cache/*.elf >"$tmp/cache2" 2>&1
check wasm_run_cached_image diff -u "$tmp/cache1" "$tmp/cache2"

# A module read from a pipe is compiled from the bytes read (the cache
# key's), which the cache keeps beside the image, and nothing else.
# (vmlet's own standard input: the VM's 9p /tmp has no FIFOs, its /dev no fd/.)
cat "$mods/wasi.wasm" | VMLET_CACHE_DIR=$tmp/pcache "$vmlet" wasm run --stdin "$tmp/in" \
	/proc/self/fd/0 7 a-b sort >"$tmp/out" 2>&1
rc=${PIPESTATUS[1]}
piped() {
	[ "$rc" -eq 7 ] && grep -qx 'sorted: -4 7 9' "$tmp/out" &&
		[ "$(find "$tmp/pcache" -mindepth 1 | wc -l)" -eq 2 ] &&
		cmp -s "$mods/wasi.wasm" "$(find "$tmp/pcache" -name '*.wasm')"
}
check wasm_run_compiles_a_piped_module piped

# A granted directory: the module makes files in it, truncates and appends.
mkdir -p "$tmp/cwd/out"
(cd "$tmp/cwd" && "$vmlet" wasm run --grant out "$mods/wasi.wasm" 0 x create >"$tmp/log" 2>&1)
check wasm_run_grants_a_directory same "ab" "$tmp/cwd/out/new.txt"
sed 's/^/# /' "$tmp/log"

wat2wasm -o "$tmp/trap.wasm" "$src/selftests/kvm/wasm/trap.wat"
status 134 "$vmlet" wasm run "$tmp/trap.wasm" >"$tmp/out" 2>&1
check wasm_run_trap_exit_status [ $? -eq 0 ]
check wasm_run_trap_message same "vmlet: $tmp/trap.wasm: wasm trap: unreachable
" "$tmp/out"

[ "$failed" -eq 0 ]
