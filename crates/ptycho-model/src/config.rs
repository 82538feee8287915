//! Conversions from the workspace configuration (`ptycho-config`, upstream field names) to the
//! model's own specifications. Every refusal names the config field.

use ptycho_config::{
    AmpActivation as CfgAmp, Architecture, Backend, ExecutionConfig, GradientClipAlgorithm,
    ModelConfig, ModelType, Optimizer, Scheduler as CfgScheduler, TorchLossMode, TrainingConfig,
    support,
};

use crate::error::ModelError;
use crate::spec::{AmpActivation, FarFieldMethod, GeneratorSpec, LossWeights, PhysicsSpec};
use crate::train::{GradientClip, Scheduler, TrainingSpec};

/// Spacing of the gs×gs sub-grid used for the canvas size (legacy `offset`, fixed upstream).
pub const LEGACY_OFFSET: usize = 4;
/// Canvas margin for position jitter (legacy `max_position_jitter`).
pub const LEGACY_MAX_POSITION_JITTER: usize = 10;

/// Closed-form photon scale of the experimental path, `s = sqrt(nphotons) / (N/2)`.
pub fn closed_form_intensity_scale(nphotons: f64, n: usize) -> f32 {
    (nphotons.sqrt() / (n as f64 / 2.0)) as f32
}

impl TryFrom<&ModelConfig> for GeneratorSpec {
    type Error = ModelError;

    fn try_from(cfg: &ModelConfig) -> Result<Self, ModelError> {
        if cfg.architecture != Architecture::Cnn {
            return Err(ModelError::setting(
                "architecture",
                "'cnn' (the only generator of this model)",
                format!("'{}'", cfg.architecture.as_str()),
            ));
        }
        if cfg.model_type != ModelType::Pinn {
            return Err(ModelError::setting(
                "model_type",
                "'pinn'",
                format!("'{}'", cfg.model_type.as_str()),
            ));
        }
        let spec = GeneratorSpec {
            n: cfg.N,
            gridsize: cfg.gridsize,
            n_filters_scale: cfg.n_filters_scale,
            amp_activation: match cfg.amp_activation {
                CfgAmp::Sigmoid => AmpActivation::Sigmoid,
                CfgAmp::Swish => AmpActivation::Swish,
                CfgAmp::Softplus => AmpActivation::Softplus,
                CfgAmp::Relu => AmpActivation::Relu,
            },
            object_big: cfg.object_big,
            probe_big: cfg.probe_big,
            pad_object: cfg.pad_object,
        };
        spec.validate()?;
        Ok(spec)
    }
}

impl PhysicsSpec {
    /// Physics of a model config with the data's photon scale `intensity_scale`.
    pub fn from_config(
        cfg: &ModelConfig,
        intensity_scale: f32,
        intensity_scale_trainable: bool,
    ) -> Result<Self, ModelError> {
        let spec = PhysicsSpec {
            n: cfg.N,
            gridsize: cfg.gridsize,
            offset: LEGACY_OFFSET,
            max_position_jitter: LEGACY_MAX_POSITION_JITTER,
            probe_scale: cfg.probe_scale as f32,
            probe_mask: cfg.probe_mask,
            gaussian_smoothing_sigma: cfg.gaussian_smoothing_sigma as f32,
            object_big: cfg.object_big,
            probe_big: cfg.probe_big,
            intensity_scale,
            intensity_scale_trainable,
            probe_trainable: false,
            far_field: FarFieldMethod::Fft,
        };
        spec.validate()?;
        Ok(spec)
    }
}

impl From<&TrainingConfig> for LossWeights {
    /// With `backend = "pytorch"` the data term is upstream's PyTorch choice, `torch_loss_mode`
    /// (`poisson`: the NLL alone, `mae`: the amplitude MAE alone); with `"tensorflow"` it is
    /// `nll_weight` and `mae_weight`.
    fn from(cfg: &TrainingConfig) -> Self {
        let (nll_weight, mae_weight) = match (cfg.backend, cfg.torch_loss_mode) {
            (Backend::Tensorflow, _) => (cfg.nll_weight as f32, cfg.mae_weight as f32),
            (Backend::Pytorch, TorchLossMode::Poisson) => (1.0, 0.0),
            (Backend::Pytorch, TorchLossMode::Mae) => (0.0, 1.0),
        };
        LossWeights {
            nll_weight,
            mae_weight,
            realspace_weight: cfg.realspace_weight as f32,
            // `tv_weight` exists only in the legacy params map (default 0).
            tv_weight: 0.0,
            realspace_mae_weight: cfg.realspace_mae_weight as f32,
        }
    }
}

impl TrainingSpec {
    /// Training options of a run: the training config with its execution settings (learning
    /// rate, early stopping, validation split for `n_groups` groups, and the scheduler and
    /// gradient clipping when the training config leaves them at their defaults; see
    /// [`ptycho_config::support`]). The `Default` scheduler means the TF reference callbacks,
    /// i.e. ReduceLROnPlateau with the config's `plateau_*` values.
    pub fn from_run_config(
        cfg: &TrainingConfig,
        execution: &ExecutionConfig,
    ) -> Result<Self, ModelError> {
        let mut merged = cfg.clone();
        merged.scheduler = support::scheduler(cfg, execution);
        (merged.gradient_clip_val, merged.gradient_clip_algorithm) =
            support::gradient_clip(cfg, execution);
        let mut spec = TrainingSpec::from_config(&merged, execution.learning_rate)?;
        spec.early_stop_patience = Some(execution.early_stop_patience.max(1));
        spec.validation_split = execution.validation_fraction(cfg.n_groups);
        spec.validate()?;
        Ok(spec)
    }

    /// Training options of a config. `learning_rate` comes from the execution config (upstream
    /// keeps it there); the `Default` scheduler means the TF reference callbacks, i.e.
    /// ReduceLROnPlateau with the config's `plateau_*` values.
    pub fn from_config(cfg: &TrainingConfig, learning_rate: f64) -> Result<Self, ModelError> {
        if cfg.optimizer != Optimizer::Adam {
            return Err(ModelError::setting(
                "optimizer",
                "'adam' (the only optimizer of this model)",
                format!("'{}'", cfg.optimizer.as_str()),
            ));
        }
        if cfg.weight_decay != 0.0 {
            return Err(ModelError::setting(
                "weight_decay",
                "0 (Adam without weight decay)",
                cfg.weight_decay,
            ));
        }
        let plateau = Scheduler::ReduceOnPlateau {
            factor: cfg.plateau_factor,
            patience: cfg.plateau_patience,
            min_lr: cfg.plateau_min_lr,
            threshold: cfg.plateau_threshold,
        };
        let scheduler = match cfg.scheduler {
            CfgScheduler::Default | CfgScheduler::ReduceLrOnPlateau => plateau,
            CfgScheduler::Exponential => Scheduler::Exponential { gamma: 0.95 },
            CfgScheduler::WarmupCosine => Scheduler::WarmupCosine {
                warmup_epochs: cfg.lr_warmup_epochs,
                min_ratio: cfg.lr_min_ratio,
            },
        };
        let gradient_clip = match (cfg.gradient_clip_val, cfg.gradient_clip_algorithm) {
            (None, _) => None,
            (Some(v), GradientClipAlgorithm::Norm) => Some(GradientClip::Norm(v as f32)),
            (Some(v), GradientClipAlgorithm::Value) => Some(GradientClip::Value(v as f32)),
            (Some(_), GradientClipAlgorithm::Agc) => {
                return Err(ModelError::setting(
                    "gradient_clip_algorithm",
                    "'norm' or 'value'",
                    "'agc'",
                ));
            }
        };
        let spec = TrainingSpec {
            batch_size: cfg.batch_size,
            nepochs: cfg.nepochs,
            learning_rate,
            adam_beta1: cfg.adam_beta1 as f32,
            adam_beta2: cfg.adam_beta2 as f32,
            scheduler,
            gradient_clip,
            loss_weights: LossWeights::from(cfg),
            seed: cfg.subsample_seed.unwrap_or(42),
            ..TrainingSpec::default()
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_configs_convert_to_the_tf_reference_setup() {
        let model = ModelConfig::default();
        let g = GeneratorSpec::try_from(&model).unwrap();
        assert_eq!((g.n, g.gridsize, g.n_filters_scale), (64, 1, 2));
        assert!(g.object_big && g.probe_big && g.pad_object);
        let s = closed_form_intensity_scale(1e9, 64);
        assert!((s - 988.212).abs() < 1e-2, "{s}");
        let p = PhysicsSpec::from_config(&model, s, true).unwrap();
        assert_eq!(p.padded_size(), 74);
        assert_eq!(p.probe_scale, 4.0);
        let training = TrainingConfig::default();
        let t = TrainingSpec::from_config(&training, 1e-3).unwrap();
        assert_eq!((t.batch_size, t.nepochs), (16, 50));
        assert_eq!(t.loss_weights, LossWeights::default());
        // `plateau_patience` defaults to 10 here (upstream: 2; see TrainingConfig).
        assert!(matches!(
            t.scheduler,
            Scheduler::ReduceOnPlateau { patience: 10, .. }
        ));
    }

    #[test]
    fn execution_settings_reach_the_training_spec() {
        let training = TrainingConfig::default();
        let execution = ExecutionConfig {
            scheduler: CfgScheduler::WarmupCosine,
            gradient_clip_val: Some(2.0),
            learning_rate: 5e-4,
            early_stop_patience: 7,
            validation_split: Some(0.25),
            ..ExecutionConfig::default()
        };
        let t = TrainingSpec::from_run_config(&training, &execution).unwrap();
        assert!(matches!(t.scheduler, Scheduler::WarmupCosine { .. }));
        assert_eq!(t.gradient_clip, Some(GradientClip::Norm(2.0)));
        assert_eq!(
            (t.learning_rate, t.early_stop_patience, t.validation_split),
            (5e-4, Some(7), 0.25)
        );
        // 512 groups: the automatic split holds out 5 %.
        let t = TrainingSpec::from_run_config(&training, &ExecutionConfig::default()).unwrap();
        assert_eq!(t.validation_split, 0.05);
        let pytorch_mae = TrainingConfig {
            backend: Backend::Pytorch,
            torch_loss_mode: TorchLossMode::Mae,
            ..TrainingConfig::default()
        };
        let w = LossWeights::from(&pytorch_mae);
        assert_eq!((w.nll_weight, w.mae_weight), (0.0, 1.0));
    }

    #[test]
    fn unsupported_choices_name_their_field() {
        let model = ModelConfig {
            architecture: Architecture::Fno,
            ..ModelConfig::default()
        };
        let err = GeneratorSpec::try_from(&model).unwrap_err().to_string();
        assert!(
            err.contains("`architecture`") && err.contains("'fno'"),
            "{err}"
        );
        let training = TrainingConfig {
            gradient_clip_val: Some(1.0),
            gradient_clip_algorithm: GradientClipAlgorithm::Agc,
            ..TrainingConfig::default()
        };
        let err = TrainingSpec::from_config(&training, 1e-3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`gradient_clip_algorithm`"), "{err}");
    }
}
