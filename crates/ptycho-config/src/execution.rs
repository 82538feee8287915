//! Runtime-only execution settings (upstream's `PyTorchExecutionConfig`).
//!
//! These describe *how* a run executes (device, precision, workers, logging, checkpoints), not
//! *what* is computed, so they are never written into the legacy params map (finding CONFIG-002).
//! Validation follows upstream's `__post_init__` order; where upstream only documents a rule
//! (logger backends) it is enforced here too, and `accum_steps > 1` is rejected because manual
//! optimisation does not support gradient accumulation (finding EXEC-ACCUM-001).
//!
//! Two fields are this implementation's own (appended after upstream's 40):
//! `validation_split` (the fraction of groups held out at the end; unset = automatic, see
//! [`ExecutionConfig::validation_fraction`]) and `checkpoint_every_n_epochs`.
//! `enable_progress_bar` is optional here: unset means a bar on a terminal and one line per
//! epoch otherwise, `false` lines only (upstream's `false` and `true` still load). Which values of each field this
//! implementation runs with is decided by [`crate::support`].

use serde::{Deserialize, Serialize};

use crate::choices::{
    Accelerator, CheckpointMode, GateMode, GradientClipAlgorithm, LoggerBackend, Precision,
    Scheduler,
};
use crate::error::{ConfigError, Result};
use crate::validate::{positive_count, positive_count_opt, positive_real, real_in_half_open};

/// Number of devices: a positive count or `"auto"` (all visible devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Devices {
    Count(usize),
    Auto(AutoDevices),
}

/// The literal string `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoDevices {
    #[serde(rename = "auto")]
    Auto,
}

/// Determinism: on, off, or `"warn"` (warn on non-deterministic operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Deterministic {
    Flag(bool),
    Warn(WarnOnly),
}

/// The literal string `"warn"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WarnOnly {
    #[serde(rename = "warn")]
    Warn,
}

/// Execution settings (upstream's 40 fields, upstream defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutionConfig {
    pub accelerator: Accelerator,
    pub devices: Devices,
    pub strategy: String,
    pub deterministic: Deterministic,
    pub precision: Precision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient_clip_val: Option<f64>,
    pub gradient_clip_algorithm: GradientClipAlgorithm,
    pub accum_steps: usize,
    pub num_workers: usize,
    pub pin_memory: bool,
    pub persistent_workers: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefetch_factor: Option<usize>,
    pub learning_rate: f64,
    pub scheduler: Scheduler,
    /// `None` (and `Some(true)`): a bar on a terminal, one line per epoch otherwise (a bar in
    /// a log file is unreadable); `Some(false)`: epoch lines only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_progress_bar: Option<bool>,
    pub enable_checkpointing: bool,
    pub checkpoint_save_top_k: usize,
    pub checkpoint_monitor_metric: String,
    pub checkpoint_mode: CheckpointMode,
    pub early_stop_patience: usize,
    pub logger_backend: LoggerBackend,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recon_log_every_n_epochs: Option<usize>,
    pub recon_log_num_patches: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recon_log_fixed_indices: Option<Vec<usize>>,
    pub recon_log_stitch: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recon_log_max_stitch_samples: Option<usize>,
    pub ffno_encoder_blocks: usize,
    pub ffno_encoder_modes: usize,
    pub ffno_encoder_share_weights: bool,
    pub ffno_encoder_gate_init: f64,
    pub ffno_encoder_norm: String,
    pub ffno_encoder_mlp_ratio: f64,
    pub spectral_bottleneck_blocks: usize,
    pub spectral_bottleneck_modes: usize,
    pub spectral_bottleneck_share_weights: bool,
    pub spectral_bottleneck_gate_init: f64,
    pub spectral_bottleneck_gate_mode: GateMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_batch_size: Option<usize>,
    pub middle_trim: usize,
    pub pad_eval: bool,
    /// Fraction of groups held out at the end for validation; `None`: automatic
    /// ([`ExecutionConfig::validation_fraction`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_split: Option<f64>,
    /// `checkpoints/last` is written every this many epochs and at the end of training.
    pub checkpoint_every_n_epochs: usize,
}

/// The validation fraction used when `validation_split` is unset (Keras' usual 5 %).
pub const AUTO_VALIDATION_FRACTION: f64 = 0.05;

/// The automatic split holds out [`AUTO_VALIDATION_FRACTION`] only when that leaves at least
/// this many validation groups (i.e. from 320 groups on).
pub const MIN_AUTO_VALIDATION_GROUPS: usize = 16;

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            accelerator: Accelerator::Auto,
            devices: Devices::Count(1),
            strategy: "auto".to_owned(),
            deterministic: Deterministic::Flag(true),
            precision: Precision::Full32,
            gradient_clip_val: None,
            gradient_clip_algorithm: GradientClipAlgorithm::Norm,
            accum_steps: 1,
            num_workers: 0,
            pin_memory: false,
            persistent_workers: false,
            prefetch_factor: None,
            learning_rate: 1e-3,
            scheduler: Scheduler::Default,
            enable_progress_bar: None,
            enable_checkpointing: true,
            checkpoint_save_top_k: 1,
            checkpoint_monitor_metric: "val_loss".to_owned(),
            checkpoint_mode: CheckpointMode::Min,
            early_stop_patience: 100,
            logger_backend: LoggerBackend::Csv,
            recon_log_every_n_epochs: None,
            recon_log_num_patches: 4,
            recon_log_fixed_indices: None,
            recon_log_stitch: false,
            recon_log_max_stitch_samples: None,
            ffno_encoder_blocks: 24,
            ffno_encoder_modes: 12,
            ffno_encoder_share_weights: true,
            ffno_encoder_gate_init: 0.1,
            ffno_encoder_norm: "instance".to_owned(),
            ffno_encoder_mlp_ratio: 2.0,
            spectral_bottleneck_blocks: 6,
            spectral_bottleneck_modes: 12,
            spectral_bottleneck_share_weights: true,
            spectral_bottleneck_gate_init: 0.1,
            spectral_bottleneck_gate_mode: GateMode::Shared,
            inference_batch_size: None,
            middle_trim: 0,
            pad_eval: false,
            validation_split: None,
            checkpoint_every_n_epochs: 1,
        }
    }
}

/// Field names in declaration order.
pub const EXECUTION_FIELDS: &[&str] = &[
    "accelerator",
    "devices",
    "strategy",
    "deterministic",
    "precision",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "accum_steps",
    "num_workers",
    "pin_memory",
    "persistent_workers",
    "prefetch_factor",
    "learning_rate",
    "scheduler",
    "enable_progress_bar",
    "enable_checkpointing",
    "checkpoint_save_top_k",
    "checkpoint_monitor_metric",
    "checkpoint_mode",
    "early_stop_patience",
    "logger_backend",
    "recon_log_every_n_epochs",
    "recon_log_num_patches",
    "recon_log_fixed_indices",
    "recon_log_stitch",
    "recon_log_max_stitch_samples",
    "ffno_encoder_blocks",
    "ffno_encoder_modes",
    "ffno_encoder_share_weights",
    "ffno_encoder_gate_init",
    "ffno_encoder_norm",
    "ffno_encoder_mlp_ratio",
    "spectral_bottleneck_blocks",
    "spectral_bottleneck_modes",
    "spectral_bottleneck_share_weights",
    "spectral_bottleneck_gate_init",
    "spectral_bottleneck_gate_mode",
    "inference_batch_size",
    "middle_trim",
    "pad_eval",
    "validation_split",
    "checkpoint_every_n_epochs",
];

impl ExecutionConfig {
    /// The validation fraction of a run on `n_groups` groups. An explicit `validation_split`
    /// is used as given. Unset, it is 5 % when that holds out at least
    /// [`MIN_AUTO_VALIDATION_GROUPS`] groups, else 0: on a small scan a handful of validation
    /// groups costs training data and, monitored by the plateau schedule, gives a noisy loss
    /// that cuts the learning rate within a few dozen epochs (the demo reaches amplitude SSIM
    /// 0.96 with no split); without a split the schedule monitors the training loss.
    pub fn validation_fraction(&self, n_groups: usize) -> f64 {
        match self.validation_split {
            Some(fraction) => fraction,
            None => {
                let held_out = (n_groups as f64 * AUTO_VALIDATION_FRACTION).ceil() as usize;
                if held_out >= MIN_AUTO_VALIDATION_GROUPS {
                    AUTO_VALIDATION_FRACTION
                } else {
                    0.0
                }
            }
        }
    }

    /// Checks every rule in upstream's order; field names are prefixed with `execution.`.
    pub fn validate(&self) -> Result<()> {
        if let Devices::Count(count) = self.devices {
            positive_count("execution.devices", count)?;
        }
        positive_real("execution.learning_rate", self.learning_rate)?;
        positive_count_opt("execution.inference_batch_size", self.inference_batch_size)?;
        positive_count("execution.accum_steps", self.accum_steps)?;
        if self.accum_steps > 1 {
            return Err(ConfigError::invalid(
                "execution.accum_steps",
                self.accum_steps,
                "gradient accumulation is not supported with manual optimisation; set accum_steps = 1 and raise batch_size instead",
            ));
        }
        positive_count("execution.early_stop_patience", self.early_stop_patience)?;
        if let Some(clip) = self.gradient_clip_val {
            positive_real("execution.gradient_clip_val", clip)?;
        }
        positive_count(
            "execution.spectral_bottleneck_blocks",
            self.spectral_bottleneck_blocks,
        )?;
        positive_count(
            "execution.spectral_bottleneck_modes",
            self.spectral_bottleneck_modes,
        )?;
        if !self.spectral_bottleneck_gate_init.is_finite() {
            return Err(ConfigError::invalid(
                "execution.spectral_bottleneck_gate_init",
                self.spectral_bottleneck_gate_init,
                "must be a finite number",
            ));
        }
        positive_count("execution.ffno_encoder_blocks", self.ffno_encoder_blocks)?;
        positive_count("execution.ffno_encoder_modes", self.ffno_encoder_modes)?;
        positive_real(
            "execution.ffno_encoder_gate_init",
            self.ffno_encoder_gate_init,
        )?;
        positive_real(
            "execution.ffno_encoder_mlp_ratio",
            self.ffno_encoder_mlp_ratio,
        )?;
        if let Some(split) = self.validation_split {
            real_in_half_open("execution.validation_split", split, 0.0, 1.0)?;
        }
        positive_count(
            "execution.checkpoint_every_n_epochs",
            self.checkpoint_every_n_epochs,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_match_upstream() {
        let e = ExecutionConfig::default();
        e.validate().unwrap();
        assert_eq!(e.accelerator, Accelerator::Auto);
        assert_eq!(e.devices, Devices::Count(1));
        assert_eq!(e.learning_rate, 1e-3);
        // Upstream's 40 plus validation_split and checkpoint_every_n_epochs.
        assert_eq!(EXECUTION_FIELDS.len(), 42);
        assert_eq!(e.enable_progress_bar, None);
        assert_eq!(e.checkpoint_every_n_epochs, 1);
    }

    #[test]
    fn progress_bar_loads_upstream_booleans_and_defaults_to_absent() {
        let e: ExecutionConfig = serde_json::from_str(r#"{"enable_progress_bar": false}"#).unwrap();
        assert_eq!(e.enable_progress_bar, Some(false));
        let e: ExecutionConfig = serde_json::from_str(r#"{"enable_progress_bar": true}"#).unwrap();
        assert_eq!(e.enable_progress_bar, Some(true));
        let text = serde_json::to_string(&ExecutionConfig::default()).unwrap();
        assert!(!text.contains("enable_progress_bar"), "{text}");
        assert!(!text.contains("validation_split"), "{text}");
    }

    #[test]
    fn automatic_validation_split_spares_small_scans() {
        let e = ExecutionConfig::default();
        assert_eq!(e.validation_fraction(64), 0.0);
        assert_eq!(e.validation_fraction(300), 0.0);
        assert_eq!(e.validation_fraction(320), 0.05);
        assert_eq!(e.validation_fraction(512), 0.05);
        let explicit = ExecutionConfig {
            validation_split: Some(0.05),
            ..Default::default()
        };
        assert_eq!(explicit.validation_fraction(64), 0.05);
        let bad = ExecutionConfig {
            validation_split: Some(1.0),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "`execution.validation_split` = 1.0 is invalid: must be at least 0.0 and below 1.0"
        );
    }

    #[test]
    fn devices_and_deterministic_accept_their_strings() {
        let e: ExecutionConfig =
            serde_json::from_str(r#"{"devices": "auto", "deterministic": "warn"}"#).unwrap();
        assert_eq!(e.devices, Devices::Auto(AutoDevices::Auto));
        assert_eq!(e.deterministic, Deterministic::Warn(WarnOnly::Warn));
        assert!(serde_json::from_str::<ExecutionConfig>(r#"{"devices": "many"}"#).is_err());
    }

    #[test]
    fn rejects_accumulation_and_bad_learning_rate() {
        let e = ExecutionConfig {
            accum_steps: 2,
            ..Default::default()
        };
        assert!(
            e.validate()
                .unwrap_err()
                .to_string()
                .contains("accum_steps = 1")
        );
        let e = ExecutionConfig {
            learning_rate: 0.0,
            ..Default::default()
        };
        assert!(
            e.validate()
                .unwrap_err()
                .to_string()
                .starts_with("`execution.learning_rate` = 0")
        );
    }
}
