//! PyTorch-side `TrainingConfig`, `InferenceConfig` and `DatagenConfig`
//! (upstream `ptycho_torch/config_params.py`).

use serde::{Deserialize, Serialize};

use super::one_of;
use crate::error::Result;
use crate::execution::Devices;

/// Training settings of the PyTorch configuration (44 fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub training_directories: Vec<String>,
    pub nll: bool,
    pub device: String,
    pub strategy: Option<String>,
    pub n_devices: Devices,
    pub framework: String,
    pub orchestrator: String,
    pub learning_rate: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub epochs_fine_tune: usize,
    pub fine_tune_gamma: f64,
    pub scheduler: String,
    pub lr_warmup_epochs: usize,
    pub lr_min_ratio: f64,
    pub plateau_factor: f64,
    pub plateau_patience: usize,
    pub plateau_min_lr: f64,
    pub plateau_threshold: f64,
    pub num_workers: usize,
    pub accum_steps: usize,
    pub gradient_clip_val: Option<f64>,
    pub gradient_clip_algorithm: String,
    pub optimizer: String,
    pub momentum: f64,
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub log_grad_norm: bool,
    pub grad_norm_log_freq: usize,
    pub stage_1_epochs: usize,
    pub stage_2_epochs: usize,
    pub stage_3_epochs: usize,
    pub physics_weight_schedule: String,
    pub stage_3_lr_factor: f64,
    pub torch_loss_mode: String,
    pub torch_mae_pred_l2_match_target: bool,
    pub experiment_name: String,
    pub notes: String,
    pub model_name: String,
    /// Upstream declares this field twice; the effective default is `training_outputs`.
    pub output_dir: String,
    pub train_data_file: Option<String>,
    pub test_data_file: Option<String>,
    pub n_groups: Option<usize>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            training_directories: Vec::new(),
            nll: true,
            device: "cuda".into(),
            strategy: Some("ddp".into()),
            n_devices: Devices::Count(1),
            framework: "Lightning".into(),
            orchestrator: "Mlflow".into(),
            learning_rate: 1e-3,
            epochs: 50,
            batch_size: 16,
            epochs_fine_tune: 0,
            fine_tune_gamma: 0.1,
            scheduler: "Default".into(),
            lr_warmup_epochs: 0,
            lr_min_ratio: 0.1,
            plateau_factor: 0.5,
            plateau_patience: 2,
            plateau_min_lr: 5e-5,
            plateau_threshold: 0.0,
            num_workers: 4,
            accum_steps: 1,
            gradient_clip_val: None,
            gradient_clip_algorithm: "norm".into(),
            optimizer: "adam".into(),
            momentum: 0.9,
            weight_decay: 0.0,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            log_grad_norm: false,
            grad_norm_log_freq: 1,
            stage_1_epochs: 0,
            stage_2_epochs: 0,
            stage_3_epochs: 0,
            physics_weight_schedule: "cosine".into(),
            stage_3_lr_factor: 0.1,
            torch_loss_mode: "poisson".into(),
            torch_mae_pred_l2_match_target: false,
            experiment_name: "Synthetic_Runs".into(),
            notes: String::new(),
            model_name: "PtychoPINNv2".into(),
            output_dir: "training_outputs".into(),
            train_data_file: None,
            test_data_file: None,
            n_groups: None,
        }
    }
}

/// Field names in declaration order.
pub const TORCH_TRAINING_FIELDS: &[&str] = &[
    "training_directories",
    "nll",
    "device",
    "strategy",
    "n_devices",
    "framework",
    "orchestrator",
    "learning_rate",
    "epochs",
    "batch_size",
    "epochs_fine_tune",
    "fine_tune_gamma",
    "scheduler",
    "lr_warmup_epochs",
    "lr_min_ratio",
    "plateau_factor",
    "plateau_patience",
    "plateau_min_lr",
    "plateau_threshold",
    "num_workers",
    "accum_steps",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "optimizer",
    "momentum",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "log_grad_norm",
    "grad_norm_log_freq",
    "stage_1_epochs",
    "stage_2_epochs",
    "stage_3_epochs",
    "physics_weight_schedule",
    "stage_3_lr_factor",
    "torch_loss_mode",
    "torch_mae_pred_l2_match_target",
    "experiment_name",
    "notes",
    "model_name",
    "output_dir",
    "train_data_file",
    "test_data_file",
    "n_groups",
];

impl TrainingConfig {
    /// Checks the `Literal` sets upstream declares.
    pub fn validate(&self) -> Result<()> {
        let s = "training_config";
        one_of(s, "framework", &self.framework, &["Default", "Lightning"])?;
        one_of(
            s,
            "orchestrator",
            &self.orchestrator,
            &["Mlflow", "Lightning"],
        )?;
        one_of(
            s,
            "scheduler",
            &self.scheduler,
            &[
                "Default",
                "Exponential",
                "MultiStage",
                "Adaptive",
                "WarmupCosine",
                "ReduceLROnPlateau",
            ],
        )?;
        one_of(
            s,
            "torch_loss_mode",
            &self.torch_loss_mode,
            &["poisson", "mae"],
        )?;
        Ok(())
    }
}

/// Inference settings of the PyTorch configuration (9 fields); the canonical inference config
/// has no counterpart for any of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceConfig {
    pub middle_trim: usize,
    pub batch_size: usize,
    pub experiment_number: usize,
    pub pad_eval: bool,
    pub window: usize,
    pub patch_weighting: String,
    pub varpro_scaling: bool,
    pub log_patch_stats: bool,
    pub patch_stats_limit: Option<usize>,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            middle_trim: 32,
            batch_size: 1000,
            experiment_number: 0,
            pad_eval: true,
            window: 20,
            patch_weighting: "probe".into(),
            varpro_scaling: true,
            log_patch_stats: false,
            patch_stats_limit: None,
        }
    }
}

/// Field names in declaration order.
pub const TORCH_INFERENCE_FIELDS: &[&str] = &[
    "middle_trim",
    "batch_size",
    "experiment_number",
    "pad_eval",
    "window",
    "patch_weighting",
    "varpro_scaling",
    "log_patch_stats",
    "patch_stats_limit",
];

impl InferenceConfig {
    /// Checks the `Literal` set of `patch_weighting`.
    pub fn validate(&self) -> Result<()> {
        one_of(
            "inference_config",
            "patch_weighting",
            &self.patch_weighting,
            &["uniform", "probe"],
        )
    }
}

/// Synthetic data generation settings of the PyTorch configuration (6 fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatagenConfig {
    pub objects_per_probe: usize,
    pub diff_per_object: usize,
    pub object_class: String,
    pub image_size: (usize, usize),
    pub probe_paths: Vec<String>,
    pub beamstop_diameter: usize,
}

impl Default for DatagenConfig {
    fn default() -> Self {
        DatagenConfig {
            objects_per_probe: 4,
            diff_per_object: 7000,
            object_class: "dead_leaves".into(),
            image_size: (250, 250),
            probe_paths: Vec::new(),
            beamstop_diameter: 4,
        }
    }
}

/// Field names in declaration order.
pub const DATAGEN_FIELDS: &[&str] = &[
    "objects_per_probe",
    "diff_per_object",
    "object_class",
    "image_size",
    "probe_paths",
    "beamstop_diameter",
];
