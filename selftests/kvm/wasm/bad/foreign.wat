;; SPDX-License-Identifier: BSD-2-Clause
;; Imports from a module that is neither WASI nor the host: vmlet-wasm-cc
;; refuses it (wasm_cli_test; not built by make, as it cannot be).
(module
  (import "foo" "bar" (func (result i32)))
  (func (export "f") (result i32) call 0))
