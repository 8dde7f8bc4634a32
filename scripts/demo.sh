#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh OBJTREE: the body of `make run`. Calls the demo guest's functions
# through the vmlet CLI, each in a fresh micro-VM, and shows the result and
# how long creating the VM and making the call took.
set -euo pipefail
obj=$1
vmlet=$obj/tools/vmlet
demo=$obj/guest/examples/demo.elf

run() {
	printf '$ vmlet run %s\n' "$*"
	"$vmlet" run --time "$demo" "$@" 2>&1 | sed 's/^/  /'
}

echo "== vmlet info"
"$vmlet" info | sed 's/^/  /'
echo
echo "== functions the demo guest registers (vmlet list)"
"$vmlet" list "$demo" | sed 's/^/  /'
echo
echo "== calls, each in its own micro-VM"
run add i32:2 i32:40
run echo str:"hello from the host"
run reverse str:stressed
printf 'vmlet' > /tmp/vmlet-demo-bytes.$$
run sum bytes:@/tmp/vmlet-demo-bytes.$$
rm -f /tmp/vmlet-demo-bytes.$$
run hypot f64:3 f64:4
run hello str:world
run is_prime u32:2147483647
run fib i64:90
run scale f32:1.5 f32:-2
run upper bytes:"micro-VM"
echo
echo "== host calls: the guest asks the host (kv_lookup through the io_uring service)"
printf '$ vmlet run --kv colour=teal demo kv_get str:colour\n'
"$vmlet" run --kv colour=teal "$demo" kv_get str:colour 2>&1 | sed 's/^/  /'
printf 'vmlet reads this file through io_uring, straight into guest memory\n' \
	> /tmp/vmlet-demo-cat.$$
printf '$ vmlet run --grant FILE demo cat str:FILE\n'
"$vmlet" run --grant /tmp/vmlet-demo-cat.$$ "$demo" cat str:/tmp/vmlet-demo-cat.$$ 2>&1 |
	sed 's/^/  /'
printf '$ vmlet run demo cat str:/etc/passwd   (not granted)\n'
"$vmlet" run "$demo" cat str:/etc/passwd 2>&1 | sed 's/^/  /' || true
rm -f /tmp/vmlet-demo-cat.$$
echo
echo "== a guest fault is an error on the host, not a crash"
printf '$ vmlet run peek u64:0\n'
"$vmlet" run "$demo" peek u64:0 2>&1 | sed 's/^/  /' || true
echo
echo "== 1000 warm calls of add on one sandbox"
"$vmlet" run --repeat 1000 "$demo" add 1 2 | sed 's/^/  /'
echo
echo "== 1000 calls of add, each on a fresh VM from a pool (restored after each call)"
"$vmlet" run --fresh 1000 "$demo" add 1 2 | sed 's/^/  /'
echo
echo "== guest instructions for one warm call of add (single-step count)"
"$vmlet" run --count-insns "$demo" add 1 2 | sed 's/^/  /'
