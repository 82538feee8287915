//! SSIM exactly as `skimage.metrics.structural_similarity` with its defaults (7×7 uniform
//! window, K1 = 0.01, K2 = 0.03, sample covariance `NP/(NP−1)`, mean over the image with a
//! 3-pixel border strip ignored), and upstream's custom MS-SSIM.
//!
//! Because skimage discards exactly the window radius at every edge, only windows that lie
//! fully inside the image enter the mean, so its boundary mode never matters.

use ndarray::{Array2, ArrayView2, s};

use crate::error::{EvalError, Result, ensure_same_shape};
use crate::filters::gaussian_filter;
use crate::pointwise::data_range;

/// Side of the uniform SSIM window.
pub const SSIM_WINDOW: usize = 7;
/// SSIM luminance constant.
pub const SSIM_K1: f64 = 0.01;
/// SSIM contrast constant.
pub const SSIM_K2: f64 = 0.03;
/// MS-SSIM level weights (Wang et al. 2003), one per level, finest first.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
/// SSIM values below zero are clamped to this before the weighted power in MS-SSIM.
pub const MS_SSIM_NEGATIVE_CLAMP: f64 = 1e-4;

/// Mean SSIM of two images with an explicit `data_range` (skimage-compatible).
///
/// Both images must be at least 7×7. A zero `data_range` with constant windows gives NaN,
/// as in skimage.
pub fn ssim(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, data_range: f64) -> Result<f64> {
    ensure_same_shape("ssim", a.dim(), b.dim())?;
    let (h, w) = a.dim();
    if h < SSIM_WINDOW || w < SSIM_WINDOW {
        return Err(EvalError::TooSmall {
            what: "ssim",
            need: format!("{SSIM_WINDOW}x{SSIM_WINDOW} pixels (the window size)"),
            found: (h, w),
        });
    }
    let np = (SSIM_WINDOW * SSIM_WINDOW) as f64;
    let cov_norm = np / (np - 1.0);
    let c1 = (SSIM_K1 * data_range).powi(2);
    let c2 = (SSIM_K2 * data_range).powi(2);

    let sa = window_sums(&a.to_owned());
    let sb = window_sums(&b.to_owned());
    let saa = window_sums(&(&a * &a));
    let sbb = window_sums(&(&b * &b));
    let sab = window_sums(&(&a * &b));

    let mut total = 0.0;
    for (idx, &sum_a) in sa.indexed_iter() {
        let ux = sum_a / np;
        let uy = sb[idx] / np;
        let vx = cov_norm * (saa[idx] / np - ux * ux);
        let vy = cov_norm * (sbb[idx] / np - uy * uy);
        let vxy = cov_norm * (sab[idx] / np - ux * uy);
        let num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2);
        let den = (ux * ux + uy * uy + c1) * (vx + vy + c2);
        total += num / den;
    }
    Ok(total / sa.len() as f64)
}

/// Sums of every fully-contained 7×7 window, via a summed-area table (f64).
/// Output shape `(h − 6, w − 6)`; entry `(i, j)` is the window centred on `(i + 3, j + 3)`.
fn window_sums(img: &Array2<f64>) -> Array2<f64> {
    let (h, w) = img.dim();
    let mut sat = Array2::<f64>::zeros((h + 1, w + 1));
    for r in 0..h {
        let mut row_acc = 0.0;
        for c in 0..w {
            row_acc += img[[r, c]];
            sat[[r + 1, c + 1]] = sat[[r, c + 1]] + row_acc;
        }
    }
    let k = SSIM_WINDOW;
    Array2::from_shape_fn((h + 1 - k, w + 1 - k), |(i, j)| {
        sat[[i + k, j + k]] - sat[[i, j + k]] - sat[[i + k, j]] + sat[[i, j]]
    })
}

/// Upstream's custom MS-SSIM (`ptycho.evaluation.ms_ssim`, 5 levels).
///
/// * optional Gaussian smoothing of both images first (`sigma > 0`; upstream uses σ = 1 for
///   amplitude, none for phase);
/// * `data_range = max(range(a), range(b))` fixed from level 0 (after smoothing);
/// * at each level the *full* SSIM (not contrast-structure only), negative values clamped to
///   1e-4, a NaN anywhere returns 0;
/// * product of `ssim_l^{w_l}`; downsampling keeps every 2nd pixel (no low-pass) and stops
///   early once the smaller side drops below 7.
pub fn ms_ssim(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, sigma: f64) -> Result<f64> {
    ensure_same_shape("ms-ssim", a.dim(), b.dim())?;
    let mut a = gaussian_filter(a, sigma);
    let mut b = gaussian_filter(b, sigma);
    let range = data_range(a.view()).max(data_range(b.view()));
    let levels = MS_SSIM_WEIGHTS.len();
    let mut value = 1.0f64;
    for (level, &weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let mut s = ssim(a.view(), b.view(), range)?;
        if s.is_nan() {
            return Ok(0.0);
        }
        if s < 0.0 {
            s = MS_SSIM_NEGATIVE_CLAMP;
        }
        value *= s.powf(weight);
        if value.is_nan() {
            return Ok(0.0);
        }
        if level + 1 < levels {
            a = a.slice(s![..;2, ..;2]).to_owned();
            b = b.slice(s![..;2, ..;2]).to_owned();
            if a.nrows().min(a.ncols()) < SSIM_WINDOW {
                break;
            }
        }
    }
    Ok(if value.is_nan() { 0.0 } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(h: usize, w: usize, phase: f64) -> Array2<f64> {
        Array2::from_shape_fn((h, w), |(r, c)| {
            ((r as f64 * 0.7 + phase).sin() * (c as f64 * 0.45).cos() + 1.5) * 0.5
        })
    }

    #[test]
    fn identical_images_score_one() {
        let a = textured(20, 24, 0.0);
        assert!((ssim(a.view(), a.view(), 1.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((ms_ssim(a.view(), a.view(), 1.0).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn single_window_matches_the_closed_form() {
        // A 7x7 image has exactly one window: SSIM is the textbook formula on global stats.
        let a = textured(7, 7, 0.0);
        let b = textured(7, 7, 0.4);
        let n = 49.0;
        let (ma, mb) = (a.sum() / n, b.sum() / n);
        let va = a.iter().map(|v| (v - ma).powi(2)).sum::<f64>() / (n - 1.0);
        let vb = b.iter().map(|v| (v - mb).powi(2)).sum::<f64>() / (n - 1.0);
        let cov = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (n - 1.0);
        let (c1, c2) = ((0.01f64 * 2.0).powi(2), (0.03f64 * 2.0).powi(2));
        let expected =
            (2.0 * ma * mb + c1) * (2.0 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        let got = ssim(a.view(), b.view(), 2.0).unwrap();
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    }

    #[test]
    fn too_small_images_are_rejected() {
        let a = Array2::<f64>::zeros((6, 10));
        let err = ssim(a.view(), a.view(), 1.0).unwrap_err();
        assert!(err.to_string().contains("7x7"), "{err}");
    }

    #[test]
    fn anticorrelated_levels_are_clamped_not_nan() {
        let a = textured(16, 16, 0.0);
        let b = a.mapv(|v| 1.0 - v);
        let m = ms_ssim(a.view(), b.view(), 0.0).unwrap();
        assert!(m > 0.0 && m < 0.5, "{m}");
    }
}
