//! Fourier ring correlation as upstream's `FRC.fourier_ring_corr.FSC` plus the threshold
//! crossings of `evaluation.frc_cutoffs`.
//!
//! * Non-square inputs are centre-cropped to a square first.
//! * Ring of a frequency bin: `round(sqrt(ky² + kx²))`, distances measured from the fftshifted
//!   centre pixel `(floor(H/2), floor(W/2))`, i.e. the signed FFT frequencies. The curve runs up
//!   to the corner ring (length `max ring + 1`), not only to Nyquist.
//! * `FRC[k] = |Σ F1·F2*| / sqrt(Σ|F1|² · Σ|F2|²)` over ring k (upstream averages per ring; the
//!   counts cancel).
//! * Cut-offs in ring units of the evaluated image (Nyquist = side/2): first ring whose value
//!   is below the threshold, linearly interpolated from the previous ring; `len(curve)` if the
//!   curve never drops below it, 0 if ring 0 already does.

use ndarray::ArrayView2;

use crate::crop::center_crop_square;
use crate::error::{EvalError, Result, ensure_same_shape};
use crate::fft2::{fft2_real, signed_frequency};
use crate::filters::gaussian_filter1d;

/// FRC threshold of the FRC50 resolution.
pub const FRC_HALF: f64 = 0.5;
/// FRC threshold of the 1/7 resolution criterion.
pub const FRC_ONE_SEVENTH: f64 = 1.0 / 7.0;

/// An FRC curve and its two standard cut-offs.
#[derive(Debug, Clone, PartialEq)]
pub struct FrcResult {
    /// Correlation per ring, ring 0 first (NaN for a ring without power).
    pub curve: Vec<f64>,
    /// Ring index (fractional) where the curve first drops below 0.5.
    pub frc50: f64,
    /// Ring index (fractional) where the curve first drops below 1/7.
    pub frc1over7: f64,
}

/// The FRC curve of two images (square-cropped if needed).
pub fn frc_curve(target: ArrayView2<'_, f64>, pred: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
    ensure_same_shape("frc", target.dim(), pred.dim())?;
    let t = center_crop_square(target)?;
    let p = center_crop_square(pred)?;
    let n = t.nrows();
    let f1 = fft2_real(t);
    let f2 = fft2_real(p);
    let ring_of = |ky: usize, kx: usize| -> usize {
        let fy = signed_frequency(ky, n) as f64;
        let fx = signed_frequency(kx, n) as f64;
        (fy * fy + fx * fx).sqrt().round() as usize
    };
    let max_ring = (0..n)
        .flat_map(|ky| (0..n).map(move |kx| (ky, kx)))
        .map(|(ky, kx)| ring_of(ky, kx))
        .max()
        .unwrap_or(0);
    let mut cross = vec![num_complex::Complex64::new(0.0, 0.0); max_ring + 1];
    let mut p1 = vec![0.0f64; max_ring + 1];
    let mut p2 = vec![0.0f64; max_ring + 1];
    for ((ky, kx), a) in f1.indexed_iter() {
        let b = f2[[ky, kx]];
        let k = ring_of(ky, kx);
        cross[k] += a * b.conj();
        p1[k] += a.norm_sqr();
        p2[k] += b.norm_sqr();
    }
    Ok(cross
        .iter()
        .zip(p1.iter().zip(p2.iter()))
        .map(|(c, (a, b))| c.norm() / (a * b).abs().sqrt())
        .collect())
}

/// First crossing of `threshold`, linearly interpolated (upstream
/// `_first_below_threshold_interpolated`). NaN for an empty or all-NaN curve.
pub fn threshold_crossing(curve: &[f64], threshold: f64) -> f64 {
    if curve.is_empty() || !curve.iter().any(|v| v.is_finite()) {
        return f64::NAN;
    }
    let Some(i) = curve.iter().position(|v| v.is_finite() && *v < threshold) else {
        return curve.len() as f64;
    };
    if i == 0 {
        return 0.0;
    }
    let j = i - 1;
    let (y0, y1) = (curve[j], curve[i]);
    if !y0.is_finite() {
        return i as f64;
    }
    let denom = y1 - y0;
    // numpy.isclose(denom, 0) with its default atol
    if denom.abs() <= 1e-8 {
        return i as f64;
    }
    let x = j as f64 + (threshold - y0) / denom;
    if !x.is_finite() {
        return i as f64;
    }
    x.clamp(j as f64, i as f64)
}

/// FRC curve (optionally Gaussian-smoothed with `frc_sigma`, as upstream) and its cut-offs.
///
/// Upstream returns NaN cut-offs when the target is identically zero, and fails when the
/// prediction is all NaN; both are kept (the latter as an error).
pub fn frc_cutoffs(
    target: ArrayView2<'_, f64>,
    pred: ArrayView2<'_, f64>,
    frc_sigma: f64,
) -> Result<FrcResult> {
    if !pred.is_empty() && pred.iter().all(|v| v.is_nan()) {
        return Err(EvalError::Degenerate {
            what: "frc",
            detail: "the prediction is NaN everywhere".to_string(),
        });
    }
    if target.iter().all(|&v| v == 0.0) {
        return Ok(FrcResult {
            curve: Vec::new(),
            frc50: f64::NAN,
            frc1over7: f64::NAN,
        });
    }
    let mut curve = frc_curve(target, pred)?;
    if frc_sigma > 0.0 {
        curve = gaussian_filter1d(&curve, frc_sigma);
    }
    Ok(FrcResult {
        frc50: threshold_crossing(&curve, FRC_HALF),
        frc1over7: threshold_crossing(&curve, FRC_ONE_SEVENTH),
        curve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn self_correlation_is_one_everywhere_and_never_crosses() {
        let a = Array2::from_shape_fn((16, 16), |(r, c)| ((r * 7 + c * 3) % 11) as f64);
        let r = frc_cutoffs(a.view(), a.view(), 0.0).unwrap();
        // corner ring round(sqrt(8^2 + 8^2)) = 11, so 12 rings
        assert_eq!(r.curve.len(), 12);
        assert!(r.curve.iter().all(|v| (v - 1.0).abs() < 1e-12));
        assert_eq!(r.frc50, 12.0);
        assert_eq!(r.frc1over7, 12.0);
    }

    #[test]
    fn crossing_is_interpolated_between_rings() {
        let c = [1.0, 0.9, 0.7, 0.3, 0.1];
        // below 0.5 first at ring 3: 2 + (0.5 - 0.7) / (0.3 - 0.7) = 2.5
        assert!((threshold_crossing(&c, 0.5) - 2.5).abs() < 1e-12);
        // below 1/7 first at ring 4: 3 + (1/7 - 0.3) / (0.1 - 0.3)
        let e = 3.0 + (1.0 / 7.0 - 0.3) / (0.1 - 0.3);
        assert!((threshold_crossing(&c, 1.0 / 7.0) - e).abs() < 1e-12);
        assert_eq!(threshold_crossing(&[0.2, 0.9], 0.5), 0.0);
        assert_eq!(threshold_crossing(&[0.9, f64::NAN, 0.9], 0.5), 3.0);
        assert_eq!(threshold_crossing(&[0.9, f64::NAN, 0.1], 0.5), 2.0);
        assert!(threshold_crossing(&[], 0.5).is_nan());
    }

    #[test]
    fn zero_target_gives_nan_and_nan_prediction_is_an_error() {
        let z = Array2::<f64>::zeros((8, 8));
        let r = frc_cutoffs(z.view(), z.view(), 0.0).unwrap();
        assert!(r.frc50.is_nan() && r.frc1over7.is_nan());
        let nan = Array2::from_elem((8, 8), f64::NAN);
        let one = Array2::from_elem((8, 8), 1.0);
        assert!(frc_cutoffs(one.view(), nan.view(), 0.0).is_err());
    }

    #[test]
    fn non_square_inputs_are_centre_cropped() {
        let a = Array2::from_shape_fn((10, 14), |(r, c)| (r as f64).sin() + (c as f64).cos());
        let b = a.mapv(|v| v * 2.0);
        let curve = frc_curve(a.view(), b.view()).unwrap();
        // 10x10 crop: corner ring round(sqrt(50)) = 7 -> 8 rings; scaling keeps FRC = 1
        assert_eq!(curve.len(), 8);
        assert!(curve.iter().all(|v| (v - 1.0).abs() < 1e-12));
    }
}
