//! Checkpoint reading: `train_state.json` through `parse_train_state` and `optimizer.bpk`
//! through `load_optimizer_record` and one optimiser step, as `ptycho train --resume` uses them
//! (input layout and checks in `fuzz/checkpoint_case.rs`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

#[path = "../checkpoint_case.rs"]
mod checkpoint_case;

static MODEL: LazyLock<checkpoint_case::Model> = LazyLock::new(checkpoint_case::model);

fuzz_target!(|data: &[u8]| {
    checkpoint_case::run(data, &MODEL);
});
