//! Detector crop: train at a smaller detector (e.g. N = 128 → n = 64, four times fewer pixels)
//! by keeping only the central `n × n` diffraction pixels and moving everything that lives in
//! real space onto the coarser pixel this implies.
//!
//! Cropping the far field to its central `n × n` pixels discards the scattering angles beyond
//! `n/2` frequency bins, so the real-space pixel grows by `f = N / n`. With the physics convention
//! of the contract, `counts ≈ |fft2(P · O_patch, ortho)|²` (fftshifted), the cropped pattern is
//! reproduced exactly on the coarse grid when
//!
//! - the probe is Fourier-cropped with ortho transforms: `P' = ifft2_n(crop_n(fft2_N(P)))`, which
//!   for a band-limited probe gives `P'(j) = f · P(f·j)` (the factor `f` is what ortho
//!   normalisation at the smaller size leaves over; it is exactly the amplitude for which
//!   `|fft2_n(P' · O', ortho)|²` equals the crop of the fine far field);
//! - the object keeps its values, `O'(j) = O(f·j)` (it is a transmission function);
//! - positions are divided by `f`.
//!
//! Derivation (2-D, ortho): with `ψ = P · O_patch` band-limited to the central `n × n` bins,
//! `ψ(x) = (1/N) Σ_k Ψ(k) e^{2πi k·x/N}`. The coarse exit wave is `ψ'(j) = P'(j) O'(j) =
//! f ψ(f j)`, so `fft2_n(ψ', ortho)(k) = (1/n) Σ_j f ψ(f j) e^{-2πi k·j/n} = (f n / N) Σ_{k' ≡ k
//! (mod n)} Ψ(k') = Ψ(k)`: the coarse far field is the crop of the fine one.
//!
//! **Pixel convention.** Fine pixel coordinate `i` maps to coarse coordinate `i / f`: coarse
//! pixel `j` is the sample at fine pixel `f · j` (the DFT sample grids share pixel 0; it is not
//! the area-average convention `(i + 0.5) / f − 0.5`). This is what Fourier cropping produces, and
//! it is consistent with the patch convention: the fine patch at `y` starts at row `y − N/2`,
//! which maps to `y/f − n/2`, the start of the coarse patch at `y/f`.
//!
//! **Spectrum edges.** Down-sampling keeps the central window of the fftshifted spectrum,
//! signed frequencies `[−m/2, m − m/2 − 1]` per axis, exactly like the diffraction crop (the
//! `+m/2` bin of an even target is dropped). Up-sampling ([`upsample_object`]) splits an even
//! input's Nyquist bin `−m/2` in halves between `−m/2` and `+m/2` of the larger grid, so real
//! data stay real and every coarse sample is reproduced exactly at its fine position.
//!
//! **Binning** ([`bin_detector`]) is the other way to make the detector smaller: it sums
//! `f × f` blocks of counts, keeps every scattering angle, and leaves the real-space pixel as it
//! is (the field of view shrinks instead); see its module for the physics.

use std::path::Path;

use ndarray::{Array2, Array3, ArrayView2, Axis, s};
use num_complex::{Complex, Complex32};

use crate::contract::ScanData;
use crate::error::{DataError, Result};
use crate::simulate::objects::fft2;

mod bin;
pub use bin::{Binned, bin_detector, probe_power_in_window, tilt_to_block_centres};

/// The smallest detector [`crop_detector`] (and [`bin_detector`]) produces.
pub const MIN_CROP: usize = 16;

/// How a spectral resize scales its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    /// Ortho-normalised forward and inverse transforms (fields: the probe).
    Ortho,
    /// Values preserved, `out(j) = in(j · M / m)` (transmission functions: the object).
    Values,
}

/// Reduces the detector of `scan` to its central `n × n` pixels and resamples everything in real
/// space to the coarser pixel (size × `f`, `f = N / n`); see the module docs for the physics.
///
/// - `diffraction`: the window `[N/2 − n/2, N/2 + n/2)` on both axes, values unchanged
///   (photon amplitudes; zero frequency stays at `n/2`);
/// - positions (all four arrays): divided by `f`;
/// - `probe`: Fourier crop with ortho transforms (`P'(j) = f · P(f j)` for a band-limited probe);
/// - `object`: truncated to `(f·⌊H/f⌋, f·⌊W/f⌋)` (the dropped rows and columns have no coarse
///   pixel) and Fourier-cropped to `(⌊H/f⌋, ⌊W/f⌋)` with values preserved;
/// - `y_patches`: each Fourier-cropped to `n × n` with values preserved;
/// - `scan_index`: unchanged.
///
/// `n == N` returns a clone. Errors: `n` not a power of two `>=` [`MIN_CROP`], `n > N`, `N` not
/// divisible by `n`, or a scan whose arrays disagree in shape (see [`ScanData::validate`]).
pub fn crop_detector(scan: &ScanData, n: usize) -> Result<ScanData> {
    let big = scan.patch_size();
    let f = crop_factor(big, n)?;
    if f == 1 {
        return Ok(scan.clone());
    }
    scan.validate(Path::new("crop_detector input"))?;

    let lo = big / 2 - n / 2;
    let diffraction = scan
        .diffraction
        .slice(s![.., lo..lo + n, lo..lo + n])
        .to_owned();
    let scale = |a: &ndarray::Array1<f64>| a.mapv(|v| v / f as f64);
    let probe = spectral_resize(scan.probe.view(), (n, n), Norm::Ortho);
    let object = scan.object.as_ref().map(|o| downsample_object(o, f));
    let y_patches = scan.y_patches.as_ref().map(|y| {
        let mut out = Array3::zeros((y.shape()[0], n, n));
        for (patch, mut dst) in y.axis_iter(Axis(0)).zip(out.axis_iter_mut(Axis(0))) {
            dst.assign(&spectral_resize(patch, (n, n), Norm::Values));
        }
        out
    });
    Ok(ScanData {
        diffraction,
        xcoords: scale(&scan.xcoords),
        ycoords: scale(&scan.ycoords),
        xcoords_start: scale(&scan.xcoords_start),
        ycoords_start: scale(&scan.ycoords_start),
        probe,
        object,
        scan_index: scan.scan_index.clone(),
        y_patches,
    })
}

/// Band-limited (Fourier) interpolation of `object` by an integer `factor`, values preserved:
/// the output is `(factor·H, factor·W)` and coarse pixel `j` lands on fine pixel `factor · j`
/// (the convention of [`crop_detector`], so a reconstruction made on the cropped grid returns to
/// the original object frame). Every input sample is reproduced exactly at its fine position;
/// an even size's Nyquist bin is split in halves between `±m/2` (see the module docs).
///
/// `factor == 1` returns a copy; `factor == 0` an empty `(0, 0)` array.
pub fn upsample_object(object: &Array2<Complex32>, factor: usize) -> Array2<Complex32> {
    match factor {
        0 => Array2::zeros((0, 0)),
        1 => object.clone(),
        _ => {
            let (h, w) = object.dim();
            spectral_resize(object.view(), (h * factor, w * factor), Norm::Values)
        }
    }
}

/// Checks `n` against the detector size `big` and returns the factor `f = big / n`.
fn crop_factor(big: usize, n: usize) -> Result<usize> {
    if !n.is_power_of_two() || n < MIN_CROP {
        return Err(DataError::parameter(
            "n",
            format!("a power of two >= {MIN_CROP} (the cropped detector size)"),
            n,
        ));
    }
    if n > big {
        return Err(DataError::parameter(
            "n",
            format!("n <= N = {big} (the detector size; a crop cannot enlarge it)"),
            n,
        ));
    }
    if !big.is_multiple_of(n) {
        return Err(DataError::parameter(
            "crop",
            format!("a detector size N divisible by n = {n}"),
            format!("N = {big}"),
        ));
    }
    Ok(big / n)
}

/// Object on the coarse grid: drops the trailing `H mod f` rows and `W mod f` columns (they have
/// no coarse pixel under `i ↦ i / f`), then Fourier-crops with values preserved.
fn downsample_object(object: &Array2<Complex32>, f: usize) -> Array2<Complex32> {
    let (h, w) = (object.nrows() / f, object.ncols() / f);
    let kept = object.slice(s![..h * f, ..w * f]);
    spectral_resize(kept, (h, w), Norm::Values)
}

/// Resizes `input` to `out` by cropping or zero-padding its spectrum (see the module docs for the
/// kept frequencies and the Nyquist split), in f64 through the crate's 2-D FFT.
fn spectral_resize(
    input: ArrayView2<'_, Complex32>,
    out: (usize, usize),
    norm: Norm,
) -> Array2<Complex32> {
    let (mr, mc) = input.dim();
    let (or, oc) = out;
    if mr * mc == 0 || or * oc == 0 {
        return Array2::zeros(out);
    }
    let mut buf: Vec<Complex<f64>> = input
        .iter()
        .map(|v| Complex::new(f64::from(v.re), f64::from(v.im)))
        .collect();
    fft2(&mut buf, mr, mc, false);
    let mut spec = vec![Complex::new(0.0, 0.0); or * oc];
    let cols = axis_map(mc, oc);
    for (sr, dr, wr) in axis_map(mr, or) {
        for &(sc, dc, wc) in &cols {
            spec[dr * oc + dc] += buf[sr * mc + sc] * (wr * wc);
        }
    }
    fft2(&mut spec, or, oc, true);
    let scale = match norm {
        Norm::Ortho => 1.0 / ((mr * mc) as f64 * (or * oc) as f64).sqrt(),
        Norm::Values => 1.0 / (mr * mc) as f64,
    };
    Array2::from_shape_fn(out, |(r, c)| {
        let v = spec[r * oc + c] * scale;
        Complex32::new(v.re as f32, v.im as f32)
    })
}

/// Which unshifted frequency bins of a length-`from` axis go where on a length-`to` axis, with
/// their weights: the signed frequencies `[−keep/2, keep − keep/2 − 1]` with `keep = min(from,
/// to)` (the fftshifted central window). Padding an even `from` splits its Nyquist bin `−from/2`
/// in halves between `−from/2` and `+from/2`.
fn axis_map(from: usize, to: usize) -> Vec<(usize, usize, f64)> {
    let keep = from.min(to) as isize;
    let (from_i, to_i) = (from as isize, to as isize);
    let lo = -(keep / 2);
    let mut map = Vec::with_capacity(keep as usize + 1);
    for k in lo..lo + keep {
        let (src, dst) = (k.rem_euclid(from_i) as usize, k.rem_euclid(to_i) as usize);
        if to > from && from.is_multiple_of(2) && k == lo {
            map.push((src, dst, 0.5));
            map.push((src, (-k).rem_euclid(to_i) as usize, 0.5));
        } else {
            map.push((src, dst, 1.0));
        }
    }
    map
}

#[cfg(test)]
mod tests;
