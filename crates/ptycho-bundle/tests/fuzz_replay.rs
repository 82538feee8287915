//! Replays the bundle fuzz corpus and regressions (`fuzz/corpus/bundle/`,
//! `fuzz/regressions/bundle/`) through the in-memory loader the fuzz target calls, on stable:
//! every archive must be answered with a bundle or an error, never a panic.

use std::path::Path;

use ptycho_bundle::{BundleSchema, LoadOptions, inspect_bundle_bytes, load_bundle_bytes_with};

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

/// What the fuzz target does with one archive.
fn check(bytes: &[u8]) {
    let origin = Path::new("fuzz/wts.h5.zip");
    let options = LoadOptions::default();
    let Ok(summary) = inspect_bundle_bytes(bytes, origin, &options) else {
        return;
    };
    let schema = BundleSchema {
        diffraction_to_obj: summary.diffraction_to_obj,
        autoencoder: summary.autoencoder,
    };
    let loaded = load_bundle_bytes_with(bytes, origin, &options, |_| {
        Ok::<_, std::convert::Infallible>(schema)
    });
    assert!(
        loaded.is_ok(),
        "inspect accepted what load refused: {loaded:?}"
    );
}

#[test]
fn bundle_inputs_never_panic() {
    let count = replay("bundle", check);
    assert!(count >= 8, "only {count} bundle inputs");
}

/// The valid seed loads from memory with its restored config; a broken one names the member.
#[test]
fn valid_seed_loads_and_broken_seed_is_named() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bundle");
    let bytes = std::fs::read(corpus.join("tiny_valid")).unwrap();
    let summary =
        inspect_bundle_bytes(&bytes, Path::new("seed.zip"), &LoadOptions::default()).unwrap();
    assert_eq!(
        (summary.config.model.N, summary.config.model.gridsize),
        (64, 2)
    );
    let err = inspect_bundle_bytes(
        &bytes[..bytes.len() / 2],
        Path::new("half.zip"),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("half.zip"), "{err}");
}
