//! ptychopinn-rs: PtychoPINN, the unsupervised physics-informed neural network for ptychographic
//! reconstruction, re-implemented in Rust.
//!
//! This root package hosts the seed's regression test modules under `tests/`; the libraries live
//! in `crates/` and the `ptycho` program in `crates/ptycho-cli`.
