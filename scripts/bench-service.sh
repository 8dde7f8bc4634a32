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
# Load from other work decides single runs on a shared machine, so the
# whole sequence runs BENCH_SERVICE_ROUNDS times (default 5 for the C
# demo, 1 for the guests) and every figure is the median of its rounds;
# in each round the library's fresh-VM loop runs right after the restore
# point at one connection, while that server idles, so that each round
# gives one ratio of the two measured under the same load. Compared:
# wrk's p50 of the whole HTTP round trip on the restore lifecycle (the
# worker restores after answering, so the restore is in the request's
# path only when it is not done before the next request) against the
# p50 of vmlet_pool_call() (acquire, call, restore, release: the restore
# always included); and, the restore counted on both sides, each one's
# mean time per call at one connection (1 s / wrk's req/s against the
# library loop's mean). Beside latency, each point's CPU time per
# request (the server process's user and system time, all threads and
# guest time, over wrk's requests) and the library call's (its loop's
# process time less that of a loop a tenth as long): a cost that other
# work's load changes far less than latency, so the server's own cost
# on restore at one connection is also given as the ratio of the two.
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
			VMLET_BENCH_ROUNDS="${BENCH_SERVICE_ROUNDS:-5}" \
			VMLET_BENCH_NAME=service "$0" "$obj" "$out" || status=1
	else
		env VMLET_BENCH_WHERE=vmtest.sh VMLET_BENCH_POINTS="native reuse restore renew" \
			VMLET_BENCH_ROUNDS="${BENCH_SERVICE_ROUNDS:-5}" \
			VMLET_BENCH_NAME=service "$src/scripts/vmtest.sh" -t 3600 "$0" "$obj" "$out" ||
			status=1
	fi
	env VMLET_BENCH_WHERE=vmtest.sh VMLET_BENCH_ROUNDS="${BENCH_SERVICE_ROUNDS:-1}" \
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
rounds=${VMLET_BENCH_ROUNDS:-1}
case $rounds in
'' | *[!0-9]* | 0) echo "bench-service: bad number of rounds '$rounds'" >&2 && exit 2 ;;
esac
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

# cpu_ticks PID: the user and system time of the process, all its threads
# (guest time included), in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

# point LIFECYCLE CONNS: one wrk run; sets rps, p50, p99 (us), errs, and
# cpu: the server's CPU time per request (us), a cost that load from other
# work changes far less than it changes latency.
point() {
	local threads=1
	[ "$2" -gt 1 ] && threads=$workers
	local t0 t1 n
	t0=$(cpu_ticks "$pid")
	wrk -t "$threads" -c "$2" -d "${secs}s" --latency -s "$lua" \
		"http://127.0.0.1:$port$path" >"$tmp/wrk" 2>&1
	t1=$(cpu_ticks "$pid")
	n=$(awk '/ requests in / { print $1 }' "$tmp/wrk")
	cpu=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", d * 1e6 / hz / n }')
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
	p50=$(us "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")")
	p99=$(us "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")")
	errs=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { n += 1 } END { print n + 0 }' "$tmp/wrk")
	[ -n "$rps" ]
}

# lib N: the library's own calls of add, N of each: its fresh-VM call
# (vmlet run --fresh) and its warm call (--repeat, no restore), which with
# native's HTTP round trip is the floor of what the server's restore
# lifecycle can answer in; sets fresh_p50, fresh_p99, fresh_mean, warm_p50.
# Sets fresh_cpu too: the CPU time of one fresh-VM call (us), from the
# loop's process time less that of a loop of N/10 (which cancels setup).
lib() {
	local TIMEFORMAT=%3U+%3S long short
	fresh_p50='' fresh_p99='' fresh_mean='' warm_p50='' fresh_cpu=''
	"$vmlet" run --repeat "$1" "$demo" add 1 2 >"$tmp/warm" 2>&1
	warm_p50=$(field p50 "$tmp/warm")
	{ time "$vmlet" run --fresh "$1" "$demo" add 1 2 >"$tmp/fresh" 2>&1; } 2>"$tmp/fresh.time"
	{ time "$vmlet" run --fresh "$(($1 / 10))" "$demo" add 1 2 >/dev/null 2>&1; } 2>"$tmp/short.time"
	long=$(cat "$tmp/fresh.time") short=$(cat "$tmp/short.time")
	fresh_cpu=$(awk -v n="$(($1 - $1 / 10))" "BEGIN { printf \"%.1f\", (($long) - ($short)) * 1e6 / n }")
	fresh_p50=$(field p50 "$tmp/fresh")
	fresh_p99=$(field p99 "$tmp/fresh")
	fresh_mean=$(field mean "$tmp/fresh")
	[ -n "$fresh_p50" ] && [ -n "$warm_p50" ]
}

# field NAME FILE: the value after NAME on the "calls" line of vmlet run.
field() {
	awk -v k="$1" '/^calls/ { for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$2"
}

# handoffs FILE: p50 (the bucket's bound) and mean of each hand-over of a
# /metrics text, in us: "to_p50 to_mean from_p50 from_mean" ("-" if none).
handoffs() {
	local way
	for way in to_worker from_worker; do
		awk -v w="way=\"$way\"" '
			index($1, "vmlet_serve_handoff_seconds_bucket{" w) == 1 {
				le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
				b[++n] = le; c[n] = $2 }
			index($1, "vmlet_serve_handoff_seconds_sum{" w) == 1 { sum = $2 }
			index($1, "vmlet_serve_handoff_seconds_count{" w) == 1 { cnt = $2 }
			END {
				if (!cnt) { printf "- - "; exit }
				for (i = 1; i <= n && c[i] < cnt / 2; i++);
				printf "%s %.1f ", b[i] == "+Inf" ? "inf" : b[i] * 1e6, sum / cnt * 1e6 }' "$1"
	done
}

# spun FILE: the share of each hand-over of a /metrics text that found
# the thread it went to spinning, in %: "to from" ("-" if none).
spun() {
	local way
	for way in to_worker from_worker; do
		awk -F'[{}",= ]+' -v w="$way" '$1 == "vmlet_serve_handoffs_total" && $3 == w {
				all += $NF; if ($5 == "spinning") n += $NF }
			END { if (all) printf "%.0f ", n * 100 / all; else printf "- " }' "$1"
	done
}

# median LIST...: of numbers; empty when there are none.
median() {
	printf '%s\n' "$@" | awk 'NF' | sort -g | awk '{ v[NR] = $1 }
		END { if (NR) printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "null"; else printf "%.4f", a / b }'
}

echo "bench-service: vmlet-serve ($VMLET_BENCH_WHERE), $workers workers, wrk ${secs} s per point," \
	"$rounds round(s)" >&2
conns="1 50"
# Per point, the figures of every round, space-separated.
declare -A RPS P50 P99 CPU ERRS
FRESH_P50=() FRESH_P99=() FRESH_MEAN=() WARM_P50=() R1_RATIO=() R1_PERIOD=()
HO_TO=() HO_TO_MEAN=() HO_FROM=() HO_FROM_MEAN=() FRESH_CPU=() R1_CPU=()
SPUN_TO=() SPUN_FROM=()
for r in $(seq "$rounds"); do
	for lc in $lcs; do
		if ! start "$lc"; then
			echo "bench-service: vmlet-serve for $lc did not start:" >&2
			cat "$tmp/serve.log" >&2
			status=1
			stop
			continue
		fi
		for c in $conns; do
			echo "bench-service: round $r: $lc at $c connection(s)" >&2
			if ! point "$lc" "$c"; then
				echo "bench-service: wrk failed:" >&2
				cat "$tmp/wrk" >&2
				status=1
				continue
			fi
			RPS[$lc,$c]+=" $rps" P50[$lc,$c]+=" $p50" P99[$lc,$c]+=" $p99" CPU[$lc,$c]+=" $cpu"
			ERRS[$lc,$c]=$((${ERRS[$lc,$c]:-0} + errs))
			[ "$lc,$c" = restore,1 ] || continue
			# Where restore's time goes at one connection: the hand-overs.
			curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics.restore1"
			read -r a b d e <<<"$(handoffs "$tmp/metrics.restore1")"
			HO_TO+=("$a") HO_TO_MEAN+=("$b") HO_FROM+=("$d") HO_FROM_MEAN+=("$e")
			read -r a b <<<"$(spun "$tmp/metrics.restore1")"
			SPUN_TO+=("$a") SPUN_FROM+=("$b")
			# The library's own call, now, under the same load.
			echo "bench-service: round $r: the library's fresh-VM call" >&2
			if ! lib 2000; then
				echo "bench-service: vmlet run --repeat/--fresh failed:" >&2
				cat "$tmp/warm" "$tmp/fresh" >&2
				status=1
				continue
			fi
			FRESH_P50+=("$fresh_p50") FRESH_P99+=("$fresh_p99")
			FRESH_MEAN+=("$fresh_mean") WARM_P50+=("$warm_p50")
			R1_RATIO+=("$(ratio "$p50" "$fresh_p50")")
			R1_PERIOD+=("$(awk -v r="$rps" -v m="$fresh_mean" 'BEGIN { printf "%.4f", 1e6 / r / m }')")
			FRESH_CPU+=("$fresh_cpu") R1_CPU+=("$(ratio "$cpu" "$fresh_cpu")")
		done
		stop
	done
done

# Medians of every point.
declare -A MRPS MP50 MP99 MCPU
for k in "${!RPS[@]}"; do
	# shellcheck disable=SC2086 # the lists split on purpose
	MRPS[$k]=$(median ${RPS[$k]}) MP50[$k]=$(median ${P50[$k]}) MP99[$k]=$(median ${P99[$k]})
	# shellcheck disable=SC2086
	MCPU[$k]=$(median ${CPU[$k]})
done
fresh_p50=$(median "${FRESH_P50[@]}") fresh_p99=$(median "${FRESH_P99[@]}")
fresh_mean=$(median "${FRESH_MEAN[@]}") warm_p50=$(median "${WARM_P50[@]}")
r1_ratio=$(median "${R1_RATIO[@]}") r1_period=$(median "${R1_PERIOD[@]}")
fresh_cpu=$(median "${FRESH_CPU[@]}") r1_cpu=$(median "${R1_CPU[@]}")
renew_ratios=()
if [ -n "${RPS[renew,50]:-}" ] && [ -n "${RPS[native,50]:-}" ]; then
	read -r -a rr <<<"${RPS[renew,50]}"
	read -r -a nn <<<"${RPS[native,50]}"
	for i in "${!rr[@]}"; do
		[ -n "${nn[$i]:-}" ] && renew_ratios+=("$(ratio "${rr[$i]}" "${nn[$i]}")")
	done
fi

{
	echo "vmlet-serve ($VMLET_BENCH_WHERE, $workers workers, wrk $secs s per point," \
		"median of $rounds round(s)): $lcs"
	echo
	echo "| lifecycle | conns | req/s | p50 us | p99 us | CPU us/req | req/s / native | p50 / native | non-2xx | req/s of each round |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for lc in $lcs; do
		for c in $conns; do
			[ -n "${RPS[$lc,$c]:-}" ] || continue
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |%s |\n' "$lc" "$c" "${MRPS[$lc,$c]}" \
				"${MP50[$lc,$c]}" "${MP99[$lc,$c]}" "${MCPU[$lc,$c]}" \
				"$(ratio "${MRPS[$lc,$c]}" "${MRPS[native,$c]:-}")" \
				"$(ratio "${MP50[$lc,$c]}" "${MP50[native,$c]:-}")" "${ERRS[$lc,$c]}" \
				"${RPS[$lc,$c]}"
		done
	done
	echo
	if [ -n "$fresh_p50" ]; then
		echo "library fresh-VM call of add (vmlet run --fresh 2000, acquire + call + restore):" \
			"p50 $fresh_p50 us, p99 $fresh_p99 us, mean $fresh_mean us (medians);" \
			"p50 of each round: ${FRESH_P50[*]}"
	fi
	if [ ${#R1_RATIO[@]} -gt 0 ]; then
		echo "restore, 1 connection, p50 of each round: ${P50[restore,1]# }"
		awk -v r="$r1_ratio" -v l="${R1_RATIO[*]}" 'BEGIN {
			printf "restore, 1 connection, p50 / library fresh-VM p50, median of the rounds: %.2fx (%+.0f%%; target <= +20%%); each round: %s\n",
				r, (r - 1) * 100, l }'
		awk -v r="$r1_period" -v l="${R1_PERIOD[*]}" 'BEGIN {
			printf "restore, 1 connection, mean time per request (1/req/s) / library fresh-VM mean, median of the rounds: %.2fx (%+.0f%%); each round: %s\n",
				r, (r - 1) * 100, l }'
		awk -v r="$r1_cpu" -v s="${MCPU[restore,1]}" -v f="$fresh_cpu" -v l="${R1_CPU[*]}" 'BEGIN {
			printf "restore, 1 connection, CPU per request (the server process, all threads) %s us / the library fresh-VM call'"'"'s %s us, median of the rounds: %.2fx (%+.0f%%); each round: %s\n",
				s, f, r, (r - 1) * 100, l }'
		echo "restore, 1 connection, hand-over to_worker p50 <= (us) of each round: ${HO_TO[*]}; mean: ${HO_TO_MEAN[*]}"
		echo "restore, 1 connection, hand-over from_worker p50 <= (us) of each round: ${HO_FROM[*]}; mean: ${HO_FROM_MEAN[*]}"
		echo "restore, 1 connection, hand-overs that found the thread spinning (%) of each round:" \
			"to_worker ${SPUN_TO[*]}; from_worker ${SPUN_FROM[*]}"
	fi
	if [ -n "${MP50[native,1]:-}" ] && [ -n "$warm_p50" ] && [ -n "$fresh_p50" ]; then
		awk -v n="${MP50[native,1]}" -v w="$warm_p50" -v f="$fresh_p50" 'BEGIN {
			printf "floor: native HTTP p50 %s us + warm call p50 %s us = %.0f us, %+.0f%% on the library fresh-VM call\n",
				n, w, n + w, ((n + w) / f - 1) * 100 }'
	fi
	if [ ${#renew_ratios[@]} -gt 0 ]; then
		awk -v r="$(median "${renew_ratios[@]}")" -v l="${renew_ratios[*]}" 'BEGIN {
			printf "renew / native req/s at 50 connections, median of the rounds: %.4f (Hyperlight: 0.002; %.1fx that; target >= 10x); each round: %s\n",
				r, r / 0.002, l }'
	fi
} >"$out/$name.md"

# list WORDS...: a JSON array of the numbers among WORDS (split on blanks).
list() {
	printf '%s\n' "$@" | awk '{ for (i = 1; i <= NF; i++) a = a (n++ ? "," : "") $i }
		END { printf "[%s]", a }'
}

{
	printf '{"group": "%s", "where": "%s", "workers": %s, "secs": %s, "rounds": %s, "points": [' \
		"$name" "$VMLET_BENCH_WHERE" "$workers" "$secs" "$rounds"
	sep=
	for lc in $lcs; do
		for c in $conns; do
			[ -n "${RPS[$lc,$c]:-}" ] || continue
			printf '%s\n {"lifecycle": "%s", "conns": %s, "rps": %s, "p50_us": %s, "p99_us": %s, "cpu_us_per_req": %s, "non2xx": %s, "rps_ratio_native": %s, "p50_ratio_native": %s, "rounds_rps": %s, "rounds_p50_us": %s}' \
				"$sep" "$lc" "$c" "${MRPS[$lc,$c]}" "${MP50[$lc,$c]}" "${MP99[$lc,$c]}" \
				"${MCPU[$lc,$c]:-null}" \
				"${ERRS[$lc,$c]}" "$(ratio "${MRPS[$lc,$c]}" "${MRPS[native,$c]:-}")" \
				"$(ratio "${MP50[$lc,$c]}" "${MP50[native,$c]:-}")" \
				"$(list "${RPS[$lc,$c]}")" "$(list "${P50[$lc,$c]}")"
			sep=,
		done
	done
	printf '],\n "fresh_call_p50_us": %s, "fresh_call_p99_us": %s, "fresh_call_mean_us": %s, "warm_call_p50_us": %s,' \
		"${fresh_p50:-null}" "${fresh_p99:-null}" "${fresh_mean:-null}" "${warm_p50:-null}"
	printf '\n "restore1_p50_ratio_fresh": %s, "rounds_restore1_p50_ratio_fresh": %s,' \
		"${r1_ratio:-null}" "$(list "${R1_RATIO[@]}")"
	printf '\n "fresh_call_cpu_us": %s, "restore1_cpu_ratio_fresh": %s,' "${fresh_cpu:-null}" "${r1_cpu:-null}"
	printf '\n "restore1_period_ratio_fresh": %s, "rounds_renew50_rps_ratio_native": %s}\n' \
		"${r1_period:-null}" "$(list "${renew_ratios[@]}")"
} >"$out/$name.json"

cat "$out/$name.md"
echo "bench-service: $out/$name.json, $out/$name.md"
exit $status
