//! Optional sub-pixel registration before metrics (upstream `ptycho/image/registration.py`,
//! used by `scripts/compare_models.py`): the translation is found with scikit-image's
//! `phase_cross_correlation` algorithm (phase normalisation, upsampled-DFT refinement around the
//! integer peak) and applied with a Fourier shift; both images then lose a border to remove the
//! wrap-around of the periodic shift.

use ndarray::{Array2, ArrayView2, s};
use num_complex::{Complex, Complex64};
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, ensure_same_shape};
use crate::fft2::{Direction, fft2_in_place, fft2_real, signed_frequency};

/// Upsampling factor upstream uses (1/50 pixel precision).
pub const DEFAULT_UPSAMPLE_FACTOR: usize = 50;
/// Border removed after the Fourier shift.
pub const DEFAULT_BORDER_CROP: usize = 2;

/// Normalisation of the cross-power spectrum (skimage `normalization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CorrelationNormalization {
    /// Phase correlation: every frequency has unit weight (skimage's default, used upstream).
    /// Sharp peak on textured images, but unreliable on smooth ones, where the near-empty high
    /// frequencies and the non-periodic image edges dominate.
    #[default]
    Phase,
    /// Plain cross-correlation: robust on smooth images, broader peak.
    None,
}

/// The `(dy, dx)` shift that, applied to `moving` with [`fourier_shift_real`], registers it to
/// `reference` (skimage `phase_cross_correlation(reference, moving, upsample_factor)` with its
/// default phase normalisation, as upstream calls it).
pub fn phase_cross_correlation(
    reference: ArrayView2<'_, f64>,
    moving: ArrayView2<'_, f64>,
    upsample_factor: usize,
) -> Result<[f64; 2]> {
    cross_correlation_shift(
        reference,
        moving,
        upsample_factor,
        CorrelationNormalization::Phase,
    )
}

/// [`phase_cross_correlation`] with a chosen normalisation.
pub fn cross_correlation_shift(
    reference: ArrayView2<'_, f64>,
    moving: ArrayView2<'_, f64>,
    upsample_factor: usize,
    normalization: CorrelationNormalization,
) -> Result<[f64; 2]> {
    ensure_same_shape("registration", reference.dim(), moving.dim())?;
    if upsample_factor == 0 {
        return Err(EvalError::InvalidParameter {
            what: "registration upsample factor",
            expected: "at least 1".into(),
            found: "0".into(),
        });
    }
    if reference
        .iter()
        .chain(moving.iter())
        .any(|v| !v.is_finite())
    {
        return Err(EvalError::Degenerate {
            what: "registration",
            detail: "an input image contains NaN or infinite values".into(),
        });
    }
    let (h, w) = reference.dim();
    let src = fft2_real(reference);
    let tgt = fft2_real(moving);
    let floor = 100.0 * f64::EPSILON;
    let product: Array2<Complex64> = Array2::from_shape_fn((h, w), |idx| {
        let p = src[idx] * tgt[idx].conj();
        match normalization {
            CorrelationNormalization::Phase => p / p.norm().max(floor),
            CorrelationNormalization::None => p,
        }
    });
    let mut cc = product.clone();
    fft2_in_place(&mut cc, Direction::Inverse);
    let (py, px) = argmax_abs(&cc);
    let mut shift = [py as f64, px as f64];
    for (axis, n) in [(0, h), (1, w)] {
        if shift[axis] > (n / 2) as f64 {
            shift[axis] -= n as f64;
        }
    }
    if upsample_factor > 1 {
        let up = upsample_factor as f64;
        shift = shift.map(|v| (v * up).round() / up);
        let region = (up * 1.5).ceil() as usize;
        let dftshift = (region as f64 / 2.0).trunc();
        let offsets = shift.map(|v| dftshift - v * up);
        let fine = upsampled_correlation(&product, region, up, offsets);
        let (my, mx) = argmax_abs(&fine);
        shift[0] += (my as f64 - dftshift) / up;
        shift[1] += (mx as f64 - dftshift) / up;
    }
    for (axis, n) in [(0, h), (1, w)] {
        if n == 1 {
            shift[axis] = 0.0;
        }
    }
    Ok(shift)
}

/// `conj(_upsampled_dft(conj(P), region, up, offsets))`: the inverse DFT of `P` sampled on a
/// `region × region` grid with spacing `1/up` pixels, starting at `−offsets/up`.
fn upsampled_correlation(
    product: &Array2<Complex64>,
    region: usize,
    up: f64,
    offsets: [f64; 2],
) -> Array2<Complex64> {
    let (h, w) = product.dim();
    let kernel = |n: usize, off: f64| {
        Array2::from_shape_fn((region, n), |(u, k)| {
            let freq = signed_frequency(k, n) as f64 / (n as f64 * up);
            Complex64::from_polar(1.0, std::f64::consts::TAU * (u as f64 - off) * freq)
        })
    };
    let ky = kernel(h, offsets[0]);
    let kx = kernel(w, offsets[1]);
    // out[a, b] = Σ_y Σ_x ky[a, y] · P[y, x] · kx[b, x]
    ky.dot(product).dot(&kx.t())
}

fn argmax_abs(a: &Array2<Complex64>) -> (usize, usize) {
    let mut best = (0, 0);
    let mut best_v = f64::NEG_INFINITY;
    for (idx, v) in a.indexed_iter() {
        let m = v.norm();
        if m > best_v {
            best_v = m;
            best = idx;
        }
    }
    best
}

fn phase_ramp(h: usize, w: usize, dy: f64, dx: f64) -> Array2<Complex64> {
    Array2::from_shape_fn((h, w), |(ky, kx)| {
        let fy = signed_frequency(ky, h) as f64 / h as f64;
        let fx = signed_frequency(kx, w) as f64 / w as f64;
        Complex64::from_polar(1.0, -std::f64::consts::TAU * (dy * fy + dx * fx))
    })
}

/// Periodic sub-pixel shift of a complex image by `(dy, dx)`: content moves towards larger
/// indices for positive values (upstream `_fourier_shift`).
pub fn fourier_shift_complex(
    image: ArrayView2<'_, Complex64>,
    dy: f64,
    dx: f64,
) -> Array2<Complex64> {
    let (h, w) = image.dim();
    let mut f = image.to_owned();
    fft2_in_place(&mut f, Direction::Forward);
    f *= &phase_ramp(h, w, dy, dx);
    fft2_in_place(&mut f, Direction::Inverse);
    f
}

/// [`fourier_shift_complex`] for a real image (real part of the result).
pub fn fourier_shift_real(image: ArrayView2<'_, f64>, dy: f64, dx: f64) -> Array2<f64> {
    let c = image.mapv(|v| Complex64::new(v, 0.0));
    fourier_shift_complex(c.view(), dy, dx).mapv(|z| z.re)
}

/// A registered pair of complex images.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// The shifted and border-cropped image.
    pub image: Array2<Complex64>,
    /// The reference, border-cropped identically.
    pub reference: Array2<Complex64>,
    /// The `(dy, dx)` shift that was applied to the image.
    pub shift_yx: [f64; 2],
}

/// Registers `image` to `reference` on their magnitudes, shifts it, and crops `border_crop`
/// pixels from every edge of both (upstream `register_and_align`, which uses
/// [`CorrelationNormalization::Phase`]).
pub fn register_and_align<T: Copy + Into<f64>>(
    image: ArrayView2<'_, Complex<T>>,
    reference: ArrayView2<'_, Complex<T>>,
    upsample_factor: usize,
    border_crop: usize,
    normalization: CorrelationNormalization,
) -> Result<Registered> {
    ensure_same_shape("registration", reference.dim(), image.dim())?;
    let to64 = |z: &Complex<T>| Complex64::new(z.re.into(), z.im.into());
    let img = image.map(to64);
    let refc = reference.map(to64);
    let (h, w) = img.dim();
    if 2 * border_crop >= h || 2 * border_crop >= w {
        return Err(EvalError::TooSmall {
            what: "registration border crop",
            need: format!("more than {} pixels per side", 2 * border_crop),
            found: (h, w),
        });
    }
    let shift = cross_correlation_shift(
        refc.mapv(|z| z.norm()).view(),
        img.mapv(|z| z.norm()).view(),
        upsample_factor,
        normalization,
    )?;
    let shifted = fourier_shift_complex(img.view(), shift[0], shift[1]);
    let b = border_crop;
    Ok(Registered {
        image: shifted.slice(s![b..h - b, b..w - b]).to_owned(),
        reference: refc.slice(s![b..h - b, b..w - b]).to_owned(),
        shift_yx: shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(h: usize, w: usize, cy: f64, cx: f64) -> Array2<f64> {
        Array2::from_shape_fn((h, w), |(r, c)| {
            let (dy, dx) = (r as f64 - cy, c as f64 - cx);
            (-(dy * dy + dx * dx) / 18.0).exp()
                + 0.5 * (-((dy - 4.0).powi(2) + dx * dx) / 4.0).exp()
        })
    }

    #[test]
    fn integer_shift_moves_content_towards_larger_indices() {
        let a = blob(24, 32, 10.0, 12.0);
        let moved = fourier_shift_real(a.view(), 3.0, -2.0);
        for ((r, c), &v) in a.indexed_iter() {
            let (rr, cc) = ((r + 3) % 24, (c + 32 - 2) % 32);
            assert!((moved[[rr, cc]] - v).abs() < 1e-12);
        }
    }

    #[test]
    fn recovers_a_known_subpixel_shift() {
        let reference = blob(40, 40, 20.0, 18.0);
        let moving = blob(40, 40, 21.3, 16.6); // content moved by (+1.3, -1.4)
        let s = phase_cross_correlation(reference.view(), moving.view(), 50).unwrap();
        assert!(
            (s[0] + 1.3).abs() < 0.05 && (s[1] - 1.4).abs() < 0.05,
            "{s:?}"
        );
        let whole = phase_cross_correlation(reference.view(), moving.view(), 1).unwrap();
        assert_eq!(whole, [-1.0, 1.0]);
    }

    #[test]
    fn register_and_align_crops_and_aligns() {
        let reference = blob(32, 32, 16.0, 16.0).mapv(|v| Complex64::new(v, 0.1 * v));
        let image = blob(32, 32, 17.0, 14.0).mapv(|v| Complex64::new(v, 0.1 * v));
        let reg = register_and_align(
            image.view(),
            reference.view(),
            50,
            2,
            CorrelationNormalization::Phase,
        )
        .unwrap();
        assert_eq!(reg.image.dim(), (28, 28));
        assert!((reg.shift_yx[0] + 1.0).abs() < 1e-9 && (reg.shift_yx[1] - 2.0).abs() < 1e-9);
        let err: f64 = reg
            .image
            .iter()
            .zip(reg.reference.iter())
            .map(|(a, b)| (a - b).norm())
            .fold(0.0, f64::max);
        assert!(err < 1e-3, "{err}");
    }
}
