#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-service.sh OBJTREE OUTDIR: the `service` group of `make bench`.
# vmlet-serve measured as hyperlight-bench measures its server: Debian's
# wrk on loopback only, POST /call/add [1,2] of the demo guest, for each
# lifecycle (native, reuse, restore, renew) at 1 and at 50 connections,
# BENCH_SERVICE_SECS (default 5) seconds per point: requests/s, p50, p99,
# and each figure's ratio to native measured in the same run. Beside them
# the other guests, on reuse and restore: JavaScript (js-*: POST
# /call/handle with bench's js group's request to its handler.js) and
# Wasm (wasm-*: POST /call/add [1,2] to add.wasm, compiled through the
# cache `vmlet wasm run` uses); their ratio is to the C add's native
# baseline, the same HTTP round trip with no VM and no engine. Besides:
# the library's own fresh-VM call of add (`vmlet run --fresh`: acquire,
# call, restore, release, on one confined thread), measured here too, and
# what the server adds to it at one connection on the restore lifecycle.
# Writes OUTDIR/service.{json,md} and OUTDIR/service-guests.{json,md}, prints the tables.
# Not a test: nothing fails on time; exits 1 when a point could not be
# measured. Where /dev/kvm is missing it runs itself in the vmtest VM.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || {
	echo "usage: bench-service.sh OBJTREE OUTDIR" >&2
	exit 2
}
obj=$(cd "$1" && pwd) out=$2
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
# Two runs, each with its own native baseline: the C demo's lifecycles
# (service.md) where /dev/kvm exists, as before, since the demo's add
# needs no SSE; the JS and Wasm guests (service-guests.md) where a
# /dev/kvm runs guests with SSE, which the JS engine needs: here if this
# machine's does, else in the vmtest VM (vmtest.sh decides). Figures of
# the two runs are not comparable with each other when they ran apart.
if [ -z "${VMLET_BENCH_WHERE:-}" ]; then
	status=0
	if [ -c /dev/kvm ]; then
		env VMLET_BENCH_WHERE=here VMLET_BENCH_POINTS="native reuse restore renew" \
			VMLET_BENCH_NAME=service "$0" "$obj" "$out" || status=1
	else
		env VMLET_BENCH_WHERE=vmtest.sh VMLET_BENCH_POINTS="native reuse restore renew" \
			VMLET_BENCH_NAME=service "$src/scripts/vmtest.sh" -t 1800 "$0" "$obj" "$out" ||
			status=1
	fi
	env VMLET_BENCH_WHERE=vmtest.sh \
		VMLET_BENCH_POINTS="native js-reuse js-restore wasm-reuse wasm-restore" \
		VMLET_BENCH_NAME=service-guests "$src/scripts/vmtest.sh" -t 1800 "$0" "$obj" "$out" ||
		status=1
	exit $status
fi
grep -q 'vmtest\.nonce=' /proc/cmdline && VMLET_BENCH_WHERE=vmtest || VMLET_BENCH_WHERE=here
lcs=${VMLET_BENCH_POINTS:-native reuse restore renew}
name=${VMLET_BENCH_NAME:-service}
serve=$obj/tools/vmlet-serve
vmlet=$obj/tools/vmlet
demo=$obj/guest/examples/demo.elf
native=$obj/guest/examples/demo.native.so
js_handler=$src/selftests/bench/js/handler.js
wasm_add=$obj/selftests/bench/wasm/add.wasm
export VMLET_JS_IMAGE=$obj/runtimes/js/vmlet-js.elf
export VMLET_WASM_CC=$obj/guest/local/bin/vmlet-wasm-cc
secs=${BENCH_SERVICE_SECS:-${VMLET_BENCH_SECS:-5}}
export VMLET_BENCH_SECS=$secs # into the vmtest VM, which passes only VMLET_*
workers=$(nproc)
tmp=$(mktemp -d /tmp/bench-service.XXXXXX)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
export VMLET_CACHE_DIR=$tmp/cache
status=0
for p in wrk curl "$serve" "$vmlet" "$VMLET_JS_IMAGE" "$VMLET_WASM_CC" "$wasm_add"; do
	[ -e "$p" ] || command -v "$p" >/dev/null || {
		echo "bench-service: $p not found (make all $wasm_add; scripts/deps.sh bench)" >&2
		exit 1
	}
done

cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "[1,2]"
wrk.headers["Content-Type"] = "application/json"
EOF
# The JS group's request (selftests/bench/js.c), to handler.js's handle().
cat >"$tmp/js.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"id":42,"items":[{"name":"apple","price":0.5,"qty":6},{"name":"bread","price":2.25,"qty":1},{"name":"cheese","price":7.9,"qty":2},{"name":"dates","price":4.4,"qty":3},{"name":"eggs","price":3.1,"qty":2}]}'
wrk.headers["Content-Type"] = "application/json"
EOF

# us VALUE-WITH-UNIT: wrk's "230.00us", "1.78ms", "2.01s" in microseconds.
us() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1e6
		sub(/[a-z]+$/, "", v); printf "%.1f", v * m }'
}

# start POINT: vmlet-serve on a free port for a point's name (LIFECYCLE
# for the C demo, js-LIFECYCLE, wasm-LIFECYCLE); sets pid, port, path
# and the wrk script, lua.
start() {
	local i lc=${1#*-} args
	rm -f "$tmp/port"
	case $1 in
	js-*) args=(--handler handle "$js_handler") path=/call/handle lua=$tmp/js.lua ;;
	wasm-*) args=("$wasm_add") path=/call/add lua=$tmp/post.lua ;;
	*) args=(--native "$native" "$demo") path=/call/add lua=$tmp/post.lua ;;
	esac
	"$serve" --port 0 --port-file "$tmp/port" --workers "$workers" --lifecycle "$lc" \
		"${args[@]}" >"$tmp/serve.log" 2>&1 &
	pid=$!
	for i in $(seq 600); do
		[ -s "$tmp/port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	port=$(cat "$tmp/port" 2>/dev/null)
	[ -n "$port" ]
}

stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	pid=
}

# point LIFECYCLE CONNS: one wrk run; sets rps, p50, p99 (us), errs.
point() {
	local threads=1
	[ "$2" -gt 1 ] && threads=$workers
	wrk -t "$threads" -c "$2" -d "${secs}s" --latency -s "$lua" \
		"http://127.0.0.1:$port$path" >"$tmp/wrk" 2>&1
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
	p50=$(us "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")")
	p99=$(us "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")")
	errs=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { n += 1 } END { print n + 0 }' "$tmp/wrk")
	[ -n "$rps" ]
}

echo "bench-service: vmlet-serve ($VMLET_BENCH_WHERE), $workers workers, wrk ${secs} s per point" >&2
conns="1 50"
declare -A RPS P50 P99 ERRS
for lc in $lcs; do
	if ! start "$lc"; then
		echo "bench-service: vmlet-serve for $lc did not start:" >&2
		cat "$tmp/serve.log" >&2
		status=1
		stop
		continue
	fi
	for c in $conns; do
		echo "bench-service: $lc at $c connection(s)" >&2
		if point "$lc" "$c"; then
			RPS[$lc,$c]=$rps P50[$lc,$c]=$p50 P99[$lc,$c]=$p99 ERRS[$lc,$c]=$errs
			# Where restore's time goes at one connection: the hand-overs.
			[ "$lc,$c" != restore,1 ] ||
				curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics.restore1"
		else
			echo "bench-service: wrk failed:" >&2
			cat "$tmp/wrk" >&2
			status=1
		fi
	done
	stop
done

# The library's own fresh-VM call, in the same run (of the C demo), and
# its warm call (no restore), which with native's HTTP round trip is the
# floor of what the server's restore lifecycle can answer in.
fresh_p50= fresh_p99= warm_p50=
if [[ " $lcs " == *" restore "* ]]; then
	"$vmlet" run --repeat 2000 "$demo" add 1 2 >"$tmp/warm" 2>&1
	warm_p50=$(awk '/^calls/ { for (i = 1; i < NF; i++) if ($i == "p50") print $(i + 1) }' "$tmp/warm")
	"$vmlet" run --fresh 2000 "$demo" add 1 2 >"$tmp/fresh" 2>&1
	fresh_p50=$(awk '/^calls/ { for (i = 1; i < NF; i++) if ($i == "p50") print $(i + 1) }' "$tmp/fresh")
	fresh_p99=$(awk '/^calls/ { for (i = 1; i < NF; i++) if ($i == "p99") print $(i + 1) }' "$tmp/fresh")
	[ -n "$fresh_p50" ] || {
		echo "bench-service: vmlet run --fresh failed:" >&2
		cat "$tmp/fresh" >&2
		status=1
	}
fi

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "null"; else printf "%.4f", a / b }'
}

{
	echo "vmlet-serve ($VMLET_BENCH_WHERE, $workers workers, wrk $secs s per point): $lcs"
	echo
	echo "| lifecycle | conns | req/s | p50 us | p99 us | req/s / native | p50 / native | non-2xx |"
	echo "|---|---|---|---|---|---|---|---|"
	for lc in $lcs; do
		for c in $conns; do
			[ -n "${RPS[$lc,$c]:-}" ] || continue
			printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$lc" "$c" "${RPS[$lc,$c]}" \
				"${P50[$lc,$c]}" "${P99[$lc,$c]}" \
				"$(ratio "${RPS[$lc,$c]}" "${RPS[native,$c]:-}")" \
				"$(ratio "${P50[$lc,$c]}" "${P50[native,$c]:-}")" "${ERRS[$lc,$c]}"
		done
	done
	echo
	[ -z "$fresh_p50" ] ||
		echo "library fresh-VM call of add (vmlet run --fresh 2000): p50 $fresh_p50 us, p99 $fresh_p99 us"
	if [ -n "${P50[restore,1]:-}" ] && [ -n "$fresh_p50" ]; then
		awk -v s="${P50[restore,1]}" -v f="$fresh_p50" 'BEGIN {
			printf "restore, 1 connection, p50 %s us: %.2fx the library call (%+.0f%%; target <= +20%%)\n",
				s, s / f, (s / f - 1) * 100 }'
	fi
	if [ -s "$tmp/metrics.restore1" ]; then
		# p50 (the bucket's bound) and mean of each hand-over, in us.
		for way in to_worker from_worker; do
			awk -v w="way=\"$way\"" '
				index($1, "vmlet_serve_handoff_seconds_bucket{" w) == 1 {
					le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
					b[++n] = le; c[n] = $2 }
				index($1, "vmlet_serve_handoff_seconds_sum{" w) == 1 { sum = $2 }
				index($1, "vmlet_serve_handoff_seconds_count{" w) == 1 { cnt = $2 }
				END {
					if (!cnt) exit
					for (i = 1; i <= n && c[i] < cnt / 2; i++);
					printf "restore, 1 connection, hand-over %s: p50 <= %s us, mean %.1f us\n",
						w, b[i] == "+Inf" ? "inf" : b[i] * 1e6, sum / cnt * 1e6 }' \
				"$tmp/metrics.restore1" | sed 's/way="\([a-z_]*\)"/\1/'
		done
	fi
	if [ -n "${P50[native,1]:-}" ] && [ -n "$warm_p50" ] && [ -n "$fresh_p50" ]; then
		awk -v n="${P50[native,1]}" -v w="$warm_p50" -v f="$fresh_p50" 'BEGIN {
			printf "floor: native HTTP p50 %s us + warm call p50 %s us = %.0f us, %+.0f%% on the library fresh-VM call\n",
				n, w, n + w, ((n + w) / f - 1) * 100 }'
	fi
	if [ -n "${RPS[renew,50]:-}" ] && [ -n "${RPS[native,50]:-}" ]; then
		awk -v r="${RPS[renew,50]}" -v n="${RPS[native,50]}" 'BEGIN {
			printf "renew / native at 50 connections: %.4f (Hyperlight: 0.002; %.1fx that)\n",
				r / n, r / n / 0.002 }'
	fi
} >"$out/$name.md"

{
	printf '{"group": "%s", "where": "%s", "workers": %s, "secs": %s, "points": [' \
		"$name" "$VMLET_BENCH_WHERE" "$workers" "$secs"
	sep=
	for lc in $lcs; do
		for c in $conns; do
			[ -n "${RPS[$lc,$c]:-}" ] || continue
			printf '%s\n {"lifecycle": "%s", "conns": %s, "rps": %s, "p50_us": %s, "p99_us": %s, "non2xx": %s, "rps_ratio_native": %s, "p50_ratio_native": %s}' \
				"$sep" "$lc" "$c" "${RPS[$lc,$c]}" "${P50[$lc,$c]}" "${P99[$lc,$c]}" \
				"${ERRS[$lc,$c]}" "$(ratio "${RPS[$lc,$c]}" "${RPS[native,$c]:-}")" \
				"$(ratio "${P50[$lc,$c]}" "${P50[native,$c]:-}")"
			sep=,
		done
	done
	printf '],\n "fresh_call_p50_us": %s, "fresh_call_p99_us": %s, "warm_call_p50_us": %s}\n' \
		"${fresh_p50:-null}" "${fresh_p99:-null}" "${warm_p50:-null}"
} >"$out/$name.json"

cat "$out/$name.md"
echo "bench-service: $out/$name.json, $out/$name.md"
exit $status
