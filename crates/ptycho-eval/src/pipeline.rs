//! The whole evaluation of a stitched reconstruction against its ground truth, in upstream's
//! order (`scripts/compare_models.py`): cut both to the scan bounding box, optionally register
//! the reconstruction with sub-pixel precision (then crop the wrap-around border), and compute
//! the metrics of [`crate::evaluate`].

use ndarray::ArrayView2;
use num_complex::{Complex, Complex64};
use serde::{Deserialize, Serialize};

use crate::align::{PixelBox, align_stitched};
use crate::error::Result;
use crate::evaluate::{EvalOptions, EvalReport, evaluate_reconstruction};
use crate::registration::{
    CorrelationNormalization, DEFAULT_BORDER_CROP, DEFAULT_UPSAMPLE_FACTOR, register_and_align,
};
use crate::stitch::{DEFAULT_STITCH_CROP, ScanPosition, StitchedObject};

/// Sub-pixel registration settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationOptions {
    /// Phase-correlation upsampling (precision `1/upsample_factor` px; upstream 50).
    pub upsample_factor: usize,
    /// Pixels cropped from every edge after the periodic Fourier shift (upstream 2).
    pub border_crop: usize,
    /// Cross-power normalisation (upstream: phase).
    pub normalization: CorrelationNormalization,
}

impl Default for RegistrationOptions {
    fn default() -> Self {
        Self {
            upsample_factor: DEFAULT_UPSAMPLE_FACTOR,
            border_crop: DEFAULT_BORDER_CROP,
            normalization: CorrelationNormalization::Phase,
        }
    }
}

/// Options of [`evaluate_stitched`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PipelineOptions {
    /// The stitch crop size M the reconstruction was stitched with (bounding-box margin M/2).
    pub stitch_crop: usize,
    /// Register before the metrics (`None`: no registration, the default).
    pub registration: Option<RegistrationOptions>,
    /// Metric conventions.
    pub metrics: EvalOptions,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            stitch_crop: DEFAULT_STITCH_CROP,
            registration: None,
            metrics: EvalOptions::default(),
        }
    }
}

/// Result of [`evaluate_stitched`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReport {
    /// The object region (ground-truth pixels) that was compared, before registration cropping.
    pub region: PixelBox,
    /// The `(dy, dx)` shift applied to the reconstruction, if registration ran.
    pub registration_shift_yx: Option<[f64; 2]>,
    /// The metrics.
    pub metrics: EvalReport,
}

/// Aligns, optionally registers, and evaluates a stitched reconstruction.
pub fn evaluate_stitched<B: Copy + Into<f64>>(
    stitched: &StitchedObject,
    ground_truth: ArrayView2<'_, Complex<B>>,
    positions: &[ScanPosition],
    options: &PipelineOptions,
) -> Result<PipelineReport> {
    let aligned = align_stitched(stitched, ground_truth, positions, options.stitch_crop)?;
    let to64 = |z: &Complex<B>| Complex64::new(z.re.into(), z.im.into());
    let rec = aligned
        .reconstruction
        .map(|z| Complex64::new(z.re as f64, z.im as f64));
    let gt = aligned.ground_truth.map(to64);
    let (rec, gt, shift) = match options.registration {
        None => (rec, gt, None),
        Some(reg) => {
            let r = register_and_align(
                rec.view(),
                gt.view(),
                reg.upsample_factor,
                reg.border_crop,
                reg.normalization,
            )?;
            (r.image, r.reference, Some(r.shift_yx))
        }
    };
    Ok(PipelineReport {
        region: aligned.region,
        registration_shift_yx: shift,
        metrics: evaluate_reconstruction(rec.view(), gt.view(), &options.metrics)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stitch::{CanvasAnchor, PatchWeighting, StitchGeometry, Stitcher};
    use ndarray::Array2;
    use num_complex::Complex32;

    /// Smooth blobs on a weak background (phase correlation is unreliable on these) or, with
    /// `textured`, the same plus pixel-level texture (where phase correlation is sharp).
    fn object(h: usize, w: usize, textured: bool) -> Array2<Complex32> {
        let centres: Vec<(f32, f32)> = (0..40)
            .map(|k| (((k * 37) % 97) as f32 + 1.5, ((k * 61) % 107) as f32 + 0.5))
            .collect();
        Array2::from_shape_fn((h, w), |(r, c)| {
            let (y, x) = (r as f32, c as f32);
            let texture = if textured {
                let mut z = (r as u64) << 32 | c as u64;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                0.3 * ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
            } else {
                0.0
            };
            let amp = 0.05
                + texture
                + centres
                    .iter()
                    .map(|(cy, cx)| (-((y - cy).powi(2) + (x - cx).powi(2)) / 6.0).exp())
                    .sum::<f32>();
            Complex32::from_polar(amp, 0.5 * (0.15 * x + 0.1 * y).sin())
        })
    }

    fn stitched_scan(
        obj: &Array2<Complex32>,
        shift: (usize, usize),
    ) -> (StitchedObject, Vec<ScanPosition>) {
        let n = 32;
        let mut pos = Vec::new();
        for j in 0..6 {
            for i in 0..7 {
                pos.push(ScanPosition::new(
                    25.0 + 8.0 * i as f64,
                    20.0 + 8.0 * j as f64,
                ));
            }
        }
        let g = StitchGeometry::from_positions(pos.iter().copied(), n, 20, CanvasAnchor::PixelGrid)
            .unwrap();
        let mut st = Stitcher::new(g, PatchWeighting::Uniform).unwrap();
        for p in &pos {
            // patches taken `shift` pixels off their nominal position: a misregistered recon
            let (y0, x0) = (
                p.y as usize - n / 2 + shift.0,
                p.x as usize - n / 2 + shift.1,
            );
            let patch = Array2::from_shape_fn((n, n), |(r, c)| obj[[y0 + r, x0 + c]]);
            st.push(patch.view(), *p).unwrap();
        }
        (st.finish(), pos)
    }

    #[test]
    fn perfect_stitch_scores_perfectly() {
        let obj = object(100, 110, false);
        let (st, pos) = stitched_scan(&obj, (0, 0));
        let rep = evaluate_stitched(&st, obj.view(), &pos, &PipelineOptions::default()).unwrap();
        assert_eq!(rep.region.rows, (10, 70));
        assert_eq!(rep.region.cols, (15, 83));
        assert_eq!(rep.metrics.evaluated_shape, [56, 64]);
        assert!(rep.metrics.mae.amplitude < 1e-6 && rep.metrics.mae.phase < 1e-5);
        assert!(rep.registration_shift_yx.is_none());
    }

    fn registered(
        obj: &Array2<Complex32>,
        normalization: CorrelationNormalization,
    ) -> (PipelineReport, PipelineReport) {
        let (st, pos) = stitched_scan(obj, (1, 2));
        let plain = evaluate_stitched(&st, obj.view(), &pos, &PipelineOptions::default()).unwrap();
        let opts = PipelineOptions {
            registration: Some(RegistrationOptions {
                normalization,
                ..RegistrationOptions::default()
            }),
            ..PipelineOptions::default()
        };
        (
            plain,
            evaluate_stitched(&st, obj.view(), &pos, &opts).unwrap(),
        )
    }

    #[test]
    fn registration_repairs_a_shifted_reconstruction() {
        // content sits 1 row up and 2 columns left of the truth: it must move down and right
        for (textured, norm) in [
            (true, CorrelationNormalization::Phase),
            (false, CorrelationNormalization::None),
        ] {
            let (plain, reg) = registered(&object(100, 110, textured), norm);
            let s = reg.registration_shift_yx.unwrap();
            assert!(
                (s[0] - 1.0).abs() < 0.05 && (s[1] - 2.0).abs() < 0.05,
                "{norm:?}: {s:?}"
            );
            assert!(reg.metrics.mae.amplitude < 0.5 * plain.metrics.mae.amplitude);
            assert!(reg.metrics.ssim.amplitude > plain.metrics.ssim.amplitude);
            assert_eq!(reg.metrics.evaluated_shape, [52, 60]);
        }
    }

    #[test]
    fn phase_correlation_misses_on_smooth_images_like_skimage() {
        // skimage.registration.phase_cross_correlation on this very crop gives (0.26, 0.1):
        // phase normalisation is not robust for smooth objects; the option exists for that
        let (_, reg) = registered(&object(100, 110, false), CorrelationNormalization::Phase);
        let s = reg.registration_shift_yx.unwrap();
        assert!(
            (s[0] - 1.0).abs() > 0.5 || (s[1] - 2.0).abs() > 0.5,
            "{s:?}"
        );
    }
}
