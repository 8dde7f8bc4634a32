#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-service.sh OBJTREE OUTDIR: the `service` group of `make bench`.
# vmlet-serve measured as hyperlight-bench measures its server: Debian's
# wrk on loopback only, POST /call/add [1,2] of the demo guest, for each
# lifecycle (native, reuse, restore, renew) at 1 and at 50 connections,
# BENCH_SERVICE_SECS (default 5) seconds per point: requests/s, p50, p99,
# and each figure's ratio to native measured in the same run. Besides:
# the library's own fresh-VM call of add (`vmlet run --fresh`: acquire,
# call, restore, release, on one confined thread), measured here too, and
# what the server adds to it at one connection on the restore lifecycle.
# Writes OUTDIR/service.json and OUTDIR/service.md, prints the table.
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
if [ ! -c /dev/kvm ] && [ -z "${VMLET_BENCH_WHERE:-}" ]; then
	exec env VMLET_BENCH_WHERE=vmtest "$src/scripts/vmtest.sh" -t 1200 "$0" "$obj" "$out"
fi
serve=$obj/tools/vmlet-serve
vmlet=$obj/tools/vmlet
demo=$obj/guest/examples/demo.elf
native=$obj/guest/examples/demo.native.so
secs=${BENCH_SERVICE_SECS:-5}
workers=$(nproc)
tmp=$(mktemp -d /tmp/bench-service.XXXXXX)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
status=0
for p in wrk "$serve" "$vmlet"; do
	command -v "$p" >/dev/null || {
		echo "bench-service: $p not found (make all; scripts/deps.sh bench)" >&2
		exit 1
	}
done

cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "[1,2]"
wrk.headers["Content-Type"] = "application/json"
EOF

# us VALUE-WITH-UNIT: wrk's "230.00us", "1.78ms", "2.01s" in microseconds.
us() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1e6
		sub(/[a-z]+$/, "", v); printf "%.1f", v * m }'
}

# start LIFECYCLE: vmlet-serve on a free port; sets pid and port.
start() {
	local i
	rm -f "$tmp/port"
	"$serve" --port 0 --port-file "$tmp/port" --workers "$workers" --lifecycle "$1" \
		--native "$native" "$demo" >"$tmp/serve.log" 2>&1 &
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
	wrk -t "$threads" -c "$2" -d "${secs}s" --latency -s "$tmp/post.lua" \
		"http://127.0.0.1:$port/call/add" >"$tmp/wrk" 2>&1
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
	p50=$(us "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")")
	p99=$(us "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")")
	errs=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { n += 1 } END { print n + 0 }' "$tmp/wrk")
	[ -n "$rps" ]
}

echo "bench-service: vmlet-serve, $workers workers, wrk ${secs} s per point, POST /call/add [1,2]" >&2
lcs="native reuse restore renew"
conns="1 50"
declare -A RPS P50 P99 ERRS
for lc in $lcs; do
	if ! start "$lc"; then
		echo "bench-service: vmlet-serve --lifecycle $lc did not start:" >&2
		cat "$tmp/serve.log" >&2
		status=1
		stop
		continue
	fi
	for c in $conns; do
		echo "bench-service: $lc at $c connection(s)" >&2
		if point "$lc" "$c"; then
			RPS[$lc,$c]=$rps P50[$lc,$c]=$p50 P99[$lc,$c]=$p99 ERRS[$lc,$c]=$errs
		else
			echo "bench-service: wrk failed:" >&2
			cat "$tmp/wrk" >&2
			status=1
		fi
	done
	stop
done

# The library's own fresh-VM call, in the same run.
"$vmlet" run --fresh 2000 "$demo" add 1 2 >"$tmp/fresh" 2>&1
fresh_p50=$(awk '/^calls/ { for (i = 1; i < NF; i++) if ($i == "p50") print $(i + 1) }' "$tmp/fresh")
fresh_p99=$(awk '/^calls/ { for (i = 1; i < NF; i++) if ($i == "p99") print $(i + 1) }' "$tmp/fresh")
[ -n "$fresh_p50" ] || {
	echo "bench-service: vmlet run --fresh failed:" >&2
	cat "$tmp/fresh" >&2
	status=1
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "null"; else printf "%.4f", a / b }'
}

{
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
	echo "library fresh-VM call of add (vmlet run --fresh 2000): p50 ${fresh_p50:-?} us, p99 ${fresh_p99:-?} us"
	if [ -n "${P50[restore,1]:-}" ] && [ -n "$fresh_p50" ]; then
		awk -v s="${P50[restore,1]}" -v f="$fresh_p50" 'BEGIN {
			printf "restore, 1 connection, p50 %s us: %.2fx the library call (%+.0f%%; target <= +20%%)\n",
				s, s / f, (s / f - 1) * 100 }'
	fi
	if [ -n "${RPS[renew,50]:-}" ] && [ -n "${RPS[native,50]:-}" ]; then
		awk -v r="${RPS[renew,50]}" -v n="${RPS[native,50]}" 'BEGIN {
			printf "renew / native at 50 connections: %.4f (Hyperlight: 0.002; %.1fx that)\n",
				r / n, r / n / 0.002 }'
	fi
} >"$out/service.md"

{
	printf '{"group": "service", "where": "%s", "workers": %s, "secs": %s, "points": [' \
		"${VMLET_BENCH_WHERE:-here}" "$workers" "$secs"
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
	printf '],\n "fresh_call_p50_us": %s, "fresh_call_p99_us": %s}\n' "${fresh_p50:-null}" \
		"${fresh_p99:-null}"
} >"$out/service.json"

cat "$out/service.md"
echo "bench-service: $out/service.json, $out/service.md"
exit $status
