;; SPDX-License-Identifier: BSD-2-Clause
;; WASI random_get and clock_time_get (wasm_test): 8 random bytes, and
;; the realtime clock in seconds.
(module
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "random") (result i64)
    (drop (call $random_get (i32.const 0) (i32.const 8)))
    (i64.load (i32.const 0)))
  (func (export "wall_seconds") (result i64)
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 8)))
    (i64.div_u (i64.load (i32.const 8)) (i64.const 1000000000))))
