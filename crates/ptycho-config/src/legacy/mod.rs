//! The legacy params map: upstream's flat `params.cfg`, as a value instead of a global.
//!
//! Upstream's legacy modules read a process-wide dict; here the map is an ordered value passed
//! explicitly. Two ways of filling it from a canonical config:
//! * [`LegacyParams::update_from`] — `update_legacy_dict`: flatten the model, apply the nine
//!   [`KEY_MAPPINGS`] renames, paths as (pathlib-normalised) strings, and *skip* unset values so
//!   an earlier value is never cleared; existing keys keep their position, new keys are appended.
//! * [`LegacyParams::snapshot_of`] — the bundle snapshot: same keys, unset values kept as null.

mod flatten;
mod value;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use flatten::{KEY_MAPPINGS, LegacySource};
pub use value::{LegacyValue, legacy_defaults};

use crate::error::{ConfigError, Result};

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
    use crate::training::TrainingConfig;

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
