//! The legacy params map: upstream's flat `params.cfg`, as a value instead of a global.
//!
//! Upstream's legacy modules read a process-wide dict; here the map is an ordered value passed
//! explicitly. Two ways of filling it from a canonical config:
//! * [`LegacyParams::update_from`] — `update_legacy_dict`: flatten the model, apply the nine
//!   [`KEY_MAPPINGS`] renames, paths as (pathlib-normalised) strings, and *skip* unset values so
//!   an earlier value is never cleared; existing keys keep their position, new keys are appended.
//! * [`LegacyParams::snapshot_of`] — the bundle snapshot: same keys, unset values kept as null.

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Result};
use crate::inference::InferenceConfig;
use crate::model::ModelConfig;
use crate::pathstr::python_path_string;
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

/// Allowed values of the legacy `data_source` key.
pub const DATA_SOURCES: [&str; 9] = [
    "lines",
    "grf",
    "experimental",
    "points",
    "testimg",
    "diagonals",
    "xpp",
    "V",
    "generic",
];

/// One value of the legacy map (the JSON-representable subset of what upstream stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LegacyValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<LegacyValue>),
}

impl LegacyValue {
    /// True for the unset marker.
    pub fn is_null(&self) -> bool {
        matches!(self, LegacyValue::Null)
    }

    /// The integer value, if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            LegacyValue::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// The numeric value of an integer or float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            LegacyValue::Int(value) => Some(*value as f64),
            LegacyValue::Float(value) => Some(*value),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            LegacyValue::Str(value) => Some(value),
            _ => None,
        }
    }

    /// The boolean value, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            LegacyValue::Bool(value) => Some(*value),
            _ => None,
        }
    }
}

impl From<bool> for LegacyValue {
    fn from(value: bool) -> Self {
        LegacyValue::Bool(value)
    }
}
impl From<usize> for LegacyValue {
    fn from(value: usize) -> Self {
        LegacyValue::Int(value as i64)
    }
}
impl From<u64> for LegacyValue {
    fn from(value: u64) -> Self {
        LegacyValue::Int(value as i64)
    }
}
impl From<i64> for LegacyValue {
    fn from(value: i64) -> Self {
        LegacyValue::Int(value)
    }
}
impl From<f64> for LegacyValue {
    fn from(value: f64) -> Self {
        LegacyValue::Float(value)
    }
}
impl From<&str> for LegacyValue {
    fn from(value: &str) -> Self {
        LegacyValue::Str(value.to_owned())
    }
}
impl From<String> for LegacyValue {
    fn from(value: String) -> Self {
        LegacyValue::Str(value)
    }
}
impl From<&Path> for LegacyValue {
    fn from(value: &Path) -> Self {
        LegacyValue::Str(python_path_string(value))
    }
}
impl<T: Into<LegacyValue>> From<Option<T>> for LegacyValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(LegacyValue::Null, Into::into)
    }
}

/// Upstream's `DEFAULT_CFG` (40 entries, source order).
pub fn legacy_defaults() -> Vec<(&'static str, LegacyValue)> {
    use LegacyValue::{Bool, Float, Int, Null, Str};
    vec![
        ("N", Int(128)),
        ("offset", Int(4)),
        ("gridsize", Int(2)),
        ("outer_offset_train", Null),
        ("outer_offset_test", Null),
        ("batch_size", Int(16)),
        ("nepochs", Int(60)),
        ("n_filters_scale", Int(2)),
        ("output_prefix", Str("outputs".into())),
        ("big_gridsize", Int(10)),
        ("max_position_jitter", Int(10)),
        ("sim_jitter_scale", Float(0.0)),
        ("default_probe_scale", Float(0.7)),
        ("mae_weight", Float(0.0)),
        ("nll_weight", Float(1.0)),
        ("tv_weight", Float(0.0)),
        ("realspace_mae_weight", Float(0.0)),
        ("realspace_weight", Float(0.0)),
        ("nphotons", Float(1e9)),
        ("nimgs_train", Int(9)),
        ("nimgs_test", Int(3)),
        ("data_source", Str("generic".into())),
        ("probe.trainable", Bool(false)),
        ("intensity_scale.trainable", Bool(false)),
        ("positions.provided", Bool(false)),
        ("object.big", Bool(true)),
        ("probe.big", Bool(false)),
        ("probe_scale", Float(10.0)),
        ("set_phi", Bool(false)),
        ("probe.mask", Bool(true)),
        ("pad_object", Bool(true)),
        ("model_type", Str("pinn".into())),
        ("label", Str(String::new())),
        ("size", Int(392)),
        ("amp_activation", Str("sigmoid".into())),
        ("h5_path", Str("wts.h5".into())),
        ("npseed", Int(42)),
        ("debug", Bool(true)),
        ("gaussian_smoothing_sigma", Float(0.0)),
        ("use_xla_translate", Bool(true)),
    ]
}

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

/// Values derived from the legacy map (upstream's `get('bigN')`, `get_padding_size`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivedValues {
    /// `N + (gridsize - 1) * offset`.
    pub big_n: i64,
    /// `(gridsize - 1) * offset + max_position_jitter`.
    pub padding_size: i64,
    /// `bigN + max_position_jitter`.
    pub padded_size: i64,
}

/// Upstream's flat params dict as an insertion-ordered value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LegacyParams {
    entries: IndexMap<String, LegacyValue>,
}

impl LegacyParams {
    /// An empty map (upstream's `params.cfg.clear()`).
    pub fn new() -> Self {
        LegacyParams::default()
    }

    /// The 40 legacy defaults, in source order.
    pub fn with_defaults() -> Self {
        let mut params = LegacyParams::new();
        params.ensure_defaults();
        params
    }

    /// Inserts every missing default; never overwrites.
    pub fn ensure_defaults(&mut self) {
        for (key, value) in legacy_defaults() {
            self.entries.entry(key.to_owned()).or_insert(value);
        }
    }

    /// `update_legacy_dict(cfg, config)`: writes every set value of `config`; unset values are
    /// skipped (an earlier value survives); nothing is deleted.
    pub fn update_from(&mut self, config: &impl LegacySource) {
        for (key, value) in config.legacy_entries() {
            if !value.is_null() {
                self.entries.insert(key, value);
            }
        }
    }

    /// The bundle snapshot of one config: every key, unset values kept as null.
    pub fn snapshot_of(config: &impl LegacySource) -> Self {
        LegacyParams {
            entries: config.legacy_entries().into_iter().collect(),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&LegacyValue> {
        self.entries.get(key)
    }

    /// Writes `key` (keeps its position when it exists, appends otherwise).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<LegacyValue>) {
        self.entries.insert(key.into(), value.into());
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &LegacyValue)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// The map restricted to `keys` (in the order given; absent keys are left out).
    pub fn restricted_to<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Self {
        LegacyParams {
            entries: keys
                .into_iter()
                .filter_map(|key| self.entries.get(key).map(|v| (key.to_owned(), v.clone())))
                .collect(),
        }
    }

    fn int(&self, key: &str) -> Result<i64> {
        let fallback = legacy_defaults()
            .into_iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value);
        let value = self.entries.get(key).cloned().or(fallback);
        value.as_ref().and_then(LegacyValue::as_int).ok_or_else(|| {
            ConfigError::invalid(
                format!("params.{key}"),
                value.map_or("missing".to_owned(), |v| format!("{v:?}")),
                "must be an integer to derive bigN / padding sizes",
            )
        })
    }

    /// bigN, padding size and padded size, with legacy defaults for absent keys.
    pub fn derived(&self) -> Result<DerivedValues> {
        let n = self.int("N")?;
        let gridsize = self.int("gridsize")?;
        let offset = self.int("offset")?;
        let jitter = self.int("max_position_jitter")?;
        let big_n = n + (gridsize - 1) * offset;
        Ok(DerivedValues {
            big_n,
            padding_size: (gridsize - 1) * offset + jitter,
            padded_size: big_n + jitter,
        })
    }

    /// Upstream's `params()`: the map with defaults filled in and `bigN` added.
    pub fn with_derived(&self) -> Result<Self> {
        let mut full = self.clone();
        full.ensure_defaults();
        let derived = full.derived()?;
        full.set("bigN", derived.big_n);
        Ok(full)
    }

    /// Upstream's `params.validate()`: `data_source` in the allowed set, and a real-space MAE
    /// weight requires a real-space weight.
    pub fn validate(&self) -> Result<()> {
        if let Some(source) = self.entries.get("data_source") {
            let text = source.as_str().unwrap_or_default();
            if !DATA_SOURCES.contains(&text) {
                return Err(ConfigError::invalid(
                    "params.data_source",
                    format!("{source:?}"),
                    format!("must be one of {}", DATA_SOURCES.join(", ")),
                ));
            }
        }
        let weight = |key: &str| {
            self.entries
                .get(key)
                .and_then(LegacyValue::as_f64)
                .unwrap_or(0.0)
        };
        if weight("realspace_mae_weight") > 0.0 && weight("realspace_weight") <= 0.0 {
            return Err(ConfigError::invalid(
                "params.realspace_weight",
                weight("realspace_weight"),
                "must be greater than 0 when realspace_mae_weight is greater than 0",
            ));
        }
        Ok(())
    }

    /// Pretty JSON with keys sorted (upstream's `json.dump(sort_keys=True, indent=2)`).
    pub fn to_sorted_json(&self) -> String {
        let mut sorted: Vec<(&String, &LegacyValue)> = self.entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let map: serde_json::Map<String, serde_json::Value> = sorted
            .into_iter()
            .map(|(key, value)| {
                let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
                (key.clone(), json)
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::Value::Object(map))
            .unwrap_or_else(|_| "{}".to_owned())
    }

    /// Parses a params JSON object (e.g. a bundle's snapshot or upstream's baseline).
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
            format: "JSON",
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_forty_keys_and_derived_values() {
        let params = LegacyParams::with_defaults();
        assert_eq!(params.len(), 40);
        let derived = params.derived().unwrap();
        assert_eq!(
            derived,
            DerivedValues {
                big_n: 132,
                padding_size: 14,
                padded_size: 142
            }
        );
        assert_eq!(
            params.with_derived().unwrap().get("bigN"),
            Some(&LegacyValue::Int(132))
        );
        params.validate().unwrap();
    }

    #[test]
    fn training_entries_have_upstream_order() {
        let entries = TrainingConfig::default().legacy_entries();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), 61);
        assert_eq!(&keys[..3], ["batch_size", "nepochs", "mae_weight"]);
        assert_eq!(
            &keys[52..],
            [
                "object.big",
                "probe.big",
                "probe.mask",
                "probe.trainable",
                "intensity_scale.trainable",
                "positions.provided",
                "output_prefix",
                "train_data_file_path",
                "test_data_file_path"
            ]
        );
        let mut params = LegacyParams::new();
        params.update_from(&TrainingConfig::default());
        assert_eq!(params.len(), 51, "ten None-valued keys are skipped");
    }

    #[test]
    fn update_never_clears_and_keeps_positions() {
        let mut params = LegacyParams::new();
        params.set("n_subsample", 7usize);
        params.set("zzz", true);
        let training = TrainingConfig::default();
        params.update_from(&training);
        assert_eq!(params.get("n_subsample"), Some(&LegacyValue::Int(7)));
        assert_eq!(params.keys().next(), Some("n_subsample"));
        let snapshot = LegacyParams::snapshot_of(&training);
        assert_eq!(snapshot.get("n_subsample"), Some(&LegacyValue::Null));
        assert_eq!(snapshot.len(), 61);
    }

    #[test]
    fn validate_rejects_bad_data_source() {
        let mut params = LegacyParams::with_defaults();
        params.set("data_source", "nope");
        assert!(
            params
                .validate()
                .unwrap_err()
                .to_string()
                .contains("params.data_source")
        );
    }
}
