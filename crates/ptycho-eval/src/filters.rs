//! Image filters with SciPy `ndimage` semantics: the Gaussian smoothing applied before the
//! amplitude MS-SSIM (`gaussian_filter(img, σ)`, truncate 4.0, mode `reflect`) and the 1-D
//! Gaussian used for optional FRC-curve smoothing.
//!
//! SciPy's `reflect` mode mirrors about the edge *including* the edge pixel
//! (`d c b a | a b c d | d c b a`).

use ndarray::{Array2, ArrayView2, Axis};

/// SciPy's default `truncate` for Gaussian filters.
pub const GAUSSIAN_TRUNCATE: f64 = 4.0;

/// Normalised 1-D Gaussian kernel of `scipy.ndimage._gaussian_kernel1d` (order 0):
/// radius `int(truncate·σ + 0.5)`, weights `exp(−x²/(2σ²))` divided by their sum.
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (GAUSSIAN_TRUNCATE * sigma + 0.5) as i64;
    let mut w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 / (sigma * sigma) * (x * x) as f64).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    w
}

/// Maps an out-of-range index onto `[0, n)` with SciPy's `reflect` boundary rule.
fn reflect_index(i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    let period = 2 * n;
    let mut k = i.rem_euclid(period);
    if k >= n {
        k = period - 1 - k;
    }
    k as usize
}

/// Correlates a 1-D signal with a symmetric odd-length kernel, `reflect` boundary.
pub fn correlate1d_reflect(signal: &[f64], kernel: &[f64]) -> Vec<f64> {
    let n = signal.len();
    let radius = (kernel.len() / 2) as i64;
    (0..n as i64)
        .map(|i| {
            kernel
                .iter()
                .enumerate()
                .map(|(k, &w)| w * signal[reflect_index(i + k as i64 - radius, n)])
                .sum()
        })
        .collect()
}

/// `scipy.ndimage.gaussian_filter1d(signal, σ)` (order 0, mode `reflect`, truncate 4).
/// `σ ≤ 0` returns the signal unchanged.
pub fn gaussian_filter1d(signal: &[f64], sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 || signal.is_empty() {
        return signal.to_vec();
    }
    correlate1d_reflect(signal, &gaussian_kernel(sigma))
}

/// `scipy.ndimage.gaussian_filter(image, σ)`: separable, along rows' axis 0 then axis 1.
/// `σ ≤ 0` returns a copy.
pub fn gaussian_filter(image: ArrayView2<'_, f64>, sigma: f64) -> Array2<f64> {
    let mut out = image.to_owned();
    if sigma <= 0.0 || image.is_empty() {
        return out;
    }
    let kernel = gaussian_kernel(sigma);
    for axis in [Axis(0), Axis(1)] {
        for mut lane in out.lanes_mut(axis) {
            let line: Vec<f64> = lane.iter().copied().collect();
            let filtered = correlate1d_reflect(&line, &kernel);
            lane.iter_mut().zip(filtered).for_each(|(d, v)| *d = v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_for_sigma_one_has_radius_four_and_unit_sum() {
        let k = gaussian_kernel(1.0);
        assert_eq!(k.len(), 9);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // centre weight 1 / sum_{x=-4..4} exp(-x^2/2)
        let norm: f64 = (-4..=4).map(|x: i32| (-0.5 * (x * x) as f64).exp()).sum();
        assert!((k[4] - 1.0 / norm).abs() < 1e-15);
    }

    #[test]
    fn reflect_mode_mirrors_including_the_edge() {
        assert_eq!(reflect_index(-1, 4), 0);
        assert_eq!(reflect_index(-2, 4), 1);
        assert_eq!(reflect_index(4, 4), 3);
        assert_eq!(reflect_index(5, 4), 2);
        assert_eq!(reflect_index(9, 4), 1);
        assert_eq!(reflect_index(3, 1), 0);
        // [1, 2, 3] with kernel [1, 1, 1] and reflect: [1+1+2, 1+2+3, 2+3+3]
        let out = correlate1d_reflect(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]);
        assert_eq!(out, vec![4.0, 6.0, 8.0]);
    }

    #[test]
    fn gaussian_filter_preserves_constants_and_sums() {
        let c = Array2::from_elem((5, 6), 2.5);
        let f = gaussian_filter(c.view(), 1.0);
        assert!(f.iter().all(|v| (v - 2.5).abs() < 1e-14));
        // reflect boundary conserves nothing in general, but a centred delta far from the
        // edges keeps unit mass and becomes the outer product of the 1-D kernel.
        let mut d = Array2::zeros((11, 11));
        d[[5, 5]] = 1.0;
        let f = gaussian_filter(d.view(), 1.0);
        let k = gaussian_kernel(1.0);
        assert!((f.sum() - 1.0).abs() < 1e-14);
        assert!((f[[5, 7]] - k[4] * k[6]).abs() < 1e-16);
    }
}
