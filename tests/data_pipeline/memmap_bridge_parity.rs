//! Seed `TestMemmapBridgeParity`: the memory-mapped grouped dataset against the in-memory path,
//! deterministic (byte-identical) generation and the cache-free check, plus the helpers the other
//! memmap tests share.

use std::path::Path;

use num_complex::Complex32;
use ptycho_data::{
    BatchSource, Compression, GroupingParams, MemmapConfig, MemmapDataset, PtychoDataContainer,
    ScanData, generate_grouped_data,
};

use crate::common::{Member, canonical_members, raster_scan, write_members};

pub(crate) fn cfg(n_groups: usize, gridsize: usize, seed: u32, cap: usize) -> MemmapConfig {
    MemmapConfig {
        grouping: GroupingParams {
            n_groups,
            gridsize,
            neighbor_count: 4,
            seed: Some(seed),
            ..GroupingParams::default()
        },
        memory_cap_bytes: cap,
        convert_intensity: false,
    }
}

/// The seed's 20-point NPZ, written with the legacy `diff3d` key.
pub(crate) fn write_twenty_point_npz(path: &Path, npix: usize) -> ScanData {
    let mut scan = raster_scan(5, 4, npix, 0.3);
    scan.object = Some(ndarray::Array2::from_elem(
        (3 * npix, 3 * npix),
        Complex32::new(1.0, 0.0),
    ));
    scan.save(path, Compression::Deflated).unwrap();
    // rename the diffraction key to diff3d by rewriting the members
    let mut r = ptycho_data::NpzReader::open(path).unwrap();
    let d = match r.read("diffraction").unwrap().unwrap().data {
        ptycho_data::npz::ArrayData::F32(v) => v,
        other => panic!("{other:?}"),
    };
    let mut m = canonical_members(20, npix);
    m.remove("diffraction");
    m.insert("diff3d".into(), Member::F32(vec![20, npix, npix], d));
    m.insert(
        "xcoords".into(),
        Member::F64(vec![20], scan.xcoords.to_vec()),
    );
    m.insert(
        "ycoords".into(),
        Member::F64(vec![20], scan.ycoords.to_vec()),
    );
    m.insert(
        "probeGuess".into(),
        Member::C64(vec![npix, npix], scan.probe.iter().copied().collect()),
    );
    write_members(path, &m);
    ScanData::load(path).unwrap().data
}

pub(crate) fn field_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Seed `test_memmap_loader_matches_raw_data_torch`: the memory-mapped rows equal the
/// in-memory grouping (ns=10, gs=2, seed=42) exactly: indices, normalised diffraction, offsets.
#[test]
fn memmap_loader_matches_raw_data() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.npz");
    let scan = write_twenty_point_npz(&input, 64);
    let ds =
        MemmapDataset::build(&[input], dir.path().join("map"), &cfg(10, 2, 42, 1 << 24)).unwrap();
    let g = generate_grouped_data(
        &scan,
        &GroupingParams {
            n_groups: 10,
            gridsize: 2,
            neighbor_count: 4,
            seed: Some(42),
            ..Default::default()
        },
    )
    .unwrap();
    let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
    assert_eq!(ds.len(), 10);
    assert_eq!(ds.nn_indices(), g.nn_indices);
    let b = ds.batch(&(0..10).collect::<Vec<_>>()).unwrap();
    assert_eq!(b.diffraction.shape(), &[10, 4, 64, 64]);
    let max_rel = b
        .diffraction
        .iter()
        .zip(c.x.iter())
        .map(|(a, e)| ((a - e) / e.abs().max(1e-6)).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_rel < 1e-5,
        "normalised diffraction differs by {max_rel}"
    );
    assert_eq!(b.coords_offsets, g.coords.offsets);
    assert_eq!(b.coords_relative, c.coords_nominal);
    assert_eq!(b.probe.index_axis(ndarray::Axis(0), 3), scan.probe);
}

/// Seed `test_deterministic_generation_validation`: the same seed gives identical groups and
/// byte-identical cache files (manifest included); another seed differs; the cache-free check
/// regenerates and agrees.
#[test]
fn deterministic_generation_validation() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.npz");
    write_twenty_point_npz(&input, 16);
    let inputs = vec![input];
    let a = MemmapDataset::build(&inputs, dir.path().join("a"), &cfg(10, 2, 42, 1 << 22)).unwrap();
    let b = MemmapDataset::build(&inputs, dir.path().join("b"), &cfg(10, 2, 42, 1 << 22)).unwrap();
    let c = MemmapDataset::build(&inputs, dir.path().join("c"), &cfg(10, 2, 123, 1 << 22)).unwrap();
    assert_eq!(a.nn_indices(), b.nn_indices());
    assert_eq!(a.diffraction_view(), b.diffraction_view());
    assert_eq!(
        field_bytes(a.dir()),
        field_bytes(b.dir()),
        "byte-identical rebuild"
    );
    assert_eq!(
        field_bytes(a.dir()).len(),
        8,
        "seven fields (ground truth included) and the manifest"
    );
    assert_ne!(a.nn_indices(), c.nn_indices());
    a.verify(&inputs).unwrap();
    // no scratch directories left behind
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".memmap")), "{names:?}");
}

/// Seed `test_memmap_bridge_accepts_diffraction_legacy`: an NPZ with only `diffraction`.
#[test]
fn memmap_bridge_accepts_canonical_diffraction_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("canonical.npz");
    raster_scan(5, 4, 64, 0.3)
        .save(&input, Compression::Stored)
        .unwrap();
    let ds =
        MemmapDataset::build(&[input], dir.path().join("map"), &cfg(10, 2, 42, 1 << 24)).unwrap();
    assert_eq!(ds.diffraction_view().shape(), &[10, 4, 64, 64]);
}
