//! Canonical configuration files: loading (TOML / YAML / JSON), validation, saving.
//!
//! Two layouts are accepted:
//! * **sectioned** — top-level tables `model`, `training`, `inference`, `execution` (any subset
//!   with at least one of `training` / `inference` / `execution`); this is what [`ConfigDocument::save`]
//!   writes;
//! * **flat** — upstream's YAML layout: training (or, when `model_path` is present, inference)
//!   fields and model fields side by side at the top level, optionally with a nested `model`
//!   mapping (which wins), plus execution fields such as `learning_rate`.
//!
//! Every key is checked: an unknown key is an error naming the nearest valid key. Every load
//! ends with validation, so a loaded document is always valid; [`ConfigDocument::load`] and
//! [`ConfigDocument::parse`] also apply the support rules ([`crate::support`]), so what they
//! return holds only values this implementation runs with (`*_upstream` skip those, to inspect
//! and convert upstream configurations).

mod overrides;
mod parse;

use std::path::Path;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{ConfigError, Result};
use crate::execution::{EXECUTION_FIELDS, ExecutionConfig};
use crate::format::{Format, without_nulls};
use crate::inference::{INFERENCE_FIELDS, InferenceConfig};
use crate::legacy::LegacyParams;
use crate::model::{MODEL_FIELDS, ModelConfig};
use crate::training::{TRAINING_FIELDS, TrainingConfig};

pub use parse::UPSTREAM_SCRIPT_KEYS;
use parse::{from_flat, from_sections, kind_of};

/// A value together with the warnings produced while loading it (deprecated keys, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    pub value: T,
    pub warnings: Vec<String>,
}

/// One canonical configuration file: the model, a training and/or inference part, and the
/// runtime-only execution settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigDocument {
    pub model: ModelConfig,
    pub training: Option<TrainingConfig>,
    pub inference: Option<InferenceConfig>,
    pub execution: ExecutionConfig,
}

impl ConfigDocument {
    /// A document holding one training config (its model becomes the document's model).
    pub fn from_training(training: TrainingConfig) -> Self {
        ConfigDocument {
            model: training.model.clone(),
            training: Some(training),
            ..Default::default()
        }
    }

    /// Reads, parses and validates a file and refuses values this implementation does not run
    /// with ([`crate::support`]); errors name the file.
    pub fn load(path: &Path) -> Result<Loaded<ConfigDocument>> {
        let loaded = ConfigDocument::load_upstream(path)?;
        loaded
            .value
            .check_supported()
            .map_err(|e| e.in_file(path))?;
        Ok(loaded)
    }

    /// Parses and validates text in `format` and refuses values this implementation does not
    /// run with ([`crate::support`]).
    pub fn parse(text: &str, format: Format) -> Result<Loaded<ConfigDocument>> {
        let loaded = ConfigDocument::parse_upstream(text, format)?;
        loaded.value.check_supported()?;
        Ok(loaded)
    }

    /// [`ConfigDocument::load`] with upstream's rules only: a configuration upstream accepts,
    /// including values this implementation does not run with, for inspecting and converting
    /// it (legacy params, saving in another format).
    pub fn load_upstream(path: &Path) -> Result<Loaded<ConfigDocument>> {
        let format = Format::from_path(path)?;
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.to_path_buf(),
            reason,
        })?;
        ConfigDocument::parse_upstream(&text, format).map_err(|e| e.in_file(path))
    }

    /// [`ConfigDocument::parse`] with upstream's rules only (see
    /// [`ConfigDocument::load_upstream`]).
    pub fn parse_upstream(text: &str, format: Format) -> Result<Loaded<ConfigDocument>> {
        let root = match format.parse(text)? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(ConfigError::WrongType {
                    key: "(top level)".to_owned(),
                    message: format!("expected a table of keys, found {}", kind_of(&other)),
                });
            }
        };
        let mut warnings = Vec::new();
        let document = if ["training", "inference", "execution"]
            .iter()
            .any(|section| root.contains_key(*section))
        {
            from_sections(root, &mut warnings)?
        } else {
            from_flat(root, &mut warnings)?
        };
        document.validate()?;
        Ok(Loaded {
            value: document,
            warnings,
        })
    }

    /// Validates every part; the training and inference parts must share the document's model
    /// (the file holds one `[model]` section, so a different one could not be saved).
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if let Some(training) = &self.training {
            if training.model != self.model {
                return Err(ConfigError::invalid(
                    "training.model",
                    "a model different from [model]",
                    "must equal the document's model (set ConfigDocument::model and copy it)",
                ));
            }
            training.validate()?;
        }
        if let Some(inference) = &self.inference {
            if inference.model != self.model {
                return Err(ConfigError::invalid(
                    "inference.model",
                    "a model different from [model]",
                    "must equal the document's model (set ConfigDocument::model and copy it)",
                ));
            }
            inference.validate()?;
        }
        self.execution.validate()
    }

    /// Refuses values this implementation does not run with (see [`crate::support`]);
    /// [`ConfigDocument::load`], [`ConfigDocument::parse`] and
    /// [`ConfigDocument::with_overrides`] run it after [`ConfigDocument::validate`].
    pub fn check_supported(&self) -> Result<()> {
        crate::support::check_document(self)
    }

    /// The sectioned form as a generic value (unset values omitted; the execution section only
    /// when it differs from the defaults).
    pub fn to_value(&self) -> Value {
        let mut root = Map::new();
        let section = |value: Value| -> Value {
            let mut value = value;
            if let Value::Object(map) = &mut value {
                map.remove("model");
            }
            without_nulls(value)
        };
        root.insert("model".into(), without_nulls(to_json(&self.model)));
        if let Some(training) = &self.training {
            root.insert("training".into(), section(to_json(training)));
        }
        if let Some(inference) = &self.inference {
            root.insert("inference".into(), section(to_json(inference)));
        }
        if self.execution != ExecutionConfig::default() {
            root.insert("execution".into(), without_nulls(to_json(&self.execution)));
        }
        Value::Object(root)
    }

    /// The document rendered in `format` (sectioned layout, fields in declaration order).
    pub fn to_string(&self, format: Format) -> Result<String> {
        let value = self.to_value();
        let mut ordered: IndexMap<&str, IndexMap<String, Value>> = IndexMap::new();
        for (section, fields) in [
            ("model", MODEL_FIELDS),
            ("training", TRAINING_FIELDS),
            ("inference", INFERENCE_FIELDS),
            ("execution", EXECUTION_FIELDS),
        ] {
            if let Some(Value::Object(map)) = value.get(section) {
                let entries = fields
                    .iter()
                    .filter_map(|field| map.get(*field).map(|v| ((*field).to_owned(), v.clone())))
                    .collect();
                ordered.insert(section, entries);
            }
        }
        format.render_serializable(&ordered)
    }

    /// Writes the document atomically (temporary file in the same directory, then rename);
    /// the format follows the extension.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()?;
        let format = Format::from_path(path)?;
        let text = self.to_string(format)?;
        write_atomically(path, text.as_bytes())
    }

    /// The legacy params this document produces: an empty map updated with the training part,
    /// then with the inference part (later wins, unset values never clear earlier ones).
    pub fn legacy_params(&self) -> LegacyParams {
        let mut params = LegacyParams::new();
        if let Some(training) = &self.training {
            params.update_from(training);
        }
        if let Some(inference) = &self.inference {
            params.update_from(inference);
        }
        params
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename; see
/// [`ptycho_fs`]); the directory must exist.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    ptycho_fs::write_atomically(path, bytes).map_err(|e| ConfigError::Write {
        path: e.path,
        reason: e.source,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl TrainingConfig {
    /// Loads a file that holds a training part (sectioned or flat); warnings are returned.
    pub fn load(path: &Path) -> Result<Loaded<TrainingConfig>> {
        let Loaded { value, warnings } = ConfigDocument::load(path)?;
        match value.training {
            Some(training) => Ok(Loaded {
                value: training,
                warnings,
            }),
            None => Err(ConfigError::Missing {
                field: "training".to_owned(),
                fix: "add a [training] section (or top-level training keys)".to_owned(),
            }
            .in_file(path)),
        }
    }
}

impl InferenceConfig {
    /// Loads a file that holds an inference part (sectioned, or flat with `model_path`).
    pub fn load(path: &Path) -> Result<Loaded<InferenceConfig>> {
        let Loaded { value, warnings } = ConfigDocument::load(path)?;
        match value.inference {
            Some(inference) => Ok(Loaded {
                value: inference,
                warnings,
            }),
            None => Err(ConfigError::Missing {
                field: "inference".to_owned(),
                fix: "add an [inference] section with model_path and test_data_file".to_owned(),
            }
            .in_file(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str, format: Format) -> String {
        ConfigDocument::parse(text, format).unwrap_err().to_string()
    }

    #[test]
    fn flat_yaml_with_nested_model_and_alias() {
        let text = "N: 128\ngridsize: 2\nnepochs: 5\nn_images: 64\nlearning_rate: 0.002\nmodel:\n  gridsize: 1\n";
        let loaded = ConfigDocument::parse(text, Format::Yaml).unwrap();
        let training = loaded.value.training.unwrap();
        assert_eq!((training.model.N, training.model.gridsize), (128, 1));
        assert_eq!((training.nepochs, training.n_groups), (5, 64));
        assert_eq!(loaded.value.execution.learning_rate, 0.002);
        assert_eq!(loaded.warnings.len(), 1);
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        assert_eq!(
            parse_err("[training]\nnepoch = 3\n", Format::Toml),
            "unknown key `nepoch` in [training] (did you mean `nepochs`?)"
        );
        assert_eq!(
            parse_err("[model]\nnepochs = 3\n", Format::Toml),
            "unknown key `nepochs` in [model] (it belongs in [training])"
        );
        assert_eq!(
            parse_err("{\"batchsize\": 8}", Format::Json),
            "unknown key `batchsize` (did you mean `batch_size`?)"
        );
        assert_eq!(
            parse_err("batch_size = 8\n[training]\n", Format::Toml),
            "unknown key `batch_size` at the top level (move it into [training])"
        );
    }

    #[test]
    fn wrong_types_and_invalid_values_name_the_key() {
        assert_eq!(
            parse_err("[training]\nbatch_size = \"big\"\n", Format::Toml),
            "`training.batch_size`: invalid type: string \"big\", expected a whole number of at least 0"
        );
        assert_eq!(
            parse_err(
                "[model]\namp_activation = \"swsh\"\n[training]\n",
                Format::Toml
            ),
            "`model.amp_activation`: \"swsh\" is not one of sigmoid, swish, softplus, relu (did you mean \"swish\"?)"
        );
        assert_eq!(
            parse_err("[inference]\nmodel_path = \"m\"\n", Format::Toml),
            "missing required `inference.test_data_file`: add `test_data_file` to the inference section"
        );
        assert_eq!(
            parse_err("[training]\nnll_weight = 2.0\n", Format::Toml),
            "`training.nll_weight` = 2.0 is invalid: must lie between 0.0 and 1.0"
        );
    }

    #[test]
    fn save_refuses_a_training_model_that_differs_from_the_document_model() {
        let mut doc = ConfigDocument::from_training(TrainingConfig::default());
        doc.model.N = 128;
        let dir = tempfile::tempdir().unwrap();
        let err = doc
            .save(&dir.path().join("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`training.model` = a model different from [model]"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }

    #[test]
    fn legacy_params_apply_training_then_inference() {
        let text = "[model]\nN = 128\n[training]\nn_subsample = 2048\ntest_data_file = \"a.npz\"\n[inference]\nmodel_path = \"m\"\ntest_data_file = \"./b.npz\"\n";
        let doc = ConfigDocument::parse(text, Format::Toml).unwrap().value;
        let params = doc.legacy_params();
        assert_eq!(
            params.get("test_data_file_path").and_then(|v| v.as_str()),
            Some("b.npz")
        );
        assert_eq!(
            params.get("n_subsample").and_then(|v| v.as_int()),
            Some(2048)
        );
        assert_eq!(
            params.get("output_prefix").and_then(|v| v.as_str()),
            Some("inference_outputs")
        );
    }
}
