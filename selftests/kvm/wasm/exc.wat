;; Exception handling (wat2wasm --enable-exceptions): a throw that a try
;; catches, and one that leaves the module: the uncaught-exception trap.
(module
  (tag $e (param i32))
  (func (export "throw") (param i32) (result i32)
    (throw $e (local.get 0)))
  (func (export "caught") (param i32) (result i32)
    (try (result i32)
      (do (throw $e (local.get 0)))
      (catch $e
        (i32.add (i32.const 1)))))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
