;; SPDX-License-Identifier: BSD-2-Clause
;; Memory without a maximum: growing stops at what the guest heap holds.
(module
  (memory 1)
  (func (export "grow") (param i32) (result i32)
    local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size))
