//! Detector binning: the other way to make the detector smaller. [`bin_detector`] sums the photon
//! counts over `f × f` blocks (`f` = `factor`), so `N` becomes `n = N / f`, and keeps every
//! scattering angle. [`crop_detector`](super::crop_detector) keeps only the central angles,
//! which is useless when the diffraction is not concentrated there (a zone-plate probe's bright
//! annulus lies mostly outside a centre crop).
//!
//! **What binning does to real space.** Sampling the far field `f` times more coarsely over the
//! same angular range shrinks the real-space field of view `N → n` at the SAME pixel size. So
//! positions and the object stay as they are; the probe and the ground-truth patches become
//! their central `n × n` windows, rows/cols `[N/2 − n/2, N/2 − n/2 + n)` (for even `n`:
//! `[N/2 − n/2, N/2 + n/2)`), which is where the coarse patch at `(x, y)`, starting at
//! `y − n/2`, sits inside the fine patch, starting at `y − N/2`. Nothing is rescaled.
//!
//! **Block alignment.** Coarse pixel `j` (per axis) is the sum of fine pixels `[f j, f j + f)`.
//! The fine zero frequency `N/2` lands in coarse pixel `⌊N/2 / f⌋ = ⌊n/2⌋`, the coarse zero
//! frequency (with `N = 128`, `f = 2`: fine pixels 64 and 65 form coarse pixel 32).
//!
//! **Why no amplitude scaling (2-D, ortho transforms).** Let the exit wave `ψ = P · O_patch` be
//! supported in the `n`-window (coordinates `x` on the window; the window's offset in the fine
//! patch only multiplies the far field by a phase). For even `n`, the fine signed frequency of
//! block `q` (coarse signed frequency, `q = j − n/2`) is `k = f q + r`, `r ∈ [0, f)²`, and
//!
//! ```text
//! Ψ_N(f q + r) = (1/N) Σ_x ψ(x) e^{−2πi (f q + r)·x / N}
//!              = (1/f) (1/n) Σ_x ψ(x) e^{−2πi (q + r/f)·x / n} = (1/f) Φ(q + r/f),
//! ```
//!
//! where `Φ(u) = (1/n) Σ_x ψ(x) e^{−2πi u·x/n}` is the far field of the window with the
//! coarse grid's own ortho normalisation (`Φ(q) = fft2_n(ψ, ortho)(q)`, the coarse model). The
//! binned pattern is therefore
//!
//! ```text
//! B(q) = Σ_r |Ψ_N(f q + r)|² = (1/f²) Σ_{r ∈ [0, f)²} |Φ(q + r/f)|²,
//! ```
//!
//! the MEAN of the coarse model's own intensity over `f²` sub-bin samples: the `1/f²` of the
//! finer normalisation cancels the `f²` terms of the sum, so the probe window keeps its
//! amplitude. This is exact; the approximation is `B(q) ≈ |Φ(q)|²`. Binning samples the far
//! field of the window-limited wave convolved with a one-bin box whose centre sits
//! `s = (f − 1) / (2f)` of a coarse bin past `q` (a quarter bin for `f = 2`), so the residual is
//! that offset plus the box blur. Both scale with how much `|Φ|²` varies over one bin: its
//! speckle is about `n / D` bins wide for an exit wave of diameter `D`, so the residual is
//! small only for a wave that fills little of the window. Both sides hold `Σ |ψ|²` photons
//! (Parseval), so the total is the same exactly.
//!
//! **The offset is the larger part, and a probe tilt removes it exactly.**
//! `fft2_n(ψ · e^{−2πi s·x/n})(q) = Φ(q + s)`, so the coarse model with the probe
//! [`tilt_to_block_centres`] samples the far field at the block centres. Measured with random
//! objects (`N = 64, 128`, `f = 2, 4`, compact probes of radius `0.2…0.5 n`; the test
//! `binned_patterns_match_the_coarse_forward_model` keeps one case): the plain window misses
//! the binned intensities by 5–27 % (relative L2), the tilted one by 0.4–6 %.
//! [`bin_detector`] returns the plain window (positions and object untouched); apply the tilt
//! to `scan.probe` to train with the smaller error.
//!
//! A measured probe is not supported in the window: the power outside it is lost to the coarse
//! model, and [`Binned::probe_power_kept`] reports the fraction that remains. It costs more
//! than its share: a centred Gaussian probe keeping 97 % of its power in the window
//! (`N = 128`, `f = 2`, random object) left a tilted residual of 7.5 % (12 % in amplitude),
//! against 2–4 % for probes that fit the window.

use std::path::Path;

use ndarray::{Array2, Array3, ArrayView2, Axis, s};
use num_complex::Complex32;

use super::MIN_CROP;
use crate::contract::ScanData;
use crate::error::{DataError, Result};

/// A binned scan and how much of the probe's power its `n × n` window keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    /// The scan on the binned detector (see [`bin_detector`]).
    pub scan: ScanData,
    /// `Σ |P|²` inside the central `n × n` window over `Σ |P|²` of the whole probe, in `[0, 1]`
    /// (see [`probe_power_in_window`]). The binned forward model ignores the rest: warn when it
    /// is low (e.g. below 0.9).
    pub probe_power_kept: f64,
}

/// Bins the detector of `scan` by `factor` per axis (`N → n = N / factor`), summing the photon
/// counts of each `factor × factor` block; see the module docs for the physics.
///
/// - `diffraction`: `out = sqrt(Σ a²)` over the block of amplitudes `a` (the counts add), blocks
///   aligned so that the zero frequency `N/2` lands in coarse pixel `n/2`; the photon count of
///   every pattern is preserved (up to the `f32` rounding of the stored amplitude);
/// - positions (all four arrays), `object`, `scan_index`: unchanged (same pixel size);
/// - `probe`: its central `n × n` window, rows/cols `[N/2 − n/2, N/2 − n/2 + n)`, values
///   unchanged (no amplitude scaling, see the module docs); [`tilt_to_block_centres`] of it
///   matches the binned data better (a quarter-bin offset for `factor` 2);
/// - `y_patches`: each its central `n × n` window.
///
/// `factor == 1` returns a clone (power kept 1). Errors: `factor == 0`, `N` not divisible by
/// `factor`, `N / factor <` [`MIN_CROP`], or a scan whose arrays disagree in shape (see
/// [`ScanData::validate`]).
pub fn bin_detector(scan: &ScanData, factor: usize) -> Result<Binned> {
    let big = scan.patch_size();
    let n = binned_size(big, factor)?;
    if factor == 1 {
        return Ok(Binned {
            scan: scan.clone(),
            probe_power_kept: 1.0,
        });
    }
    scan.validate(Path::new("bin_detector input"))?;

    let mut diffraction = Array3::zeros((scan.n_positions(), n, n));
    for (src, mut dst) in scan
        .diffraction
        .axis_iter(Axis(0))
        .zip(diffraction.axis_iter_mut(Axis(0)))
    {
        dst.assign(&bin_pattern(src, factor));
    }
    let lo = window_start(big, n);
    let probe = scan.probe.slice(s![lo..lo + n, lo..lo + n]).to_owned();
    let y_patches = scan
        .y_patches
        .as_ref()
        .map(|y| y.slice(s![.., lo..lo + n, lo..lo + n]).to_owned());
    Ok(Binned {
        probe_power_kept: probe_power_in_window(&scan.probe, n),
        scan: ScanData {
            diffraction,
            xcoords: scan.xcoords.clone(),
            ycoords: scan.ycoords.clone(),
            xcoords_start: scan.xcoords_start.clone(),
            ycoords_start: scan.ycoords_start.clone(),
            probe,
            object: scan.object.clone(),
            scan_index: scan.scan_index.clone(),
            y_patches,
        },
    })
}

/// Fraction of the probe's power `Σ |P|²` inside its central `n × n` window (rows/cols
/// `[R/2 − n/2, R/2 − n/2 + n)` of an `R × C` probe; `n` larger than a side keeps that whole
/// side). A probe without power returns 1 (nothing to lose).
pub fn probe_power_in_window(probe: &Array2<Complex32>, n: usize) -> f64 {
    let power = |v: &Complex32| f64::from(v.re).powi(2) + f64::from(v.im).powi(2);
    let total: f64 = probe.iter().map(power).sum();
    if total <= 0.0 {
        return 1.0;
    }
    let (rows, cols) = probe.dim();
    let (nr, nc) = (n.min(rows), n.min(cols));
    let (r0, c0) = (window_start(rows, nr), window_start(cols, nc));
    let kept: f64 = probe
        .slice(s![r0..r0 + nr, c0..c0 + nc])
        .iter()
        .map(power)
        .sum();
    kept / total
}

/// The binned probe (the `n × n` window [`bin_detector`] returns) times the tilt that moves the
/// coarse model's frequency samples onto the centres of the `factor × factor` blocks:
/// `P(x) · e^{−2πi s (x − n/2)/n}` per axis, `s = ((f − 1)/2 − d) / f` binned pixels with
/// `d = ⌊f n/2⌋ − f ⌊n/2⌋` (`s = (f − 1)/(2f)` for even `n`; see the module docs). The
/// amplitude is unchanged and the phase at the window centre too (the tilt is referred to it).
/// `factor` 0 or 1 returns a copy.
pub fn tilt_to_block_centres(probe: &Array2<Complex32>, factor: usize) -> Array2<Complex32> {
    if factor <= 1 {
        return probe.clone();
    }
    let f = factor as f64;
    let phase = |x: usize, n: usize| {
        let d = (factor * n / 2 - factor * (n / 2)) as f64;
        let s = ((f - 1.0) / 2.0 - d) / f;
        -2.0 * std::f64::consts::PI * s * (x as f64 - (n / 2) as f64) / n as f64
    };
    let (rows, cols) = probe.dim();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let v = probe[[r, c]];
        let t = phase(r, rows) + phase(c, cols);
        let (sin, cos) = t.sin_cos();
        let (re, im) = (f64::from(v.re), f64::from(v.im));
        Complex32::new((re * cos - im * sin) as f32, (re * sin + im * cos) as f32)
    })
}

/// Checks `factor` against the detector size `big` and returns the binned size `n = big / factor`.
fn binned_size(big: usize, factor: usize) -> Result<usize> {
    if factor == 0 {
        return Err(DataError::parameter(
            "factor",
            "a binning factor >= 1 (detector pixels per binned pixel, per axis)",
            factor,
        ));
    }
    if !big.is_multiple_of(factor) {
        return Err(DataError::parameter(
            "bin",
            format!("a detector size N divisible by the binning factor {factor}"),
            format!("N = {big}"),
        ));
    }
    let n = big / factor;
    if n < MIN_CROP {
        return Err(DataError::parameter(
            "bin",
            format!("a binned detector N / factor >= {MIN_CROP}"),
            format!("N / factor = {big} / {factor} = {n}"),
        ));
    }
    Ok(n)
}

/// First row (column) of the central length-`n` window of a length-`big` axis.
fn window_start(big: usize, n: usize) -> usize {
    big / 2 - n / 2
}

/// Sums the counts `a²` of `factor × factor` blocks: fine pixel `(r, c)` goes to coarse pixel
/// `(r / factor, c / factor)`; returns amplitudes `sqrt(Σ a²)`.
fn bin_pattern(pattern: ArrayView2<'_, f32>, factor: usize) -> Array2<f32> {
    let (rows, cols) = pattern.dim();
    let (nr, nc) = (rows / factor, cols / factor);
    let mut counts = vec![0.0f64; nr * nc];
    for ((r, c), &a) in pattern.indexed_iter() {
        counts[(r / factor) * nc + c / factor] += f64::from(a) * f64::from(a);
    }
    Array2::from_shape_fn((nr, nc), |(r, c)| counts[r * nc + c].sqrt() as f32)
}

#[cfg(test)]
mod tests;
