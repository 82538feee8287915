//! The bundle loader: the bytes of a `wts.h5.zip` through zip layout, manifest, params and
//! safetensors checks ([`inspect_bundle_bytes`], what `inspect_bundle` reads files with), and the
//! schema match of [`load_bundle_bytes_with`] against the bundle's own tensors.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ptycho_bundle::{BundleSchema, LoadOptions, inspect_bundle_bytes, load_bundle_bytes_with};

fuzz_target!(|data: &[u8]| {
    let origin = Path::new("fuzz/wts.h5.zip");
    let options = LoadOptions::default();
    let Ok(summary) = inspect_bundle_bytes(data, origin, &options) else {
        return;
    };
    let schema = BundleSchema {
        diffraction_to_obj: summary.diffraction_to_obj,
        autoencoder: summary.autoencoder,
    };
    let loaded = load_bundle_bytes_with(data, origin, &options, |_| {
        Ok::<_, std::convert::Infallible>(schema)
    });
    assert!(
        loaded.is_ok(),
        "inspect accepted what load refused: {loaded:?}"
    );
});
