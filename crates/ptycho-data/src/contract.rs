//! The canonical scan dataset (the DATA-001 NPZ contract) and its validation.
//!
//! One [`ScanData`] is one scan: diffraction amplitudes `(n, N, N)` f32, scan positions in object
//! pixels (`x` = column, `y` = row) f64, the probe `(N, N)` complex64 and optionally the object and
//! ground-truth patches `Y`. Loading accepts what upstream writers produce (the legacy `diff3d`
//! key, the `(N, N, n)` layout, complex128, `ground_truth_patches`) and converts it with a
//! [`DataWarning`]; anything that would silently corrupt training is an error naming the file, the
//! key, what was expected and what was found.

use std::path::Path;

use ndarray::{Array1, Array2, Array3, Axis};
use num_complex::Complex32;

use crate::error::{DataError, Problem, Result};
use crate::npz::{ArrayData, Compression, NpzReader, NpzWriter};
use crate::reader::{
    Ctx, Positions, describe, first_non_finite, read_diffraction, read_object, read_positions,
    read_probe, read_required, read_y, unravel,
};

/// Canonical member names.
pub mod keys {
    pub const DIFFRACTION: &str = "diffraction";
    pub const DIFF3D: &str = "diff3d";
    pub const XCOORDS: &str = "xcoords";
    pub const YCOORDS: &str = "ycoords";
    pub const XCOORDS_START: &str = "xcoords_start";
    pub const YCOORDS_START: &str = "ycoords_start";
    pub const PROBE: &str = "probeGuess";
    pub const OBJECT: &str = "objectGuess";
    pub const SCAN_INDEX: &str = "scan_index";
    pub const Y: &str = "Y";
    pub const GROUND_TRUTH_PATCHES: &str = "ground_truth_patches";
}

/// A conversion the loader applied, worth telling the user about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataWarning {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for DataWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// What to do with a diffraction stack that holds intensities (photon counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntensityPolicy {
    /// Refuse it with an error that explains the fix (the default: training on counts collapses).
    #[default]
    Reject,
    /// Take the square root, with a warning.
    ConvertToAmplitude,
}

/// Options of [`ScanData::load_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub intensity: IntensityPolicy,
}

/// One canonical scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanData {
    /// Diffraction amplitudes (sqrt of counts), `(n, N, N)`.
    pub diffraction: Array3<f32>,
    /// Scan positions, x = column of `object`, in pixels, `(n,)`.
    pub xcoords: Array1<f64>,
    /// Scan positions, y = row of `object`, in pixels, `(n,)`.
    pub ycoords: Array1<f64>,
    /// True ("start") positions; equal to the nominal ones when the file has none.
    pub xcoords_start: Array1<f64>,
    pub ycoords_start: Array1<f64>,
    /// Probe on the object pixel grid, `(N, N)`.
    pub probe: Array2<Complex32>,
    /// Full object, `(H, W)`, when known.
    pub object: Option<Array2<Complex32>>,
    /// Scan index per position; `0..n` when the file has none.
    pub scan_index: Array1<i64>,
    /// Ground-truth object patches centred on each position, `(n, N, N)`.
    pub y_patches: Option<Array3<Complex32>>,
}

/// A loaded scan and the conversions applied to it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub data: ScanData,
    pub warnings: Vec<DataWarning>,
}

impl ScanData {
    /// Number of scan positions `n`.
    pub fn n_positions(&self) -> usize {
        self.diffraction.shape()[0]
    }

    /// Patch (detector) size `N`.
    pub fn patch_size(&self) -> usize {
        self.diffraction.shape()[1]
    }

    /// Mean photon count per pattern, `mean_k Σ_ij diffraction[k,i,j]²`: the data's own
    /// `nphotons` when the diffraction amplitudes are in photon units (measured counts).
    pub fn mean_photons_per_pattern(&self) -> f64 {
        let total: f64 = self
            .diffraction
            .iter()
            .map(|&a| f64::from(a) * f64::from(a))
            .sum();
        total / self.n_positions().max(1) as f64
    }

    /// Whether the amplitudes are square roots of whole photon counts (measured data, or a
    /// simulation with Poisson counts): at least 99 % of the non-zero `diffraction²` values lie
    /// within `1e-3 + 1e-5·value` of a whole number (f32 rounding of `sqrt(counts)`). Normalised
    /// amplitudes fail this, so their mean energy is not mistaken for a photon count.
    pub fn amplitudes_are_photon_counts(&self) -> bool {
        let (mut nonzero, mut whole) = (0usize, 0usize);
        for &a in &self.diffraction {
            let v = f64::from(a) * f64::from(a);
            if v == 0.0 {
                continue;
            }
            nonzero += 1;
            if (v - v.round()).abs() <= 1e-3 + 1e-5 * v {
                whole += 1;
            }
        }
        nonzero > 0 && whole as f64 >= 0.99 * nonzero as f64
    }

    /// Loads and validates a canonical NPZ with the default (strict) options.
    pub fn load(path: impl AsRef<Path>) -> Result<Loaded> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// Loads and validates a canonical NPZ.
    pub fn load_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Loaded> {
        let path = path.as_ref();
        Self::load_from_npz(NpzReader::open(path)?, path, options)
    }

    /// Loads and validates a canonical NPZ held in memory (what [`ScanData::load_with`] does
    /// with a file); `origin` names the archive in errors.
    pub fn load_bytes(bytes: &[u8], origin: &Path, options: &LoadOptions) -> Result<Loaded> {
        let reader = NpzReader::from_reader(std::io::Cursor::new(bytes), origin)?;
        Self::load_from_npz(reader, origin, options)
    }

    /// Validates the scan in an opened archive; the path and the bytes APIs both end here.
    fn load_from_npz<R: std::io::Read + std::io::Seek>(
        mut reader: NpzReader<R>,
        path: &Path,
        options: &LoadOptions,
    ) -> Result<Loaded> {
        let mut ctx = Ctx {
            file: path,
            warnings: Vec::new(),
        };

        let Positions {
            n,
            xcoords,
            ycoords,
            xcoords_start,
            ycoords_start,
        } = read_positions(&mut reader, &mut ctx)?;

        let diffraction = read_diffraction(&mut reader, &mut ctx, n, options)?;
        let npix = diffraction.shape()[1];

        let probe_arr = read_required(
            &mut reader,
            keys::PROBE,
            "the probe guess, complex64 (N, N)",
        )?;
        let probe = read_probe(&mut ctx, probe_arr, npix)?;

        let object = read_object(&mut reader, &mut ctx, npix)?;

        let scan_index = match reader.read(keys::SCAN_INDEX)? {
            Some(arr) => {
                let expected = format!("1-d integer array of length n = {n}");
                if arr.shape != [n] {
                    return Err(ctx.invalid(
                        keys::SCAN_INDEX,
                        Problem::Length,
                        expected,
                        describe(&arr),
                    ));
                }
                let found = describe(&arr);
                match arr.data {
                    ArrayData::Int(v) => Array1::from(v),
                    _ => {
                        return Err(ctx.invalid(keys::SCAN_INDEX, Problem::DType, expected, found));
                    }
                }
            }
            None => Array1::from_iter(0..n as i64),
        };

        let y_patches = read_y(&mut reader, &mut ctx, n, npix)?;

        let data = ScanData {
            diffraction,
            xcoords: Array1::from(xcoords),
            ycoords: Array1::from(ycoords),
            xcoords_start: Array1::from(xcoords_start),
            ycoords_start: Array1::from(ycoords_start),
            probe,
            object,
            scan_index,
            y_patches,
        };
        data.check_values(path)?;
        Ok(Loaded {
            data,
            warnings: ctx.warnings,
        })
    }

    /// Checks shapes and values of an in-memory scan; `origin` names it in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let n = self.n_positions();
        let npix = self.patch_size();
        let d = self.diffraction.shape();
        if d[1] != d[2] {
            return Err(DataError::invalid(
                origin,
                keys::DIFFRACTION,
                Problem::Shape,
                "square patterns (n, N, N)",
                format!("shape {d:?}"),
            ));
        }
        for (key, len) in [
            (keys::XCOORDS, self.xcoords.len()),
            (keys::YCOORDS, self.ycoords.len()),
            (keys::XCOORDS_START, self.xcoords_start.len()),
            (keys::YCOORDS_START, self.ycoords_start.len()),
            (keys::SCAN_INDEX, self.scan_index.len()),
        ] {
            if len != n {
                return Err(DataError::invalid(
                    origin,
                    key,
                    Problem::Length,
                    format!("length n = {n} (patterns in diffraction)"),
                    format!("length {len}"),
                ));
            }
        }
        if self.probe.shape() != [npix, npix] {
            return Err(DataError::invalid(
                origin,
                keys::PROBE,
                Problem::Shape,
                format!("shape [{npix}, {npix}] (the pattern size)"),
                format!("shape {:?}", self.probe.shape()),
            ));
        }
        if let Some(obj) = &self.object
            && (obj.nrows() < npix || obj.ncols() < npix)
        {
            return Err(DataError::invalid(
                origin,
                keys::OBJECT,
                Problem::Shape,
                format!("H, W >= N = {npix}"),
                format!("shape {:?}", obj.shape()),
            ));
        }
        if let Some(y) = &self.y_patches
            && y.shape() != [n, npix, npix]
        {
            return Err(DataError::invalid(
                origin,
                keys::Y,
                Problem::Shape,
                format!("shape [{n}, {npix}, {npix}]"),
                format!("shape {:?}", y.shape()),
            ));
        }
        self.check_values(origin)
    }

    fn check_values(&self, file: &Path) -> Result<()> {
        let shape = self.diffraction.shape().to_vec();
        if let Some(i) = first_non_finite(self.diffraction.iter(), |v| v.is_finite()) {
            let v = self.diffraction.iter().nth(i).copied().unwrap_or(f32::NAN);
            return Err(DataError::invalid(
                file,
                keys::DIFFRACTION,
                Problem::NonFinite,
                "finite amplitudes",
                format!("{v} at index {:?}", unravel(i, &shape)),
            ));
        }
        if let Some(i) = self.diffraction.iter().position(|&v| v < 0.0) {
            let v = self.diffraction.iter().nth(i).copied().unwrap_or_default();
            return Err(DataError::invalid(
                file,
                keys::DIFFRACTION,
                Problem::Negative,
                "amplitudes >= 0 (sqrt of counts)",
                format!("{v} at index {:?}", unravel(i, &shape)),
            ));
        }
        for (key, arr) in [
            (keys::XCOORDS, &self.xcoords),
            (keys::YCOORDS, &self.ycoords),
            (keys::XCOORDS_START, &self.xcoords_start),
            (keys::YCOORDS_START, &self.ycoords_start),
        ] {
            if let Some(i) = first_non_finite(arr.iter(), |v| v.is_finite()) {
                return Err(DataError::invalid(
                    file,
                    key,
                    Problem::NonFinite,
                    "finite positions",
                    format!("{} at index {i}", arr[i]),
                ));
            }
        }
        let complex_arrays = [
            (keys::PROBE, Some(self.probe.view().into_dyn())),
            (
                keys::OBJECT,
                self.object.as_ref().map(|o| o.view().into_dyn()),
            ),
            (
                keys::Y,
                self.y_patches.as_ref().map(|y| y.view().into_dyn()),
            ),
        ];
        for (key, arr) in complex_arrays {
            if let Some(arr) = arr
                && let Some(i) =
                    first_non_finite(arr.iter(), |c| c.re.is_finite() && c.im.is_finite())
            {
                let v = arr.iter().nth(i).copied().unwrap_or_default();
                return Err(DataError::invalid(
                    file,
                    key,
                    Problem::NonFinite,
                    "finite complex values",
                    format!("{v} at index {:?}", unravel(i, arr.shape())),
                ));
            }
        }
        Ok(())
    }

    /// Writes the canonical NPZ (keys `diffraction`, coordinates, `probeGuess`, optional
    /// `objectGuess` and `Y`, `scan_index`) atomically, after validating.
    pub fn save(&self, path: impl AsRef<Path>, compression: Compression) -> Result<()> {
        let path = path.as_ref();
        self.validate(path)?;
        let mut w = NpzWriter::create(path, compression)?;
        let std = |a: &Array3<f32>| a.as_standard_layout().iter().copied().collect::<Vec<_>>();
        w.add(
            keys::DIFFRACTION,
            self.diffraction.shape(),
            &std(&self.diffraction),
        )?;
        for (key, arr) in [
            (keys::XCOORDS, &self.xcoords),
            (keys::YCOORDS, &self.ycoords),
            (keys::XCOORDS_START, &self.xcoords_start),
            (keys::YCOORDS_START, &self.ycoords_start),
        ] {
            w.add(key, &[arr.len()], &arr.to_vec())?;
        }
        let c2 = |a: &Array2<Complex32>| a.as_standard_layout().iter().copied().collect::<Vec<_>>();
        w.add(keys::PROBE, self.probe.shape(), &c2(&self.probe))?;
        if let Some(obj) = &self.object {
            w.add(keys::OBJECT, obj.shape(), &c2(obj))?;
        }
        w.add(
            keys::SCAN_INDEX,
            &[self.scan_index.len()],
            &self.scan_index.to_vec(),
        )?;
        if let Some(y) = &self.y_patches {
            let v: Vec<Complex32> = y.as_standard_layout().iter().copied().collect();
            w.add(keys::Y, y.shape(), &v)?;
        }
        w.finish()
    }
}

impl ScanData {
    /// The scan restricted to rows `idx` (in that order); `Y` and `scan_index` follow the rows.
    pub fn select(&self, idx: &[usize]) -> ScanData {
        let data = self;
        let pick1 = |a: &Array1<f64>| Array1::from_iter(idx.iter().map(|&i| a[i]));
        ScanData {
            diffraction: data.diffraction.select(Axis(0), idx),
            xcoords: pick1(&data.xcoords),
            ycoords: pick1(&data.ycoords),
            xcoords_start: pick1(&data.xcoords_start),
            ycoords_start: pick1(&data.ycoords_start),
            probe: data.probe.clone(),
            object: data.object.clone(),
            scan_index: Array1::from_iter(idx.iter().map(|&i| data.scan_index[i])),
            y_patches: data.y_patches.as_ref().map(|y| y.select(Axis(0), idx)),
        }
    }
}

#[cfg(test)]
mod photon_count_tests {
    use ndarray::{Array1, Array2, Array3};
    use num_complex::Complex32;

    use super::ScanData;

    fn scan(diffraction: Array3<f32>) -> ScanData {
        let n = diffraction.shape()[0];
        let side = diffraction.shape()[1];
        ScanData {
            diffraction,
            xcoords: Array1::zeros(n),
            ycoords: Array1::zeros(n),
            xcoords_start: Array1::zeros(n),
            ycoords_start: Array1::zeros(n),
            probe: Array2::from_elem((side, side), Complex32::new(1.0, 0.0)),
            object: None,
            scan_index: Array1::from_iter(0..n as i64),
            y_patches: None,
        }
    }

    #[test]
    fn square_roots_of_counts_are_told_from_normalised_amplitudes() {
        // Counts up to ~60 000 (a bright detector pixel) and zeros, stored as f32 square roots.
        let counts = Array3::from_shape_fn((3, 16, 16), |(p, r, c)| {
            ((p * 7919 + r * 613 + c * 37) % 61_000 * ((r + c) % 3).min(1)) as f32
        });
        let measured = scan(counts.mapv(f32::sqrt));
        assert!(measured.amplitudes_are_photon_counts());
        let total: f64 = counts.iter().map(|&c| c as f64).sum();
        assert!((measured.mean_photons_per_pattern() - total / 3.0).abs() < 1e-3 * total);
        // The same patterns normalised to unit mean energy are not counts.
        let norm = (total / 3.0).sqrt() as f32;
        assert!(!scan(counts.mapv(|c| c.sqrt() / norm)).amplitudes_are_photon_counts());
        assert!(!scan(Array3::zeros((1, 4, 4))).amplitudes_are_photon_counts());
    }
}
