//! The memory-mapped dataset manifest: `manifest.json` text through [`Manifest::parse`], the
//! parser `Manifest::read` and every cache open use.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ptycho_data::memmap::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Manifest::parse(text, Path::new("fuzz-cache"));
});
