//! The config loaders: the same text as TOML, YAML and JSON through
//! [`ConfigDocument::parse`] and [`ConfigDocument::parse_upstream`], and as a legacy params
//! snapshot through [`LegacyParams::from_json`].
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptycho_config::{ConfigDocument, Format, LegacyParams};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Toml, Format::Yaml, Format::Json] {
        let _ = ConfigDocument::parse(text, format);
        let _ = ConfigDocument::parse_upstream(text, format);
    }
    let _ = LegacyParams::from_json(text);
});
