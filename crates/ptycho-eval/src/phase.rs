//! Phase alignment before phase metrics: least-squares plane removal (default) or mean
//! subtraction, applied to the *wrapped* phase of each image separately (no unwrapping),
//! as upstream `fit_and_remove_plane`.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// How the phase images are aligned before comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PhaseAlignment {
    /// Fit `z = a·x + b·y + c` (x = column, y = row, unweighted least squares) and subtract it.
    #[default]
    Plane,
    /// Subtract the image mean.
    Mean,
}

/// Coefficients of a fitted plane `z = a·x + b·y + c` (x = column index, y = row index).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    /// Slope along columns.
    pub a: f64,
    /// Slope along rows.
    pub b: f64,
    /// Value at pixel (0, 0).
    pub c: f64,
}

/// Least-squares plane through every pixel of `image`.
///
/// On a full rectangular grid the centred column and row coordinates are orthogonal to each
/// other and to the constant, so the normal equations decouple and the exact least-squares
/// solution is closed-form; this avoids the conditioning loss of the raw normal equations.
pub fn fit_plane(image: ArrayView2<'_, f64>) -> Plane {
    let (h, w) = image.dim();
    let n = (h * w) as f64;
    if h == 0 || w == 0 {
        return Plane {
            a: 0.0,
            b: 0.0,
            c: 0.0,
        };
    }
    let xm = (w as f64 - 1.0) / 2.0;
    let ym = (h as f64 - 1.0) / 2.0;
    let (mut sum, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for ((r, col), &v) in image.indexed_iter() {
        sum += v;
        sx += (col as f64 - xm) * v;
        sy += (r as f64 - ym) * v;
    }
    // sum over the grid of (x - xm)^2 = h * w (w^2 - 1) / 12
    let sxx = h as f64 * w as f64 * (w as f64 * w as f64 - 1.0) / 12.0;
    let syy = w as f64 * h as f64 * (h as f64 * h as f64 - 1.0) / 12.0;
    let a = if sxx > 0.0 { sx / sxx } else { 0.0 };
    let b = if syy > 0.0 { sy / syy } else { 0.0 };
    let mean = sum / n;
    Plane {
        a,
        b,
        c: mean - a * xm - b * ym,
    }
}

/// Subtracts the least-squares plane from `image`.
pub fn remove_plane(image: ArrayView2<'_, f64>) -> Array2<f64> {
    let p = fit_plane(image);
    Array2::from_shape_fn(image.dim(), |(r, c)| {
        image[[r, c]] - (p.a * c as f64 + p.b * r as f64 + p.c)
    })
}

/// Subtracts the image mean.
pub fn remove_mean(image: ArrayView2<'_, f64>) -> Array2<f64> {
    let mean = image.mean().unwrap_or(0.0);
    image.mapv(|v| v - mean)
}

/// Applies the chosen alignment to one phase image.
pub fn align_phase(image: ArrayView2<'_, f64>, method: PhaseAlignment) -> Array2<f64> {
    match method {
        PhaseAlignment::Plane => remove_plane(image),
        PhaseAlignment::Mean => remove_mean(image),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_plane_is_recovered_and_removed() {
        let img = Array2::from_shape_fn((9, 13), |(r, c)| 0.1 * c as f64 - 0.2 * r as f64 + 0.5);
        let p = fit_plane(img.view());
        assert!((p.a - 0.1).abs() < 1e-12);
        assert!((p.b + 0.2).abs() < 1e-12);
        assert!((p.c - 0.5).abs() < 1e-12);
        let res = remove_plane(img.view());
        assert!(res.iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn plane_fit_matches_least_squares_on_a_non_planar_image() {
        // z = x*y on a 3x3 grid; least squares onto {x, y, 1}: x*y = (x-1)(y-1) + x + y - 1 and
        // (x-1)(y-1) is orthogonal to {x, y, 1}, so the fit is a = 1, b = 1, c = -1.
        let img = Array2::from_shape_fn((3, 3), |(r, c)| (r * c) as f64);
        let p = fit_plane(img.view());
        assert!((p.a - 1.0).abs() < 1e-12 && (p.b - 1.0).abs() < 1e-12);
        assert!((p.c + 1.0).abs() < 1e-12);
    }

    #[test]
    fn mean_alignment_zeroes_the_mean() {
        let img = Array2::from_shape_fn((4, 5), |(r, c)| (r * 5 + c) as f64);
        let res = align_phase(img.view(), PhaseAlignment::Mean);
        assert!(res.mean().unwrap().abs() < 1e-12);
        assert!((res[[0, 0]] + 9.5).abs() < 1e-12);
    }
}
