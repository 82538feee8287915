//! The ptychopinn-rs regression harness; run `cargo xtask --help`.

fn main() {}
