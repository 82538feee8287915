//! The three file formats (TOML, YAML, JSON): detection by extension, parsing into a generic
//! JSON value, rendering, and turning serde errors into messages that name the key.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ConfigError, Result};

/// A configuration file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
    Json,
}

impl Format {
    /// The format named by the file extension (`.toml`, `.yaml`/`.yml`, `.json`).
    pub fn from_path(path: &Path) -> Result<Format> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "toml" => Ok(Format::Toml),
            "yaml" | "yml" => Ok(Format::Yaml),
            "json" => Ok(Format::Json),
            _ => Err(ConfigError::UnknownFormat {
                path: path.to_path_buf(),
                extension,
            }),
        }
    }

    /// Human name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        }
    }

    /// Parses text into a generic value (TOML/YAML mappings become JSON objects).
    pub fn parse(self, text: &str) -> Result<Value> {
        let syntax = |message: String| ConfigError::Syntax {
            format: self.name(),
            message: one_line(&message),
        };
        match self {
            Format::Toml => toml::from_str::<Value>(text).map_err(|e| syntax(e.to_string())),
            Format::Yaml => {
                if text.trim().is_empty() {
                    return Ok(Value::Object(Default::default()));
                }
                serde_norway::from_str::<Value>(text).map_err(|e| syntax(e.to_string()))
            }
            Format::Json => serde_json::from_str::<Value>(text).map_err(|e| syntax(e.to_string())),
        }
    }

    /// Renders a value (nulls must already be removed for TOML).
    pub fn render(self, value: &Value) -> Result<String> {
        self.render_serializable(value)
    }

    /// Renders anything serializable, keeping its key order.
    pub fn render_serializable<T: serde::Serialize>(self, value: &T) -> Result<String> {
        let failed = |message: String| ConfigError::Syntax {
            format: self.name(),
            message: one_line(&message),
        };
        match self {
            Format::Toml => toml::to_string_pretty(value).map_err(|e| failed(e.to_string())),
            Format::Yaml => serde_norway::to_string(value).map_err(|e| failed(e.to_string())),
            Format::Json => serde_json::to_string_pretty(value)
                .map(|mut text| {
                    text.push('\n');
                    text
                })
                .map_err(|e| failed(e.to_string())),
        }
    }
}

/// Collapses a multi-line parser message into one line, dropping the source excerpt TOML
/// prints (`1 | [training`, `  |  ^`): "TOML parse error at line 1, column 10: unclosed table".
fn one_line(message: &str) -> String {
    let is_excerpt = |line: &str| {
        line.split_once('|')
            .is_some_and(|(gutter, _)| gutter.trim().chars().all(|c| c.is_ascii_digit()))
            || line.chars().all(|c| "|^- ".contains(c))
    };
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !is_excerpt(line))
        .collect::<Vec<_>>()
        .join(": ")
}

/// Deserializes a typed config from a generic value; a wrong-typed value is reported with its
/// qualified key (`section.field`) and a plain-words expectation.
pub fn typed<T: DeserializeOwned>(section: &str, value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let key = match (section.is_empty(), path.as_str()) {
            (true, _) => path.clone(),
            (false, ".") => section.to_owned(),
            (false, _) => format!("{section}.{path}"),
        };
        let mut message = plain_words(&error.inner().to_string());
        if let Some(quoted) = quoted_scalar(&message) {
            message.push_str(&format!(" (write {quoted} without quotes)"));
        }
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            return ConfigError::Missing {
                field: if section.is_empty() {
                    field.to_owned()
                } else {
                    format!("{section}.{field}")
                },
                fix: format!(
                    "add `{field}` to the {} section",
                    if section.is_empty() {
                        "top-level"
                    } else {
                        section
                    }
                ),
            };
        }
        ConfigError::WrongType { key, message }
    })
}

/// For "invalid type: string \"16\", expected ..." where the string is a number or boolean,
/// the unquoted text (the usual mistake is quoting a number in TOML or JSON).
fn quoted_scalar(message: &str) -> Option<String> {
    let rest = message.strip_prefix("invalid type: string \"")?;
    let (text, _) = rest.split_once('"')?;
    let is_scalar = text.parse::<f64>().is_ok() || text == "true" || text == "false";
    let expects_string = message.ends_with("expected a string");
    (is_scalar && !expects_string).then(|| text.to_owned())
}

/// Replaces Rust type names in serde messages with words a user knows.
fn plain_words(message: &str) -> String {
    message
        .replace("expected usize", "expected a whole number of at least 0")
        .replace("expected u64", "expected a whole number of at least 0")
        .replace("expected f64", "expected a number")
        .replace("expected a boolean", "expected true or false")
        .replace("expected a borrowed string", "expected a string")
        .replace(
            "data did not match any variant of untagged enum Devices",
            "expected a positive whole number or \"auto\"",
        )
        .replace(
            "data did not match any variant of untagged enum Deterministic",
            "expected true, false or \"warn\"",
        )
}

/// Removes null values recursively (TOML has no null; an absent key means "unset").
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_and_rejects_others() {
        assert_eq!(Format::from_path(Path::new("a.yml")).unwrap(), Format::Yaml);
        assert_eq!(
            Format::from_path(Path::new("a.JSON")).unwrap(),
            Format::Json
        );
        let err = Format::from_path(Path::new("a.ini"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "a.ini: unsupported config format \"ini\" (use .toml, .yaml, .yml or .json)"
        );
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let err = Format::Toml.parse("a = = 1\n").unwrap_err().to_string();
        assert!(err.starts_with("TOML syntax error:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = Format::Toml.parse("[training\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "TOML syntax error: TOML parse error at line 1, column 10: unclosed table, expected `]`"
        );
    }
}
