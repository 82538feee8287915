//! Canonical `TrainingConfig`: what to train on, for how long, with which losses and optimiser.
//!
//! Fields, order and defaults follow upstream (`ptycho/config/config.py`, 39 fields). Upstream's
//! `__post_init__` (deprecated `n_images` copied into `n_groups`, then `n_groups` defaulting to
//! 512) is applied by the loader and by [`TrainingConfigBuilder::build`]; here `n_groups` is
//! therefore a plain count that always has a value.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::choices::{Backend, GradientClipAlgorithm, Optimizer, Scheduler, TorchLossMode};
use crate::error::{ConfigError, Result};
use crate::model::ModelConfig;
use crate::validate::{
    non_negative_real, positive_count, positive_count_opt, positive_real, real_in,
    real_in_half_open,
};

/// `n_groups` when neither it nor the deprecated `n_images` is given (upstream's fallback).
pub const DEFAULT_TRAINING_N_GROUPS: usize = 512;

/// Training configuration (39 fields, upstream order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub model: ModelConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_data_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_data_file: Option<PathBuf>,
    pub batch_size: usize,
    pub nepochs: usize,
    pub mae_weight: f64,
    pub nll_weight: f64,
    pub realspace_mae_weight: f64,
    pub realspace_weight: f64,
    pub nphotons: f64,
    /// Number of groups to train on, whatever the gridsize.
    pub n_groups: usize,
    /// Deprecated alias of `n_groups`; kept because upstream still writes it to the params.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_images: Option<usize>,
    /// Raw images sampled before grouping (None: use all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_subsample: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsample_seed: Option<u64>,
    pub neighbor_count: usize,
    pub enable_oversampling: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbor_pool_size: Option<usize>,
    pub positions_provided: bool,
    pub probe_trainable: bool,
    pub intensity_scale_trainable: bool,
    pub output_dir: PathBuf,
    pub sequential_sampling: bool,
    pub backend: Backend,
    pub torch_loss_mode: TorchLossMode,
    pub torch_mae_pred_l2_match_target: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient_clip_val: Option<f64>,
    pub gradient_clip_algorithm: GradientClipAlgorithm,
    pub optimizer: Optimizer,
    pub momentum: f64,
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub scheduler: Scheduler,
    pub lr_warmup_epochs: usize,
    pub lr_min_ratio: f64,
    pub plateau_factor: f64,
    pub plateau_patience: usize,
    pub plateau_min_lr: f64,
    pub plateau_threshold: f64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            model: ModelConfig::default(),
            train_data_file: None,
            test_data_file: None,
            batch_size: 16,
            nepochs: 50,
            mae_weight: 0.0,
            nll_weight: 1.0,
            realspace_mae_weight: 0.0,
            realspace_weight: 0.0,
            nphotons: 1e9,
            n_groups: DEFAULT_TRAINING_N_GROUPS,
            n_images: None,
            n_subsample: None,
            subsample_seed: None,
            neighbor_count: 4,
            enable_oversampling: false,
            neighbor_pool_size: None,
            positions_provided: true,
            probe_trainable: false,
            intensity_scale_trainable: true,
            output_dir: PathBuf::from("training_outputs"),
            sequential_sampling: false,
            backend: Backend::Tensorflow,
            torch_loss_mode: TorchLossMode::Poisson,
            torch_mae_pred_l2_match_target: false,
            gradient_clip_val: None,
            gradient_clip_algorithm: GradientClipAlgorithm::Norm,
            optimizer: Optimizer::Adam,
            momentum: 0.9,
            weight_decay: 0.0,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            scheduler: Scheduler::Default,
            lr_warmup_epochs: 0,
            lr_min_ratio: 0.1,
            plateau_factor: 0.5,
            // Upstream uses 2. Measured with `ptycho train` and no tuning flags on a 64-group
            // lines scan (gridsize 2, 16 steps per epoch, 160 epochs): patience 2 halves the
            // rate at every noisy epoch, down to the 5e-5 floor by epoch 80, and reaches
            // amplitude SSIM 0.57; patience 10 keeps 1e-3 for 110 epochs and reaches 0.88.
            plateau_patience: 10,
            plateau_min_lr: 5e-5,
            plateau_threshold: 0.0,
        }
    }
}

/// Field names in declaration order (without `model`).
pub const TRAINING_FIELDS: &[&str] = &[
    "train_data_file",
    "test_data_file",
    "batch_size",
    "nepochs",
    "mae_weight",
    "nll_weight",
    "realspace_mae_weight",
    "realspace_weight",
    "nphotons",
    "n_groups",
    "n_images",
    "n_subsample",
    "subsample_seed",
    "neighbor_count",
    "enable_oversampling",
    "neighbor_pool_size",
    "positions_provided",
    "probe_trainable",
    "intensity_scale_trainable",
    "output_dir",
    "sequential_sampling",
    "backend",
    "torch_loss_mode",
    "torch_mae_pred_l2_match_target",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "optimizer",
    "momentum",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "scheduler",
    "lr_warmup_epochs",
    "lr_min_ratio",
    "plateau_factor",
    "plateau_patience",
    "plateau_min_lr",
    "plateau_threshold",
];

impl TrainingConfig {
    /// A builder starting from the defaults (model included); `build()` resolves the
    /// `n_images` alias and validates.
    pub fn builder() -> TrainingConfigBuilder {
        TrainingConfigBuilder {
            config: TrainingConfig::default(),
            n_groups_set: false,
        }
    }

    /// Checks every rule (the model's too); field names are prefixed with `training.`.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.batch_size == 0 || !self.batch_size.is_power_of_two() {
            return Err(ConfigError::invalid(
                "training.batch_size",
                self.batch_size,
                format!(
                    "must be a positive power of two (nearest: {})",
                    nearest_power_of_two(self.batch_size)
                ),
            ));
        }
        positive_count("training.nepochs", self.nepochs)?;
        real_in("training.mae_weight", self.mae_weight, 0.0, 1.0)?;
        real_in("training.nll_weight", self.nll_weight, 0.0, 1.0)?;
        non_negative_real("training.realspace_mae_weight", self.realspace_mae_weight)?;
        non_negative_real("training.realspace_weight", self.realspace_weight)?;
        if self.realspace_mae_weight > 0.0 && self.realspace_weight <= 0.0 {
            return Err(ConfigError::invalid(
                "training.realspace_weight",
                crate::validate::fmt_real(self.realspace_weight),
                "must be greater than 0 when realspace_mae_weight is greater than 0",
            ));
        }
        positive_real("training.nphotons", self.nphotons)?;
        positive_count("training.n_groups", self.n_groups)?;
        positive_count_opt("training.n_images", self.n_images)?;
        positive_count_opt("training.n_subsample", self.n_subsample)?;
        positive_count("training.neighbor_count", self.neighbor_count)?;
        positive_count_opt("training.neighbor_pool_size", self.neighbor_pool_size)?;
        check_path("training.output_dir", Some(&self.output_dir))?;
        check_path("training.train_data_file", self.train_data_file.as_ref())?;
        check_path("training.test_data_file", self.test_data_file.as_ref())?;
        if let Some(clip) = self.gradient_clip_val {
            positive_real("training.gradient_clip_val", clip)?;
        }
        real_in_half_open("training.momentum", self.momentum, 0.0, 1.0)?;
        non_negative_real("training.weight_decay", self.weight_decay)?;
        real_in_half_open("training.adam_beta1", self.adam_beta1, 0.0, 1.0)?;
        real_in_half_open("training.adam_beta2", self.adam_beta2, 0.0, 1.0)?;
        real_in("training.lr_min_ratio", self.lr_min_ratio, 0.0, 1.0)?;
        if !(self.plateau_factor.is_finite()
            && self.plateau_factor > 0.0
            && self.plateau_factor < 1.0)
        {
            return Err(ConfigError::invalid(
                "training.plateau_factor",
                crate::validate::fmt_real(self.plateau_factor),
                "must lie strictly between 0 and 1",
            ));
        }
        non_negative_real("training.plateau_min_lr", self.plateau_min_lr)?;
        non_negative_real("training.plateau_threshold", self.plateau_threshold)?;
        Ok(())
    }
}

/// An empty path is never a usable file or directory.
pub(crate) fn check_path(field: &str, path: Option<&PathBuf>) -> Result<()> {
    if let Some(path) = path
        && path.as_os_str().is_empty()
    {
        return Err(ConfigError::invalid(
            field,
            "\"\"",
            "must be a non-empty path",
        ));
    }
    Ok(())
}

fn nearest_power_of_two(value: usize) -> usize {
    if value <= 1 {
        return 1;
    }
    let upper = value.next_power_of_two();
    let lower = upper / 2;
    if value - lower <= upper - value {
        lower
    } else {
        upper
    }
}

/// Builds a [`TrainingConfig`]; [`TrainingConfigBuilder::build`] applies upstream's
/// `__post_init__` rule for `n_images` and validates.
#[derive(Debug, Clone)]
pub struct TrainingConfigBuilder {
    config: TrainingConfig,
    n_groups_set: bool,
}

macro_rules! training_setters {
    ($($field:ident : $ty:ty),+ $(,)?) => {
        impl TrainingConfigBuilder {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.config.$field = value;
                    self
                }
            )+
        }
    };
}

training_setters!(
    model: ModelConfig,
    batch_size: usize,
    nepochs: usize,
    mae_weight: f64,
    nll_weight: f64,
    realspace_mae_weight: f64,
    realspace_weight: f64,
    nphotons: f64,
    n_images: Option<usize>,
    n_subsample: Option<usize>,
    subsample_seed: Option<u64>,
    neighbor_count: usize,
    enable_oversampling: bool,
    neighbor_pool_size: Option<usize>,
    positions_provided: bool,
    probe_trainable: bool,
    intensity_scale_trainable: bool,
    sequential_sampling: bool,
    backend: Backend,
    torch_loss_mode: TorchLossMode,
    torch_mae_pred_l2_match_target: bool,
    gradient_clip_val: Option<f64>,
    gradient_clip_algorithm: GradientClipAlgorithm,
    optimizer: Optimizer,
    momentum: f64,
    weight_decay: f64,
    adam_beta1: f64,
    adam_beta2: f64,
    scheduler: Scheduler,
    lr_warmup_epochs: usize,
    lr_min_ratio: f64,
    plateau_factor: f64,
    plateau_patience: usize,
    plateau_min_lr: f64,
    plateau_threshold: f64,
);

impl TrainingConfigBuilder {
    /// Sets `n_groups` (it then wins over a deprecated `n_images`).
    pub fn n_groups(mut self, value: usize) -> Self {
        self.config.n_groups = value;
        self.n_groups_set = true;
        self
    }

    /// Sets `train_data_file`.
    pub fn train_data_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.train_data_file = Some(path.into());
        self
    }

    /// Sets `test_data_file`.
    pub fn test_data_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.test_data_file = Some(path.into());
        self
    }

    /// Sets `output_dir`.
    pub fn output_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.output_dir = path.into();
        self
    }

    /// Resolves `n_images` (deprecated) into `n_groups`, validates, and returns the config with
    /// the deprecation warnings it produced.
    pub fn build_with_warnings(mut self) -> Result<(TrainingConfig, Vec<String>)> {
        let mut warnings = Vec::new();
        if !self.n_groups_set
            && let Some(n_images) = self.config.n_images
        {
            warnings.push(n_images_deprecation("training"));
            self.config.n_groups = n_images;
        }
        self.config.validate()?;
        Ok((self.config, warnings))
    }

    /// Like [`TrainingConfigBuilder::build_with_warnings`], dropping the warnings.
    pub fn build(self) -> Result<TrainingConfig> {
        self.build_with_warnings().map(|(config, _)| config)
    }
}

/// The deprecation warning for `n_images` (upstream wording, section-qualified).
pub fn n_images_deprecation(section: &str) -> String {
    format!(
        "{section}: parameter 'n_images' is deprecated and will be removed; use 'n_groups' instead (it counts groups regardless of gridsize)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_upstream_and_n_groups_is_512() {
        let t = TrainingConfig::default();
        assert_eq!(
            (t.batch_size, t.nepochs, t.n_groups, t.neighbor_count),
            (16, 50, 512, 4)
        );
        assert_eq!(
            (t.nll_weight, t.nphotons, t.plateau_min_lr),
            (1.0, 1e9, 5e-5)
        );
        assert!(t.positions_provided && t.intensity_scale_trainable && !t.probe_trainable);
        assert_eq!(t.output_dir, PathBuf::from("training_outputs"));
        assert_eq!(TRAINING_FIELDS.len(), 38);
        t.validate().unwrap();
    }

    #[test]
    fn n_images_alias_follows_post_init_rules() {
        let (t, warnings) = TrainingConfig::builder()
            .n_images(Some(10))
            .build_with_warnings()
            .unwrap();
        assert_eq!((t.n_groups, t.n_images), (10, Some(10)));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("n_images") && warnings[0].contains("n_groups"));
        let (t, warnings) = TrainingConfig::builder()
            .n_images(Some(10))
            .n_groups(3)
            .build_with_warnings()
            .unwrap();
        assert_eq!((t.n_groups, t.n_images), (3, Some(10)));
        assert!(warnings.is_empty());
    }

    #[test]
    fn batch_size_must_be_power_of_two_and_weights_in_unit_interval() {
        let err = TrainingConfig::builder()
            .batch_size(12)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`training.batch_size` = 12 is invalid: must be a positive power of two (nearest: 8)"
        );
        let err = TrainingConfig::builder()
            .mae_weight(1.5)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`training.mae_weight` = 1.5 is invalid: must lie between 0.0 and 1.0"
        );
        let err = TrainingConfig::builder()
            .realspace_mae_weight(0.1)
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`training.realspace_weight` = 0.0 is invalid")
        );
        assert!(TrainingConfig::builder().nphotons(0.0).build().is_err());
    }
}
