//! The full evaluation pipeline of upstream `eval_reconstruction` (reference `model.md` §7):
//! trim, phase alignment, amplitude mean scaling, then MAE / MSE / PSNR / SSIM / MS-SSIM / FRC
//! for amplitude and phase, collected in a serialisable [`EvalReport`].
//!
//! Inputs are a reconstruction and a ground truth of equal shape, already aligned (see
//! [`crate::align`]). Complex inputs may be `Complex<f32>` (the project's format) or
//! `Complex<f64>`; all arithmetic is f64.

use ndarray::{Array2, ArrayView2};
use num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::crop::{DEFAULT_TRIM_BORDER, trim_border};
use crate::error::{Result, ensure_same_shape};
use crate::frc::frc_cutoffs;
use crate::phase::{PhaseAlignment, align_phase};
use crate::pointwise::{data_range, mae, mse, psnr_physical_db, psnr_r255_db, scale_to_mean};
use crate::ssim::{ms_ssim, ssim};

/// Gaussian σ applied to the amplitude images before MS-SSIM (upstream `ms_ssim_sigma`).
pub const DEFAULT_MS_SSIM_SIGMA: f64 = 1.0;

/// Options of [`evaluate_reconstruction`]; the defaults are the paper's conventions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Pixels removed from every edge first (legacy `offset / 2` = 2).
    pub trim_border: usize,
    /// Plane (default) or mean phase alignment.
    pub phase_alignment: PhaseAlignment,
    /// Gaussian σ for the amplitude MS-SSIM (phase MS-SSIM is never smoothed).
    pub ms_ssim_sigma: f64,
    /// Gaussian σ applied to the FRC curves before the cut-offs (0 = none, the default).
    pub frc_sigma: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            trim_border: DEFAULT_TRIM_BORDER,
            phase_alignment: PhaseAlignment::Plane,
            ms_ssim_sigma: DEFAULT_MS_SSIM_SIGMA,
            frc_sigma: 0.0,
        }
    }
}

/// One metric for amplitude and phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPair {
    /// Value on the (mean-scaled) amplitude.
    #[serde(with = "nan_as_null")]
    pub amplitude: f64,
    /// Value on the aligned phase.
    #[serde(with = "nan_as_null")]
    pub phase: f64,
}

/// All metrics of one reconstruction. NaN values serialise as JSON `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// `[rows, cols]` of the compared images after trimming.
    pub evaluated_shape: [usize; 2],
    /// The phase alignment used.
    pub phase_alignment: PhaseAlignment,
    /// `mean(|gt|) / mean(|recon|)`, applied to the reconstructed amplitude.
    pub amplitude_scale_factor: f64,
    /// Mean absolute error.
    pub mae: MetricPair,
    /// Mean squared error.
    pub mse: MetricPair,
    /// PSNR in dB with the paper's R = 255 convention (`cv2.PSNR`); comparable with the paper.
    pub psnr_r255_db: MetricPair,
    /// PSNR in dB with the ground truth's own range as peak (physical range variant; NOT
    /// comparable with the paper).
    pub psnr_physical_db: MetricPair,
    /// The peaks used by `psnr_physical_db`: `max − min` of the ground-truth amplitude and of
    /// the aligned ground-truth phase.
    pub psnr_physical_peak: MetricPair,
    /// SSIM: amplitude with `data_range = range(gt amplitude)`, phase on `(φ+π)/2π` with 1.
    pub ssim: MetricPair,
    /// Upstream's custom MS-SSIM (amplitude smoothed with `ms_ssim_sigma`).
    pub ms_ssim: MetricPair,
    /// FRC 0.5 cut-off in ring units of the evaluated image.
    pub frc50: MetricPair,
    /// FRC 1/7 cut-off in ring units of the evaluated image.
    pub frc1over7: MetricPair,
    /// FRC curve of the amplitude, ring 0 first.
    #[serde(with = "nan_as_null::vec")]
    pub frc_curve_amplitude: Vec<f64>,
    /// FRC curve of the phase, ring 0 first.
    #[serde(with = "nan_as_null::vec")]
    pub frc_curve_phase: Vec<f64>,
}

/// Upstream `eval_reconstruction` on equally shaped complex images.
pub fn evaluate_reconstruction<T>(
    reconstruction: ArrayView2<'_, Complex<T>>,
    ground_truth: ArrayView2<'_, Complex<T>>,
    options: &EvalOptions,
) -> Result<EvalReport>
where
    T: Copy + Into<f64>,
{
    ensure_same_shape(
        "reconstruction vs ground truth",
        ground_truth.dim(),
        reconstruction.dim(),
    )?;
    let rec = trim_border(reconstruction, options.trim_border)?;
    let gt = trim_border(ground_truth, options.trim_border)?;
    let amplitude = |z: &Complex<T>| to_f64(z).norm();
    let phase = |z: &Complex<T>| {
        let z = to_f64(z);
        z.im.atan2(z.re)
    };
    let amp_t = gt.map(amplitude);
    let amp_p_raw = rec.map(amplitude);
    let ph_t = align_phase(gt.map(phase).view(), options.phase_alignment);
    let ph_p = align_phase(rec.map(phase).view(), options.phase_alignment);
    let (amp_p, scale) = scale_to_mean(amp_t.view(), amp_p_raw.view())?;
    let scaled = |p: &Array2<f64>| p.mapv(|v| (v + std::f64::consts::PI) / std::f64::consts::TAU);
    let (sc_t, sc_p) = (scaled(&ph_t), scaled(&ph_p));

    let (at, ap, pt, pp) = (amp_t.view(), amp_p.view(), ph_t.view(), ph_p.view());
    let frc_a = frc_cutoffs(at, ap, options.frc_sigma)?;
    let frc_p = frc_cutoffs(pt, pp, options.frc_sigma)?;
    let (psnr_phys_a, peak_a) = psnr_physical_db(at, ap)?;
    let (psnr_phys_p, peak_p) = psnr_physical_db(pt, pp)?;
    let pair = |amplitude, phase| MetricPair { amplitude, phase };
    Ok(EvalReport {
        evaluated_shape: [at.nrows(), at.ncols()],
        phase_alignment: options.phase_alignment,
        amplitude_scale_factor: scale,
        mae: pair(mae(at, ap)?, mae(pt, pp)?),
        mse: pair(mse(at, ap)?, mse(pt, pp)?),
        psnr_r255_db: pair(psnr_r255_db(at, ap)?, psnr_r255_db(pt, pp)?),
        psnr_physical_db: pair(psnr_phys_a, psnr_phys_p),
        psnr_physical_peak: pair(peak_a, peak_p),
        ssim: pair(
            ssim(at, ap, data_range(at))?,
            ssim(sc_t.view(), sc_p.view(), 1.0)?,
        ),
        ms_ssim: pair(
            ms_ssim(at, ap, options.ms_ssim_sigma)?,
            ms_ssim(sc_t.view(), sc_p.view(), 0.0)?,
        ),
        frc50: pair(frc_a.frc50, frc_p.frc50),
        frc1over7: pair(frc_a.frc1over7, frc_p.frc1over7),
        frc_curve_amplitude: frc_a.curve,
        frc_curve_phase: frc_p.curve,
    })
}

/// Serde adapters: JSON has no NaN, so NaN metrics (e.g. FRC of an all-zero target) are
/// written as `null` and read back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_some(v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub mod vec {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            let v = Vec::<Option<f64>>::deserialize(d)?;
            Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        }
    }
}

fn to_f64<T: Copy + Into<f64>>(z: &Complex<T>) -> Complex<f64> {
    Complex::new(z.re.into(), z.im.into())
}

/// Amplitude `|z|` of a complex image, as f64.
pub fn amplitude_of<T: Copy + Into<f64>>(image: ArrayView2<'_, Complex<T>>) -> Array2<f64> {
    image.map(|z| to_f64(z).norm())
}

/// Phase `atan2(Im, Re)` of a complex image, as f64 in `(−π, π]`.
pub fn phase_of<T: Copy + Into<f64>>(image: ArrayView2<'_, Complex<T>>) -> Array2<f64> {
    image.map(|z| {
        let z = to_f64(z);
        z.im.atan2(z.re)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex32;

    fn object(h: usize, w: usize, wobble: f32) -> Array2<Complex32> {
        Array2::from_shape_fn((h, w), |(r, c)| {
            let amp = 1.0 + 0.3 * ((r as f32) * 0.5 + wobble).sin() * ((c as f32) * 0.3).cos();
            let ph = 0.8 * ((r as f32) * 0.2).cos() * ((c as f32) * 0.4 + wobble).sin();
            Complex32::from_polar(amp, ph)
        })
    }

    #[test]
    fn perfect_reconstruction_up_to_scale_and_phase_plane() {
        let gt = object(30, 34, 0.0);
        // scaled amplitude and an added phase ramp: both are removed by the conventions
        let rec = Array2::from_shape_fn(gt.dim(), |(r, c)| {
            gt[[r, c]] * 2.5 * Complex32::from_polar(1.0, 0.01 * c as f32 - 0.02 * r as f32)
        });
        let rep = evaluate_reconstruction(rec.view(), gt.view(), &EvalOptions::default()).unwrap();
        assert_eq!(rep.evaluated_shape, [26, 30]);
        assert!((rep.amplitude_scale_factor - 0.4).abs() < 1e-6);
        assert!(rep.mae.amplitude < 1e-6 && rep.mae.phase < 1e-5, "{rep:?}");
        assert!(rep.ssim.amplitude > 0.99999 && rep.ssim.phase > 0.99999);
        assert!(rep.psnr_r255_db.amplitude > 140.0);
        assert_eq!(rep.frc50.amplitude, rep.frc_curve_amplitude.len() as f64);
        let json = serde_json::to_value(&rep).unwrap();
        assert_eq!(json["phase_alignment"], "plane");
        assert!(json["psnr_r255_db"]["amplitude"].is_number());
    }

    #[test]
    fn nan_metrics_round_trip_through_json_as_null() {
        // an all-zero ground-truth phase gives NaN FRC cut-offs for the phase
        let gt = Array2::from_shape_fn((24, 24), |(r, c)| {
            Complex32::new(1.0 + 0.01 * (r * c) as f32, 0.0)
        });
        let rec = object(24, 24, 0.3);
        let rep = evaluate_reconstruction(rec.view(), gt.view(), &EvalOptions::default()).unwrap();
        assert!(rep.frc50.phase.is_nan(), "{:?}", rep.frc50);
        let text = serde_json::to_string(&rep).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["frc50"]["phase"].is_null());
        let back: EvalReport = serde_json::from_str(&text).unwrap();
        assert!(back.frc50.phase.is_nan());
        assert!((back.mae.amplitude - rep.mae.amplitude).abs() < 1e-12);
        assert_eq!(
            back.frc_curve_amplitude.len(),
            rep.frc_curve_amplitude.len()
        );
        for (a, b) in back
            .frc_curve_amplitude
            .iter()
            .zip(&rep.frc_curve_amplitude)
        {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let a = object(20, 20, 0.0);
        let b = object(20, 21, 0.0);
        let err = evaluate_reconstruction(a.view(), b.view(), &EvalOptions::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("reconstruction vs ground truth"),
            "{err}"
        );
    }
}
