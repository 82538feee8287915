//! Simulation of a canonical dataset (upstream `simulate_and_save` / `illuminate_and_diffract`,
//! reference data.md §6.1): object patches at the scan positions, exit wave `ψ = s·O·P`,
//! far-field intensity `|FFT2(ψ)|² / N²` (Parseval), `fftshift`, Poisson counts, and the stored
//! amplitude `X = sqrt(counts) / s` with `s = sqrt(nphotons / mean Σ (|O|·|P|)²)`, so the mean
//! expected photon count per pattern is `nphotons`.
//!
//! Random numbers: ChaCha8 seeded with `seed` drives the object, the scan and the Poisson noise, in
//! that order (no numpy parity is needed here; the same seed gives the same file).

pub mod fixture;
pub mod nested;
pub mod objects;

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3, Axis};
use num_complex::{Complex, Complex32};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use crate::contract::ScanData;
use crate::error::{DataError, Result};
use crate::patches::extract_patch;

/// The synthetic object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Lines,
    Grf,
}

/// Where the probe comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeSource {
    /// Upstream's default disk probe.
    Default,
    /// `probeGuess` of an NPZ (its size sets `N`).
    Npz(PathBuf),
}

/// Scan pattern.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanKind {
    /// Uniform random positions inside the object less a border of `N/2`.
    Random,
    /// A raster with this step in pixels, row by row, inside the same border.
    Grid { step: f64 },
}

/// Everything a simulation depends on (recorded in fixture manifests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationConfig {
    /// Patch / detector size `N` (ignored when the probe comes from an NPZ).
    pub n: usize,
    /// Object side in pixels.
    pub object_size: usize,
    pub object: ObjectKind,
    pub probe: ProbeSource,
    pub scan: ScanKind,
    /// Number of scan positions (random scans; a grid takes the first `n_images` raster points).
    pub n_images: usize,
    /// Mean photons per pattern.
    pub nphotons: f64,
    /// Draw Poisson counts (false: noiseless expected amplitudes).
    pub poisson: bool,
    pub seed: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            n: 64,
            object_size: 256,
            object: ObjectKind::Lines,
            probe: ProbeSource::Default,
            scan: ScanKind::Random,
            n_images: 500,
            nphotons: 1e9,
            poisson: true,
            seed: 42,
        }
    }
}

/// `fftshift` of a square `n × n` buffer (moves the zero frequency to `(n/2, n/2)`).
pub fn fftshift(data: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    let h = n / 2;
    for r in 0..n {
        for c in 0..n {
            out[((r + h) % n) * n + (c + h) % n] = data[r * n + c];
        }
    }
    out
}

/// Far-field intensity `fftshift(|FFT2(ψ)|²) / N²` of an exit wave.
pub fn far_field_intensity(psi: &Array2<Complex<f64>>) -> Array2<f64> {
    let n = psi.nrows();
    let mut buf: Vec<Complex<f64>> = psi.iter().copied().collect();
    objects::fft2(&mut buf, n, n, false);
    let inten: Vec<f64> = buf.iter().map(|v| v.norm_sqr() / (n * n) as f64).collect();
    Array2::from_shape_vec((n, n), fftshift(&inten, n)).unwrap_or_else(|_| Array2::zeros((n, n)))
}

fn load_probe(path: &Path) -> Result<Array2<Complex32>> {
    let mut reader = crate::npz::NpzReader::open(path)?;
    let arr = reader
        .read(crate::contract::keys::PROBE)?
        .ok_or_else(|| DataError::MissingKey {
            file: path.to_path_buf(),
            key: crate::contract::keys::PROBE.to_string(),
            hint: "a probe (N, N) complex64 to simulate with".to_string(),
        })?;
    let n = arr.shape.first().copied().unwrap_or(0);
    let mut ctx = crate::reader::Ctx {
        file: path,
        warnings: Vec::new(),
    };
    crate::reader::read_probe(&mut ctx, arr, n)
}

fn scan_positions(
    cfg: &SimulationConfig,
    n: usize,
    rng: &mut impl Rng,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let size = cfg.object_size as f64;
    let border = (n / 2) as f64;
    if size - 2.0 * border < 1.0 {
        return Err(DataError::parameter(
            "object_size",
            format!("> N + 1 = {} pixels", n + 1),
            cfg.object_size,
        ));
    }
    let (lo, hi) = (border, size - border - 1.0);
    match cfg.scan {
        ScanKind::Random => {
            let x = (0..cfg.n_images)
                .map(|_| rng.random_range(lo..hi))
                .collect();
            let y = (0..cfg.n_images)
                .map(|_| rng.random_range(lo..hi))
                .collect();
            Ok((x, y))
        }
        ScanKind::Grid { step } => {
            if !(step.is_finite() && step > 0.0) {
                return Err(DataError::parameter(
                    "scan step",
                    "a positive step in pixels",
                    step,
                ));
            }
            let per_side = ((hi - lo) / step).floor() as usize + 1;
            if per_side * per_side < cfg.n_images {
                return Err(DataError::parameter(
                    "n_images",
                    format!("<= {} raster points at step {step}", per_side * per_side),
                    cfg.n_images,
                ));
            }
            let pts: Vec<(f64, f64)> = (0..cfg.n_images)
                .map(|k| {
                    (
                        lo + (k % per_side) as f64 * step,
                        lo + (k / per_side) as f64 * step,
                    )
                })
                .collect();
            Ok((
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            ))
        }
    }
}

/// Simulates a canonical scan with ground truth (`objectGuess`, `Y`).
pub fn simulate(cfg: &SimulationConfig) -> Result<ScanData> {
    simulate_with(cfg, &mut |_, _| {})
}

/// [`simulate`], calling `on_pattern(done, total)` after every diffraction pattern (progress for
/// large scans).
pub fn simulate_with(
    cfg: &SimulationConfig,
    on_pattern: &mut dyn FnMut(usize, usize),
) -> Result<ScanData> {
    if cfg.n_images == 0 {
        return Err(DataError::parameter("n_images", ">= 1", 0));
    }
    if !(cfg.nphotons > 0.0 && cfg.nphotons.is_finite()) {
        return Err(DataError::parameter(
            "nphotons",
            "a positive, finite photon count",
            cfg.nphotons,
        ));
    }
    let probe = match &cfg.probe {
        ProbeSource::Default => {
            if cfg.n < 4 {
                return Err(DataError::parameter("N", ">= 4", cfg.n));
            }
            objects::default_probe(cfg.n)
        }
        ProbeSource::Npz(path) => load_probe(path)?,
    };
    let n = probe.nrows();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let amplitude = match cfg.object {
        ObjectKind::Lines => objects::lines_image(cfg.object_size, &mut rng),
        ObjectKind::Grf => objects::grf_image(cfg.object_size, &mut rng),
    };
    let object = objects::to_complex_object(&amplitude);
    let (x, y) = scan_positions(cfg, n, &mut rng)?;

    let patches: Vec<Array2<Complex32>> = x
        .iter()
        .zip(&y)
        .map(|(&px, &py)| extract_patch(&object, px, py, n))
        .collect();
    let energy: f64 = patches
        .iter()
        .map(|p| {
            p.iter()
                .zip(probe.iter())
                .map(|(o, q)| f64::from(o.norm() * q.norm()).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / patches.len() as f64;
    if !(energy.is_finite() && energy > 0.0) {
        return Err(DataError::parameter(
            "object",
            "non-zero illuminated amplitude at the scan positions",
            energy,
        ));
    }
    let s = (cfg.nphotons / energy).sqrt();
    let mut diffraction = Array3::zeros((patches.len(), n, n));
    for (i, patch) in patches.iter().enumerate() {
        let psi = Array2::from_shape_fn((n, n), |(r, c)| {
            let v = patch[[r, c]] * probe[[r, c]];
            Complex::new(f64::from(v.re), f64::from(v.im)) * s
        });
        let expected = far_field_intensity(&psi);
        let mut out = diffraction.index_axis_mut(Axis(0), i);
        for ((r, c), lam) in expected.indexed_iter() {
            let counts = if cfg.poisson && *lam > 0.0 {
                Poisson::new(*lam)
                    .map(|d| d.sample(&mut rng))
                    .unwrap_or(*lam)
            } else {
                *lam
            };
            out[[r, c]] = (counts.sqrt() / s) as f32;
        }
        on_pattern(i + 1, patches.len());
    }
    let y_patches = Array3::from_shape_fn((patches.len(), n, n), |(i, r, c)| patches[i][[r, c]]);
    let m = x.len();
    Ok(ScanData {
        diffraction,
        xcoords_start: Array1::from(x.clone()),
        ycoords_start: Array1::from(y.clone()),
        xcoords: Array1::from(x),
        ycoords: Array1::from(y),
        probe,
        object: Some(object),
        scan_index: Array1::from_iter(0..m as i64),
        y_patches: Some(y_patches),
    })
}
