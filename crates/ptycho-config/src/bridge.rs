//! The config bridge: PyTorch-side configuration → canonical configuration
//! (upstream `ptycho_torch/config_bridge.py`).
//!
//! Each function builds the canonical fields from the PyTorch configs plus fixed values, lays the
//! overrides over them, runs the bridge's checks in upstream's order, and constructs a validated
//! canonical config. Deliberate differences from upstream, each covered by a test:
//! * values upstream drops silently are carried: `generator_output_mode`, `probe_mask_sigma`,
//!   `probe_mask_diameter` (model), `gradient_clip_val` and `plateau_*` (training), the data
//!   `subsample_seed` (inference as well as training);
//! * the result is validated (upstream never validates), so e.g. a PyTorch-only scheduler name or
//!   an unsupported `N` is reported instead of passing through;
//! * a deprecated `n_images` override satisfies the `n_groups` requirement (with a warning).

use serde_json::{Map, Value, json};

use crate::document::Loaded;
use crate::error::{ConfigError, Result, nearest};
use crate::format::typed;
use crate::inference::{INFERENCE_FIELDS, InferenceConfig};
use crate::model::{MODEL_FIELDS, ModelConfig};
use crate::overrides::Overrides;
use crate::torch::{self, ProbeMask, TORCH_DEFAULT_NPHOTONS};
use crate::training::{TRAINING_FIELDS, TrainingConfig, n_images_deprecation};
use crate::validate::fmt_real;

/// PyTorch activation names the bridge understands, and their canonical names.
pub const ACTIVATION_MAP: [(&str, &str); 6] = [
    ("silu", "swish"),
    ("SiLU", "swish"),
    ("sigmoid", "sigmoid"),
    ("swish", "swish"),
    ("softplus", "softplus"),
    ("relu", "relu"),
];

/// The canonical photon count suggested when the PyTorch default is detected.
const CANONICAL_DEFAULT_NPHOTONS: f64 = 1e9;

fn bridge_error(message: String) -> ConfigError {
    ConfigError::Bridge { message }
}

/// Lays `overrides` over `kwargs`; a key that is not a field of the target is an error naming
/// the nearest field (upstream: `TypeError: unexpected keyword argument`).
fn apply_overrides(
    kwargs: &mut Map<String, Value>,
    overrides: &Overrides,
    fields: &[&str],
    target: &str,
) -> Result<()> {
    for (key, value) in overrides.iter() {
        if !fields.contains(&key) {
            let hint = match nearest(key, fields.iter().copied()) {
                Some(best) => format!(" for the canonical {target} (did you mean `{best}`?)"),
                None => format!(" for the canonical {target} (not one of its fields)"),
            };
            return Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                hint,
            });
        }
        kwargs.insert(key.to_owned(), value.clone());
    }
    Ok(())
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn unset(kwargs: &Map<String, Value>, key: &str) -> bool {
    kwargs.get(key).is_none_or(Value::is_null)
}

/// PyTorch `ModelConfig` + `DataConfig` → canonical [`ModelConfig`].
pub fn to_model_config(
    data: &torch::DataConfig,
    model: &torch::ModelConfig,
    overrides: &Overrides,
) -> Result<ModelConfig> {
    let (rows, cols) = data.grid_size;
    if rows != cols {
        return Err(bridge_error(format!(
            "non-square grids not supported: data_config.grid_size = ({rows}, {cols}); use a square grid such as ({rows}, {rows}) or ({cols}, {cols})"
        )));
    }
    let model_type = match model.mode.as_str() {
        "Unsupervised" => "pinn",
        "Supervised" => "supervised",
        other => {
            return Err(bridge_error(format!(
                "invalid mode {other:?} in model_config.mode: must be \"Unsupervised\" or \"Supervised\""
            )));
        }
    };
    let Some((_, activation)) = ACTIVATION_MAP
        .iter()
        .find(|(name, _)| *name == model.amp_activation)
    else {
        let names: Vec<&str> = ACTIVATION_MAP.iter().map(|(name, _)| *name).collect();
        return Err(bridge_error(format!(
            "unknown activation {:?} in model_config.amp_activation: supported values are {}",
            model.amp_activation,
            names.join(", ")
        )));
    };
    // A mask tensor beats the toggle; an explicit bool is taken as is; any other set value
    // (a tensor given as probe_mask) enables the mask; unset means no mask.
    let probe_mask = if model.probe_mask_tensor.is_some() {
        true
    } else {
        match &model.probe_mask {
            Some(ProbeMask::Flag(flag)) => *flag,
            Some(ProbeMask::Tensor(_)) => true,
            None => false,
        }
    };
    let mut kwargs = object(json!({
        "N": data.N,
        "gridsize": rows,
        "n_filters_scale": model.n_filters_scale,
        "model_type": model_type,
        "architecture": model.architecture,
        "fno_modes": model.fno_modes,
        "fno_width": model.fno_width,
        "fno_blocks": model.fno_blocks,
        "fno_cnn_blocks": model.fno_cnn_blocks,
        "learned_input_channels": model.learned_input_channels,
        "max_hidden_channels": model.max_hidden_channels,
        "resnet_width": model.resnet_width,
        "fno_input_transform": model.fno_input_transform,
        "generator_output_mode": model.generator_output_mode,
        "amp_activation": activation,
        "object_big": model.object_big,
        "probe_big": model.probe_big,
        "probe_mask": probe_mask,
        "probe_mask_sigma": model.probe_mask_sigma,
        "probe_mask_diameter": model.probe_mask_diameter,
        "pad_object": model.pad_object,
        "probe_scale": data.probe_scale,
        "gaussian_smoothing_sigma": model.gaussian_smoothing_sigma,
    }));
    apply_overrides(&mut kwargs, overrides, MODEL_FIELDS, "ModelConfig")?;
    let config: ModelConfig = typed("model", Value::Object(kwargs))?;
    config.validate()?;
    Ok(config)
}

/// Canonical model + PyTorch `DataConfig` / `ModelConfig` / `TrainingConfig` → canonical
/// [`TrainingConfig`], with the bridge's warnings.
pub fn to_training_config(
    model: &ModelConfig,
    data: &torch::DataConfig,
    pt_model: &torch::ModelConfig,
    training: &torch::TrainingConfig,
    overrides: &Overrides,
) -> Result<Loaded<TrainingConfig>> {
    let output_dir = if training.output_dir.is_empty() {
        "training_outputs"
    } else {
        training.output_dir.as_str()
    };
    let mut kwargs = object(json!({
        "batch_size": training.batch_size,
        "nepochs": training.epochs,
        "nll_weight": if training.nll { 1.0 } else { 0.0 },
        "neighbor_count": data.K,
        "nphotons": data.nphotons,
        "intensity_scale_trainable": pt_model.intensity_scale_trainable,
        "backend": "pytorch",
        "mae_weight": 0.0,
        "realspace_mae_weight": 0.0,
        "realspace_weight": 0.0,
        "positions_provided": true,
        "probe_trainable": false,
        "sequential_sampling": false,
        "train_data_file": training.train_data_file,
        "test_data_file": training.test_data_file,
        "n_groups": training.n_groups,
        // PyTorch's n_subsample is a per-centre group multiplier, not the canonical number of
        // raw images sampled before grouping: it is never propagated.
        "n_subsample": null,
        "subsample_seed": data.subsample_seed,
        "output_dir": output_dir,
        "torch_loss_mode": training.torch_loss_mode,
        "torch_mae_pred_l2_match_target": training.torch_mae_pred_l2_match_target,
        "gradient_clip_val": training.gradient_clip_val,
        "gradient_clip_algorithm": training.gradient_clip_algorithm,
        "optimizer": training.optimizer,
        "momentum": training.momentum,
        "weight_decay": training.weight_decay,
        "adam_beta1": training.adam_beta1,
        "adam_beta2": training.adam_beta2,
        "scheduler": training.scheduler,
        "lr_warmup_epochs": training.lr_warmup_epochs,
        "lr_min_ratio": training.lr_min_ratio,
        "plateau_factor": training.plateau_factor,
        "plateau_patience": training.plateau_patience,
        "plateau_min_lr": training.plateau_min_lr,
        "plateau_threshold": training.plateau_threshold,
    }));
    apply_overrides(&mut kwargs, overrides, TRAINING_FIELDS, "TrainingConfig")?;
    let mut warnings = Vec::new();

    if !overrides.contains("nphotons") && data.nphotons == TORCH_DEFAULT_NPHOTONS {
        return Err(bridge_error(format!(
            "nphotons default divergence detected: data_config.nphotons = {} is the PyTorch default and differs from the TensorFlow default {}; provide an explicit value in the overrides, e.g. nphotons={}",
            fmt_real(TORCH_DEFAULT_NPHOTONS),
            fmt_real(CANONICAL_DEFAULT_NPHOTONS),
            fmt_real(CANONICAL_DEFAULT_NPHOTONS),
        )));
    }
    if unset(&kwargs, "n_groups")
        && let Some(images) = kwargs.get("n_images").filter(|v| !v.is_null()).cloned()
    {
        warnings.push(n_images_deprecation("training"));
        kwargs.insert("n_groups".into(), images);
    }
    if unset(&kwargs, "n_groups") {
        return Err(bridge_error(
            "n_groups is required in overrides for the training config (training_config.n_groups is unset, and an unset n_groups would break grouping downstream); provide it, e.g. n_groups=512".to_owned(),
        ));
    }
    if unset(&kwargs, "test_data_file") {
        warnings.push(
            "test_data_file not provided in the training overrides: evaluation and inference need it; consider providing test_data_file=test.npz".to_owned(),
        );
    }
    if unset(&kwargs, "train_data_file") {
        return Err(bridge_error(
            "train_data_file is required in overrides for the training config (training_config.train_data_file is unset); provide it, e.g. train_data_file=train.npz".to_owned(),
        ));
    }
    kwargs.insert(
        "model".into(),
        serde_json::to_value(model).unwrap_or(Value::Null),
    );
    let config: TrainingConfig = typed("training", Value::Object(kwargs))?;
    config.validate()?;
    Ok(Loaded {
        value: config,
        warnings,
    })
}

/// Canonical model + PyTorch `DataConfig` / `InferenceConfig` → canonical [`InferenceConfig`].
/// The PyTorch inference settings have no canonical counterpart; see
/// [`crate::bridge_document::to_execution_config`] for where they go.
pub fn to_inference_config(
    model: &ModelConfig,
    data: &torch::DataConfig,
    _inference: &torch::InferenceConfig,
    overrides: &Overrides,
) -> Result<Loaded<InferenceConfig>> {
    let mut kwargs = object(json!({
        "neighbor_count": data.K,
        "backend": "pytorch",
        "debug": false,
        "model_path": null,
        "test_data_file": null,
        "n_groups": null,
        "n_subsample": null,
        "subsample_seed": data.subsample_seed,
        "output_dir": "inference_outputs",
    }));
    apply_overrides(&mut kwargs, overrides, INFERENCE_FIELDS, "InferenceConfig")?;
    let mut warnings = Vec::new();
    if unset(&kwargs, "model_path") {
        return Err(bridge_error(
            "model_path is required in overrides for the inference config; provide it, e.g. model_path=model_dir".to_owned(),
        ));
    }
    if unset(&kwargs, "test_data_file") {
        return Err(bridge_error(
            "test_data_file is required in overrides for the inference config; provide it, e.g. test_data_file=test.npz".to_owned(),
        ));
    }
    if unset(&kwargs, "n_groups")
        && let Some(images) = kwargs.get("n_images").filter(|v| !v.is_null()).cloned()
    {
        warnings.push(n_images_deprecation("inference"));
        kwargs.insert("n_groups".into(), images);
    }
    kwargs.insert(
        "model".into(),
        serde_json::to_value(model).unwrap_or(Value::Null),
    );
    let config: InferenceConfig = typed("inference", Value::Object(kwargs))?;
    config.validate()?;
    Ok(Loaded {
        value: config,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_overrides() -> Overrides {
        Overrides::new()
            .with("train_data_file", "train.npz")
            .with("n_groups", 512)
            .with("nphotons", 1e9)
    }

    #[test]
    fn error_precedence_is_nphotons_then_n_groups_then_train_data_file() {
        let model = ModelConfig::default();
        let data = torch::DataConfig::default();
        let pt_model = torch::ModelConfig::default();
        let training = torch::TrainingConfig::default();
        let err =
            to_training_config(&model, &data, &pt_model, &training, &Overrides::new()).unwrap_err();
        assert!(err.to_string().starts_with("nphotons default divergence"));
        let o = Overrides::new().with("nphotons", 1e9);
        let err = to_training_config(&model, &data, &pt_model, &training, &o).unwrap_err();
        assert!(err.to_string().starts_with("n_groups is required"));
        let o = o.with("n_groups", 8);
        let err = to_training_config(&model, &data, &pt_model, &training, &o).unwrap_err();
        assert!(err.to_string().starts_with("train_data_file is required"));
        let ok =
            to_training_config(&model, &data, &pt_model, &training, &train_overrides()).unwrap();
        assert_eq!(ok.value.backend.as_str(), "pytorch");
    }

    #[test]
    fn unknown_override_names_nearest_field() {
        let data = torch::DataConfig::default();
        let err = to_model_config(
            &data,
            &torch::ModelConfig::default(),
            &Overrides::new().with("grid_size", 2),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "unknown key `grid_size` for the canonical ModelConfig (did you mean `gridsize`?)"
        );
    }
}
