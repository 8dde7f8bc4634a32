;; SPDX-License-Identifier: BSD-2-Clause
;; Writes to stdout forever through WASI fd_write.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: buffer 16, 64 bytes; nwritten at 8
  (data (i32.const 0) "\10\00\00\00\40\00\00\00")
  (data (i32.const 16) "flood flood flood flood flood flood flood flood flood flood flo\n")
  (func (export "flood")
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      br $l)))
