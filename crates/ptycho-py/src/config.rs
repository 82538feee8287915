//! Configuration from Python: the Python config objects send the canonical sectioned layout
//! (`model`, `training`, `execution`) as JSON, and it is parsed and checked by the Rust config
//! exactly as a configuration file is (unknown keys refused with the nearest valid key, every
//! value validated, unsupported values refused), so the Python side holds no rules of its own.

use ptycho_config::{ConfigDocument, Format, LegacyParams, Overrides, TrainingConfig};
use ptycho_data::ScanData;
use ptycho_workflows::{ConfigInput, ResolvedConfig, resolve_config};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::{Map, Value};

use crate::errors::to_py;

/// A checked configuration and which of the values the data can supply were set by the caller.
#[derive(Debug, Clone)]
pub struct ConfigArg {
    document: ConfigDocument,
    sets_n: bool,
    sets_nphotons: bool,
}

impl ConfigArg {
    /// Parses the JSON text of a configuration (sectioned or upstream's flat layout); `None`
    /// is the default configuration.
    pub fn parse(json: Option<&str>) -> PyResult<Self> {
        let text = json.unwrap_or("{}");
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PyValueError::new_err(format!("config: not valid JSON: {e}")))?;
        let document = ConfigDocument::parse(text, Format::Json)
            .map_err(|e| PyValueError::new_err(format!("config: {e}")))?
            .value;
        Ok(ConfigArg {
            document,
            sets_n: mentions(&value, "model", "N"),
            sets_nphotons: mentions(&value, "training", "nphotons"),
        })
    }

    /// The run configuration for `scan`: the scan's pattern size unless `model.N` is set, its
    /// photon count unless `training.nphotons` is set and the amplitudes are photon counts
    /// (as `ptycho train` does).
    pub fn resolve_for(&self, scan: &ScanData) -> PyResult<ResolvedConfig> {
        let mut document = self.document.clone();
        if document.training.is_none() {
            document.training = Some(TrainingConfig {
                model: document.model.clone(),
                ..TrainingConfig::default()
            });
        }
        let mut overrides = Overrides::new();
        if !self.sets_n {
            overrides.insert("model.N", scan.patch_size());
        }
        if !self.sets_nphotons && scan.amplitudes_are_photon_counts() {
            overrides.insert("training.nphotons", scan.mean_photons_per_pattern());
        }
        if !overrides.is_empty() {
            document = document
                .with_overrides(&overrides)
                .map_err(|e| {
                    PyValueError::new_err(format!("the data does not fit the configuration: {e}"))
                })?
                .value;
        }
        resolve_config(ConfigInput::Document(document), &mut LegacyParams::new()).map_err(to_py)
    }
}

/// Whether the JSON configuration sets `key` of `section` (sectioned layout) or `key` at the
/// top level (flat layout).
fn mentions(value: &Value, section: &str, key: &str) -> bool {
    let in_section = value
        .get(section)
        .and_then(Value::as_object)
        .is_some_and(|map| map.contains_key(key));
    in_section || value.get(key).is_some()
}

/// Checks a configuration and returns every field's effective value as JSON: the sections
/// `model`, `training` and `execution`, defaults filled in.
#[pyfunction]
#[pyo3(signature = (config_json))]
pub fn check_config(config_json: &str) -> PyResult<String> {
    let arg = ConfigArg::parse(Some(config_json))?;
    Ok(effective(&arg.document).to_string())
}

/// The sections of `document` with every field, for Python.
pub fn effective(document: &ConfigDocument) -> Value {
    let training = document.training.clone().unwrap_or_else(|| TrainingConfig {
        model: document.model.clone(),
        ..TrainingConfig::default()
    });
    let mut root = Map::new();
    root.insert("model".into(), to_value(&training.model));
    let mut training = to_value(&training);
    if let Value::Object(map) = &mut training {
        map.remove("model");
    }
    root.insert("training".into(), training);
    root.insert("execution".into(), to_value(&document.execution));
    Value::Object(root)
}

/// The effective configuration of a trained or loaded model (its training config).
pub fn training_effective(training: &TrainingConfig) -> Value {
    effective(&ConfigDocument::from_training(training.clone()))
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
