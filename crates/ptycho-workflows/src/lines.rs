//! The "lines" benchmark of the 2023 paper (reference `model.md` §8.1 and Appendix B): its
//! configuration, the scales it can run at, the cost estimate, and the paper's numbers to
//! compare with. Running it is [`crate::lines_run::run_lines_benchmark`].
//!
//! The paper's setting: lines objects of 392 px (`set_phi` off: amplitude only), N = 64,
//! nphotons 1e9, two training objects scanned with `outer_offset_train` 8 and one test object
//! with `outer_offset_test` 20 (nested patches at `offset` 4), amplitude-MAE loss, 50 epochs,
//! batch 16, Adam 1e-3, `n_filters_scale` 2, `probe_scale` 10, `probe.mask`, trainable intensity
//! scale, `object.big` for gridsize 2. At that scale one gridsize-2 epoch is 53 792 patterns,
//! hours on a small CPU, so smaller scales are offered and always recorded with the results.

use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// Training throughput measured on the 2-core development machine (idle, `--profile dev`,
/// `cargo bench -p ptycho-model --bench throughput`, batch 16): patterns per second for
/// gridsize 1 and 2. Only used for the run-time estimate.
pub const MEASURED_TRAIN_PATTERNS_PER_SECOND: [f64; 2] = [13.7, 51.3];
/// Inference throughput measured alongside, patterns per second for gridsize 1 and 2.
pub const MEASURED_INFER_PATTERNS_PER_SECOND: [f64; 2] = [43.0, 157.0];

/// How much of the paper's work a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinesScale {
    /// Exactly the paper's setting (many hours on a CPU).
    Paper,
    /// The paper's objects and test scan, a sparser training scan (`outer_offset_train` 40,
    /// i.e. windows 20 px apart: 25× fewer training groups) and 6 epochs: about 5–8 minutes
    /// of CPU time per gridsize.
    Reduced,
    /// A few windows of a 96 px object and one epoch: seconds; for tests.
    Smoke,
}

impl LinesScale {
    /// Lower-case name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LinesScale::Paper => "paper",
            LinesScale::Reduced => "reduced",
            LinesScale::Smoke => "smoke",
        }
    }
}

/// Everything the benchmark depends on; written into `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesBenchmarkConfig {
    /// The preset the values came from (individual values may have been overridden).
    pub scale: LinesScale,
    /// 1 (the paper's `PINN` row) or 2 (`PINN,overlaps`, full PtychoPINN).
    pub gridsize: usize,
    /// Patch side N.
    pub n: usize,
    /// Side of every object in pixels.
    pub object_size: usize,
    /// Training objects (`nimgs_train`).
    pub n_train_objects: usize,
    /// Stride between the patches of a group (`offset`).
    pub offset: usize,
    /// Training windows are `outer_offset_train / 2` apart.
    pub outer_offset_train: usize,
    /// Test windows are `outer_offset_test / 2` apart (also the grid-stitching tile).
    pub outer_offset_test: usize,
    /// Mean photons per pattern.
    pub nphotons: f64,
    /// Maximum epochs (early stopping may end sooner).
    pub epochs: usize,
    /// Groups per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Generator width multiplier.
    pub n_filters_scale: usize,
    /// Probe normalisation divisor.
    pub probe_scale: f64,
    /// Stop after this many epochs without a lower training loss (Keras `EarlyStopping`).
    pub early_stop_patience: usize,
    /// Seed of the objects, the photon noise, the weights and the shuffling.
    pub seed: u64,
}

impl LinesBenchmarkConfig {
    /// The preset `scale` for `gridsize`.
    pub fn preset(scale: LinesScale, gridsize: usize) -> Self {
        let paper = LinesBenchmarkConfig {
            scale,
            gridsize,
            n: 64,
            object_size: 392,
            n_train_objects: 2,
            offset: 4,
            outer_offset_train: 8,
            outer_offset_test: 20,
            nphotons: 1e9,
            epochs: 50,
            batch_size: 16,
            learning_rate: 1e-3,
            n_filters_scale: 2,
            probe_scale: 10.0,
            early_stop_patience: 3,
            seed: 1,
        };
        match scale {
            LinesScale::Paper => paper,
            LinesScale::Reduced => LinesBenchmarkConfig {
                outer_offset_train: 40,
                epochs: 6,
                ..paper
            },
            LinesScale::Smoke => LinesBenchmarkConfig {
                object_size: 96,
                outer_offset_train: 32,
                outer_offset_test: 32,
                epochs: 1,
                ..paper
            },
        }
    }

    /// Checks every value; the error names the setting and what it needs.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, expected: String, found: String| {
            Err(WorkflowError::mismatch(
                format!("lines benchmark {what}"),
                expected,
                found,
            ))
        };
        if !matches!(self.gridsize, 1 | 2) {
            return bad("gridsize", "1 or 2".into(), self.gridsize.to_string());
        }
        if self.n != 64 {
            return bad(
                "N",
                "64 (the paper's patch size)".into(),
                self.n.to_string(),
            );
        }
        if self.n_train_objects == 0 {
            return bad("training objects", ">= 1".into(), "0".into());
        }
        for (what, value) in [
            ("epochs", self.epochs),
            ("batch size", self.batch_size),
            ("offset", self.offset),
        ] {
            if value == 0 {
                return bad(what, ">= 1".into(), "0".into());
            }
        }
        for (what, value) in [
            ("outer_offset_train", self.outer_offset_train),
            ("outer_offset_test", self.outer_offset_test),
        ] {
            if !(2..=2 * self.n).contains(&value) {
                return bad(
                    what,
                    format!(
                        "between 2 and {} (2·N; windows are half that apart)",
                        2 * self.n
                    ),
                    value.to_string(),
                );
            }
        }
        let big_n = self.n + (self.gridsize - 1) * self.offset;
        if self.object_size < big_n {
            return bad(
                "object size",
                format!(">= the outer window side {big_n} px"),
                self.object_size.to_string(),
            );
        }
        if !(self.nphotons > 0.0 && self.nphotons.is_finite()) {
            return bad(
                "nphotons",
                "a positive, finite number".into(),
                self.nphotons.to_string(),
            );
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(
                "learning rate",
                "a positive, finite number".into(),
                self.learning_rate.to_string(),
            );
        }
        Ok(())
    }

    /// Side of an outer window, `N + (gs−1)·offset`.
    pub fn big_n(&self) -> usize {
        self.n + self.gridsize.saturating_sub(1) * self.offset
    }

    /// Groups of one object scanned with outer offset `outer_offset`.
    pub fn groups_per_object(&self, outer_offset: usize) -> usize {
        let stride = outer_offset / 2;
        if self.object_size < self.big_n() || stride == 0 {
            return 0;
        }
        ((self.object_size - self.big_n()) / stride + 1).pow(2)
    }

    /// The work this configuration means and how long it should take here.
    pub fn cost(&self) -> LinesCost {
        let channels = self.gridsize * self.gridsize;
        let train_groups = self.n_train_objects * self.groups_per_object(self.outer_offset_train);
        let test_groups = self.groups_per_object(self.outer_offset_test);
        let gs_index = self.gridsize.clamp(1, 2) - 1;
        let train_rate = MEASURED_TRAIN_PATTERNS_PER_SECOND[gs_index];
        let infer_rate = MEASURED_INFER_PATTERNS_PER_SECOND[gs_index];
        let per_epoch = train_groups * channels;
        // The 5 % validation tail costs a forward pass only (about a third of a step).
        let epoch_seconds = per_epoch as f64 * (0.95 + 0.05 / 3.0) / train_rate;
        LinesCost {
            train_groups,
            train_patterns_per_epoch: per_epoch,
            test_groups,
            test_patterns: test_groups * channels,
            epochs: self.epochs,
            estimated_training_seconds: epoch_seconds * self.epochs as f64,
            estimated_inference_seconds: (test_groups * channels) as f64 / infer_rate,
            train_patterns_per_second: train_rate,
            infer_patterns_per_second: infer_rate,
        }
    }
}

/// Size and expected run time of a benchmark configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinesCost {
    /// Groups of all training objects (validation tail included).
    pub train_groups: usize,
    /// Diffraction patterns per epoch, `train_groups · gs²`.
    pub train_patterns_per_epoch: usize,
    /// Groups of the test object.
    pub test_groups: usize,
    /// Test patterns reconstructed.
    pub test_patterns: usize,
    /// Maximum epochs.
    pub epochs: usize,
    /// Training time at the measured idle throughput, seconds.
    pub estimated_training_seconds: f64,
    /// Inference time of the test object, seconds.
    pub estimated_inference_seconds: f64,
    /// The throughput the estimate assumes (patterns per second, training).
    pub train_patterns_per_second: f64,
    /// The throughput the estimate assumes (patterns per second, inference).
    pub infer_patterns_per_second: f64,
}

impl LinesCost {
    /// One line for a person: groups, patterns and the estimated time.
    pub fn summary(&self) -> String {
        format!(
            "{} training groups ({} patterns per epoch) x {} epochs, {} test groups: \
             about {} of training and {} of inference at {:.1} / {:.0} patterns/s",
            self.train_groups,
            self.train_patterns_per_epoch,
            self.epochs,
            self.test_groups,
            human_duration(self.estimated_training_seconds),
            human_duration(self.estimated_inference_seconds),
            self.train_patterns_per_second,
            self.infer_patterns_per_second
        )
    }
}

/// `1 h 05 min`, `12 min 30 s` or `42 s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The 2023 paper's numbers for one row of the lines column (amplitude; reference `model.md`
/// §8.1, from `notebooks/archive/ablation_table.ipynb`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperReference {
    /// The table row.
    pub row: String,
    /// Amplitude MAE.
    pub amplitude_mae: f64,
    /// Amplitude PSNR, dB, R = 255 convention.
    pub amplitude_psnr_db: f64,
    /// Amplitude FRC50, rings of the stitched test image.
    pub amplitude_frc50: f64,
    /// Where the numbers come from.
    pub source: String,
}

impl PaperReference {
    /// The row of `gridsize`: `PINN` (1) or `PINN,overlaps` (2, full PtychoPINN).
    pub fn for_gridsize(gridsize: usize) -> Self {
        let source = "Hoidn et al. 2023, Sci. Rep., ablation table, lines column \
                      (reference model.md 8.1)"
            .to_string();
        if gridsize >= 2 {
            PaperReference {
                row: "PINN,overlaps (full PtychoPINN), gridsize 2, MAE loss".into(),
                amplitude_mae: 0.0473,
                amplitude_psnr_db: 72.6,
                amplitude_frc50: 165.4,
                source,
            }
        } else {
            PaperReference {
                row: "PINN, gridsize 1, MAE loss".into(),
                amplitude_mae: 0.195,
                amplitude_psnr_db: 59.7,
                amplitude_frc50: 22.0,
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_scale_cost_is_the_papers_work() {
        let gs2 = LinesBenchmarkConfig::preset(LinesScale::Paper, 2);
        gs2.validate().unwrap();
        let cost = gs2.cost();
        // 82² windows per object, two objects, four patterns per group
        assert_eq!(cost.train_groups, 2 * 82 * 82);
        assert_eq!(cost.train_patterns_per_epoch, 53_792);
        assert_eq!(cost.test_groups, 33 * 33);
        assert_eq!(cost.test_patterns, 4 * 33 * 33);
        // ~1 000 s per epoch at 51.3 patterns/s: more than 13 hours for 50 epochs
        assert!(cost.estimated_training_seconds > 13.0 * 3600.0);
        let gs1 = LinesBenchmarkConfig::preset(LinesScale::Paper, 1).cost();
        assert_eq!(gs1.train_patterns_per_epoch, 2 * 83 * 83);
        assert!(cost.summary().contains("53792 patterns per epoch"));
    }

    #[test]
    fn reduced_scale_keeps_the_test_scan_and_fits_a_quarter_hour() {
        for gs in [1, 2] {
            let paper = LinesBenchmarkConfig::preset(LinesScale::Paper, gs);
            let reduced = LinesBenchmarkConfig::preset(LinesScale::Reduced, gs);
            reduced.validate().unwrap();
            assert_eq!(reduced.outer_offset_test, paper.outer_offset_test);
            assert_eq!(reduced.object_size, paper.object_size);
            let cost = reduced.cost();
            assert_eq!(cost.test_groups, paper.cost().test_groups);
            let total = cost.estimated_training_seconds + cost.estimated_inference_seconds;
            assert!(total < 15.0 * 60.0, "gridsize {gs}: {total} s");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = LinesBenchmarkConfig::preset(LinesScale::Smoke, 2);
        c.gridsize = 3;
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(
            e, "lines benchmark gridsize: expected 1 or 2, found 3",
            "{e}"
        );
        let mut c = LinesBenchmarkConfig::preset(LinesScale::Smoke, 2);
        c.object_size = 60;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("object size") && e.contains("68"), "{e}");
        let mut c = LinesBenchmarkConfig::preset(LinesScale::Smoke, 1);
        c.outer_offset_train = 1;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("outer_offset_train") && e.contains("found 1"),
            "{e}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(42.4), "42 s");
        assert_eq!(human_duration(750.0), "12 min 30 s");
        assert_eq!(human_duration(3900.0), "1 h 05 min");
    }

    #[test]
    fn reference_rows_are_the_papers() {
        let r2 = PaperReference::for_gridsize(2);
        assert_eq!(
            (r2.amplitude_mae, r2.amplitude_psnr_db, r2.amplitude_frc50),
            (0.0473, 72.6, 165.4)
        );
        let r1 = PaperReference::for_gridsize(1);
        assert_eq!(
            (r1.amplitude_mae, r1.amplitude_psnr_db, r1.amplitude_frc50),
            (0.195, 59.7, 22.0)
        );
    }
}
