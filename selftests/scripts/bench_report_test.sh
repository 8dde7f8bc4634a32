#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench_report_test.sh: TAP test of selftests/bench/report.py, on a
# results.json written here in bench's format (a fixture, not a
# measurement): the table rows it prints, that a figure that failed or was
# not run says so instead of showing numbers, that figures measured in the
# vmtest VM are marked and explained, the wasm-guest and js target lines,
# the js group's published anchors, the density rows, and that --readme
# replaces exactly what is between README's markers, the same way each run.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
report=$src/selftests/bench/report.py
tmp=$(mktemp -d /tmp/bench_report_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tap.sh
. "$src/selftests/scripts/tap.sh"

cat >"$tmp/results.json" <<'EOF'
{
  "date": "2026-12-01T00:00:00Z",
  "rev": "abc1234",
  "where": "here",
  "machine": {"cpu": "Test CPU", "cores": 2, "mem_mib": 24105, "kvm_vendor": "GenuineIntel",
              "kvm_api": 12, "guest_code": "emulated by KVM", "nested": 1},
  "kernel": "6.18.44-test #1 SMP",
  "backing": "shmem-4k",
  "floor": {
    "out": {"label": "floor: out round trip (KVM_RUN)", "unit": "us", "n": 5000,
            "min": 7.21, "p50": 7.6, "p90": 8, "p99": 10.6, "max": 40, "mean": 7.8,
            "counts": {"kvm_exits": 1, "guest_insns": 2, "syscalls": 1},
            "cdf": [[0, 7.21], [50, 7.6], [100, 40]]}
  },
  "vmlet": {
    "cold": {"label": "vmlet: create sandbox (to ready)",
             "error": "vmlet_sandbox_create: Cannot allocate memory"},
    "warm": {"label": "vmlet: warm call add(1, 2)", "unit": "us", "n": 5000,
             "min": 57.3, "p50": 62.1, "p90": 70, "p99": 97.9, "max": 300, "mean": 64,
             "ratio_to": "floor.out", "ratio": 8.171,
             "counts": {"kvm_exits": 1, "guest_insns": 137, "guest_insns_single_step": 136,
                        "syscalls": 1.004, "vm_exits": 1.01, "page_fault_exits": 0},
             "cdf": [[0, 57.3], [50, 62.1], [100, 300]]},
    "hostcall": {
      "where": "vmtest",
      "here_error": "KVM cannot emulate the instruction",
      "machine": {"cpu": "QEMU TCG CPU version 2.5+", "guest_code": "native"},
      "kernel": "6.1.0-57-amd64 #1 SMP",
      "floor": {"out": {"label": "floor: out round trip (KVM_RUN)", "unit": "us", "n": 5000,
                        "min": 31.8, "p50": 34.2, "p90": 40, "p99": 227, "max": 900,
                        "mean": 36, "cdf": [[0, 31.8], [100, 900]]}},
      "service": {"label": "vmlet: host call, io_uring service", "unit": "us", "n": 200,
                  "min": 91.5, "p50": 116, "p90": 130, "p99": 456, "max": 500, "mean": 120,
                  "ratio_to": "vmlet.hostcall.floor.out", "ratio": 3.3918,
                  "counts": {"kvm_exits": 1.01, "kvm_emulated_insns": 0, "syscalls": 2},
                  "cdf": [[0, 91.5], [100, 500]]}
    },
    "restore": {
      "copy-2m-1": {"label": "vmlet: restore copy 2M, 1 page",
                    "skipped": "could not reserve 16 2 MiB hugepages"}
    }
  },
  "snapfile": {
    "where": "here",
    "file": {"label": "snapfile: new process, file to add(1, 2)", "unit": "us", "n": 20,
             "min": 2180.8, "p50": 2369.4, "p90": 2500, "p99": 3686.4, "max": 3700,
             "mean": 2400, "counts": {"kvm_exits": 2, "guest_insns": 174, "syscalls": 123},
             "cdf": [[0, 2180.8], [100, 3700]]}
  },
  "snapfile_vmtest": {
    "where": "vmtest",
    "here_error": "this KVM emulates guest code and cannot run SSE (JS)",
    "machine": {"cpu": "QEMU TCG CPU version 2.5+", "guest_code": "native"},
    "kernel": "6.1.0-57-amd64 #1 SMP",
    "js_cold": {"label": "snapfile: new process, JS load + event", "unit": "us", "n": 5,
                "min": 900000, "p50": 1000000, "p90": 1100000, "p99": 1200000, "max": 1200000,
                "mean": 1000000, "counts": {"kvm_exits": 40, "syscalls": 300},
                "cdf": [[0, 900000], [100, 1200000]]},
    "js_file": {"label": "snapfile: new process, JS file to event", "unit": "us", "n": 5,
                "min": 90000, "p50": 100000, "p90": 110000, "p99": 120000, "max": 120000,
                "mean": 100000, "ratio_to": "snapfile_vmtest.js_cold", "ratio": 0.1,
                "counts": {"kvm_exits": 4, "syscalls": 130},
                "cdf": [[0, 90000], [100, 120000]]}
  },
  "wasm_guest": {
    "checksum_vs_native_plus_exit": 5000, "checksum_vs_native_plus_exit_target": 1.3
  },
  "wasm_guest_vmtest": {
    "where": "vmtest",
    "here_error": "this KVM emulates guest code",
    "machine": {"cpu": "QEMU TCG CPU version 2.5+", "guest_code": "native"},
    "kernel": "6.1.0-57-amd64 #1 SMP",
    "checksum": {"label": "wasm-guest: warm call checksum(4 KiB)", "unit": "us", "n": 5000,
                 "min": 150, "p50": 160, "p90": 170, "p99": 200, "max": 300, "mean": 161,
                 "ratio_to": "wasm_guest_vmtest.native_checked", "ratio": 1.6,
                 "counts": {"kvm_exits": 1, "syscalls": 1}, "cdf": [[0, 150], [100, 300]]},
    "checksum_vs_native_plus_exit": 1.4545, "checksum_vs_native_plus_exit_target": 1.3
  },
  "js": {
    "where": "vmtest",
    "here_error": "this KVM emulates guest code and cannot run SSE (JS)",
    "machine": {"cpu": "QEMU TCG CPU version 2.5+", "guest_code": "native"},
    "kernel": "6.1.0-57-amd64 #1 SMP",
    "snapshot": {"label": "js: snapshot of the loaded script", "unit": "us", "n": 20,
                 "min": 900, "p50": 1000, "p90": 1100, "p99": 1200, "max": 1300, "mean": 1000,
                 "ratio_to": "js.load", "ratio": 0.05,
                 "counts": {"kvm_exits": 0, "syscalls": 12}, "cdf": [[0, 900], [100, 1300]]},
    "anchors": {"note": "published figures on Hyperlight's hardware, not measured here",
                "hyperlight_js_warm_us": 187, "hyperlight_js_restore_run_us": 700,
                "hyperlight_js_cold_us": 96700},
    "fresh_vs_warm": 2.5, "fresh_vs_warm_target": 3,
    "fresh_vs_node_context": 1.25, "fresh_vs_node_context_target": 1
  },
  "density": {
    "note": "per idle instance",
    "vmlet": {"label": "vmlet: idle pooled sandbox", "n": 200, "pss_kib": 12.9,
              "per_gib": 81284.96, "kernel_kib": 198, "per_gib_with_kernel": 4972.1},
    "vmlet_file": {"label": "vmlet: idle sandbox, snapshot file", "n": 200, "pss_kib": 24.4,
                   "per_gib": 42974.4, "kernel_kib": 213.9, "per_gib_with_kernel": 4400.2},
    "qemu": {"label": "qemu: idle microvm", "error": "instance 3 did not start"}
  }
}
EOF

run() {
	/usr/bin/python3 "$report" --no-plots "$@" >"$tmp/out" 2>"$tmp/err"
}

has_line() {
	grep -qxF -- "$2" "$1" || {
		echo "# no line in $(basename "$1"): $2"
		return 1
	}
}

on_fail() {
	sed 's/^/# /' "$tmp/err" "$tmp/out" 2>/dev/null | head -n 40
}

rows() {
	run "$tmp/results.json" &&
		has_line "$tmp/out" "| floor: out round trip (KVM_RUN) | 7.60 | 7.21 | 10.6 |  | 1 | 2 | 1 | - | - |" &&
		has_line "$tmp/out" "| vmlet: warm call add(1, 2) | 62.1 | 57.3 | 97.9 | 8.17x | 1 | 136 | 1.00 | 1.01 | 0 |"
}

failed_says_so() {
	run "$tmp/results.json" &&
		has_line "$tmp/out" "| vmlet: create sandbox (to ready) | FAILED: vmlet_sandbox_create: Cannot allocate memory | | | | | | | | |" &&
		has_line "$tmp/results.md" "| vmlet: restore copy 2M, 1 page | not run: could not reserve 16 2 MiB hugepages | | | | | | | | |" &&
		has_line "$tmp/out" "| qemu: idle microvm | FAILED: instance 3 did not start | | | | |"
}

vmtest_marked() {
	run "$tmp/results.json" &&
		has_line "$tmp/out" "| vmlet: host call, io_uring service † | 116 | 91.5 | 456 | 3.39x | 1.01 | - | 2 | - | - |" &&
		has_line "$tmp/out" "| floor: out round trip (KVM_RUN) † | 34.2 | 31.8 | 227 |  | - | - | - | - | - |" &&
		has_line "$tmp/out" "† measured in the vmtest VM (QEMU TCG CPU version 2.5+, kernel 6.1.0-57-amd64, nested KVM under QEMU/TCG), ratio to the floor measured there, because here: KVM cannot emulate the instruction" &&
		has_line "$tmp/out" "| snapfile: new process, file to add(1, 2) | 2,369 | 2,181 | 3,686 |  | 2 | 174 | 123 | - | - |" &&
		has_line "$tmp/out" "| snapfile: new process, JS file to event † | 100,000 | 90,000 | 120,000 | 0.10x | 4 | - | 130 | - | - |" &&
		has_line "$tmp/out" "| snapfile: new process, JS load + event † | 1,000,000 | 900,000 | 1,200,000 |  | 40 | - | 300 | - | - |" &&
		has_line "$tmp/out" "† snapfile_vmtest: measured in the vmtest VM (QEMU TCG CPU version 2.5+, kernel 6.1.0-57-amd64, nested KVM under QEMU/TCG), ratio to the figure measured there, because here: this KVM emulates guest code and cannot run SSE (JS)"
}

wasm_target() {
	run "$tmp/results.json" &&
		has_line "$tmp/out" "| wasm-guest: warm call checksum(4 KiB) † | 160 | 150 | 200 | 1.60x | 1 | - | 1 | - | - |" &&
		has_line "$tmp/out" "wasm_guest_vmtest: warm checksum(4 KiB) / (native checksum + floor.out) = 1.45x (target 1.3x: not met) †" &&
		has_line "$tmp/results.md" "wasm_guest: warm checksum(4 KiB) / (native checksum + floor.out) = 5000.00x (target 1.3x: meaningless where KVM emulates guest code)"
}

js_targets_and_anchors() {
	run "$tmp/results.json" &&
		has_line "$tmp/out" "| js: snapshot of the loaded script † | 1,000 | 900 | 1,200 | 0.05x | 0 | - | 12 | - | - |" &&
		has_line "$tmp/out" "js: fresh-VM event / warm event = 2.50x (target 3x: met) †" &&
		has_line "$tmp/out" "js: fresh-VM event / Node new vm context event = 1.25x (target below 1x: not met) †" &&
		has_line "$tmp/results.md" "js anchors, published on Hyperlight's hardware, not measured here: hyperlight-js about 187 us per warm call; Hyperlight's JS sandbox 0.7 ms per restore + run, 96.7 ms cold start"
}

density() {
	run "$tmp/results.json" &&
		has_line "$tmp/out" "| vmlet: idle pooled sandbox | 200 | 12.9 | 81,285 | 198.0 | 4,972 |" &&
		has_line "$tmp/out" "| vmlet: idle sandbox, snapshot file | 200 | 24.4 | 42,974 | 213.9 | 4,400 |"
}

readme() {
	local table
	printf 'intro\n<!-- bench-table -->\nold table\n<!-- /bench-table -->\nafter\n' \
		>"$tmp/README.md"
	run "$tmp/results.json" --readme "$tmp/README.md" || return 1
	cp "$tmp/README.md" "$tmp/README.first"
	run "$tmp/results.json" --readme "$tmp/README.md" || return 1
	cmp -s "$tmp/README.md" "$tmp/README.first" || {
		echo "# a second run changed README.md"
		return 1
	}
	table=$(sed -n '/^<!-- bench-table -->$/,/^<!-- \/bench-table -->$/p' "$tmp/README.md")
	[ "$(head -n 1 "$tmp/README.md")" = intro ] && [ "$(tail -n 1 "$tmp/README.md")" = after ] &&
		! grep -q 'old table' "$tmp/README.md" &&
		grep -qxF "| vmlet: warm call add(1, 2) | 62.1 | 57.3 | 97.9 | 8.17x | 1 | 136 | 1.00 | 1.01 | 0 |" \
			<<<"$table" &&
		grep -qxF "Test CPU, 2 cores, 24 GiB; kernel 6.18.44-test; KVM guest code emulated by KVM, nested; backing shmem-4k; vmlet abc1234; 2026-12-01T00:00:00Z" \
			<<<"$table"
}

readme_without_markers_fails() {
	printf 'no markers here\n' >"$tmp/README.none"
	! run "$tmp/results.json" --readme "$tmp/README.none" &&
		[ "$(cat "$tmp/README.none")" = 'no markers here' ] &&
		grep -q 'has no <!-- bench-table -->' "$tmp/err"
}

echo "TAP version 13"
echo "1..8"
check report_prints_figures_with_counts_and_ratios rows
check failed_and_skipped_figures_say_why failed_says_so
check vmtest_figures_are_marked_and_explained vmtest_marked
check wasm_guest_target_line wasm_target
check js_targets_and_anchors js_targets_and_anchors
check density_rows density
check readme_table_replaced_between_markers_idempotently readme
check readme_without_markers_fails_untouched readme_without_markers_fails
[ "$failed" -eq 0 ]
