;; SPDX-License-Identifier: BSD-2-Clause
;; The Wasm bench's module (wat2wasm from Debian's wabt builds add.wasm):
;; the same add as the vmlet guest, the QEMU guest and the process.
(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))
