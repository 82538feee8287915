//! TEST-PYTORCH-001 (seed category 6): the `ptycho` binary as subprocesses on the checked-in
//! simulated scan: train one epoch → bundle → infer with only the bundle → images, then the outputs'
//! shapes and values are checked.
//!
//! The binary belongs to the `ptycho-cli` package, so `CARGO_BIN_EXE_ptycho` does not exist in
//! this (root) package. The test asks cargo to build it into the same target directory and
//! profile the test itself was built with, selecting the same targets as `cargo test
//! --workspace` (`cargo build --workspace --tests --bins`) so that features unify alike: a no-op
//! when the workspace tests are built (as `cargo xtask` and nextest do), and never a stale binary.

mod full_workflow;
