//! The PyTorch-config bridge: text as JSON, YAML and TOML through [`TorchConfigSet::parse`], and
//! every set that parses through [`bridge_document`] with the overrides the bridge requires.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{Format, Overrides, bridge_document};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let overrides = Overrides::new()
        .with("train_data_file", "train.npz")
        .with("n_groups", 512)
        .with("nphotons", 1e9);
    for format in [Format::Json, Format::Yaml, Format::Toml] {
        if let Ok(set) = TorchConfigSet::parse(text, format) {
            let _ = bridge_document(&set.value, &overrides);
            let _ = bridge_document(&set.value, &Overrides::new());
        }
    }
});
