//! Whole-file bridging: a PyTorch-side config set plus `--set` overrides → a canonical
//! [`ConfigDocument`] (model, training, optional inference, execution).
//!
//! Overrides are routed by name: `model.X` / `training.X` / `inference.X` / `execution.X` go to
//! that stage only; an unprefixed key goes to every stage that has such a field (so
//! `test_data_file` reaches both training and inference). The inference part is produced when
//! an inference-only field (`model_path`, `debug`) or an `inference.` key is given.

use serde_json::{Map, Value};

use crate::bridge::{to_inference_config, to_model_config, to_training_config};
use crate::document::{ConfigDocument, Loaded};
use crate::error::{ConfigError, Result, nearest};
use crate::execution::{EXECUTION_FIELDS, ExecutionConfig};
use crate::format::typed;
use crate::inference::INFERENCE_FIELDS;
use crate::model::MODEL_FIELDS;
use crate::overrides::Overrides;
use crate::torch::{self, TorchConfigSet};
use crate::training::TRAINING_FIELDS;

const STAGES: [(&str, &[&str]); 4] = [
    ("model", MODEL_FIELDS),
    ("training", TRAINING_FIELDS),
    ("inference", INFERENCE_FIELDS),
    ("execution", EXECUTION_FIELDS),
];

/// PyTorch settings with a runtime-only canonical home (upstream drops them in the bridge).
pub fn to_execution_config(
    training: &torch::TrainingConfig,
    inference: &torch::InferenceConfig,
) -> Result<ExecutionConfig> {
    let execution = ExecutionConfig {
        devices: training.n_devices,
        learning_rate: training.learning_rate,
        num_workers: training.num_workers,
        accum_steps: training.accum_steps,
        gradient_clip_val: training.gradient_clip_val,
        gradient_clip_algorithm: training.gradient_clip_algorithm.parse().map_err(|e| {
            ConfigError::WrongType {
                key: "training_config.gradient_clip_algorithm".into(),
                message: format!("{e}"),
            }
        })?,
        inference_batch_size: Some(inference.batch_size),
        pad_eval: inference.pad_eval,
        middle_trim: inference.middle_trim,
        ..ExecutionConfig::default()
    };
    execution.validate()?;
    Ok(execution)
}

/// PyTorch-side fields the bridge carries into the canonical document (model, training,
/// inference or execution). Everything else has no canonical home; a non-default value there
/// is reported in a warning instead of being dropped silently.
const CARRIED: [(&str, &[&str]); 5] = [
    (
        "data_config",
        &[
            "nphotons",
            "N",
            "K",
            "subsample_seed",
            "grid_size",
            "probe_scale",
            "C",
        ],
    ),
    (
        "model_config",
        &[
            "mode",
            "architecture",
            "fno_modes",
            "fno_width",
            "fno_blocks",
            "fno_cnn_blocks",
            "learned_input_channels",
            "fno_input_transform",
            "max_hidden_channels",
            "resnet_width",
            "spectral_bottleneck_blocks",
            "spectral_bottleneck_modes",
            "spectral_bottleneck_share_weights",
            "spectral_bottleneck_gate_init",
            "spectral_bottleneck_gate_mode",
            "generator_output_mode",
            "intensity_scale_trainable",
            "n_filters_scale",
            "amp_activation",
            "probe_mask",
            "probe_mask_tensor",
            "probe_mask_sigma",
            "probe_mask_diameter",
            "object_big",
            "probe_big",
            "pad_object",
            "gaussian_smoothing_sigma",
            "C_model",
            "C_forward",
        ],
    ),
    (
        "training_config",
        &[
            "nll",
            "n_devices",
            "learning_rate",
            "epochs",
            "batch_size",
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
            "torch_loss_mode",
            "torch_mae_pred_l2_match_target",
            "output_dir",
            "train_data_file",
            "test_data_file",
            "n_groups",
        ],
    ),
    (
        "inference_config",
        &["batch_size", "pad_eval", "middle_trim"],
    ),
    ("datagen_config", &[]),
];

/// One warning naming every PyTorch-side value that differs from its default and has no
/// canonical counterpart (None when there is none).
pub fn uncarried_settings(set: &TorchConfigSet) -> Option<String> {
    let actual = set.to_value();
    let defaults = TorchConfigSet::default().to_value();
    let mut dropped = Vec::new();
    for (section, carried) in CARRIED {
        let (Some(Value::Object(values)), Some(Value::Object(default_values))) =
            (actual.get(section), defaults.get(section))
        else {
            continue;
        };
        for (field, value) in values {
            if !carried.contains(&field.as_str()) && default_values.get(field) != Some(value) {
                dropped.push(format!("{section}.{field}={value}"));
            }
        }
    }
    (!dropped.is_empty()).then(|| {
        format!(
            "not carried into the canonical config (no canonical field): {}",
            dropped.join(", ")
        )
    })
}

/// Splits overrides by stage (see the module docs).
fn route(overrides: &Overrides) -> Result<[Overrides; 4]> {
    let mut routed: [Overrides; 4] = Default::default();
    for (key, value) in overrides.iter() {
        if let Some((prefix, field)) = key.split_once('.') {
            let Some(index) = STAGES.iter().position(|(stage, _)| *stage == prefix) else {
                let stages: Vec<&str> = STAGES.iter().map(|(s, _)| *s).collect();
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                    hint: format!(" (prefix must be one of {})", stages.join(", ")),
                });
            };
            let fields = STAGES[index].1;
            if !fields.contains(&field) {
                let hint = match nearest(field, fields.iter().copied()) {
                    Some(best) => format!(" (did you mean `{prefix}.{best}`?)"),
                    None => format!(" (not a field of the canonical {prefix} config)"),
                };
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                    hint,
                });
            }
            routed[index].insert(field, value.clone());
            continue;
        }
        let mut routed_somewhere = false;
        for (index, (_, fields)) in STAGES.iter().enumerate().take(3) {
            if fields.contains(&key) {
                routed[index].insert(key, value.clone());
                routed_somewhere = true;
            }
        }
        if !routed_somewhere && EXECUTION_FIELDS.contains(&key) {
            routed[3].insert(key, value.clone());
            routed_somewhere = true;
        }
        if !routed_somewhere {
            let all: Vec<&str> = STAGES
                .iter()
                .flat_map(|(_, fields)| fields.iter().copied())
                .collect();
            let hint = match nearest(key, all.iter().copied()) {
                Some(best) => format!(" (did you mean `{best}`?)"),
                None => {
                    " (not a canonical model, training, inference or execution field)".to_owned()
                }
            };
            return Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                hint,
            });
        }
    }
    Ok(routed)
}

/// Bridges a PyTorch-side config set into a canonical document.
pub fn bridge_document(
    set: &TorchConfigSet,
    overrides: &Overrides,
) -> Result<Loaded<ConfigDocument>> {
    let [model_o, training_o, inference_o, execution_o] = route(overrides)?;
    let model = to_model_config(&set.data_config, &set.model_config, &model_o)?;
    let training = to_training_config(
        &model,
        &set.data_config,
        &set.model_config,
        &set.training_config,
        &training_o,
    )?;
    let mut warnings: Vec<String> = uncarried_settings(set).into_iter().collect();
    warnings.extend(training.warnings);
    let wants_inference = overrides
        .iter()
        .any(|(key, _)| key.starts_with("inference.") || key == "model_path" || key == "debug");
    let inference = if wants_inference {
        let inference = to_inference_config(
            &model,
            &set.data_config,
            &set.inference_config,
            &inference_o,
        )?;
        warnings.extend(inference.warnings);
        Some(inference.value)
    } else {
        None
    };
    let mut execution = to_execution_config(&set.training_config, &set.inference_config)?;
    execution.spectral_bottleneck_blocks = set.model_config.spectral_bottleneck_blocks;
    execution.spectral_bottleneck_modes = set.model_config.spectral_bottleneck_modes;
    execution.spectral_bottleneck_share_weights =
        set.model_config.spectral_bottleneck_share_weights;
    execution.spectral_bottleneck_gate_init = set.model_config.spectral_bottleneck_gate_init;
    execution.spectral_bottleneck_gate_mode = set
        .model_config
        .spectral_bottleneck_gate_mode
        .parse()
        .map_err(|e| ConfigError::WrongType {
            key: "model_config.spectral_bottleneck_gate_mode".into(),
            message: format!("{e}"),
        })?;
    execution.validate()?;
    if !execution_o.is_empty() {
        let mut map = match serde_json::to_value(&execution) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (key, value) in execution_o.iter() {
            map.insert(key.to_owned(), value.clone());
        }
        execution = typed("execution", Value::Object(map))?;
        execution.validate()?;
    }
    let document = ConfigDocument {
        model,
        training: Some(training.value),
        inference,
        execution,
    };
    document.validate()?;
    Ok(Loaded {
        value: document,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_shared_and_prefixed_keys() {
        let mut o = Overrides::new();
        for text in [
            "train_data_file=train.npz",
            "n_groups=64",
            "nphotons=1e9",
            "model_path=model_dir",
            "test_data_file=test.npz",
            "inference.output_dir=recon",
            "gridsize=2",
            "learning_rate=0.01",
        ] {
            o.insert_assignment(text).unwrap();
        }
        let set = TorchConfigSet::default();
        let doc = bridge_document(&set, &o).unwrap().value;
        let training = doc.training.unwrap();
        let inference = doc.inference.unwrap();
        assert_eq!(training.n_groups, 64);
        assert_eq!(inference.n_groups, Some(64));
        assert_eq!(inference.output_dir, std::path::PathBuf::from("recon"));
        assert_eq!(
            training.output_dir,
            std::path::PathBuf::from("training_outputs")
        );
        assert_eq!(doc.model.gridsize, 2);
        assert_eq!(doc.execution.learning_rate, 0.01);
        assert_eq!(doc.execution.num_workers, 4);
        assert_eq!(doc.execution.inference_batch_size, Some(1000));
    }

    #[test]
    fn uncarried_non_default_settings_are_reported_once() {
        assert_eq!(uncarried_settings(&TorchConfigSet::default()), None);
        let mut set = TorchConfigSet::default();
        set.model_config.decoder_last_amp_channels = 4;
        set.training_config.epochs_fine_tune = 10;
        set.data_config.n_subsample = 1;
        set.training_config.epochs = 3;
        let warning = uncarried_settings(&set).unwrap();
        assert_eq!(
            warning,
            "not carried into the canonical config (no canonical field): data_config.n_subsample=1, model_config.decoder_last_amp_channels=4, training_config.epochs_fine_tune=10"
        );
        let o = Overrides::new()
            .with("train_data_file", "t.npz")
            .with("test_data_file", "v.npz")
            .with("n_groups", 8)
            .with("nphotons", 1e9);
        let bridged = bridge_document(&set, &o).unwrap();
        assert_eq!(bridged.warnings, [warning]);
    }

    #[test]
    fn unknown_routed_keys_are_named() {
        let o = Overrides::new().with("n_group", 5);
        let err = bridge_document(&TorchConfigSet::default(), &o)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "unknown key `n_group` (did you mean `n_groups`?)");
        let o = Overrides::new().with("trainng.n_groups", 5);
        let err = bridge_document(&TorchConfigSet::default(), &o)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown key `trainng.n_groups` (prefix must be one of"),
            "{err}"
        );
    }
}
