//! PyTorch-side configuration (upstream `ptycho_torch/config_params.py`) and its files.
//!
//! Upstream's PyTorch JSON files hold up to five sections — `data_config`, `model_config`,
//! `training_config`, `inference_config`, `datagen_config` — each a partial set of fields laid
//! over the defaults. Upstream silently ignores unknown keys; here they are errors that name the
//! nearest valid key, and the declared `Literal` sets are checked.

mod data;
mod model;
mod training;

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use data::{DATA_FIELDS, DataConfig, TORCH_DEFAULT_NPHOTONS};
pub use model::{ModelConfig, ProbeMask, TORCH_MODEL_FIELDS};
pub use training::{
    DATAGEN_FIELDS, DatagenConfig, InferenceConfig, TORCH_INFERENCE_FIELDS, TORCH_TRAINING_FIELDS,
    TrainingConfig,
};

use crate::document::{Loaded, write_atomically};
use crate::error::{ConfigError, Result, nearest};
use crate::format::{Format, typed, without_nulls};

/// `value` must be one of `allowed` (a `Literal` set of the PyTorch configuration).
pub(crate) fn one_of(section: &str, field: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let hint = nearest(value, allowed.iter().copied())
        .map(|best| format!(" (did you mean {best:?}?)"))
        .unwrap_or_default();
    Err(ConfigError::invalid(
        format!("{section}.{field}"),
        format!("{value:?}"),
        format!("must be one of {}{hint}", allowed.join(", ")),
    ))
}

const SECTIONS: [(&str, &[&str]); 5] = [
    ("data_config", DATA_FIELDS),
    ("model_config", TORCH_MODEL_FIELDS),
    ("training_config", TORCH_TRAINING_FIELDS),
    ("inference_config", TORCH_INFERENCE_FIELDS),
    ("datagen_config", DATAGEN_FIELDS),
];

/// The five PyTorch-side configurations of one file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TorchConfigSet {
    pub data_config: DataConfig,
    pub model_config: ModelConfig,
    pub training_config: TrainingConfig,
    pub inference_config: InferenceConfig,
    pub datagen_config: DatagenConfig,
}

impl TorchConfigSet {
    /// Reads and checks an upstream PyTorch-side config file (JSON, YAML or TOML).
    pub fn load(path: &Path) -> Result<Loaded<TorchConfigSet>> {
        let format = Format::from_path(path)?;
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.to_path_buf(),
            reason,
        })?;
        TorchConfigSet::parse(&text, format).map_err(|e| e.in_file(path))
    }

    /// Parses and checks text in `format`.
    pub fn parse(text: &str, format: Format) -> Result<Loaded<TorchConfigSet>> {
        let root = match format.parse(text)? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => {
                return Err(ConfigError::WrongType {
                    key: "(top level)".into(),
                    message: "expected a table with data_config, model_config, training_config, inference_config or datagen_config".into(),
                });
            }
        };
        let names: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
        for (key, value) in &root {
            let Some((_, fields)) = SECTIONS.iter().find(|(name, _)| name == key) else {
                let hint = match nearest(key, names.iter().copied()) {
                    Some(best) => format!(" at the top level (did you mean `{best}`?)"),
                    None => format!(" at the top level (sections: {})", names.join(", ")),
                };
                return Err(ConfigError::UnknownKey {
                    key: key.clone(),
                    hint,
                });
            };
            if let Value::Object(section) = value {
                for field in section.keys() {
                    if !fields.contains(&field.as_str()) {
                        let hint = match nearest(field, fields.iter().copied()) {
                            Some(best) => format!(" in [{key}] (did you mean `{best}`?)"),
                            None => format!(" in [{key}] (not a field of {key})"),
                        };
                        return Err(ConfigError::UnknownKey {
                            key: field.clone(),
                            hint,
                        });
                    }
                }
            }
        }
        let mut root = root;
        let mut take = |name: &str| {
            root.remove(name)
                .filter(|v| !v.is_null())
                .unwrap_or(Value::Object(Map::new()))
        };
        let set = TorchConfigSet {
            data_config: typed("data_config", take("data_config"))?,
            model_config: typed("model_config", take("model_config"))?,
            training_config: typed("training_config", take("training_config"))?,
            inference_config: typed("inference_config", take("inference_config"))?,
            datagen_config: typed("datagen_config", take("datagen_config"))?,
        };
        set.validate()?;
        Ok(Loaded {
            value: set,
            warnings: Vec::new(),
        })
    }

    /// Checks the declared `Literal` sets of every section.
    pub fn validate(&self) -> Result<()> {
        self.data_config.validate()?;
        self.model_config.validate()?;
        self.training_config.validate()?;
        self.inference_config.validate()
    }

    /// Every section with every field (unset values omitted), in upstream's layout.
    pub fn to_value(&self) -> Value {
        without_nulls(serde_json::to_value(self).unwrap_or(Value::Null))
    }

    /// Writes the set atomically in the format named by the extension.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = Format::from_path(path)?.render(&self.to_value())?;
        write_atomically(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_upstream_field_counts() {
        assert_eq!(DATA_FIELDS.len(), 21);
        assert_eq!(TORCH_MODEL_FIELDS.len(), 57);
        assert_eq!(TORCH_TRAINING_FIELDS.len(), 44);
        assert_eq!(TORCH_INFERENCE_FIELDS.len(), 9);
        assert_eq!(DATAGEN_FIELDS.len(), 6);
        let set = TorchConfigSet::default();
        set.validate().unwrap();
        assert_eq!(set.data_config.nphotons, 1e5);
        assert_eq!(set.model_config.amp_activation, "silu");
        assert_eq!(set.training_config.output_dir, "training_outputs");
    }

    #[test]
    fn upstream_layout_parses_and_round_trips() {
        let text = r#"{"data_config": {"N": 128, "grid_size": [3, 3], "x_bounds": [0.05, 0.95]},
            "model_config": {"mode": "Supervised", "probe_mask": true, "amp_loss": null},
            "training_config": {"gradient_clip_val": 5, "n_devices": 2},
            "inference_config": {}, "datagen_config": {"objects_per_probe": 4}}"#;
        let set = TorchConfigSet::parse(text, Format::Json).unwrap().value;
        assert_eq!(set.data_config.grid_size, (3, 3));
        assert_eq!(set.model_config.probe_mask, Some(ProbeMask::Flag(true)));
        assert_eq!(set.training_config.gradient_clip_val, Some(5.0));
        for format in [Format::Json, Format::Yaml, Format::Toml] {
            let rendered = format.render(&set.to_value()).unwrap();
            let again = TorchConfigSet::parse(&rendered, format).unwrap().value;
            assert_eq!(again, set, "{format:?}");
        }
    }

    #[test]
    fn unknown_fields_and_literals_are_rejected() {
        let err = TorchConfigSet::parse(r#"{"data_config": {"grid_sise": [2, 2]}}"#, Format::Json)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown key `grid_sise` in [data_config] (did you mean `grid_size`?)"
        );
        let err = TorchConfigSet::parse(r#"{"data_config": {"normalize": "batch"}}"#, Format::Json)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`data_config.normalize` = \"batch\" is invalid: must be one of Group, Batch, None (did you mean \"Batch\"?)"
        );
    }
}
