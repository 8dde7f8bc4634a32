;; SPDX-License-Identifier: BSD-2-Clause
;; A module that asks for 4 GiB of memory at start: its sandbox must fail
;; to start with a clear error, and the host must not notice.
(module
  (memory 65536)
  (func (export "size") (result i32) memory.size))
