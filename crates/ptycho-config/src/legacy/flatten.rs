//! `dataclass_to_legacy_dict`: flattening a canonical config into legacy (key, value) entries.
//!
//! Outer fields come first in declaration order, then the model's fields, then every key of
//! [`KEY_MAPPINGS`] is removed and re-appended under its legacy name, so renamed keys end up
//! last, in mapping order (upstream's dict behaviour).

use indexmap::IndexMap;

use super::value::LegacyValue;
use crate::inference::InferenceConfig;
use crate::model::ModelConfig;
use crate::training::TrainingConfig;

/// Canonical field name → legacy key, in upstream's order (exactly nine entries).
pub const KEY_MAPPINGS: [(&str, &str); 9] = [
    ("object_big", "object.big"),
    ("probe_big", "probe.big"),
    ("probe_mask", "probe.mask"),
    ("probe_trainable", "probe.trainable"),
    ("intensity_scale_trainable", "intensity_scale.trainable"),
    ("positions_provided", "positions.provided"),
    ("output_dir", "output_prefix"),
    ("train_data_file", "train_data_file_path"),
    ("test_data_file", "test_data_file_path"),
];

/// A canonical configuration that can be flattened into legacy entries
/// (upstream's `dataclass_to_legacy_dict`).
pub trait LegacySource {
    /// Every field as (legacy key, value), unset values as [`LegacyValue::Null`], in upstream's
    /// order: outer fields, then the model's, then the renamed keys in [`KEY_MAPPINGS`] order.
    fn legacy_entries(&self) -> Vec<(String, LegacyValue)>;
}

fn model_entries(m: &ModelConfig) -> Vec<(&'static str, LegacyValue)> {
    vec![
        ("N", m.N.into()),
        ("gridsize", m.gridsize.into()),
        ("n_filters_scale", m.n_filters_scale.into()),
        ("model_type", m.model_type.as_str().into()),
        ("architecture", m.architecture.as_str().into()),
        ("fno_modes", m.fno_modes.into()),
        ("fno_width", m.fno_width.into()),
        ("fno_blocks", m.fno_blocks.into()),
        ("fno_cnn_blocks", m.fno_cnn_blocks.into()),
        ("learned_input_channels", m.learned_input_channels.into()),
        ("max_hidden_channels", m.max_hidden_channels.into()),
        ("resnet_width", m.resnet_width.into()),
        ("fno_input_transform", m.fno_input_transform.as_str().into()),
        (
            "generator_output_mode",
            m.generator_output_mode.as_str().into(),
        ),
        ("amp_activation", m.amp_activation.as_str().into()),
        ("object_big", m.object_big.into()),
        ("probe_big", m.probe_big.into()),
        ("probe_mask", m.probe_mask.into()),
        ("probe_mask_sigma", m.probe_mask_sigma.into()),
        ("probe_mask_diameter", m.probe_mask_diameter.into()),
        ("pad_object", m.pad_object.into()),
        ("probe_scale", m.probe_scale.into()),
        (
            "gaussian_smoothing_sigma",
            m.gaussian_smoothing_sigma.into(),
        ),
    ]
}

/// Flattening and renaming shared by both configs: outer fields, then model fields appended,
/// then each mapped key removed and re-appended under its legacy name.
fn flatten(
    outer: Vec<(&'static str, LegacyValue)>,
    model: &ModelConfig,
) -> Vec<(String, LegacyValue)> {
    let mut map: IndexMap<String, LegacyValue> = outer
        .into_iter()
        .chain(model_entries(model))
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    for (field, legacy_key) in KEY_MAPPINGS {
        if let Some(value) = map.shift_remove(field) {
            map.insert(legacy_key.to_owned(), value);
        }
    }
    map.into_iter().collect()
}

impl LegacySource for TrainingConfig {
    fn legacy_entries(&self) -> Vec<(String, LegacyValue)> {
        let t = self;
        let outer: Vec<(&'static str, LegacyValue)> = vec![
            ("train_data_file", t.train_data_file.as_deref().into()),
            ("test_data_file", t.test_data_file.as_deref().into()),
            ("batch_size", t.batch_size.into()),
            ("nepochs", t.nepochs.into()),
            ("mae_weight", t.mae_weight.into()),
            ("nll_weight", t.nll_weight.into()),
            ("realspace_mae_weight", t.realspace_mae_weight.into()),
            ("realspace_weight", t.realspace_weight.into()),
            ("nphotons", t.nphotons.into()),
            ("n_groups", t.n_groups.into()),
            ("n_images", t.n_images.into()),
            ("n_subsample", t.n_subsample.into()),
            ("subsample_seed", t.subsample_seed.into()),
            ("neighbor_count", t.neighbor_count.into()),
            ("enable_oversampling", t.enable_oversampling.into()),
            ("neighbor_pool_size", t.neighbor_pool_size.into()),
            ("positions_provided", t.positions_provided.into()),
            ("probe_trainable", t.probe_trainable.into()),
            (
                "intensity_scale_trainable",
                t.intensity_scale_trainable.into(),
            ),
            ("output_dir", t.output_dir.as_path().into()),
            ("sequential_sampling", t.sequential_sampling.into()),
            ("backend", t.backend.as_str().into()),
            ("torch_loss_mode", t.torch_loss_mode.as_str().into()),
            (
                "torch_mae_pred_l2_match_target",
                t.torch_mae_pred_l2_match_target.into(),
            ),
            ("gradient_clip_val", t.gradient_clip_val.into()),
            (
                "gradient_clip_algorithm",
                t.gradient_clip_algorithm.as_str().into(),
            ),
            ("optimizer", t.optimizer.as_str().into()),
            ("momentum", t.momentum.into()),
            ("weight_decay", t.weight_decay.into()),
            ("adam_beta1", t.adam_beta1.into()),
            ("adam_beta2", t.adam_beta2.into()),
            ("scheduler", t.scheduler.as_str().into()),
            ("lr_warmup_epochs", t.lr_warmup_epochs.into()),
            ("lr_min_ratio", t.lr_min_ratio.into()),
            ("plateau_factor", t.plateau_factor.into()),
            ("plateau_patience", t.plateau_patience.into()),
            ("plateau_min_lr", t.plateau_min_lr.into()),
            ("plateau_threshold", t.plateau_threshold.into()),
        ];
        flatten(outer, &t.model)
    }
}

impl LegacySource for InferenceConfig {
    fn legacy_entries(&self) -> Vec<(String, LegacyValue)> {
        let i = self;
        let outer: Vec<(&'static str, LegacyValue)> = vec![
            ("model_path", i.model_path.as_path().into()),
            ("test_data_file", i.test_data_file.as_path().into()),
            ("n_groups", i.n_groups.into()),
            ("n_images", i.n_images.into()),
            ("n_subsample", i.n_subsample.into()),
            ("subsample_seed", i.subsample_seed.into()),
            ("neighbor_count", i.neighbor_count.into()),
            ("enable_oversampling", i.enable_oversampling.into()),
            ("neighbor_pool_size", i.neighbor_pool_size.into()),
            ("debug", i.debug.into()),
            ("output_dir", i.output_dir.as_path().into()),
            ("backend", i.backend.as_str().into()),
        ];
        flatten(outer, &i.model)
    }
}
