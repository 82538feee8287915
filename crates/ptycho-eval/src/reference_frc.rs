//! Fourier ring correlation of the reference scorer (`compare_to_reference.py`'s `frc`), which
//! differs from upstream's FSC in [`crate::frc`] on purpose: the project's real-data numbers are
//! quoted with this script's conventions, so they are reproduced step for step here.
//!
//! * `min(ny, nx) / 2` equal bins over `[0, 0.5]` cycles/px (`np.linspace` edges); the radial
//!   frequency of a pixel is `hypot(fy, fx)` with `fy = (Y − ny/2)/ny` after `fftshift`, i.e.
//!   the signed FFT frequency, so rectangular images get elliptical rings in index space.
//! * `np.digitize` binning: a radius `r` lands in bin `i` when `edges[i] ≤ r < edges[i+1]`;
//!   radii ≥ 0.5 (the corners) are dropped.
//! * The correlation keeps its sign: `Re Σ F1·F2* / sqrt(Σ|F1|²·Σ|F2|² + 1e-30)`.
//! * Half-bit threshold `(0.2071 + 1.9102/√n)/(1.2071 + 0.9102/√n)`, capped at 1 (NaN for an
//!   empty bin, as `np.minimum` propagates NaN).

use ndarray::ArrayView2;
use num_complex::Complex64;
use serde::Serialize;

use crate::error::{EvalError, Result, ensure_same_shape};
use crate::fft2::{Direction, fft2_in_place, signed_frequency};

/// The low band the project reports, `[0, 0.1)` cycles/px.
pub const LOW_BAND: (f64, f64) = (0.0, 0.1);
/// The mid band the project reports, `[0.1, 0.25)` cycles/px.
pub const MID_BAND: (f64, f64) = (0.1, 0.25);
/// Bins below this index never define the cut-off: they hold too few pixels and their
/// threshold is about 1.
const FIRST_CUTOFF_BIN: usize = 2;

/// A per-bin FRC curve with its half-bit threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrcCurve {
    /// Bin centres in cycles/px.
    pub frequencies: Vec<f64>,
    /// Signed correlation per bin.
    pub values: Vec<f64>,
    /// Half-bit threshold per bin (capped at 1; NaN for an empty bin).
    pub threshold: Vec<f64>,
}

impl FrcCurve {
    /// NaN-ignoring mean of the bins whose centre lies in `[lo, hi)` cycles/px (NaN when no
    /// bin qualifies); the project summarises curves by bands rather than a single cut-off.
    pub fn band_mean(&self, lo: f64, hi: f64) -> f64 {
        nanmean(
            self.frequencies
                .iter()
                .zip(&self.values)
                .filter(|(f, _)| **f >= lo && **f < hi)
                .map(|(_, v)| *v),
        )
    }

    /// `np.nanmean` of the whole curve (the script's `frc_mean`).
    pub fn mean(&self) -> f64 {
        nanmean(self.values.iter().copied())
    }

    /// Centre frequency of the first bin, from index 2 on, whose value is below the
    /// threshold; 0.5 when there is none (the script's `frc_cutoff_cycles_per_px`).
    pub fn cutoff(&self) -> f64 {
        (FIRST_CUTOFF_BIN..self.values.len())
            .find(|&i| self.values[i] < self.threshold[i])
            .map_or(0.5, |i| self.frequencies[i])
    }
}

/// `np.nanmean`: the mean of the non-NaN values, NaN when there are none.
pub fn nanmean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// `np.hanning(m)`: the symmetric Hann window (zero at both ends), with NumPy's formula
/// `0.5 + 0.5·cos(π·n/(m−1))`, `n = 1−m, 3−m, …, m−1`.
pub fn hanning(m: usize) -> Vec<f64> {
    match m {
        0 => Vec::new(),
        1 => vec![1.0],
        _ => (0..m)
            .map(|k| {
                let n = 1.0 - m as f64 + 2.0 * k as f64;
                0.5 + 0.5 * (std::f64::consts::PI * n / (m - 1) as f64).cos()
            })
            .collect(),
    }
}

/// The script's `frc(a, b)` with its default bin count `min(ny, nx) / 2`.
pub fn half_bit_frc(
    a: ArrayView2<'_, Complex64>,
    b: ArrayView2<'_, Complex64>,
) -> Result<FrcCurve> {
    ensure_same_shape("reference frc", a.dim(), b.dim())?;
    let (ny, nx) = a.dim();
    let nb = ny.min(nx) / 2;
    if nb == 0 {
        return Err(EvalError::TooSmall {
            what: "reference frc",
            need: "2 pixels per side".into(),
            found: (ny, nx),
        });
    }
    let mut f1 = a.to_owned();
    let mut f2 = b.to_owned();
    fft2_in_place(&mut f1, Direction::Forward);
    fft2_in_place(&mut f2, Direction::Forward);
    // np.linspace(0, 0.5, nb + 1): i * step, the last edge set to exactly 0.5
    let step = 0.5 / nb as f64;
    let edges: Vec<f64> = (0..=nb)
        .map(|i| if i == nb { 0.5 } else { i as f64 * step })
        .collect();
    let (mut num, mut d1, mut d2, mut npx) =
        (vec![0.0; nb], vec![0.0; nb], vec![0.0; nb], vec![0.0; nb]);
    for ((ky, kx), z1) in f1.indexed_iter() {
        let fy = signed_frequency(ky, ny) as f64 / ny as f64;
        let fx = signed_frequency(kx, nx) as f64 / nx as f64;
        // np.digitize(r, edges) - 1; r >= 0 so the count is at least 1
        let bin = edges.partition_point(|&e| e <= fy.hypot(fx)) - 1;
        if bin >= nb {
            continue;
        }
        let z2 = f2[[ky, kx]];
        num[bin] += (z1 * z2.conj()).re;
        d1[bin] += z1.norm_sqr();
        d2[bin] += z2.norm_sqr();
        npx[bin] += 1.0;
    }
    let values = (0..nb)
        .map(|i| num[i] / (d1[i] * d2[i] + 1e-30).sqrt())
        .collect();
    let threshold = npx
        .iter()
        .map(|&n: &f64| {
            let t = (0.2071 + 1.9102 / n.sqrt()) / (1.2071 + 0.9102 / n.sqrt());
            if t.is_nan() { t } else { t.min(1.0) }
        })
        .collect();
    let frequencies = (0..nb).map(|i| 0.5 * (edges[i + 1] + edges[i])).collect();
    Ok(FrcCurve {
        frequencies,
        values,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn hanning_matches_numpy() {
        assert!(hanning(0).is_empty());
        assert_eq!(hanning(1), vec![1.0]);
        let h = hanning(5); // np.hanning(5) = [0, 0.5, 1, 0.5, 0]
        for (v, e) in h.iter().zip([0.0, 0.5, 1.0, 0.5, 0.0]) {
            assert!((v - e).abs() < 1e-15, "{h:?}");
        }
    }

    #[test]
    fn identical_images_correlate_to_one_and_never_cross() {
        let a = Array2::from_shape_fn((20, 16), |(r, c)| {
            Complex64::new(
                (r as f64 * 0.7).sin() + c as f64 * 0.1,
                (c as f64 * 1.3).cos(),
            )
        });
        let curve = half_bit_frc(a.view(), a.view()).unwrap();
        assert_eq!(curve.values.len(), 8);
        assert!(curve.values.iter().all(|v| (v - 1.0).abs() < 1e-12));
        assert_eq!(curve.cutoff(), 0.5);
        assert!((curve.frequencies[0] - 0.5 / 16.0).abs() < 1e-15);
        // bin 0 (r < 1/16) of a 20x16 grid holds DC and fy = ±1/20: three pixels
        let n = 3f64.sqrt();
        let t = (0.2071 + 1.9102 / n) / (1.2071 + 0.9102 / n);
        assert!(
            (curve.threshold[0] - t).abs() < 1e-15,
            "{:?}",
            curve.threshold
        );
    }

    #[test]
    fn sign_is_kept_and_bands_select_by_centre() {
        let a = Array2::from_shape_fn((8, 8), |(r, c)| Complex64::new((r * 3 + c) as f64, 0.0));
        let neg = a.mapv(|z| -z);
        let curve = half_bit_frc(a.view(), neg.view()).unwrap();
        assert!(curve.values.iter().all(|v| (v + 1.0).abs() < 1e-12));
        let c = FrcCurve {
            frequencies: vec![0.05, 0.15, 0.25, 0.35],
            values: vec![0.9, f64::NAN, 0.2, 0.1],
            threshold: vec![1.0, 0.5, 0.5, 0.5],
        };
        assert_eq!(c.band_mean(0.0, 0.2), 0.9);
        assert!((c.band_mean(0.1, 0.3) - 0.2).abs() < 1e-15);
        assert!(c.band_mean(0.4, 0.5).is_nan());
        assert!((c.mean() - 0.4).abs() < 1e-15);
        // index 1 would not count even if it were below; index 2 is the first candidate
        assert_eq!(c.cutoff(), 0.25);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let a = Array2::<Complex64>::zeros((4, 4));
        let b = Array2::<Complex64>::zeros((4, 5));
        let e = half_bit_frc(a.view(), b.view()).unwrap_err();
        assert!(e.to_string().contains("shapes differ"), "{e}");
    }
}
