//! The canonical NPZ contract: numpy compatibility both ways (numpy-written fixtures are read here;
//! `fixtures/datasets/numpy/check_rust_npz.py` checks the other direction) and one error per kind
//! of malformed input, each naming the file, key, expectation and finding.

use std::path::Path;

use num_complex::{Complex32, Complex64};
use ptycho_data::{Compression, DataError, IntensityPolicy, LoadOptions, Problem, ScanData};

use crate::common::{Member, canonical_members, fixture, write_members};

fn expected_diffraction(i: usize, r: usize, c: usize) -> f32 {
    i as f32 + 0.25 * r as f32 + 0.0625 * c as f32
}

fn load_err(path: &Path) -> DataError {
    ScanData::load(path).expect_err("malformed file must be rejected")
}

fn assert_names(err: &DataError, path: &Path, key: &str, problem: Problem, fragments: &[&str]) {
    let msg = err.to_string();
    assert_eq!(err.problem(), Some(problem), "{msg}");
    assert!(
        msg.contains(&path.display().to_string()),
        "file missing from: {msg}"
    );
    assert!(msg.contains(&format!("`{key}`")), "key missing from: {msg}");
    for f in fragments {
        assert!(msg.contains(f), "`{f}` missing from: {msg}");
    }
}

#[test]
fn numpy_compressed_fixture_loads_exact_values() {
    let loaded = ScanData::load(fixture("datasets/numpy/numpy_canonical_compressed.npz")).unwrap();
    let d = &loaded.data;
    assert_eq!(d.diffraction.shape(), &[3, 4, 4]);
    for ((i, r, c), v) in d.diffraction.indexed_iter() {
        assert_eq!(*v, expected_diffraction(i, r, c));
    }
    assert_eq!(d.xcoords.to_vec(), vec![10.5, 11.25, 12.0]);
    assert_eq!(d.ycoords.to_vec(), vec![20.0, 19.5, 21.75]);
    assert_eq!(d.xcoords_start.to_vec(), vec![11.0, 11.75, 12.5]);
    assert_eq!(d.ycoords_start.to_vec(), vec![19.5, 19.0, 21.25]);
    assert_eq!(d.scan_index.to_vec(), vec![5, 6, 7]);
    assert_eq!(d.probe[[2, 3]], Complex32::new(2.0, 3.0));
    let obj = d.object.as_ref().unwrap();
    assert_eq!(obj.shape(), &[8, 12]);
    assert_eq!(obj[[3, 7]], Complex32::new(307.0, 4.0));
    let y = d.y_patches.as_ref().unwrap();
    assert_eq!(y[[2, 1, 1]], Complex32::new(3.0, 6.0));
    // complex128 object converted with the DATA-001 warning, nothing else
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].key, "objectGuess");
    assert!(
        loaded.warnings[0]
            .message
            .contains("complex128 converted to complex64")
    );
}

#[test]
fn numpy_legacy_fixture_converts_diff3d_hwn_fortran_big_endian() {
    let loaded = ScanData::load(fixture("datasets/numpy/numpy_legacy_stored.npz")).unwrap();
    let d = &loaded.data;
    assert_eq!(
        d.diffraction.shape(),
        &[3, 4, 4],
        "HWN (4,4,3) must become (3,4,4)"
    );
    for ((i, r, c), v) in d.diffraction.indexed_iter() {
        assert_eq!(*v, expected_diffraction(i, r, c), "at {i},{r},{c}");
    }
    assert_eq!(
        d.xcoords.to_vec(),
        vec![10.5, 11.25, 12.0],
        "big-endian >f8"
    );
    assert_eq!(d.ycoords.to_vec(), vec![20.0, 19.5, 21.75]);
    assert_eq!(
        d.xcoords_start, d.xcoords,
        "start positions default to nominal"
    );
    assert_eq!(d.scan_index.to_vec(), vec![0, 1, 2]);
    // Fortran-ordered arrays come back in C order: probe[r, c] = r + i c (asymmetric)
    assert_eq!(d.probe[[1, 3]], Complex32::new(1.0, 3.0));
    assert_eq!(d.probe[[3, 1]], Complex32::new(3.0, 1.0));
    assert_eq!(
        d.object.as_ref().unwrap()[[7, 2]],
        Complex32::new(702.0, -5.0)
    );
    let keys: Vec<&str> = loaded.warnings.iter().map(|w| w.key.as_str()).collect();
    for k in ["diff3d", "ycoords", "probeGuess", "objectGuess"] {
        assert!(
            keys.contains(&k),
            "expected a warning for {k}: {:?}",
            loaded.warnings
        );
    }
    let text: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|w| w.contains("legacy key `diff3d`")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|w| w.contains("legacy (N, N, n) layout [4, 4, 3]")),
        "{text:?}"
    );
}

#[test]
fn write_then_read_roundtrip_compressed_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let src = ScanData::load(fixture("datasets/numpy/numpy_canonical_compressed.npz"))
        .unwrap()
        .data;
    for (name, comp) in [
        ("c.npz", Compression::Deflated),
        ("s.npz", Compression::Stored),
    ] {
        let path = dir.path().join(name);
        src.save(&path, comp).unwrap();
        let back = ScanData::load(&path).unwrap();
        assert_eq!(back.data, src, "{name}");
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    }
    let stored = std::fs::metadata(dir.path().join("s.npz")).unwrap().len();
    let compressed = std::fs::metadata(dir.path().join("c.npz")).unwrap().len();
    assert!(
        compressed < stored,
        "deflate must shrink: {compressed} vs {stored}"
    );
}

#[test]
fn missing_coordinates_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_x.npz");
    let mut m = canonical_members(5, 8);
    m.remove("xcoords");
    write_members(&path, &m);
    let err = load_err(&path);
    let msg = err.to_string();
    assert!(
        matches!(err, DataError::MissingKey { ref key, .. } if key == "xcoords"),
        "{msg}"
    );
    assert!(
        msg.contains("no_x.npz") && msg.contains("missing key `xcoords`"),
        "{msg}"
    );
}

#[test]
fn missing_diffraction_lists_both_keys_and_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_diff.npz");
    let mut m = canonical_members(5, 8);
    m.remove("diffraction");
    write_members(&path, &m);
    let msg = load_err(&path).to_string();
    assert!(msg.contains("missing key `diffraction`"), "{msg}");
    assert!(
        msg.contains("`diff3d`") && msg.contains("\"probeGuess\""),
        "{msg}"
    );
}

#[test]
fn wrong_rank_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rank.npz");
    let mut m = canonical_members(5, 8);
    m.insert(
        "diffraction".into(),
        Member::F32(vec![5, 64], vec![1.0; 320]),
    );
    write_members(&path, &m);
    let err = load_err(&path);
    assert_names(
        &err,
        &path,
        "diffraction",
        Problem::Rank,
        &["3-d float32 array (n, N, N)", "2-d array of shape [5, 64]"],
    );
}

#[test]
fn wrong_dtype_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dtype.npz");
    let mut m = canonical_members(5, 8);
    m.insert("scan_index".into(), Member::F64(vec![5], vec![0.0; 5]));
    write_members(&path, &m);
    let err = load_err(&path);
    assert_names(
        &err,
        &path,
        "scan_index",
        Problem::DType,
        &["integer", "float64"],
    );
}

#[test]
fn mismatched_lengths_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("len.npz");
    let mut m = canonical_members(5, 8);
    m.insert("ycoords".into(), Member::F64(vec![4], vec![1.0; 4]));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "ycoords",
        Problem::Length,
        &["length 4", "(5)"],
    );

    // more coordinates than patterns: an error, not upstream's silent truncation
    let mut m = canonical_members(5, 8);
    m.insert("xcoords".into(), Member::F64(vec![6], vec![1.0; 6]));
    m.insert("ycoords".into(), Member::F64(vec![6], vec![1.0; 6]));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "diffraction",
        Problem::Length,
        &["n = 6", "no axis matches the 6 scan positions"],
    );
}

#[test]
fn probe_shape_must_match_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.npz");
    let mut m = canonical_members(5, 8);
    m.insert(
        "probeGuess".into(),
        Member::C64(vec![16, 16], vec![Complex32::new(1.0, 0.0); 256]),
    );
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "probeGuess",
        Problem::Shape,
        &["(8, 8)", "[16, 16]"],
    );
}

#[test]
fn non_finite_values_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.npz");
    let mut m = canonical_members(5, 8);
    let mut d = vec![1.5f32; 5 * 64];
    d[2 * 64 + 3 * 8 + 4] = f32::NAN;
    m.insert("diffraction".into(), Member::F32(vec![5, 8, 8], d));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "diffraction",
        Problem::NonFinite,
        &["NaN at index [2, 3, 4]"],
    );

    let mut m = canonical_members(5, 8);
    m.insert(
        "xcoords".into(),
        Member::F64(vec![5], vec![1.0, 2.0, f64::INFINITY, 4.0, 5.0]),
    );
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "xcoords",
        Problem::NonFinite,
        &["inf at index 2"],
    );

    let mut m = canonical_members(2, 4);
    let mut p = vec![Complex32::new(1.0, 0.0); 16];
    p[5] = Complex32::new(0.0, f32::NAN);
    m.insert("probeGuess".into(), Member::C64(vec![4, 4], p));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "probeGuess",
        Problem::NonFinite,
        &["index [1, 1]"],
    );
}

#[test]
fn negative_amplitudes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("neg.npz");
    let mut m = canonical_members(5, 8);
    let mut d = vec![1.5f32; 5 * 64];
    d[64 + 1] = -0.25;
    m.insert("diffraction".into(), Member::F32(vec![5, 8, 8], d));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "diffraction",
        Problem::Negative,
        &["amplitudes >= 0", "-0.25 at index [1, 0, 1]"],
    );
}

#[test]
fn integer_counts_are_detected_as_intensities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.npz");
    let mut m = canonical_members(5, 8);
    let counts: Vec<u16> = (0..5 * 64).map(|i| (i % 50) as u16).collect();
    m.insert("diff3d".into(), Member::U16(vec![5, 8, 8], counts.clone()));
    m.remove("diffraction");
    write_members(&path, &m);
    let err = load_err(&path);
    assert_names(
        &err,
        &path,
        "diff3d",
        Problem::Intensity,
        &["uint16", "integer detector counts", "sqrt"],
    );

    // opting in converts with sqrt and a warning
    let opts = LoadOptions {
        intensity: IntensityPolicy::ConvertToAmplitude,
    };
    let loaded = ScanData::load_with(&path, &opts).unwrap();
    assert_eq!(loaded.data.diffraction[[0, 1, 1]], (9.0f32).sqrt());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("converted to amplitude with sqrt"))
    );
}

#[test]
fn whole_number_float_counts_are_detected_as_intensities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("float_counts.npz");
    let mut m = canonical_members(5, 8);
    let counts: Vec<f32> = (0..5 * 64).map(|i| (i % 37) as f32).collect();
    m.insert("diffraction".into(), Member::F32(vec![5, 8, 8], counts));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "diffraction",
        Problem::Intensity,
        &["whole number (max 36)", "photon counts"],
    );
}

#[test]
fn y_must_be_complex() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y_real.npz");
    let mut m = canonical_members(3, 4);
    m.insert("Y".into(), Member::F32(vec![3, 4, 4], vec![1.0; 48]));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "Y",
        Problem::DType,
        &["complex64", "float32"],
    );
}

#[test]
fn complex128_y_is_converted_with_data001_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y128.npz");
    let mut m = canonical_members(3, 4);
    m.insert(
        "Y".into(),
        Member::C128(vec![3, 4, 4, 1], vec![Complex64::new(0.5, -0.25); 48]),
    );
    write_members(&path, &m);
    let loaded = ScanData::load(&path).unwrap();
    let y = loaded.data.y_patches.unwrap();
    assert_eq!(y.shape(), &[3, 4, 4]);
    assert_eq!(y[[1, 2, 3]], Complex32::new(0.5, -0.25));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.key == "Y" && w.message.contains("DATA-001"))
    );
}

#[test]
fn not_an_npz_and_absent_file_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.npz");
    std::fs::write(&path, "not a zip").unwrap();
    let msg = load_err(&path).to_string();
    assert!(
        msg.contains("text.npz") && msg.contains("a numpy .npz (zip) archive"),
        "{msg}"
    );
    let gone = dir.path().join("absent.npz");
    let msg = load_err(&gone).to_string();
    assert!(
        msg.contains("absent.npz") && msg.contains("cannot open"),
        "{msg}"
    );
}

#[test]
fn failed_save_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = ScanData::load(fixture("datasets/numpy/numpy_canonical_compressed.npz"))
        .unwrap()
        .data;
    let path = dir.path().join("out.npz");
    std::fs::write(&path, b"previous").unwrap();
    data.xcoords = ndarray::Array1::from(vec![1.0, 2.0]); // wrong length
    let err = data.save(&path, Compression::Deflated).unwrap_err();
    assert_eq!(err.problem(), Some(Problem::Length), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"previous");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left behind"
    );
}

/// Pitfall 3 (upstream drops a mis-sized `Y` silently): we keep loading but say so.
#[test]
fn upstream_bug_singleton_y_is_reported_not_silently_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y1.npz");
    let mut m = canonical_members(3, 4);
    m.insert(
        "Y".into(),
        Member::C64(vec![1, 4, 4, 1], vec![Complex32::new(1.0, 0.0); 16]),
    );
    write_members(&path, &m);
    let loaded = ScanData::load(&path).unwrap();
    assert!(loaded.data.y_patches.is_none());
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.key == "Y")
        .expect("a warning for Y");
    assert!(w.message.contains("1 patches for 3 scan positions"), "{w}");
}

/// Pitfall 4 (`simulate_and_save` writes `ground_truth_patches`, which no loader reads as `Y`).
#[test]
fn upstream_bug_ground_truth_patches_key_is_read_as_y() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gt.npz");
    let mut m = canonical_members(3, 4);
    m.insert(
        "ground_truth_patches".into(),
        Member::C64(vec![3, 4, 4, 1], vec![Complex32::new(0.0, 2.0); 48]),
    );
    write_members(&path, &m);
    let loaded = ScanData::load(&path).unwrap();
    let y = loaded
        .data
        .y_patches
        .expect("ground_truth_patches used as Y");
    assert_eq!(y[[2, 3, 3]], Complex32::new(0.0, 2.0));
}

/// Pitfall 1 (`RawData.from_file` reads only `diff3d`): both keys load, `diffraction` first.
#[test]
fn upstream_bug_both_diffraction_keys_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let canonical = dir.path().join("canonical.npz");
    write_members(&canonical, &canonical_members(4, 8));
    let legacy = dir.path().join("legacy.npz");
    let mut m = canonical_members(4, 8);
    let d = m.remove("diffraction").unwrap();
    m.insert("diff3d".into(), d);
    write_members(&legacy, &m);
    let a = ScanData::load(&canonical).unwrap();
    let b = ScanData::load(&legacy).unwrap();
    assert_eq!(a.data, b.data);
    assert!(a.warnings.is_empty());
    assert_eq!(b.warnings.len(), 1);
}

/// Pitfall 2 (FORMAT-001): a square-plane collision (N == n) is decided by the coordinate count
/// and squareness, not by a size heuristic.
#[test]
fn upstream_bug_hwn_layout_decided_by_coordinate_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hwn.npz");
    let (n, npix) = (3, 4);
    let mut m = canonical_members(n, npix);
    // (N, N, n) with value = 100*k + 10*r + c
    let mut hwn = vec![0f32; npix * npix * n];
    for r in 0..npix {
        for c in 0..npix {
            for k in 0..n {
                hwn[(r * npix + c) * n + k] = (100 * k + 10 * r + c) as f32 + 0.5;
            }
        }
    }
    m.insert("diffraction".into(), Member::F32(vec![npix, npix, n], hwn));
    write_members(&path, &m);
    let d = ScanData::load(&path).unwrap().data.diffraction;
    assert_eq!(d.shape(), &[3, 4, 4]);
    assert_eq!(d[[2, 1, 3]], 213.5);
    assert_eq!(d[[0, 3, 0]], 30.5);
}

#[test]
fn numpy_ints_and_stored_layouts_read_through_the_low_level_reader() {
    let mut r =
        ptycho_data::NpzReader::open(fixture("datasets/numpy/numpy_legacy_stored.npz")).unwrap();
    assert_eq!(
        r.names(),
        ["diff3d", "objectGuess", "probeGuess", "xcoords", "ycoords"]
    );
    let h = r.header("probeGuess").unwrap().unwrap();
    assert_eq!(h.dtype, "complex128");
    assert!(h.fortran_order);
    assert_eq!(h.shape, vec![4, 4]);
    assert!(r.header("nothing").unwrap().is_none());
}

#[test]
fn empty_scan_and_empty_patterns_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.npz");
    let mut m = canonical_members(5, 8);
    m.insert("diffraction".into(), Member::F32(vec![0, 8, 8], vec![]));
    m.insert("xcoords".into(), Member::F64(vec![0], vec![]));
    m.insert("ycoords".into(), Member::F64(vec![0], vec![]));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "xcoords",
        Problem::Length,
        &["at least one scan position", "an empty array"],
    );

    let mut m = canonical_members(5, 8);
    m.insert("diffraction".into(), Member::F32(vec![5, 0, 0], vec![]));
    m.insert("probeGuess".into(), Member::C64(vec![0, 0], vec![]));
    write_members(&path, &m);
    assert_names(
        &load_err(&path),
        &path,
        "diffraction",
        Problem::Shape,
        &["at least 2 x 2 pixels", "[5, 0, 0]"],
    );
}
