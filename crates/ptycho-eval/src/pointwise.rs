//! Pixel-wise metrics: amplitude mean scaling, MAE, MSE and PSNR.
//!
//! PSNR follows OpenCV's `cv2.PSNR` exactly, which upstream uses for every published number:
//! `20·log10(R / (sqrt(MSE) + DBL_EPSILON))` with the default peak `R = 255` even though the
//! images are O(1); that is why the paper's PSNRs are 50–95 dB. Identical images therefore give
//! about 361 dB, not infinity. [`psnr_physical_db`] is the physically meaningful variant with
//! the ground truth's own value range as peak; it is *not* comparable with the paper.

use ndarray::{Array2, ArrayView2, Zip};

use crate::error::{EvalError, Result, ensure_same_shape};

/// The peak value of OpenCV's default PSNR convention.
pub const PSNR_PEAK_R255: f64 = 255.0;

/// `mean(target) / mean(pred)`: the factor that upstream multiplies the predicted amplitude by
/// before every amplitude metric.
pub fn mean_scale_factor(target: ArrayView2<'_, f64>, pred: ArrayView2<'_, f64>) -> Result<f64> {
    ensure_same_shape("amplitude scaling", target.dim(), pred.dim())?;
    let mt = target.mean().unwrap_or(f64::NAN);
    let mp = pred.mean().unwrap_or(f64::NAN);
    let scale = mt / mp;
    if !scale.is_finite() {
        return Err(EvalError::Degenerate {
            what: "amplitude scaling",
            detail: format!(
                "mean(ground truth) / mean(prediction) = {mt} / {mp} is not finite; the predicted amplitude is all zero or not finite"
            ),
        });
    }
    Ok(scale)
}

/// Multiplies `pred` by [`mean_scale_factor`]; returns the scaled image and the factor.
pub fn scale_to_mean(
    target: ArrayView2<'_, f64>,
    pred: ArrayView2<'_, f64>,
) -> Result<(Array2<f64>, f64)> {
    let scale = mean_scale_factor(target, pred)?;
    Ok((pred.mapv(|v| v * scale), scale))
}

/// Mean absolute error over all pixels.
pub fn mae(target: ArrayView2<'_, f64>, pred: ArrayView2<'_, f64>) -> Result<f64> {
    ensure_same_shape("mae", target.dim(), pred.dim())?;
    Ok(mean_of(target, pred, |d| d.abs()))
}

/// Mean squared error over all pixels.
pub fn mse(target: ArrayView2<'_, f64>, pred: ArrayView2<'_, f64>) -> Result<f64> {
    ensure_same_shape("mse", target.dim(), pred.dim())?;
    Ok(mean_of(target, pred, |d| d * d))
}

/// PSNR in dB with an explicit peak, OpenCV formula `20·log10(peak / (sqrt(MSE) + ε))`.
pub fn psnr_with_peak(
    target: ArrayView2<'_, f64>,
    pred: ArrayView2<'_, f64>,
    peak: f64,
) -> Result<f64> {
    let m = mse(target, pred)?;
    Ok(20.0 * (peak / (m.sqrt() + f64::EPSILON)).log10())
}

/// PSNR in dB with the paper's `R = 255` convention (`cv2.PSNR` default).
pub fn psnr_r255_db(target: ArrayView2<'_, f64>, pred: ArrayView2<'_, f64>) -> Result<f64> {
    psnr_with_peak(target, pred, PSNR_PEAK_R255)
}

/// Physical-range PSNR: the peak is the ground truth's own range `max(target) − min(target)`.
/// Not comparable with the paper's table (see the module docs). Returns the PSNR and the peak.
pub fn psnr_physical_db(
    target: ArrayView2<'_, f64>,
    pred: ArrayView2<'_, f64>,
) -> Result<(f64, f64)> {
    let range = data_range(target);
    Ok((psnr_with_peak(target, pred, range)?, range))
}

/// `max − min` of an image (0 for an empty image).
pub fn data_range(image: ArrayView2<'_, f64>) -> f64 {
    let (lo, hi) = image
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() && hi.is_finite() {
        hi - lo
    } else {
        0.0
    }
}

fn mean_of(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, f: impl Fn(f64) -> f64) -> f64 {
    let n = a.len();
    if n == 0 {
        return f64::NAN;
    }
    let mut acc = 0.0;
    Zip::from(&a).and(&b).for_each(|&x, &y| acc += f(x - y));
    acc / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_errors() {
        let t = array![[1.0, 2.0], [3.0, 4.0]];
        let p = array![[1.5, 2.0], [2.0, 4.0]];
        assert!((mae(t.view(), p.view()).unwrap() - 0.375).abs() < 1e-15);
        assert!((mse(t.view(), p.view()).unwrap() - 0.3125).abs() < 1e-15);
        let expected = 20.0 * (255.0 / (0.3125f64.sqrt() + f64::EPSILON)).log10();
        assert!((psnr_r255_db(t.view(), p.view()).unwrap() - expected).abs() < 1e-12);
        // MSE = 0.01 => PSNR = 10 log10(255^2 / 0.01) = 68.13 dB
        let q = t.mapv(|v| v + 0.1);
        let v = psnr_r255_db(t.view(), q.view()).unwrap();
        assert!((v - 68.130_803_608_679_1).abs() < 1e-9, "{v}");
        let (phys, peak) = psnr_physical_db(t.view(), q.view()).unwrap();
        assert_eq!(peak, 3.0);
        assert!((phys - 10.0 * (9.0f64 / 0.01).log10()).abs() < 1e-9);
    }

    #[test]
    fn identical_images_give_the_opencv_ceiling() {
        let t = array![[0.3, 0.7]];
        let v = psnr_r255_db(t.view(), t.view()).unwrap();
        assert!((v - 20.0 * (255.0 / f64::EPSILON).log10()).abs() < 1e-9);
        assert!(v > 361.0 && v < 362.0);
    }

    #[test]
    fn mean_scaling_matches_means_and_rejects_zero_prediction() {
        let t = array![[2.0, 4.0]];
        let p = array![[1.0, 1.0]];
        let (scaled, s) = scale_to_mean(t.view(), p.view()).unwrap();
        assert_eq!(s, 3.0);
        assert_eq!(scaled, array![[3.0, 3.0]]);
        let z = array![[0.0, 0.0]];
        let err = mean_scale_factor(t.view(), z.view()).unwrap_err();
        assert!(err.to_string().contains("amplitude scaling"), "{err}");
    }

    #[test]
    fn shape_mismatch_is_reported() {
        let t = array![[1.0, 2.0]];
        let p = array![[1.0], [2.0]];
        let err = mae(t.view(), p.view()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mae: shapes differ, expected (1, 2) (rows, cols), found (2, 1)"
        );
    }
}
