//! One value of the legacy params map and the legacy defaults (upstream's `DEFAULT_CFG`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pathstr::python_path_string;

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
