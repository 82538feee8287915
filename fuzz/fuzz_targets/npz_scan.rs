//! NPZ scan loading and validation: the bytes of an archive through [`ScanData::load_bytes`],
//! the entry point `ScanData::load` reads files with, under both intensity policies.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ptycho_data::{IntensityPolicy, LoadOptions, ScanData};

fuzz_target!(|data: &[u8]| {
    for intensity in [IntensityPolicy::Reject, IntensityPolicy::ConvertToAmplitude] {
        let _ = ScanData::load_bytes(data, Path::new("fuzz.npz"), &LoadOptions { intensity });
    }
});
