//! Bridge overrides: an ordered set of `field = value` pairs that win over everything the bridge
//! derives from the PyTorch-side configuration (upstream's `overrides=dict(...)`).

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{ConfigError, Result};

/// Field → value overrides, in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    entries: IndexMap<String, Value>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Overrides::default()
    }

    /// Adds (or replaces) one override; chainable.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds (or replaces) one override.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.entries.insert(key.to_owned(), value.into());
    }

    /// Parses `KEY=VALUE` (the CLI's `--set`): VALUE is read as JSON when it is valid JSON
    /// (`512`, `1e9`, `true`, `null`, `[2, 2]`), otherwise taken as a string (`train.npz`).
    pub fn insert_assignment(&mut self, text: &str) -> Result<()> {
        let Some((key, raw)) = text.split_once('=') else {
            return Err(ConfigError::OverrideSyntax {
                text: text.to_owned(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::OverrideSyntax {
                text: text.to_owned(),
            });
        }
        let raw = raw.trim();
        let value =
            serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
        self.insert(key, value);
        Ok(())
    }

    /// True when `key` was given.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The value given for `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(key)
    }

    /// Overrides in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// True when there is no override.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse_json_or_strings() {
        let mut o = Overrides::new();
        o.insert_assignment("n_groups=512").unwrap();
        o.insert_assignment("nphotons=1e9").unwrap();
        o.insert_assignment("train_data_file=data/train.npz")
            .unwrap();
        o.insert_assignment("debug=true").unwrap();
        assert_eq!(o.get("n_groups"), Some(&Value::from(512)));
        assert_eq!(o.get("nphotons").and_then(Value::as_f64), Some(1e9));
        assert_eq!(
            o.get("train_data_file"),
            Some(&Value::from("data/train.npz"))
        );
        assert_eq!(o.get("debug"), Some(&Value::Bool(true)));
        let err = o.insert_assignment("n_groups").unwrap_err().to_string();
        assert_eq!(
            err,
            "override \"n_groups\" is not of the form KEY=VALUE (e.g. n_groups=512)"
        );
    }
}
