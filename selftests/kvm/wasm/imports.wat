;; SPDX-License-Identifier: BSD-2-Clause
;; Imports from the host (wasm_test): vmlet.twice and env.neg must be host
;; functions of these types, or the sandbox does not start.
(module
  (import "vmlet" "twice" (func $twice (param i64) (result i64)))
  (import "env" "neg" (func $neg (param f64) (result f64)))
  (func (export "twice") (param i64) (result i64)
    local.get 0 call $twice)
  (func (export "neg") (param f64) (result f64)
    local.get 0 call $neg))
