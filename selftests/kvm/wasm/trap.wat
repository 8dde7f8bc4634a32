;; SPDX-License-Identifier: BSD-2-Clause
;; A WASI command whose _start traps (wasm_cli_test: exit status 134).
(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))
