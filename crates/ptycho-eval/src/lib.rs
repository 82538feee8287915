//! # ptycho-eval
//!
//! Evaluation of PtychoPINN reconstructions with the exact conventions of the 2023 paper
//! (reference `model.md` §7), and whole-field stitching of per-pattern object patches (§3.4).
//!
//! ## Array conventions
//! * Images are `ndarray` 2-D arrays indexed `[row, col]`; x is the column axis, y the row axis.
//! * Real-valued metrics take `f64` images ([`ndarray::ArrayView2<f64>`]).
//! * Complex objects are [`num_complex::Complex32`] arrays: each element is a `#[repr(C)]`
//!   `(re, im)` pair of `f32`, the project's interchange format for complex values. Functions
//!   that only read complex input are generic over `Complex<T>` with `T` = `f32` or `f64`.
//!   Internal accumulation (stitching canvases, FFTs, metrics) is done in `f64`.
//! * Scan positions are [`ScanPosition`] values in object pixels, `x` = column, `y` = row,
//!   the probe centre. A patch "at" `(x, y)` has object pixel `(row y, col x)` at its pixel
//!   `(N/2, N/2)` (reference `data.md` §2); a positive x offset moves patch content towards
//!   larger column indices. `ScanPosition::from([x, y])` follows the `[x, y]` order of every
//!   coordinate tensor in the project (e.g. `coords_offsets`).
//!
//! ## Modules
//! * [`crop`], [`phase`], [`pointwise`], [`mod@ssim`], [`frc`]: the individual metric steps.
//! * [`evaluate`]: upstream `eval_reconstruction` with a serialisable report.
//! * [`pipeline`]: align + optional registration + metrics for a stitched object.
//! * [`align`]: cropping to the scan bounding box; [`registration`]: optional sub-pixel
//!   registration (phase cross-correlation).
//! * [`stitch`]: streaming whole-field reassembly (uniform or `|P|²`-weighted).
//! * [`export`]: atomic PNG (amplitude / phase) and JSON (report) writers.
//! * [`reference_score`] (with [`reference_align`], [`reference_frc`]): scoring against an
//!   iterative reference reconstruction of real data, a port of `compare_to_reference.py`.
//! * [`grid`]: the regular-grid mosaic of the paper's simulated benchmark and its ground-truth clip.

pub mod align;
pub mod crop;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod fft2;
pub mod filters;
pub mod frc;
pub mod grid;
pub mod phase;
pub mod pipeline;
pub mod pointwise;
pub mod reference_align;
pub mod reference_frc;
pub mod reference_score;
pub mod registration;
pub mod ssim;
pub mod stitch;

pub use align::{AlignedPair, PixelBox, align_for_evaluation, align_stitched, scan_bounding_box};
pub use error::{EvalError, Result};

pub use evaluate::{EvalOptions, EvalReport, MetricPair, evaluate_reconstruction};
pub use frc::{FrcResult, frc_curve, frc_cutoffs, threshold_crossing};
pub use grid::{GridClip, GridScan, clip_ground_truth, stitch_grid};
pub use phase::PhaseAlignment;
pub use pipeline::{PipelineOptions, PipelineReport, RegistrationOptions, evaluate_stitched};
pub use pointwise::{mae, mean_scale_factor, mse, psnr_physical_db, psnr_r255_db};
pub use reference_frc::FrcCurve;
pub use reference_score::{
    ReferenceScore, compare_on_mask, embed_candidate, illumination_mask, score_against_reference,
};
pub use registration::{CorrelationNormalization, phase_cross_correlation, register_and_align};
pub use ssim::{ms_ssim, ssim};
pub use stitch::{
    CanvasAnchor, DEFAULT_STITCH_CROP, PatchWeighting, ScanPosition, StitchGeometry,
    StitchedObject, Stitcher, stitch_patches,
};
