//! Scoring of a reconstruction against an iterative reference reconstruction of real data, a
//! port of `shared/realdata/compare_to_reference.py` (the project's real-data yardstick, so its
//! numbers must match the script's).
//!
//! Steps, as in the script's `compare` and `__main__`:
//! 1. The candidate is embedded top-left into an array of ones of the reference's shape (or
//!    cropped to it): [`embed_candidate`].
//! 2. Mask `illumination > 0.3·max(illumination)`: [`illumination_mask`].
//! 3. Registration of the mean-removed, softly tapered fields
//!    ([`crate::reference_align::register_partially_whitened`]) and a Fourier shift of the
//!    whole candidate.
//! 4. Both fields are cut to the mask; a linear phase ramp and the global phase are fitted
//!    ([`crate::reference_align::remove_phase_ramp`]), then the complex least-squares scale
//!    `α = Σ b*·a / Σ |b|²`.
//! 5. NRMSE `‖a − αb‖ / ‖a‖` on the mask; FRC on the mask's bounding box under a 2-D Hann
//!    window ([`crate::reference_frc`]) of the complex fields, the amplitudes and the phases.

use ndarray::{Array2, s};
use num_complex::{Complex32, Complex64};
use serde::{Serialize, Serializer};

use crate::error::{EvalError, Result, ensure_same_shape};
use crate::reference_align::{
    REGISTRATION_UPSAMPLE, TAPER_WIDTH, register_partially_whitened, remove_phase_ramp, soft_taper,
};
use crate::reference_frc::{FrcCurve, LOW_BAND, MID_BAND, half_bit_frc, hanning};
use crate::registration::fourier_shift_complex;

/// Fraction of the illumination maximum above which a pixel counts as illuminated.
pub const MASK_FRACTION: f32 = 0.3;

/// The score of a candidate against the reference (the script's output dictionary, plus the
/// band means the project reports and the complex FRC curve).
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceScore {
    /// `(dy, dx)` in pixels that maps the candidate onto the reference: shifting the candidate
    /// content by `+dy` rows and `+dx` columns (Fourier shift) aligns it. A candidate whose
    /// content sits 2 rows lower than the reference's gives `dy ≈ −2`.
    pub shift: (f64, f64),
    /// Complex scale `α` applied to the (shifted, ramp-corrected) candidate.
    #[serde(serialize_with = "complex_as_pair")]
    pub scale: Complex64,
    /// `‖a − αb‖ / ‖a‖` over the mask.
    pub nrmse: f64,
    /// Half-bit FRC cut-off in cycles/px (0.5 when the curve never drops below it).
    pub frc_cutoff: f64,
    /// NaN-ignoring mean of the complex FRC curve.
    pub frc_mean: f64,
    /// NaN-ignoring mean of the amplitude FRC curve.
    pub frc_amp_mean: f64,
    /// NaN-ignoring mean of the phase FRC curve.
    pub frc_phase_mean: f64,
    /// Mean complex FRC over bins centred in `[0, 0.1)` cycles/px.
    pub frc_low: f64,
    /// Mean complex FRC over bins centred in `[0.1, 0.25)` cycles/px.
    pub frc_mid: f64,
    /// The complex FRC curve.
    pub curve: FrcCurve,
}

/// JSON has no complex numbers: `α` is written as `[re, im]`.
fn complex_as_pair<S: Serializer>(z: &Complex64, s: S) -> std::result::Result<S::Ok, S::Error> {
    (z.re, z.im).serialize(s)
}

/// `illumination > 0.3·max(illumination)`, compared in f32 as NumPy 2 does for a float32
/// array and a Python-float factor.
pub fn illumination_mask(illumination: &Array2<f32>) -> Result<Array2<bool>> {
    if illumination.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::Degenerate {
            what: "reference score",
            detail: "the illumination contains NaN or infinite values".into(),
        });
    }
    let max = illumination
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let threshold = MASK_FRACTION * max;
    let mask = illumination.mapv(|v| v > threshold);
    if !mask.iter().any(|&m| m) {
        return Err(EvalError::Degenerate {
            what: "reference score",
            detail: format!(
                "the illumination mask is empty (no pixel above {MASK_FRACTION} x max \
                 illumination = {max})"
            ),
        });
    }
    Ok(mask)
}

/// The candidate in the reference frame: its pixel `(0, 0)` stays at `(0, 0)`; missing
/// pixels are `1 + 0i` (unit transmission, as the script fills them), extra ones are cut.
pub fn embed_candidate(candidate: &Array2<Complex32>, shape: (usize, usize)) -> Array2<Complex32> {
    if candidate.dim() == shape {
        return candidate.clone();
    }
    let mut out = Array2::from_elem(shape, Complex32::new(1.0, 0.0));
    let h = shape.0.min(candidate.nrows());
    let w = shape.1.min(candidate.ncols());
    out.slice_mut(s![..h, ..w])
        .assign(&candidate.slice(s![..h, ..w]));
    out
}

/// Scores `candidate` against `reference` inside the illuminated area (see the module docs).
///
/// `reference` and `illumination` must share a shape of at least 8×8 (the taper width); the
/// candidate is embedded or cropped into that shape. Non-finite inputs and an empty mask are
/// errors (the script would return NaN or fail).
pub fn score_against_reference(
    reference: &Array2<Complex32>,
    illumination: &Array2<f32>,
    candidate: &Array2<Complex32>,
) -> Result<ReferenceScore> {
    ensure_same_shape(
        "reference score (illumination vs reference object)",
        reference.dim(),
        illumination.dim(),
    )?;
    let (ny, nx) = reference.dim();
    if ny < TAPER_WIDTH || nx < TAPER_WIDTH {
        return Err(EvalError::TooSmall {
            what: "reference score",
            need: format!("{TAPER_WIDTH} pixels per side (the mask taper width)"),
            found: (ny, nx),
        });
    }
    for (name, field) in [("reference object", reference), ("candidate", candidate)] {
        if field.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
            return Err(EvalError::Degenerate {
                what: "reference score",
                detail: format!("the {name} contains NaN or infinite values"),
            });
        }
    }
    let mask = illumination_mask(illumination)?;
    let to64 = |z: &Complex32| Complex64::new(z.re.into(), z.im.into());
    let embedded = embed_candidate(candidate, reference.dim());
    compare_on_mask(&reference.map(to64), &embedded.map(to64), &mask)
}

/// `(field − mean over the mask) · taper`: without the mean, the mask edge would dominate the
/// correlation.
fn centred_tapered(
    field: &Array2<Complex64>,
    mask: &Array2<bool>,
    taper: &Array2<f64>,
) -> Array2<Complex64> {
    let (sum, n) = field
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m)
        .fold((Complex64::new(0.0, 0.0), 0usize), |(s, n), (z, _)| {
            (s + z, n + 1)
        });
    let mean = sum / n as f64;
    Array2::from_shape_fn(field.dim(), |idx| (field[idx] - mean) * taper[idx])
}

/// The field times the 0/1 mask.
fn masked(field: &Array2<Complex64>, mask: &Array2<bool>) -> Array2<Complex64> {
    Array2::from_shape_fn(field.dim(), |idx| {
        if mask[idx] {
            field[idx]
        } else {
            Complex64::new(0.0, 0.0)
        }
    })
}

/// Inclusive row and column ranges of the mask's bounding box (the mask is not empty).
fn bounding_box(mask: &Array2<bool>) -> ((usize, usize), (usize, usize)) {
    let mut rows = (usize::MAX, 0);
    let mut cols = (usize::MAX, 0);
    for ((r, c), _) in mask.indexed_iter().filter(|(_, m)| **m) {
        rows = (rows.0.min(r), rows.1.max(r));
        cols = (cols.0.min(c), cols.1.max(c));
    }
    (rows, cols)
}

/// The `(a, b)` pairs of two fields on the mask, in row-major order.
fn on_mask<'a>(
    a: &'a Array2<Complex64>,
    b: &'a Array2<Complex64>,
    mask: &'a Array2<bool>,
) -> impl Iterator<Item = (Complex64, Complex64)> + 'a {
    a.iter()
        .zip(b.iter())
        .zip(mask)
        .filter_map(|((za, zb), m)| m.then_some((*za, *zb)))
}

/// Complex, amplitude and phase FRC of the masked fields on the mask's bounding box, each
/// field apodised by the outer product of two Hann windows against edge leakage.
fn windowed_frcs(
    a: &Array2<Complex64>,
    b: &Array2<Complex64>,
    mask: &Array2<bool>,
) -> Result<[FrcCurve; 3]> {
    let ((r0, r1), (c0, c1)) = bounding_box(mask);
    let (hy, hx) = (hanning(r1 - r0 + 1), hanning(c1 - c0 + 1));
    let window = |f: &dyn Fn(Complex64) -> Complex64, z: &Array2<Complex64>| {
        let sub = z.slice(s![r0..=r1, c0..=c1]);
        Array2::from_shape_fn(sub.dim(), |(i, j)| f(sub[[i, j]]) * (hy[i] * hx[j]))
    };
    let frc_of =
        |f: &dyn Fn(Complex64) -> Complex64| half_bit_frc(window(f, a).view(), window(f, b).view());
    Ok([
        frc_of(&|z| z)?,
        frc_of(&|z| Complex64::new(z.norm(), 0.0))?,
        // the script's np.angle(z + 1e-12): pixels outside the mask get phase 0
        frc_of(&|z| Complex64::new((z + 1e-12).arg(), 0.0))?,
    ])
}

/// The script's `compare(ref_obj, cand, mask, ramp=True)` on f64 fields of equal shape.
pub fn compare_on_mask(
    reference: &Array2<Complex64>,
    candidate: &Array2<Complex64>,
    mask: &Array2<bool>,
) -> Result<ReferenceScore> {
    ensure_same_shape(
        "reference score candidate",
        reference.dim(),
        candidate.dim(),
    )?;
    ensure_same_shape("reference score mask", reference.dim(), mask.dim())?;
    if !mask.iter().any(|&m| m) {
        return Err(EvalError::Degenerate {
            what: "reference score",
            detail: "the mask is empty".into(),
        });
    }
    let taper = soft_taper(mask, TAPER_WIDTH);
    let (dy, dx) = register_partially_whitened(
        &centred_tapered(reference, mask, &taper),
        &centred_tapered(candidate, mask, &taper),
        REGISTRATION_UPSAMPLE,
    )?;
    let shifted = fourier_shift_complex(candidate.view(), dy, dx);
    let a = masked(reference, mask);
    let mut b = remove_phase_ramp(&a, &masked(&shifted, mask), mask)?;
    let (num, den) = on_mask(&a, &b, mask)
        .fold((Complex64::new(0.0, 0.0), 0.0), |(n, d), (za, zb)| {
            (n + zb.conj() * za, d + zb.norm_sqr())
        });
    if den.is_nan() || den <= 0.0 {
        return Err(EvalError::Degenerate {
            what: "reference score",
            detail: "the candidate is zero inside the illumination mask".into(),
        });
    }
    let alpha = num / den;
    b.mapv_inplace(|z| alpha * z);
    let (err, norm) = on_mask(&a, &b, mask).fold((0.0, 0.0), |(e, n), (za, zb)| {
        (e + (za - zb).norm_sqr(), n + za.norm_sqr())
    });
    let [curve, amp, phase] = windowed_frcs(&a, &b, mask)?;
    Ok(ReferenceScore {
        shift: (dy, dx),
        scale: alpha,
        nrmse: err.sqrt() / norm.sqrt(),
        frc_cutoff: curve.cutoff(),
        frc_mean: curve.mean(),
        frc_amp_mean: amp.mean(),
        frc_phase_mean: phase.mean(),
        frc_low: curve.band_mean(LOW_BAND.0, LOW_BAND.1),
        frc_mid: curve.band_mean(MID_BAND.0, MID_BAND.1),
        curve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 96;

    /// An asymmetric test object, continuous in (y, x) so that a shifted copy is exact: blobs
    /// of different sizes and strengths plus an oblique ridge, under an envelope that vanishes
    /// at the array border (no wrap-around discontinuity for the Fourier shift).
    fn object(y: f64, x: f64) -> Complex64 {
        let (yc, xc) = (y - 48.0, x - 48.0);
        let blobs = [
            (-6.0, 4.0, 3.0, 0.6),
            (5.0, 7.0, 2.0, -0.8),
            (2.0, -9.0, 4.0, 0.4),
            (-10.0, -3.0, 2.5, 1.0),
            (9.0, -6.0, 1.8, 0.5),
            (-2.0, 13.0, 2.2, -0.6),
        ];
        let g: f64 = blobs
            .iter()
            .map(|(by, bx, sg, st)| {
                st * (-((yc - by).powi(2) + (xc - bx).powi(2)) / (2.0 * sg * sg)).exp()
            })
            .sum();
        let ridge = (-(yc - 0.5 * xc - 3.0).powi(2) / 6.0).exp() * (-(xc * xc) / 200.0).exp();
        let envelope = (-((yc * yc + xc * xc).sqrt() / 36.0).powi(8)).exp();
        Complex64::from_polar(
            envelope * (1.0 + 0.4 * g + 0.3 * ridge),
            0.8 * g - 0.5 * ridge,
        )
    }

    fn to32(a: &Array2<Complex64>) -> Array2<Complex32> {
        a.mapv(|z| Complex32::new(z.re as f32, z.im as f32))
    }

    /// A centred Gaussian probe intensity of width `sigma` on an `n × n` grid (mask radius
    /// about `1.55·sigma`).
    fn illumination(n: usize, sigma: f64) -> Array2<f32> {
        let c = (n / 2) as f64;
        Array2::from_shape_fn((n, n), |(r, k)| {
            let (y, x) = (r as f64 - c, k as f64 - c);
            (-(y * y + x * x) / (2.0 * sigma * sigma)).exp() as f32
        })
    }

    /// splitmix64 mapped to [-1, 1): a deterministic noise source for the tests.
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// Scores `k · exp(i(0.02·y − 0.015·x)) · object(y − sy, x − sx)` (content moved by
    /// `(+sy, +sx)`) against the object.
    fn score_shifted_copy(sy: f64, sx: f64) -> ReferenceScore {
        let reference = Array2::from_shape_fn((N, N), |(r, c)| object(r as f64, c as f64));
        let k = Complex64::from_polar(0.7, 1.1);
        let candidate = Array2::from_shape_fn((N, N), |(r, c)| {
            let ramp = Complex64::from_polar(1.0, 0.02 * r as f64 - 0.015 * c as f64);
            k * ramp * object(r as f64 - sy, c as f64 - sx)
        });
        score_against_reference(&to32(&reference), &illumination(N, 14.0), &to32(&candidate))
            .unwrap()
    }

    #[test]
    fn shifted_scaled_ramped_copy_scores_as_the_reference() {
        // content 2.3 rows lower, 1.7 columns further left: on the 1/20 px search grid
        let score = score_shifted_copy(2.3, -1.7);
        let (dy, dx) = score.shift;
        // the shift maps the candidate onto the reference: the opposite of the content move
        assert!(
            (dy + 2.3).abs() < 1e-9 && (dx - 1.7).abs() < 1e-9,
            "{dy} {dx}"
        );
        assert!(score.nrmse < 1e-3, "{score:?}");
        assert!(
            (score.scale.norm() - 1.0 / 0.7).abs() < 1e-3,
            "{}",
            score.scale
        );
        assert!(score.frc_low > 0.999 && score.frc_mid > 0.999, "{score:?}");
        assert_eq!(score.frc_cutoff, 0.5);
        let json = serde_json::to_string(&score).unwrap();
        assert!(json.contains("\"scale\":["), "{json}");
    }

    #[test]
    fn off_grid_shift_is_found_to_the_search_step() {
        let score = score_shifted_copy(2.33, -1.68);
        let (dy, dx) = score.shift;
        assert!(
            (dy + 2.33).abs() < 0.06 && (dx - 1.68).abs() < 0.06,
            "{dy} {dx}"
        );
        assert!(score.nrmse < 1e-2, "{score:?}");
        assert!(
            (score.scale.norm() - 1.0 / 0.7).abs() < 1e-2,
            "{}",
            score.scale
        );
        assert!(score.frc_low > 0.99 && score.frc_mid > 0.95, "{score:?}");
    }

    #[test]
    fn unrelated_random_object_scores_low() {
        // a larger field than the other tests: with few pixels per FRC bin, noise alone
        // (after registration and scaling have maximised the overlap) can reach 0.3
        let n = 192;
        let reference =
            Array2::from_shape_fn((n, n), |(r, c)| object(r as f64 / 2.0, c as f64 / 2.0));
        let mut rnd = noise(7);
        let candidate = Array2::from_shape_fn((n, n), |_| Complex64::new(rnd(), rnd()));
        let score =
            score_against_reference(&to32(&reference), &illumination(n, 40.0), &to32(&candidate))
                .unwrap();
        assert!(
            score.frc_low < 0.3 && score.frc_mid.abs() < 0.1,
            "{score:?}"
        );
        assert!(score.frc_cutoff < 0.1, "{score:?}");
        assert!(score.nrmse > 0.9, "{score:?}");
    }

    #[test]
    fn shape_mismatch_and_empty_mask_are_named() {
        let reference = Array2::from_elem((16, 16), Complex32::new(1.0, 0.0));
        let bad = Array2::<f32>::ones((16, 15));
        let e = score_against_reference(&reference, &bad, &reference).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("illumination vs reference object") && msg.contains("shapes differ"),
            "{msg}"
        );
        let dark = Array2::<f32>::zeros((16, 16));
        let e = score_against_reference(&reference, &dark, &reference).unwrap_err();
        assert!(e.to_string().contains("illumination mask is empty"), "{e}");
        let tiny = Array2::from_elem((4, 4), Complex32::new(1.0, 0.0));
        let e = score_against_reference(&tiny, &Array2::ones((4, 4)), &tiny).unwrap_err();
        assert!(e.to_string().contains("too small"), "{e}");
    }

    #[test]
    fn candidates_are_embedded_top_left_or_cropped() {
        let c = Array2::from_shape_fn((2, 3), |(r, k)| Complex32::new((r * 3 + k) as f32, 0.5));
        let big = embed_candidate(&c, (3, 4));
        assert_eq!(big[[1, 2]], c[[1, 2]]);
        assert_eq!(big[[2, 0]], Complex32::new(1.0, 0.0));
        assert_eq!(big[[0, 3]], Complex32::new(1.0, 0.0));
        let small = embed_candidate(&c, (1, 2));
        assert_eq!(small, c.slice(s![..1, ..2]).to_owned());
    }
}
