//! The names things get in MLflow: metric, param and tag keys checked against MLflow's own rule
//! (so that every target refuses the same keys a server would), param values cut to MLflow's
//! limit, artifact files and the paths they get under a run's artifact root.

use std::path::{Path, PathBuf};

use super::TrackingError;

/// MLflow's longest metric, param or tag key.
const MAX_KEY_CHARS: usize = 250;

/// MLflow's longest param value; a server refuses longer ones.
pub(crate) const MAX_PARAM_VALUE_CHARS: usize = 6000;

/// Checks `key` the way MLflow's `_validate_metric_name` / `_validate_param_name` do: allowed
/// characters, and a relative path that `posixpath.normpath` leaves unchanged (the file store
/// turns keys into file names).
pub(crate) fn validate_key(kind: &'static str, key: &str) -> Result<(), TrackingError> {
    let chars_ok = key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/'));
    let path_ok = !key.is_empty()
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if chars_ok && path_ok && key.chars().count() <= MAX_KEY_CHARS {
        Ok(())
    } else {
        Err(TrackingError::InvalidKey {
            kind,
            key: key.to_owned(),
        })
    }
}

/// `value` cut to MLflow's limit: a param is usually a stringified setting, and its head is
/// worth more than refusing the whole param batch.
pub(crate) fn param_value(value: &str) -> String {
    match value.char_indices().nth(MAX_PARAM_VALUE_CHARS) {
        Some((cut, _)) => value[..cut].to_owned(),
        None => value.to_owned(),
    }
}

/// A settings tree (e.g. a serialised config) as MLflow params: one per leaf, keyed by its
/// dotted path (`model.n_filters_scale`, `list.0`), strings as they are, other leaves as JSON.
pub fn flatten_params(tree: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    walk(&key(k), v, out);
                }
            }
            serde_json::Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    walk(&key(&i.to_string()), v, out);
                }
            }
            serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", tree, &mut out);
    out
}

/// The files to upload for `local` (a file, or a directory walked recursively, in name order)
/// with the artifact path each gets: `<artifact_dir>/<name>[/<path inside the directory>]`.
pub(crate) fn artifact_files(
    local: &Path,
    artifact_dir: Option<&str>,
) -> Result<Vec<(PathBuf, String)>, TrackingError> {
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| TrackingError::MissingArtifact {
            path: local.to_owned(),
        })?;
    let prefix = match artifact_dir.map(|d| d.trim_matches('/')) {
        Some(dir) if !dir.is_empty() => format!("{dir}/{name}"),
        _ => name,
    };
    let mut files = Vec::new();
    if local.is_file() {
        files.push((local.to_owned(), prefix));
    } else if local.is_dir() {
        walk(local, &prefix, &mut files)?;
    } else {
        return Err(TrackingError::MissingArtifact {
            path: local.to_owned(),
        });
    }
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(PathBuf, String)>) -> Result<(), TrackingError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(TrackingError::io(dir, "listing the artifact directory"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TrackingError::io(dir, "listing the artifact directory"))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let relative = format!("{prefix}/{name}");
        if path.is_dir() {
            walk(&path, &relative, out)?;
        } else {
            out.push((path, relative));
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, MLflow's timestamp unit.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflows_rule() {
        for good in ["loss", "val_loss", "train/loss", "lr 1:2", "a.b-c"] {
            assert!(validate_key("metric", good).is_ok(), "{good}");
        }
        let long = "k".repeat(251);
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "a/../b",
            "..",
            "a$b",
            long.as_str(),
        ] {
            let message = validate_key("metric", bad).unwrap_err().to_string();
            assert!(message.starts_with("mlflow metric name"), "{message}");
        }
    }

    #[test]
    fn settings_trees_flatten_to_dotted_params() {
        let tree = serde_json::json!({
            "model": {"n": 64, "name": "pinn", "probe": {"big": true}},
            "lr": 0.001,
            "sizes": [1, 2],
            "empty": [],
            "none": null
        });
        let mut params = flatten_params(&tree);
        params.sort();
        let expected: Vec<(String, String)> = [
            ("empty", "[]"),
            ("lr", "0.001"),
            ("model.n", "64"),
            ("model.name", "pinn"),
            ("model.probe.big", "true"),
            ("none", "null"),
            ("sizes.0", "1"),
            ("sizes.1", "2"),
        ]
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(params, expected);
    }

    #[test]
    fn long_param_values_are_cut_at_6000_chars() {
        assert_eq!(param_value("short"), "short");
        let long = "é".repeat(6001);
        let cut = param_value(&long);
        assert_eq!(cut.chars().count(), 6000);
        assert!(long.starts_with(&cut));
    }

    #[test]
    fn directories_become_artifact_paths_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("sub")).unwrap();
        std::fs::write(bundle.join("b.txt"), "b").unwrap();
        std::fs::write(bundle.join("a.txt"), "a").unwrap();
        std::fs::write(bundle.join("sub/c.txt"), "c").unwrap();
        let paths: Vec<String> = artifact_files(&bundle, Some("model/"))
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert_eq!(
            paths,
            [
                "model/bundle/a.txt",
                "model/bundle/b.txt",
                "model/bundle/sub/c.txt"
            ]
        );
        let single = artifact_files(&bundle.join("a.txt"), None).unwrap();
        assert_eq!(single, [(bundle.join("a.txt"), "a.txt".to_owned())]);
        let missing = artifact_files(&dir.path().join("nope"), None).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
