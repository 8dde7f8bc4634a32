#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# serve_test.sh: TAP test of vmlet-serve as built in $VMLET_OBJ (default:
# the source tree), serving the demo guest on loopback ports it picks
# itself (--port 0 --port-file), so that parallel runs never collide:
# every route; every error status with its exact JSON (400, 404, 405,
# 413, 500 with the guest fault's kind, 504); guest output captured per
# request; each lifecycle (restore, reuse, renew, native); a request on
# the restore lifecycle cannot see another's state while reuse keeps it;
# workers confined with seccomp; a flood of bad requests and a stalled
# client leave it serving; /metrics counts all of that; hand-overs spin
# where each pair has two CPUs, never with --spin-us 0 or on one; SIGTERM drains
# the request in flight and exits 0. Then a JavaScript script's handlers
# (JSON event in, JSON result out, an exception a 500 with its kind) and
# a Wasm module compiled through `vmlet wasm run`'s cache (typed exports,
# a trap a 500 with its kind). Starts VMs, so scripts/check.sh runs it
# through vmtest.sh.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
obj=${VMLET_OBJ:-$src}
serve=$obj/tools/vmlet-serve
demo=$obj/guest/examples/demo.elf
native=$obj/guest/examples/demo.native.so
guest=$demo
export VMLET_JS_IMAGE=$obj/runtimes/js/vmlet-js.elf
export VMLET_WASM_CC=$obj/guest/local/bin/vmlet-wasm-cc
tmp=$(mktemp -d /tmp/serve_test.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# A server that answers early (413) and closes must not kill this shell.
trap '' PIPE
# shellcheck source=../scripts/tap.sh
. "$src/selftests/scripts/tap.sh"

# start NAME ARGS...: start vmlet-serve ARGS $guest on a free port (run
# through the command in the array wrap, if any); wait until it writes the
# port and answers; set PID_NAME and PORT_NAME.
wrap=()
start() {
	local name=$1 pid port="" i
	shift
	"${wrap[@]}" "$serve" --port 0 --port-file "$tmp/$name.port" "$@" "$guest" \
		>"$tmp/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for i in $(seq 1200); do
		[ -s "$tmp/$name.port" ] && port=$(cat "$tmp/$name.port") && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	printf -v "PID_$name" %s "$pid"
	printf -v "PORT_$name" %s "$port"
	[ -n "$port" ] && req "$port" GET /functions && [ "$code" = 200 ]
}

# req PORT METHOD PATH [BODY]: one request on a connection of its own, in
# bash itself (/dev/tcp): starting curl costs seconds in an emulated VM.
# $code gets the status ("000": no answer), $headers and $body the rest.
req() {
	local port=$1 method=$2 path=$3 data=${4-} LC_ALL=C
	exec 5<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' "$method" "$path" >&5
	printf 'Content-Length: %d\r\n\r\n%s' "${#data}" "$data" >&5 2>/dev/null
	response
}

# response: read the answer to the request sent on fd 5 into $code,
# $headers and $body, and close fd 5.
response() {
	local line len=0 LC_ALL=C
	code=000 headers= body=
	if IFS= read -r -t 30 line <&5; then
		code=${line#HTTP/1.1 }
		code=${code%% *}
		while IFS= read -r -t 30 line <&5 && [ "$line" != $'\r' ]; do
			headers+=${line%$'\r'}$'\n'
			case ${line,,} in
			content-length:*) len=${line#*: } len=${len%$'\r'} ;;
			esac
		done
		[ "$len" -eq 0 ] || IFS= read -r -t 30 -N "$len" body <&5
		body=${body%$'\n'}
	fi
	exec 5<&-
}

# is CODE BODY: the last request's status and exact body.
is() {
	[ "$code" = "$1" ] && [ "$body" = "$2" ] && return 0
	echo "# got $code $body"
	echo "# want $1 $2"
	return 1
}

# call PORT FUNC JSON CODE BODY: POST /call/FUNC, check status and body.
call() {
	req "$1" POST "/call/$2" "$3"
	is "$4" "$5"
}

# metric PORT NAME{LABELS}: its value in GET /metrics.
metric() {
	req "$1" GET /metrics
	printf '%s\n' "$body" | awk -v m="$2" '$1 == m { print $2 }'
}

on_fail() {
	sed 's/^/# log: /' "$tmp"/*.log 2>/dev/null | tail -n 20
}

echo "1..71"

start a --workers 2 --lifecycle restore --native "$native" --route echo=native \
	--route is_prime=renew --timeout-ms 2000 --max-body 4096
check serves_on_the_port_it_wrote [ $? -eq 0 ]
A=$PORT_a

req "$A" GET /functions
check functions_lists_signatures_and_lifecycles \
	grep -qF '{"name":"add","result":"i32","args":["i32","i32"],"lifecycle":"restore"},{"name":"echo","result":"string","args":["string"],"lifecycle":"native"}' \
	<<<"$body"

check add_i32 call "$A" add '[2, 40]' 200 '{"result":42}'
check echo_string_native call "$A" echo '["tab\there \"q\" é"]' 200 \
	'{"result":"tab\there \"q\" é"}'
check reverse_string call "$A" reverse '["abc"]' 200 '{"result":"cba"}'
check sum_bytes call "$A" sum '[[1, 2, 250]]' 200 '{"result":253}'
check upper_bytes call "$A" upper '[[104, 105, 33]]' 200 '{"result":[72,73,33]}'
check hypot_f64 call "$A" hypot '[3, 4.0]' 200 '{"result":5}'
check scale_f32 call "$A" scale '[1.5, 2]' 200 '{"result":3}'
check is_prime_bool_renew call "$A" is_prime '[7919]' 200 '{"result":true}'
check fib_i64 call "$A" fib '[90]' 200 '{"result":2880067194370816120}'
check output_captured_per_request call "$A" hello '["bob"]' 200 \
	'{"result":null,"output":"hello, bob, from inside a micro-VM\n"}'
check output_not_carried_over call "$A" add '[1, 1]' 200 '{"result":2}'

restore_isolates() {
	call "$A" counter '[]' 200 '{"result":1}' && call "$A" counter '[]' 200 '{"result":1}' &&
		call "$A" counter '[]' 200 '{"result":1}'
}
check restore_request_cannot_see_anothers_state restore_isolates

check unknown_function_404 call "$A" nosuch '[]' 404 \
	'{"error":"not_found","message":"no such function"}'
req "$A" GET /nowhere
check unknown_path_404 is 404 '{"error":"not_found","message":"no such path"}'
req "$A" GET /call/add
check get_on_call_405 is 405 '{"error":"method_not_allowed","message":"use POST"}'
check malformed_json_400 call "$A" add '[1,' 400 \
	'{"error":"bad_json","message":"malformed JSON at line 1 column 3: '"'"']'"'"' expected near end of file"}'
check wrong_type_400 call "$A" add '[1, "2"]' 400 \
	'{"error":"bad_arguments","message":"argument 2 of add must be i32"}'
check wrong_count_400 call "$A" add '[1]' 400 \
	'{"error":"bad_arguments","message":"add takes 2 arguments, not 1"}'
check not_an_array_400 call "$A" add '{"a": 1}' 400 \
	'{"error":"bad_arguments","message":"the body must be a JSON array of arguments"}'
check i32_out_of_range_400 call "$A" add '[2147483648, 0]' 400 \
	'{"error":"bad_arguments","message":"argument 1 of add must be i32"}'
check bad_byte_400 call "$A" sum '[[1, 256]]' 400 \
	'{"error":"bad_arguments","message":"argument 1 of sum must be bytes (an array of integers 0..255)"}'

head -c 5000 /dev/zero | tr '\0' 1 >"$tmp/big"
req "$A" POST /call/echo "$(cat "$tmp/big")"
check body_too_large_413 is 413 '{"error":"too_large","message":"request body too large"}'
rm -f "$tmp/body"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$tmp/big" "http://127.0.0.1:$A/call/echo")
body=$(cat "$tmp/body" 2>/dev/null)
check chunked_body_too_large_413 is 413 '{"error":"too_large","message":"request body too large"}'

page_fault_500() {
	local want='^\{"error":"guest_fault","kind":"exception","vector":14,"rip":[0-9]+,"address":0\}$'
	req "$A" POST /call/peek '[0]'
	[ "$code" = 500 ] && [[ $body =~ $want ]] && return 0
	echo "# got $code $body"
	return 1
}
check guest_page_fault_500_with_kind page_fault_500
check guest_abort_500_with_its_message call "$A" kv_get '["k"]' 500 \
	'{"error":"guest_fault","kind":"abort","code":2,"message":"kv_lookup: no such key (or no kv_lookup)"}'
check deadline_504 call "$A" fib '[1000000000000000]' 504 '{"error":"deadline"}'
check pool_restores_after_faults call "$A" counter '[]' 200 '{"result":1}'

# The 2 workers, their pools' 2 refill threads and the reaper run confined.
confined=$(awk '/^Seccomp:/ && $2 == 2' /proc/"$PID_a"/task/*/status 2>/dev/null | wc -l)
echo "# threads confined with seccomp: $confined"
check workers_refill_threads_and_reaper_confined [ "$confined" -eq 5 ]

# A flood of bad requests from 4 clients at once, raw garbage, and one
# client that stalls mid-request.
exec 3<>"/dev/tcp/127.0.0.1/$A"
printf 'POST /call/add HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[1,' >&3
before=$(metric "$A" 'vmlet_serve_requests_total{code="400"}')
flood=()
for c in 1 2 3 4; do
	(for i in $(seq 15); do req "$A" POST /call/add "[$i,"; done) &
	flood+=($!)
done
wait "${flood[@]}"
for i in $(seq 10); do
	exec 4<>"/dev/tcp/127.0.0.1/$A"
	printf 'GARBAGE\r\n\r\n' >&4
	IFS= read -r -t 30 line <&4
	exec 4<&-
done
after=$(metric "$A" 'vmlet_serve_requests_total{code="400"}')
echo "# 400s before the flood $before, after $after; garbage answered: $line"
check flood_of_bad_requests_answered_400 [ $((after - before)) -eq 60 ]
check serves_after_flood_and_stalled_client call "$A" add '[20, 22]' 200 '{"result":42}'
exec 3>&-

req "$A" GET /metrics
printf '%s\n' "$body" >"$tmp/metrics"
check metrics_is_prometheus_text grep -qix 'content-type: text/plain; version=0.0.4' <<<"$headers"
mcheck() {
	local v
	v=$(grep -F "$1" "$tmp/metrics" | head -n 1 | awk '{ print $NF }')
	[ "$v" = "$2" ] || { echo "# $1: $v, want $2"; return 1; }
}
check metrics_count_404s mcheck 'vmlet_serve_requests_total{code="404"}' 2
check metrics_count_errors_by_kind \
	eval 'mcheck "vmlet_serve_errors_total{kind=\"exception\"}" 1 &&
	mcheck "vmlet_serve_errors_total{kind=\"abort\"}" 1 &&
	mcheck "vmlet_serve_errors_total{kind=\"deadline\"}" 1 &&
	mcheck "vmlet_serve_errors_total{kind=\"too_large\"}" 2'
check metrics_pool_sizes mcheck 'vmlet_serve_pool_sandboxes{state="max"}' 4
restores=$(grep -F 'vmlet_serve_restores_total{lifecycle="restore"}' "$tmp/metrics" | awk '{print $2}')
check metrics_count_restores [ "${restores:-0}" -ge 15 ]
check metrics_count_renewed mcheck 'vmlet_serve_sandboxes_created_total{lifecycle="renew"}' 1
check metrics_latency_histograms \
	eval 'mcheck "vmlet_serve_call_duration_seconds_count{lifecycle=\"native\"}" 1 &&
	mcheck "vmlet_serve_call_duration_seconds_bucket{lifecycle=\"renew\",le=\"+Inf\"}" 1'
# Every call a worker ran went through both hand-overs, and only those.
handoffs_counted() {
	local n want
	want=$(awk -F'[{}" ]+' '$1 == "vmlet_serve_call_duration_seconds_count" &&
		$3 != "native" { n += $NF } END { print n + 0 }' "$tmp/metrics")
	for way in to_worker from_worker; do
		n=$(grep -F "vmlet_serve_handoff_seconds_count{way=\"$way\"}" "$tmp/metrics" | awk '{ print $2 }')
		[ "$n" = "$want" ] || { echo "# $way: $n hand-overs, $want worker calls"; return 1; }
		n=$(awk -F'[{}",= ]+' -v w="$way" '$1 == "vmlet_serve_handoffs_total" && $3 == w {
			n += $NF } END { print n + 0 }' "$tmp/metrics")
		[ "$n" = "$want" ] || { echo "# $way: $n found, $want worker calls"; return 1; }
	done
	grep -qF 'vmlet_serve_handoff_seconds_bucket{way="to_worker",le="1e-06"}' "$tmp/metrics"
}
check metrics_handoff_histograms handoffs_counted

# Reuse: one warm sandbox per worker keeps its state, until a fault.
start b --workers 1 --lifecycle reuse --max-body 300000
B=$PORT_b
# 100000 bytes of arguments, past the guest's default 64 KiB input
# buffer: --max-body sizes it.
ones=$(printf '1,%.0s' $(seq 99999))
check body_under_max_body_fits_the_guest call "$B" sum "[[${ones}1]]" 200 '{"result":100000}'
reuse_keeps_state() {
	call "$B" counter '[]' 200 '{"result":1}' && call "$B" counter '[]' 200 '{"result":2}' &&
		call "$B" counter '[]' 200 '{"result":3}'
}
check reuse_keeps_state reuse_keeps_state
req "$B" POST /call/peek '[0]'
check reuse_sandbox_restored_after_fault call "$B" counter '[]' 200 '{"result":1}'
kill -TERM "$PID_b"
wait "$PID_b"
check sigterm_when_idle_exits_0 [ $? -eq 0 ]

# sigterm_mid_call PORT PID FILE: start a call that runs to its deadline
# (or for ever) on one HTTP thread, wait until the other answers /metrics
# showing it in flight (with the GET itself), and SIGTERM the server. The
# call's "code body" goes to FILE from the background job $bgc.
sigterm_mid_call() {
	(
		req "$1" POST /call/fib '[1000000000000000]'
		echo "$code $body" >"$3"
	) &
	bgc=$!
	for i in $(seq 1000); do
		inf=$(metric "$1" vmlet_serve_in_flight)
		[ "${inf:-0}" -ge 2 ] && break
	done
	echo "# in flight: $inf"
	kill -TERM "$2"
}

# SIGTERM while a call runs: it gets its whole answer, then vmlet-serve
# exits 0. The call runs to its deadline (2 s).
sigterm_mid_call "$A" "$PID_a" "$tmp/drain"
wait "$bgc"
drained() {
	[ "$(cat "$tmp/drain")" = '504 {"error":"deadline"}' ]
}
check sigterm_lets_the_request_in_flight_finish drained
wait "$PID_a"
rc=$?
check sigterm_exits_0_after_draining [ "$rc" -eq 0 ]
check closed_after_drain eval '! (exec 5<>"/dev/tcp/127.0.0.1/$A") 2>/dev/null'

# A call with no deadline outlasting --drain-timeout: vmlet-serve gives it
# up and exits 1 at once, which closes its connection unanswered.
start c --workers 2 --timeout-ms 0 --drain-timeout 1
sigterm_mid_call "$PORT_c" "$PID_c" "$tmp/abandoned"
wait "$PID_c"
rc=$?
wait "$bgc"
abandoned() {
	[ "$rc" -eq 1 ] && [ "$(cat "$tmp/abandoned")" = "000 " ] &&
		grep -qF "requests still in flight, exiting" "$tmp/c.log"
}
check sigterm_gives_up_calls_past_the_drain_timeout abandoned

"$serve" --port 0 --route nosuch=reuse "$demo" >"$tmp/bad.out" 2>&1
rc=$?
check unknown_route_refused eval '[ $rc -eq 1 ] && grep -qF "has no function nosuch" "$tmp/bad.out"'
"$serve" --lifecycle sometimes "$demo" >"$tmp/bad.out" 2>&1
check bad_lifecycle_is_usage_error [ $? -eq 2 ]
"$serve" --spin-us 1000001 "$demo" >"$tmp/bad.out" 2>&1
check spin_over_a_second_is_usage_error [ $? -eq 2 ]

# Spinning before sleeping on a hand-over: with --spin-us 0 never, and
# never where a pair (an HTTP thread and its worker) cannot have two CPUs
# of its own; else it does. --cpus 2 makes a server count on two CPUs
# whatever the machine has (this VM has one: its threads then take turns).
# found PORT: after three calls, "S N" for each way: the hand-overs that
# found the thread they went to spinning, and all of them.
found() {
	local way i
	for i in 1 2 3; do
		call "$1" add '[1, 2]' 200 '{"result":3}' || return 1
	done
	req "$1" GET /metrics
	for way in to_worker from_worker; do
		printf '%s\n' "$body" | awk -F'[{}",= ]+' -v w="$way" '
			$1 == "vmlet_serve_handoffs_total" && $3 == w {
				all += $NF; if ($5 == "spinning") spun += $NF }
			END { printf "%d %d ", spun, all }'
	done
}
# never_spun PORT: every one of the hand-overs counted, none spinning.
never_spun() {
	local n
	n=$(found "$1")
	[ "$n" = "0 3 0 3 " ] || { echo "# spinning, all: to_worker, from_worker: $n"; return 1; }
}
# spun PORT: every one counted, and some answers found their HTTP thread
# spinning (a call takes far less than the 1 s spin; the next request
# reaching a worker within its 1 s is likely, not certain, on a loaded
# one-CPU VM, so those are only reported).
spun() {
	local n
	n=$(found "$1")
	echo "# spinning, all: to_worker, from_worker: $n"
	read -r a b c d <<<"$n"
	[ "$b" = 3 ] && [ "$d" = 3 ] && [ "$c" -ge 1 ]
}
start d --workers 1 --cpus 2 --spin-us 0
check spin_us_0_never_spins never_spun "$PORT_d"
kill -TERM "$PID_d"
wait "$PID_d"
cpu=$(awk '$1 == "Cpus_allowed_list:" { split($2, c, "[,-]"); print c[1] }' /proc/self/status)
wrap=(taskset -c "$cpu")
start e --workers 1 --spin-us 1000000
check one_cpu_never_spins never_spun "$PORT_e"
wrap=()
kill -TERM "$PID_e"
wait "$PID_e"
start f --workers 1 --cpus 2 --spin-us 1000000
check spins_where_each_pair_has_two_cpus spun "$PORT_f"
kill -TERM "$PID_f"
wait "$PID_f"
"$serve" --cpus 0 "$demo" >"$tmp/bad.out" 2>&1
check zero_cpus_is_usage_error [ $? -eq 2 ]

# A JavaScript script: its handlers are the routes, each event a fresh VM
# from the loaded script's snapshot (restore) unless routed to reuse.
cat >"$tmp/handlers.js" <<'EOF'
var events = 0;
function handle(ev) {
	events++;
	console.log("event", ev.id);
	return {id: ev.id, total: ev.a + ev.b, events: events};
}
function count(ev) { return ++events; }
function boom(ev) { throw new TypeError("no " + ev.what); }
function nothing(ev) {}
EOF
export VMLET_CACHE_DIR=$tmp/cache
guest=$tmp/handlers.js
start j --workers 1 --handler handle --handler boom --handler nothing --route count=reuse
check js_script_serves [ $? -eq 0 ]
J=$PORT_j
req "$J" GET /functions
check js_functions_lists_handlers is 200 \
	'[{"name":"handle","result":"json","args":["json"],"lifecycle":"restore"},{"name":"boom","result":"json","args":["json"],"lifecycle":"restore"},{"name":"nothing","result":"json","args":["json"],"lifecycle":"restore"},{"name":"count","result":"json","args":["json"],"lifecycle":"reuse"}]'
check js_event_json_result call "$J" handle '{"id": 7, "a": 2, "b": 40}' 200 \
	'{"result":{"id":7,"total":42,"events":1},"output":"event 7\n"}'
check js_restore_each_event_fresh call "$J" handle '{"id": 8, "a": 1, "b": 1}' 200 \
	'{"result":{"id":8,"total":2,"events":1},"output":"event 8\n"}'
js_reuse_keeps_state() {
	call "$J" count '{}' 200 '{"result":1}' && call "$J" count '{}' 200 '{"result":2}'
}
check js_reuse_keeps_state js_reuse_keeps_state
js_exception_500() {
	local want='^\{"error":"guest_fault","kind":"js_exception","message":"TypeError: no fun.*handlers\.js'
	req "$J" POST /call/boom '{"what": "fun"}'
	[ "$code" = 500 ] && [[ $body =~ $want ]] && return 0
	echo "# got $code $body"
	return 1
}
check js_exception_500_with_kind js_exception_500
check js_no_json_result_500 call "$J" nothing '{}' 500 \
	'{"error":"guest_fault","kind":"js_bad_output","message":"TypeError: the result is undefined, which has no JSON form"}'
req "$J" POST /call/handle '{"id": '
check js_bad_event_400 eval '[ "$code" = 400 ] && [[ $body == "{\"error\":\"bad_json\",\"message\":\"SyntaxError: "* ]]'
# A NUL would end the event early where the guest reads it as a C string.
js_nul_400() {
	exec 5<>"/dev/tcp/127.0.0.1/$J" || return 1
	printf 'POST /call/handle HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 19\r\n\r\n{"a":2,"b":40}\0junk' >&5
	response
	is 400 '{"error":"bad_json","message":"malformed JSON: a NUL byte in the event"}'
}
check js_event_with_a_nul_400 js_nul_400
check js_undeclared_function_404 call "$J" eval '"1"' 404 \
	'{"error":"not_found","message":"no such function"}'
check js_serves_after_failures call "$J" handle '{"id": 9, "a": 0, "b": 0}' 200 \
	'{"result":{"id":9,"total":0,"events":1},"output":"event 9\n"}'
"$serve" --port 0 "$tmp/handlers.js" >"$tmp/bad.out" 2>&1
rc=$?
check js_needs_handlers eval '[ $rc -eq 1 ] && grep -qF "name the handlers to serve" "$tmp/bad.out"'
kill -TERM "$PID_j"
wait "$PID_j"

# A Wasm module: compiled once into a guest image (cached), its typed
# exports served like a C guest's, a trap a 500 with the trap's kind.
guest=$obj/selftests/kvm/wasm/traps.wasm
start w --workers 1
check wasm_module_compiled_and_served [ $? -eq 0 ]
W=$PORT_w
check wasm_add call "$W" add '[2, 40]' 200 '{"result":42}'
check wasm_trap_500_with_kind call "$W" div '[7, 0]' 500 \
	'{"error":"guest_fault","kind":"wasm_trap","trap":"div_by_zero","message":"wasm trap: integer divide by zero"}'
check wasm_serves_after_trap call "$W" add '[20, 22]' 200 '{"result":42}'
kill -TERM "$PID_w"
wait "$PID_w"

[ "$failed" -eq 0 ]
