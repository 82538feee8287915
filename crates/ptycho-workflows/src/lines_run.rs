//! Runs the lines benchmark ([`crate::lines`]) end to end: simulate the nested-patch scans of
//! the training and test objects, train, reconstruct the test object, tile the group outputs
//! into the grid mosaic the paper evaluated (`ptycho_eval::grid`), compute the paper's metrics
//! and write everything into one directory:
//!
//! | file | content |
//! |---|---|
//! | `metrics.json` | [`LinesReport`]: config, sizes, timings, metrics, the paper's numbers |
//! | `amplitude.png`, `phase.png` | the stitched test reconstruction (own min–max range) |
//! | `truth_amplitude.png`, `truth_phase.png` | the clipped ground truth, same layout |
//! | `lines_reconstruction.npz` | `object` and `truth` (complex64, the evaluated layout) |
//! | `loss_history.csv`, `loss_history.json` | per-epoch losses |
//! | `wts.h5.zip` | the trained model bundle |
//!
//! Every file is written through a temporary file and renamed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array2;
use num_complex::Complex32;
use ptycho_config::{ExecutionConfig, LegacyParams, ModelConfig, TrainingConfig};
use ptycho_data::simulate::nested::simulate_lines;
use ptycho_data::simulate::nested::{NestedGrid, NestedScan, NestedSimulation};
use ptycho_data::simulate::objects::default_probe;
use ptycho_data::{Compression, NpzWriter};
use ptycho_eval::evaluate::{amplitude_of, phase_of};
use ptycho_eval::export::{write_json, write_png_gray8};
use ptycho_eval::{
    EvalOptions, EvalReport, GridScan, clip_ground_truth, evaluate_reconstruction, stitch_grid,
};
use ptycho_model::physics::probe::disk_mask;
use ptycho_model::{HostProbe, TrainObserver};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigInput, resolve_config};
use crate::container::DataInput;
use crate::error::{Result, WorkflowError};
use crate::inference::DEFAULT_INFERENCE_BATCH;
use crate::lines::{LinesBenchmarkConfig, LinesCost, LinesScale, PaperReference};
use crate::outputs::write_history;
use crate::training::{TrainOptions, train_cdi_model_observed};

/// The metrics file.
pub const LINES_METRICS_JSON: &str = "metrics.json";
/// Stitched amplitude image.
pub const LINES_AMPLITUDE_PNG: &str = "amplitude.png";
/// Stitched phase image.
pub const LINES_PHASE_PNG: &str = "phase.png";
/// Ground-truth amplitude image.
pub const LINES_TRUTH_AMPLITUDE_PNG: &str = "truth_amplitude.png";
/// Ground-truth phase image.
pub const LINES_TRUTH_PHASE_PNG: &str = "truth_phase.png";
/// Stitched object and ground truth.
pub const LINES_NPZ: &str = "lines_reconstruction.npz";

/// Sizes of what was actually run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesSizes {
    /// Training groups (all objects, validation tail included).
    pub train_groups: usize,
    /// Groups held out for validation (the last 5 %).
    pub validation_groups: usize,
    /// Diffraction patterns per training epoch (`train_groups · gs²`).
    pub train_patterns_per_epoch: usize,
    /// Test groups (grid windows of the test object).
    pub test_groups: usize,
    /// Epochs run (fewer than configured when early stopping ended the run).
    pub epochs_run: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// `[rows, cols]` of the stitched mosaic (before the metrics' 2 px trim).
    pub stitched_shape: [usize; 2],
}

/// Wall time of each stage, seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesTimings {
    /// Objects and diffraction simulation.
    pub simulation: f64,
    /// Training (all epochs).
    pub training: f64,
    /// Inference of the test object.
    pub inference: f64,
    /// Stitching, metrics and files.
    pub evaluation: f64,
    /// Everything.
    pub total: f64,
}

/// Our amplitude numbers beside the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesComparison {
    /// The paper's row.
    pub paper: PaperReference,
    /// Our amplitude MAE.
    pub amplitude_mae: f64,
    /// Our amplitude PSNR, dB, R = 255.
    pub amplitude_psnr_db: f64,
    /// Our amplitude FRC50.
    pub amplitude_frc50: f64,
}

/// Everything `metrics.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesReport {
    /// `"lines"`.
    pub benchmark: String,
    /// The benchmark configuration (its `scale` says how it relates to the paper's).
    pub config: LinesBenchmarkConfig,
    /// The training config handed to the model.
    pub training_config: TrainingConfig,
    /// This run's size and the estimate made before it.
    pub estimate: LinesCost,
    /// The same estimate for the paper's scale with this gridsize.
    pub paper_scale_estimate: LinesCost,
    /// What was run.
    pub sizes: LinesSizes,
    /// Wall time per stage.
    pub seconds: LinesTimings,
    /// Photon scale of the simulated training data and the trained intensity scale.
    pub simulated_intensity_scale: f64,
    /// `exp(log_scale)` after training.
    pub trained_intensity_scale: f64,
    /// Final training loss.
    pub final_loss: Option<f64>,
    /// The paper's metrics of the stitched test object (plane phase alignment, amplitude mean
    /// scaling, 2 px trim, PSNR with R = 255, SSIM, MS-SSIM, FRC in rings of this image). The
    /// object has no phase (`set_phi` off, as the paper's lines column), so the phase FRC is
    /// undefined (`null`) and the phase errors measure spurious phase.
    pub metrics: EvalReport,
    /// Our amplitude numbers beside the paper's.
    pub comparison: LinesComparison,
    /// Display ranges `[low, high]` of `amplitude.png` and `phase.png`.
    pub png_ranges: [[f32; 2]; 2],
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// What [`run_lines_benchmark`] returns.
#[derive(Debug, Clone)]
pub struct LinesOutcome {
    /// The report also written as `metrics.json`.
    pub report: LinesReport,
    /// The stitched reconstruction (evaluated layout).
    pub stitched: Array2<Complex32>,
    /// The clipped ground truth it was compared with.
    pub truth: Array2<Complex32>,
}

/// Simulates the scan of `count` fresh lines objects drawn from stream `stream` of the seed.
fn simulate(
    config: &LinesBenchmarkConfig,
    count: usize,
    outer_offset: usize,
    stream: u64,
    probe: &Array2<Complex32>,
) -> Result<NestedScan> {
    let sim = NestedSimulation {
        grid: NestedGrid {
            n: config.n,
            gridsize: config.gridsize,
            offset: config.offset,
            outer_offset,
        },
        nphotons: config.nphotons,
        poisson: true,
    };
    Ok(simulate_lines(
        count,
        config.object_size,
        probe,
        &sim,
        config.seed,
        stream,
    )?)
}

/// The default probe as the forward model uses it: divided by `probe_scale · mean |disk · P|`
/// and, with `probe.mask`, cut to the central disk. Simulating with it (as upstream simulates
/// with its normalised probe) makes the simulation's photon scale the model's starting
/// intensity scale with an O(1) object; simulating with the raw probe would start the model at
/// a scale its sigmoid amplitude cannot reach, and the trainable scale then needs many more
/// steps than a reduced run has.
pub fn model_probe(config: &LinesBenchmarkConfig) -> Result<Array2<Complex32>> {
    let n = config.n;
    let raw = default_probe(n);
    let host = HostProbe::new(
        n,
        raw.iter().map(|z| z.re).collect(),
        raw.iter().map(|z| z.im).collect(),
    )?
    .normalised(config.probe_scale as f32)?;
    let mask = disk_mask(n);
    Ok(Array2::from_shape_fn((n, n), |(r, c)| {
        let k = r * n + c;
        Complex32::new(host.re[k], host.im[k]) * mask[k]
    }))
}

/// The model and training settings of the paper's PINN runs.
pub fn lines_training_config(config: &LinesBenchmarkConfig, train_groups: usize) -> TrainingConfig {
    TrainingConfig {
        model: ModelConfig {
            N: config.n,
            gridsize: config.gridsize,
            n_filters_scale: config.n_filters_scale,
            object_big: config.gridsize > 1,
            probe_big: false,
            probe_mask: true,
            probe_scale: config.probe_scale,
            ..ModelConfig::default()
        },
        batch_size: config.batch_size,
        nepochs: config.epochs,
        mae_weight: 1.0,
        nll_weight: 0.0,
        nphotons: config.nphotons,
        n_groups: train_groups,
        subsample_seed: Some(config.seed),
        intensity_scale_trainable: true,
        ..TrainingConfig::default()
    }
}

/// Runs the benchmark into `output_dir`; `log` receives one line per stage and `observer` the
/// training progress.
pub fn run_lines_benchmark(
    config: &LinesBenchmarkConfig,
    output_dir: &Path,
    observer: &mut dyn TrainObserver,
    log: &mut dyn FnMut(&str),
) -> Result<LinesOutcome> {
    config.validate()?;
    let started = Instant::now();
    std::fs::create_dir_all(output_dir).map_err(|source| WorkflowError::Io {
        path: output_dir.to_path_buf(),
        source,
    })?;
    let estimate = config.cost();
    log(&format!(
        "lines benchmark, gridsize {}: {}",
        config.gridsize,
        estimate.summary()
    ));

    let probe = model_probe(config)?;
    let train = simulate(
        config,
        config.n_train_objects,
        config.outer_offset_train,
        0,
        &probe,
    )?;
    let test = simulate(config, 1, config.outer_offset_test, 1, &probe)?;
    let test_object = test.objects[0].clone();
    let simulated_scale = train.intensity_scale;
    let simulation_s = started.elapsed().as_secs_f64();
    log(&format!(
        "simulated {} training and {} test groups in {simulation_s:.1} s",
        train.grouped.len(),
        test.grouped.len()
    ));

    let training = lines_training_config(config, train.grouped.len());
    let execution = ExecutionConfig {
        learning_rate: config.learning_rate,
        early_stop_patience: config.early_stop_patience,
        ..ExecutionConfig::default()
    };
    let mut params = LegacyParams::with_defaults();
    let resolved = resolve_config(ConfigInput::WithExecution(training, execution), &mut params)?;
    let options = TrainOptions::default().with_seed(config.seed);
    let t_train = Instant::now();
    let results = train_cdi_model_observed(
        DataInput::Grouped {
            grouped: train.grouped,
            probe: probe.clone(),
        },
        Some(DataInput::Grouped {
            grouped: test.grouped,
            probe,
        }),
        &resolved,
        &options,
        observer,
    )?;
    let training_s = t_train.elapsed().as_secs_f64();
    let trained = results.trained;
    let history = &trained.history;
    log(&format!(
        "trained {} epochs in {training_s:.1} s (final loss {:?})",
        history.epochs.len(),
        history.epochs.last().map(|e| e.loss)
    ));

    let t_infer = Instant::now();
    let model = trained.inference_model()?;
    let test_container = results.test_container.as_ref().ok_or_else(|| {
        WorkflowError::mismatch("lines benchmark test data", "a test container", "none")
    })?;
    let reconstruction = model.reconstruct(test_container, DEFAULT_INFERENCE_BATCH)?;
    let inference_s = t_infer.elapsed().as_secs_f64();
    log(&format!(
        "reconstructed {} test groups in {inference_s:.1} s",
        reconstruction.patches.shape()[0]
    ));

    let t_eval = Instant::now();
    let grid = GridScan {
        n: config.n,
        gridsize: config.gridsize,
        offset: config.offset,
        outer_offset: config.outer_offset_test,
    };
    let stitched = stitch_grid(reconstruction.patches.view(), &grid)?;
    let truth = clip_ground_truth(test_object.view(), &grid)?;
    let metrics = evaluate_reconstruction(stitched.view(), truth.view(), &EvalOptions::default())?;

    let mut files = write_images(output_dir, &stitched, &truth)?;
    let png_ranges = [files.1, files.2];
    let (history_csv, history_json) = write_history(output_dir, history)?;
    files.0.extend([history_csv, history_json]);
    files.0.push(trained.save(output_dir)?);
    files.0.push(output_dir.join(LINES_METRICS_JSON));

    let (h, w) = stitched.dim();
    let report = LinesReport {
        benchmark: "lines".into(),
        config: config.clone(),
        training_config: trained.config.clone(),
        paper_scale_estimate: LinesBenchmarkConfig::preset(LinesScale::Paper, config.gridsize)
            .cost(),
        estimate,
        sizes: LinesSizes {
            train_groups: history.train_groups + history.val_groups,
            validation_groups: history.val_groups,
            train_patterns_per_epoch: (history.train_groups + history.val_groups)
                * config.gridsize.pow(2),
            test_groups: reconstruction.patches.shape()[0],
            epochs_run: history.epochs.len(),
            stopped_early: history.stopped_early,
            stitched_shape: [h, w],
        },
        seconds: LinesTimings {
            simulation: simulation_s,
            training: training_s,
            inference: inference_s,
            evaluation: t_eval.elapsed().as_secs_f64(),
            total: started.elapsed().as_secs_f64(),
        },
        simulated_intensity_scale: simulated_scale,
        trained_intensity_scale: trained.trained_intensity_scale(),
        final_loss: history.epochs.last().map(|e| e.loss),
        comparison: LinesComparison {
            paper: PaperReference::for_gridsize(config.gridsize),
            amplitude_mae: metrics.mae.amplitude,
            amplitude_psnr_db: metrics.psnr_r255_db.amplitude,
            amplitude_frc50: metrics.frc50.amplitude,
        },
        metrics,
        png_ranges,
        files: files.0,
    };
    write_json(&output_dir.join(LINES_METRICS_JSON), &report)?;
    Ok(LinesOutcome {
        report,
        stitched,
        truth,
    })
}

/// Writes the four PNGs and the NPZ; returns the files and the amplitude and phase ranges.
fn write_images(
    dir: &Path,
    stitched: &Array2<Complex32>,
    truth: &Array2<Complex32>,
) -> Result<(Vec<PathBuf>, [f32; 2], [f32; 2])> {
    let as_f32 = |a: Array2<f64>| a.mapv(|v| v as f32);
    let mut files = Vec::new();
    let mut ranges = Vec::new();
    for (image, amp_name, phase_name) in [
        (stitched, LINES_AMPLITUDE_PNG, LINES_PHASE_PNG),
        (truth, LINES_TRUTH_AMPLITUDE_PNG, LINES_TRUTH_PHASE_PNG),
    ] {
        for (values, name) in [
            (as_f32(amplitude_of(image.view())), amp_name),
            (as_f32(phase_of(image.view())), phase_name),
        ] {
            let path = dir.join(name);
            let (lo, hi) = write_png_gray8(&path, values.view(), None)?;
            ranges.push([lo, hi]);
            files.push(path);
        }
    }
    let npz_path = dir.join(LINES_NPZ);
    let mut npz = NpzWriter::create(&npz_path, Compression::Deflated)?;
    for (name, image) in [("object", stitched), ("truth", truth)] {
        let (h, w) = image.dim();
        npz.add(name, &[h, w], &image.iter().copied().collect::<Vec<_>>())?;
    }
    npz.finish()?;
    files.push(npz_path);
    Ok((files, ranges[0], ranges[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole pipeline at the smoke scale (a 96 px object, a few windows, one epoch): every
    /// file is written, the metrics JSON has the paper's keys with finite amplitude values, and
    /// the mosaic lines up with the clipped truth.
    #[test]
    fn smoke_scale_writes_every_output_with_finite_metrics() {
        for gs in [1usize, 2] {
            let dir = tempfile::tempdir().unwrap();
            let config = LinesBenchmarkConfig::preset(LinesScale::Smoke, gs);
            let mut lines = Vec::new();
            let outcome = run_lines_benchmark(
                &config,
                dir.path(),
                &mut ptycho_model::train::NoObserver,
                &mut |l| lines.push(l.to_string()),
            )
            .unwrap();
            assert!(
                lines.iter().any(|l| l.starts_with("simulated")),
                "{lines:?}"
            );
            let r = &outcome.report;
            // gs 1: (96 - 64) / 16 + 1 = 3 windows per side; gs 2: (96 - 68) / 16 + 1 = 2
            let along = if gs == 1 { 3 } else { 2 };
            assert_eq!(r.sizes.test_groups, along * along, "gridsize {gs}");
            assert_eq!(r.sizes.train_groups, 2 * along * along);
            assert_eq!(r.sizes.epochs_run, 1);
            assert_eq!(r.sizes.stitched_shape, [16 * along, 16 * along]);
            assert_eq!(outcome.stitched.dim(), outcome.truth.dim());
            assert_eq!(r.metrics.evaluated_shape, [16 * along - 4, 16 * along - 4]);
            assert_eq!(r.comparison.paper, PaperReference::for_gridsize(gs));
            for name in [
                LINES_METRICS_JSON,
                LINES_AMPLITUDE_PNG,
                LINES_PHASE_PNG,
                LINES_TRUTH_AMPLITUDE_PNG,
                LINES_TRUTH_PHASE_PNG,
                LINES_NPZ,
                "loss_history.csv",
                "loss_history.json",
                "wts.h5.zip",
            ] {
                let path = dir.path().join(name);
                assert!(path.is_file(), "{name} missing");
                assert!(r.files.contains(&path), "{name} not listed");
            }
            let json: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.path().join(LINES_METRICS_JSON)).unwrap(),
            )
            .unwrap();
            assert_eq!(json["benchmark"], "lines");
            assert_eq!(json["config"]["scale"], "smoke");
            assert_eq!(json["config"]["gridsize"], gs);
            assert_eq!(json["training_config"]["mae_weight"], 1.0);
            assert_eq!(json["training_config"]["nll_weight"], 0.0);
            assert_eq!(json["training_config"]["model"]["object_big"], gs == 2);
            for key in ["mae", "mse", "psnr_r255_db", "ssim", "ms_ssim", "frc50"] {
                let v = json["metrics"][key]["amplitude"].as_f64().unwrap();
                assert!(v.is_finite(), "{key} {v}");
                assert!(json["metrics"][key].get("phase").is_some(), "{key}");
            }
            assert!(
                json["metrics"]["mae"]["phase"]
                    .as_f64()
                    .unwrap()
                    .is_finite()
            );
            assert!(json["seconds"]["total"].as_f64().unwrap() > 0.0);
            assert_eq!(
                json["paper_scale_estimate"]["train_patterns_per_epoch"],
                if gs == 1 {
                    2 * 83 * 83
                } else {
                    4 * 2 * 82 * 82
                }
            );
            let amp = json["comparison"]["amplitude_mae"].as_f64().unwrap();
            assert!(amp > 0.0 && amp.is_finite());
            // the truth amplitude PNG is the clipped object's size
            let png = std::fs::read(dir.path().join(LINES_TRUTH_AMPLITUDE_PNG)).unwrap();
            let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
            assert_eq!(width as usize, 16 * along);
        }
    }

    #[test]
    fn model_probe_is_the_normalised_masked_probe_the_physics_uses() {
        let config = LinesBenchmarkConfig::preset(LinesScale::Smoke, 2);
        let probe = model_probe(&config).unwrap();
        let mask = disk_mask(64);
        // mean |disk · P| over all N² pixels is 1 / probe_scale
        let mean = probe.iter().map(|z| f64::from(z.norm())).sum::<f64>() / 4096.0;
        assert!((mean * config.probe_scale - 1.0).abs() < 1e-5, "{mean}");
        for (k, z) in probe.iter().enumerate() {
            if mask[k] == 0.0 {
                assert_eq!(*z, Complex32::new(0.0, 0.0));
            }
        }
        // the default disk (diameter ≈ 22 px) is flat in the middle: ≈ 4096 / (10 · area)
        let centre = probe[[32, 32]];
        assert!(
            centre.re > 0.9 && centre.re < 1.3 && centre.im == 0.0,
            "{centre}"
        );
    }

    #[test]
    fn invalid_config_fails_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = LinesBenchmarkConfig::preset(LinesScale::Smoke, 1);
        config.epochs = 0;
        let err = run_lines_benchmark(
            &config,
            dir.path(),
            &mut ptycho_model::train::NoObserver,
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "lines benchmark epochs: expected >= 1, found 0"
        );
        assert!(!dir.path().join(LINES_METRICS_JSON).exists());
    }
}
