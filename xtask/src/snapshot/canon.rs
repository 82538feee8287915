//! Canonical snapshot text: what is compared and what a baseline file holds.
//!
//! JSON gets sorted keys and two-space indentation (Python's `json.dump(sort_keys=True,
//! indent=2)`, the form of upstream's `baseline_params.json`), volatile values replaced by
//! placeholders, and is compared structurally with a stated float tolerance before any text
//! diff is shown. Text gets `\n` line ends and the same path redaction.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Float tolerance when a generator states none: relative, with an absolute floor at 1.
pub const DEFAULT_FLOAT_TOLERANCE: f64 = 1e-9;

/// What is volatile in a generator's output.
#[derive(Debug, Clone, Default)]
pub struct Redactions<'a> {
    /// JSON keys whose values are replaced by `"[redacted]"`.
    pub keys: &'a [String],
    /// Absolute path prefixes replaced by a placeholder, e.g. the workspace root by `{root}`.
    pub paths: Vec<(String, &'static str)>,
}

impl<'a> Redactions<'a> {
    pub fn new(keys: &'a [String], root: &Path, tmp: Option<&Path>) -> Redactions<'a> {
        let mut paths = vec![(root.display().to_string(), "{root}")];
        if let Some(tmp) = tmp {
            paths.insert(0, (tmp.display().to_string(), "{tmp}"));
        }
        Redactions { keys, paths }
    }

    fn text(&self, text: &str) -> String {
        self.paths
            .iter()
            .fold(text.to_owned(), |acc, (path, placeholder)| {
                acc.replace(path.as_str(), placeholder)
            })
    }
}

pub fn canonical_json(raw: &str, redactions: &Redactions<'_>) -> Result<Value> {
    let value: Value = serde_json::from_str(raw).context("the snapshot is not valid JSON")?;
    Ok(redact(value, redactions))
}

fn redact(value: Value, redactions: &Redactions<'_>) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let map: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| {
                    let v = if redactions.keys.contains(&k) {
                        Value::String("[redacted]".to_owned())
                    } else {
                        redact(v, redactions)
                    };
                    (k, v)
                })
                .collect();
            Value::Object(map)
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| redact(v, redactions)).collect())
        }
        Value::String(s) if OffsetDateTime::parse(&s, &Rfc3339).is_ok() => {
            Value::String("[timestamp]".to_owned())
        }
        Value::String(s) => Value::String(redactions.text(&s)),
        other => other,
    }
}

/// Sorted-key, two-space JSON with no trailing newline.
pub fn render_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value always serialises")
}

pub fn canonical_text(raw: &str, redactions: &Redactions<'_>) -> String {
    let mut text = redactions.text(&raw.replace("\r\n", "\n"));
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Structural equality; numbers compare within `tolerance` relative to their magnitude (at
/// least 1), so `0.1 + 0.2` equals `0.3` but `64` never equals `65`.
pub fn json_equal(a: &Value, b: &Value, tolerance: f64) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= tolerance * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y, tolerance))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w, tolerance)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_matches_python_layout() {
        let none: Vec<String> = vec![];
        let red = Redactions::new(&none, Path::new("/nowhere"), None);
        let value =
            canonical_json(r#"{"b": 1, "a": {"d": true, "c": 500000000.0}}"#, &red).unwrap();
        assert_eq!(
            render_json(&value),
            "{\n  \"a\": {\n    \"c\": 500000000.0,\n    \"d\": true\n  },\n  \"b\": 1\n}"
        );
    }

    #[test]
    fn upstream_baseline_is_already_canonical() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let raw = std::fs::read_to_string(root.join("fixtures/baseline_params.json")).unwrap();
        let none: Vec<String> = vec![];
        let value = canonical_json(&raw, &Redactions::new(&none, root, None)).unwrap();
        assert_eq!(render_json(&value), raw);
    }

    #[test]
    fn redacts_keys_timestamps_and_local_paths_but_not_other_paths() {
        let keys = vec!["created_by".to_owned()];
        let red = Redactions::new(
            &keys,
            Path::new("/work/repo"),
            Some(Path::new("/tmp/.tmpAB12")),
        );
        let raw = r#"{"created": "2026-11-29T16:40:12Z", "created_by": "me",
            "model": "/tmp/.tmpAB12/wts.h5.zip", "data": "/work/repo/fixtures/x.npz",
            "output_prefix": "/canonical/baseline/inference_outputs"}"#;
        let value = canonical_json(raw, &red).unwrap();
        assert_eq!(value["created"], "[timestamp]");
        assert_eq!(value["created_by"], "[redacted]");
        assert_eq!(value["model"], "{tmp}/wts.h5.zip");
        assert_eq!(value["data"], "{root}/fixtures/x.npz");
        assert_eq!(
            value["output_prefix"],
            "/canonical/baseline/inference_outputs"
        );
    }

    #[test]
    fn floats_compare_within_tolerance_only() {
        let a: Value = serde_json::json!({"x": 0.30000000000000004, "n": 64, "v": [1.0, 2.0]});
        let b: Value = serde_json::json!({"x": 0.3, "n": 64, "v": [1.0, 2.0]});
        assert!(json_equal(&a, &b, DEFAULT_FLOAT_TOLERANCE));
        let c: Value = serde_json::json!({"x": 0.3, "n": 65, "v": [1.0, 2.0]});
        assert!(!json_equal(&b, &c, DEFAULT_FLOAT_TOLERANCE));
        let d: Value = serde_json::json!({"x": 0.3001, "n": 64, "v": [1.0, 2.0]});
        assert!(!json_equal(&b, &d, DEFAULT_FLOAT_TOLERANCE));
        assert!(json_equal(&b, &d, 1e-3));
        let e: Value = serde_json::json!({"x": 0.3, "n": 64, "v": [1.0]});
        assert!(!json_equal(&b, &e, 1.0));
    }

    #[test]
    fn text_gets_unix_line_ends_and_a_final_newline() {
        let none: Vec<String> = vec![];
        let red = Redactions::new(&none, Path::new("/r"), None);
        assert_eq!(canonical_text("a\r\n/r/b", &red), "a\n{root}/b\n");
    }
}
