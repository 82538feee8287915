//! Output files of the workflows, each written atomically (temporary file, then rename):
//! loss history (CSV and JSON), amplitude and phase PNGs, the complex object as NPZ with its
//! metadata, and the metrics JSON.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use num_complex::Complex32;
use ptycho_data::{Compression, NpzWriter};
use ptycho_eval::export::{write_json, write_png_gray8};
use ptycho_eval::{
    PipelineOptions, PipelineReport, ScanPosition, StitchedObject, evaluate_stitched,
};
use ptycho_model::{HostProbe, TrainingHistory};
use serde::Serialize;

use crate::error::{Result, WorkflowError};
use crate::inference::StitchWeighting;

/// Loss history file names.
pub const HISTORY_CSV: &str = "loss_history.csv";
/// Loss history as JSON.
pub const HISTORY_JSON: &str = "loss_history.json";
/// Amplitude image.
pub const AMPLITUDE_PNG: &str = "reconstructed_amplitude.png";
/// Phase image.
pub const PHASE_PNG: &str = "reconstructed_phase.png";
/// Complex object.
pub const OBJECT_NPZ: &str = "reconstruction.npz";
/// Metrics against the ground truth.
pub const METRICS_JSON: &str = "metrics.json";
/// The refined probe (`probe` and `probe_initial`, complex64 `(N, N)`).
pub const PROBE_NPZ: &str = "probe.npz";
/// Amplitude of the refined probe.
pub const PROBE_AMPLITUDE_PNG: &str = "probe_amplitude.png";
/// Phase of the refined probe.
pub const PROBE_PHASE_PNG: &str = "probe_phase.png";

/// What the reconstruction NPZ records besides the object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconstructionMetadata {
    /// Patch side N.
    #[serde(rename = "N")]
    pub n: usize,
    /// Gridsize of the model.
    pub gridsize: usize,
    /// Stitch crop M.
    pub stitch_crop: usize,
    /// How overlapping patches were averaged.
    pub stitch_weighting: StitchWeighting,
    /// Patches stitched.
    pub patches: usize,
    /// Trained intensity scale of the model.
    pub intensity_scale: f64,
    /// The bundle the reconstruction came from, if any.
    pub model_path: Option<PathBuf>,
    /// The data file reconstructed, if any.
    pub data_file: Option<PathBuf>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> WorkflowError + '_ {
    move |source| WorkflowError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder ([`ptycho_fs`]),
/// creating the folder if needed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error(path))?;
    }
    ptycho_fs::write_atomically(path, bytes).map_err(|e| io_error(path)(e.source))
}

/// Writes the loss history as CSV (`epoch,loss,val_loss,learning_rate,log_scale,seconds`) and
/// JSON into `dir`; returns both paths.
pub fn write_history(dir: &Path, history: &TrainingHistory) -> Result<(PathBuf, PathBuf)> {
    let mut csv = String::from("epoch,loss,val_loss,learning_rate,log_scale,seconds\n");
    for e in &history.epochs {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            e.epoch,
            e.loss,
            e.val_loss.map(|v| v.to_string()).unwrap_or_default(),
            e.learning_rate,
            e.log_scale,
            e.seconds
        ));
    }
    let csv_path = dir.join(HISTORY_CSV);
    write_atomically(&csv_path, csv.as_bytes())?;
    let json_path = dir.join(HISTORY_JSON);
    history.write_json(&json_path)?;
    Ok((csv_path, json_path))
}

/// Pixels whose stitching weight is below this fraction of the maximum do not set the display
/// range of the PNGs.
pub const LIT_WEIGHT_FRACTION: f32 = 0.05;

/// The finite min and max of `image` over pixels carrying at least [`LIT_WEIGHT_FRACTION`] of
/// the largest weight; `None` (the image's own range) when that is empty or constant.
fn lit_range(image: &Array2<f32>, weight: &Array2<f32>) -> Option<(f32, f32)> {
    let max = weight.iter().copied().fold(0.0f32, f32::max);
    image
        .iter()
        .zip(weight.iter())
        .filter(|(v, w)| max > 0.0 && **w >= LIT_WEIGHT_FRACTION * max && v.is_finite())
        .fold(None, |range: Option<(f32, f32)>, (&v, _)| {
            Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
        .filter(|(lo, hi)| hi > lo)
}

/// Writes amplitude and phase PNGs and the complex object NPZ (`object` complex64 `(H, W)`,
/// `amplitude`, `phase`, `weight` f32, `origin_xy` f64 `[2]`, `metadata_json` u8 bytes).
pub fn write_reconstruction<M: Serialize>(
    dir: &Path,
    stitched: &StitchedObject,
    metadata: &M,
) -> Result<Vec<PathBuf>> {
    let amplitude = stitched.amplitude();
    let phase = stitched.phase();
    let amp_path = dir.join(AMPLITUDE_PNG);
    let phase_path = dir.join(PHASE_PNG);
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    // Scale both images over the well-lit pixels: uncovered corners are zero, and the dim rim
    // of probe-weighted stitching is noisy; either would squeeze the object into a few grey
    // levels (a fixed [−π, π] phase range does the same to a weak phase object).
    write_png_gray8(
        &amp_path,
        amplitude.view(),
        lit_range(&amplitude, &stitched.weight),
    )?;
    write_png_gray8(
        &phase_path,
        phase.view(),
        lit_range(&phase, &stitched.weight),
    )?;
    let npz_path = dir.join(OBJECT_NPZ);
    let (h, w) = stitched.object.dim();
    let mut npz = NpzWriter::create(&npz_path, Compression::Deflated)?;
    npz.add("object", &[h, w], &row_major(&stitched.object))?;
    npz.add("amplitude", &[h, w], &row_major(&amplitude))?;
    npz.add("phase", &[h, w], &row_major(&phase))?;
    npz.add("weight", &[h, w], &row_major(&stitched.weight))?;
    npz.add("origin_xy", &[2], &[stitched.origin.x, stitched.origin.y])?;
    let meta = serde_json::to_vec(metadata).map_err(|e| io_error(&npz_path)(e.into()))?;
    npz.add("metadata_json", &[meta.len()], &meta)?;
    npz.finish()?;
    Ok(vec![amp_path, phase_path, npz_path])
}

/// Writes a refined probe: `probe.npz` (`probe`, the dominant mode, and `probe_initial`,
/// complex64 `(N, N)`; `probe_modes` `(M, N, N)` with every mode) and the dominant mode's
/// amplitude and phase PNGs. `modes` must not be empty.
pub fn write_probe(dir: &Path, modes: &[HostProbe], initial: &HostProbe) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let n = initial.n;
    let dominant = probe_array(&modes[0]);
    let npz_path = dir.join(PROBE_NPZ);
    let mut npz = NpzWriter::create(&npz_path, Compression::Deflated)?;
    npz.add("probe", &[n, n], &row_major(&dominant))?;
    let all: Vec<Complex32> = modes
        .iter()
        .flat_map(|m| row_major(&probe_array(m)))
        .collect();
    npz.add("probe_modes", &[modes.len(), n, n], &all)?;
    npz.add("probe_initial", &[n, n], &row_major(&probe_array(initial)))?;
    npz.finish()?;
    let image = |f: fn(&Complex32) -> f32| dominant.map(f);
    let amp_path = dir.join(PROBE_AMPLITUDE_PNG);
    let phase_path = dir.join(PROBE_PHASE_PNG);
    write_png_gray8(&amp_path, image(|z| z.norm()).view(), None)?;
    write_png_gray8(&phase_path, image(|z| z.arg()).view(), Some((-PI, PI)))?;
    Ok(vec![npz_path, amp_path, phase_path])
}

/// A host probe as a complex `(N, N)` array.
pub fn probe_array(probe: &HostProbe) -> Array2<Complex32> {
    let values = probe
        .re
        .iter()
        .zip(&probe.im)
        .map(|(&re, &im)| Complex32::new(re, im))
        .collect();
    Array2::from_shape_vec((probe.n, probe.n), values).expect("a HostProbe holds n*n values")
}

/// Row-major values of `a`, whatever its memory layout.
fn row_major<T: Clone>(a: &Array2<T>) -> Vec<T> {
    a.iter().cloned().collect()
}

/// Aligns the stitched object with the ground truth and computes the paper's metrics.
pub fn evaluate(
    stitched: &StitchedObject,
    truth: &Array2<Complex32>,
    positions: &[ScanPosition],
    stitch_crop: usize,
) -> Result<PipelineReport> {
    let options = PipelineOptions {
        stitch_crop,
        ..PipelineOptions::default()
    };
    Ok(evaluate_stitched(
        stitched,
        truth.view(),
        positions,
        &options,
    )?)
}

/// Writes the metrics report as JSON into `dir`.
pub fn write_metrics(dir: &Path, report: &PipelineReport) -> Result<PathBuf> {
    write_json_file(&dir.join(METRICS_JSON), report)
}

/// Writes `value` as pretty JSON to `path` (atomically); returns the path.
pub fn write_json_file<T: Serialize>(path: &Path, value: &T) -> Result<PathBuf> {
    write_json(path, value)?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptycho_model::train::EpochRecord;

    #[test]
    fn history_csv_has_one_row_per_epoch_with_an_empty_missing_val_loss() {
        let dir = tempfile::tempdir().unwrap();
        let record = |epoch, loss, val_loss| EpochRecord {
            epoch,
            loss,
            val_loss,
            learning_rate: 1e-3,
            log_scale: 2.0,
            patterns_per_second: 10.0,
            seconds: 0.5,
        };
        let history = TrainingHistory {
            epochs: vec![record(0, 3.5, Some(4.0)), record(1, -1.25, None)],
            ..TrainingHistory::default()
        };
        let (csv, json) = write_history(dir.path(), &history).unwrap();
        let text = std::fs::read_to_string(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "epoch,loss,val_loss,learning_rate,log_scale,seconds"
        );
        assert_eq!(lines[1], "0,3.5,4,0.001,2,0.5");
        assert_eq!(lines[2], "1,-1.25,,0.001,2,0.5");
        let back: TrainingHistory =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        assert_eq!(back, history);
    }

    #[test]
    fn display_range_ignores_uncovered_and_dimly_lit_pixels() {
        // A 3x3 image: an uncovered corner (weight 0, value 0), a dim rim pixel with an outlier
        // (weight 1 % of the maximum) and well-lit pixels between 0.2 and 0.8.
        let image =
            Array2::from_shape_vec((3, 3), vec![0.0, 5.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
                .unwrap();
        let weight =
            Array2::from_shape_vec((3, 3), vec![0.0, 0.01, 1.0, 1.0, 1.0, 0.5, 0.2, 0.1, 0.06])
                .unwrap();
        assert_eq!(lit_range(&image, &weight), Some((0.2, 0.8)));
        // Nothing lit, or a constant lit image: the PNG falls back to the image's own range.
        assert_eq!(lit_range(&image, &Array2::zeros((3, 3))), None);
        assert_eq!(lit_range(&Array2::ones((3, 3)), &weight), None);
    }
}
