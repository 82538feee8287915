//! Replays the config fuzz corpora and regressions (`fuzz/corpus/{config,torch_bridge}/`,
//! `fuzz/regressions/{config,torch_bridge}/`) through the loaders the fuzz targets call, on
//! stable: every text must be answered with a value or an error, never a panic.

use std::path::Path;

use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{ConfigDocument, Format, LegacyParams, Overrides, bridge_document};

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn config_inputs_never_panic() {
    let count = replay("config", |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        for format in [Format::Toml, Format::Yaml, Format::Json] {
            let _ = ConfigDocument::parse(text, format);
            let _ = ConfigDocument::parse_upstream(text, format);
        }
        let _ = LegacyParams::from_json(text);
    });
    assert!(count >= 8, "only {count} config inputs");
}

#[test]
fn torch_bridge_inputs_never_panic() {
    let count = replay("torch_bridge", |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
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
    assert!(count >= 5, "only {count} torch_bridge inputs");
}

/// The seeds are real configs: the minimal TOML parses to its values.
#[test]
fn minimal_seed_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config/minimal.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let document = ConfigDocument::parse(&text, Format::Toml).unwrap().value;
    let training = document.training.expect("a [training] section");
    assert_eq!(
        (training.model.N, training.model.gridsize, training.n_groups),
        (128, 2, 64)
    );
}
