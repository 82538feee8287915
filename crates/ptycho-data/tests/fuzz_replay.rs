//! Replays the fuzz corpora and regressions of the data readers (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) through the same entry points the fuzz targets call, on stable:
//! every input must be answered with a value or an error, never a panic.

use std::path::Path;

use ptycho_data::memmap::Manifest;
use ptycho_data::{IntensityPolicy, LoadOptions, ScanData};

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn npz_scan_inputs_never_panic() {
    let count = replay("npz_scan", |bytes| {
        for intensity in [IntensityPolicy::Reject, IntensityPolicy::ConvertToAmplitude] {
            let _ = ScanData::load_bytes(bytes, Path::new("fuzz.npz"), &LoadOptions { intensity });
        }
    });
    assert!(count >= 10, "only {count} npz_scan inputs");
}

#[test]
fn memmap_manifest_inputs_never_panic() {
    let count = replay("memmap_manifest", |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let _ = Manifest::parse(text, Path::new("fuzz-cache"));
        }
    });
    assert!(count >= 2, "only {count} memmap_manifest inputs");
}

/// The seeds are real: the canonical scan loads through the bytes API with its values, and
/// the same bytes give the same scan as the path API.
#[test]
fn canonical_seed_loads_through_bytes_and_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/npz_scan/canonical_stored.npz");
    let bytes = std::fs::read(&path).unwrap();
    let from_bytes = ScanData::load_bytes(&bytes, &path, &LoadOptions::default()).unwrap();
    let from_path = ScanData::load(&path).unwrap();
    assert_eq!(from_bytes.data, from_path.data);
    assert_eq!(from_bytes.data.n_positions(), 3);
    assert_eq!(from_bytes.data.patch_size(), 4);
    assert_eq!(from_bytes.data.xcoords[1], 21.7);
}

/// The manifest seeds parse and describe a built cache.
#[test]
fn manifest_seed_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/memmap_manifest/gridsize2.json");
    let text = std::fs::read_to_string(path).unwrap();
    let manifest = Manifest::parse(&text, Path::new("cache")).unwrap();
    assert_eq!((manifest.patch_size, manifest.channels), (4, 4));
}

fn regression_error(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/npz_scan")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    ScanData::load_bytes(&bytes, Path::new(name), &LoadOptions::default())
        .unwrap_err()
        .to_string()
}

/// A header claiming more data than its member holds is refused before anything is allocated,
/// naming the file, the key, the claimed shape and bytes and the member's size.
#[test]
fn headers_claiming_more_than_the_member_are_refused() {
    let err = regression_error("shape_claims_128gib");
    assert!(
        err.contains("shape_claims_128gib")
            && err.contains("xcoords")
            && err.contains("a header claiming shape [17179869184], 137438953472 bytes")
            && err.contains("data bytes (the member's size in the archive)"),
        "{err}"
    );
    let err = regression_error("shape_overflow");
    assert!(
        err.contains("a header claiming shape [4611686018427387904], more than 2^64 bytes"),
        "{err}"
    );
    let err = regression_error("int16_claims_6gib");
    assert!(
        err.contains("diffraction") && err.contains("shape [3, 32768, 32768], 6442450944 bytes"),
        "{err}"
    );
    let err = regression_error("fortran_shape_overflow");
    assert!(
        err.contains("probeGuess") && err.contains("more than 2^64 bytes"),
        "{err}"
    );
}

/// A `.npy` header length beyond the member is refused before the header is read.
#[test]
fn header_length_beyond_the_member_is_refused() {
    let err = regression_error("header_len_4gib");
    assert!(
        err.contains("xcoords") && err.contains("header length 4294967280 exceeds the member's"),
        "{err}"
    );
}

fn manifest_error(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/memmap_manifest")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    Manifest::parse(&text, Path::new("cache-dir"))
        .unwrap_err()
        .to_string()
}

/// A manifest whose fields do not match its own rows, channels, patch size and inputs is refused
/// before any file is mapped (opening such a cache used to index past the probes mapping).
#[test]
fn inconsistent_manifests_are_refused_with_the_field() {
    let err = manifest_error("probes_fewer_than_inputs.json");
    assert!(
        err.contains("cache-dir")
            && err.contains(
                "field `probes`: probes.c64 <c8 [1, 4, 4] found, probes.c64 <c8 [2, 4, 4] expected (rows 4, channels 1, patch size 4, 2 inputs)"
            ),
        "{err}"
    );
    let err = manifest_error("rows_overflow.json");
    assert!(
        err.contains("field `coords_offsets` of shape [4611686018427387904, 1, 1, 2] is larger than the address space"),
        "{err}"
    );
    let err = manifest_error("field_file_escapes.json");
    assert!(
        err.contains(
            "field `diffraction`: ../../../etc/passwd <f4 [4, 1, 4, 4] found, diffraction.f32 <f4"
        ),
        "{err}"
    );
}

/// The same inconsistency in a real cache: `open_unchecked` answers with an error, not a panic.
#[test]
fn opening_a_cache_with_an_inconsistent_manifest_is_an_error() {
    use ptycho_data::{GroupingParams, MemmapConfig, MemmapDataset};
    let tmp = tempfile::tempdir().unwrap();
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/npz_scan/object_y_scan_index.npz");
    let cfg = MemmapConfig {
        grouping: GroupingParams {
            n_groups: 2,
            seed: Some(7),
            ..GroupingParams::default()
        },
        memory_cap_bytes: 1 << 20,
        convert_intensity: false,
    };
    let cache = tmp.path().join("cache");
    MemmapDataset::build(&[input], &cache, &cfg).unwrap();
    let path = cache.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let first = manifest["inputs"][0].clone();
    manifest["inputs"].as_array_mut().unwrap().push(first);
    std::fs::write(&path, manifest.to_string()).unwrap();
    let err = MemmapDataset::open_unchecked(&cache)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `probes`") && err.contains("2 inputs"),
        "{err}"
    );
}
