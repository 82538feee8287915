//! Shared helpers: fixture paths and a builder for (possibly malformed) NPZ files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use num_complex::{Complex32, Complex64};
use ptycho_data::{Compression, NpzWriter};

/// Path of a checked-in fixture, relative to `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// One NPZ member of any dtype the tests need.
#[derive(Debug, Clone)]
pub enum Member {
    F32(Vec<usize>, Vec<f32>),
    F64(Vec<usize>, Vec<f64>),
    C64(Vec<usize>, Vec<Complex32>),
    C128(Vec<usize>, Vec<Complex64>),
    U16(Vec<usize>, Vec<u16>),
}

/// A valid canonical scan as members: n positions on a jittered line, N x N patterns.
pub fn canonical_members(n: usize, npix: usize) -> BTreeMap<String, Member> {
    let mut m = BTreeMap::new();
    let diff: Vec<f32> = (0..n * npix * npix)
        .map(|i| 0.5 + (i % 7) as f32 * 0.3)
        .collect();
    m.insert("diffraction".into(), Member::F32(vec![n, npix, npix], diff));
    let x: Vec<f64> = (0..n).map(|i| 20.0 + 1.7 * i as f64).collect();
    let y: Vec<f64> = (0..n).map(|i| 30.0 + 0.9 * i as f64).collect();
    m.insert("xcoords".into(), Member::F64(vec![n], x));
    m.insert("ycoords".into(), Member::F64(vec![n], y));
    let probe: Vec<Complex32> = (0..npix * npix)
        .map(|i| Complex32::new(1.0, (i % 3) as f32 * 0.1))
        .collect();
    m.insert("probeGuess".into(), Member::C64(vec![npix, npix], probe));
    let side = 4 * npix;
    let obj = vec![Complex32::new(1.0, 0.0); side * side];
    m.insert("objectGuess".into(), Member::C64(vec![side, side], obj));
    m
}

/// Writes members to `path` with our writer.
pub fn write_members(path: &Path, members: &BTreeMap<String, Member>) {
    let mut w = NpzWriter::create(path, Compression::Deflated).expect("create npz");
    for (name, m) in members {
        match m {
            Member::F32(s, v) => w.add(name, s, v),
            Member::F64(s, v) => w.add(name, s, v),
            Member::C64(s, v) => w.add(name, s, v),
            Member::C128(s, v) => w.add(name, s, v),
            Member::U16(s, v) => w.add(name, s, v),
        }
        .expect("add member");
    }
    w.finish().expect("finish npz");
}

/// A scan built from positions and a diffraction stack; probe of ones, no object.
pub fn scan_from(
    x: Vec<f64>,
    y: Vec<f64>,
    diffraction: ndarray::Array3<f32>,
) -> ptycho_data::ScanData {
    let n = x.len();
    let npix = diffraction.shape()[1];
    ptycho_data::ScanData {
        diffraction,
        xcoords_start: ndarray::Array1::from(x.clone()),
        ycoords_start: ndarray::Array1::from(y.clone()),
        xcoords: ndarray::Array1::from(x),
        ycoords: ndarray::Array1::from(y),
        probe: ndarray::Array2::from_elem((npix, npix), Complex32::new(1.0, 0.0)),
        object: None,
        scan_index: ndarray::Array1::from_iter(0..n as i64),
        y_patches: None,
    }
}

/// The golden example's inputs (reference data.md §3.9), drawn from numpy's legacy stream:
/// `rs = RandomState(0); x = rs.uniform(0,100,30); y = rs.uniform(0,100,30);
/// diff3d = rs.rand(30,8,8).astype(float32)`.
pub fn golden_scan() -> ptycho_data::ScanData {
    let mut rs = ptycho_data::NumpyRandomState::new(0);
    let x: Vec<f64> = (0..30).map(|_| rs.uniform(0.0, 100.0)).collect();
    let y: Vec<f64> = (0..30).map(|_| rs.uniform(0.0, 100.0)).collect();
    let d = ndarray::Array3::from_shape_fn((30, 8, 8), |_| rs.random_sample() as f32);
    scan_from(x, y, d)
}

/// A `w × h` raster with unit spacing (row-major), random diffraction of size `npix`.
pub fn raster_scan(w: usize, h: usize, npix: usize, jitter: f64) -> ptycho_data::ScanData {
    let mut rs = ptycho_data::NumpyRandomState::new(7);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for r in 0..h {
        for c in 0..w {
            x.push(c as f64 + jitter * (rs.random_sample() - 0.5));
            y.push(r as f64 + jitter * (rs.random_sample() - 0.5));
        }
    }
    let d =
        ndarray::Array3::from_shape_fn((w * h, npix, npix), |_| 0.1 + rs.random_sample() as f32);
    scan_from(x, y, d)
}
