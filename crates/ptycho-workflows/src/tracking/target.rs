//! Where a run is tracked, read from `MLFLOW_TRACKING_URI` the way MLflow reads it: an
//! `http(s)` URL is a tracking server, a `file:` URI or a plain path is a local `mlruns` store,
//! `memory` keeps everything in the process. Database and Databricks URIs need MLflow's own
//! Python stores, so they are refused up front instead of writing somewhere unexpected.

use std::fmt;
use std::path::{Path, PathBuf};

use super::TrackingError;

/// The environment variable MLflow itself reads.
pub const TRACKING_URI_VAR: &str = "MLFLOW_TRACKING_URI";

/// The experiment-name variable MLflow itself reads.
pub const EXPERIMENT_NAME_VAR: &str = "MLFLOW_EXPERIMENT_NAME";

/// A tracking destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingTarget {
    /// An MLflow tracking server; `base_url` has no trailing slash.
    Rest { base_url: String },
    /// A local store in MLflow's file layout (`<root>/<experiment id>/<run id>/...`).
    FileStore { root: PathBuf },
    /// Nothing written anywhere; the run is kept in memory for inspection.
    Memory,
}

impl TrackingTarget {
    /// The target named by `MLFLOW_TRACKING_URI`; unset or empty means `<output_dir>/mlruns`.
    pub fn from_env(output_dir: &Path) -> Result<Self, TrackingError> {
        let uri = std::env::var(TRACKING_URI_VAR).ok();
        Self::from_uri(uri.as_deref(), output_dir)
    }

    /// The target a tracking URI names; `None` or an empty one means `<output_dir>/mlruns`.
    pub fn from_uri(uri: Option<&str>, output_dir: &Path) -> Result<Self, TrackingError> {
        let Some(uri) = uri.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Self::FileStore {
                root: output_dir.join("mlruns"),
            });
        };
        if uri == "memory" {
            return Ok(Self::Memory);
        }
        let unsupported = || TrackingError::UnsupportedUri {
            uri: uri.to_owned(),
        };
        // MLflow gives these bare words a meaning of their own (a Databricks workspace).
        if matches!(uri, "databricks" | "databricks-uc" | "uc") {
            return Err(unsupported());
        }
        match scheme(uri) {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
                let rest = &uri[s.len() + 1..];
                let host = rest.strip_prefix("//").unwrap_or("");
                if host.split('/').next().unwrap_or("").is_empty() {
                    return Err(unsupported());
                }
                Ok(Self::Rest {
                    base_url: uri.trim_end_matches('/').to_owned(),
                })
            }
            Some(s) if s.eq_ignore_ascii_case("file") => Ok(Self::FileStore {
                root: file_uri_path(&uri[s.len() + 1..]).ok_or_else(unsupported)?,
            }),
            Some(_) => Err(unsupported()),
            None => Ok(Self::FileStore {
                root: PathBuf::from(uri),
            }),
        }
    }
}

impl fmt::Display for TrackingTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rest { base_url } => write!(f, "mlflow server {base_url}"),
            Self::FileStore { root } => write!(f, "mlflow store {}", root.display()),
            Self::Memory => f.write_str("memory"),
        }
    }
}

/// `MLFLOW_EXPERIMENT_NAME` when set and not empty, else `default`.
pub fn experiment_name_from_env(default: &str) -> String {
    std::env::var(EXPERIMENT_NAME_VAR)
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The URI scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`), if `uri` has one.
/// One-letter schemes are not taken as schemes, so a Windows drive (`C:\runs`) stays a path.
fn scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_is_letter && rest_ok && scheme.len() > 1).then_some(scheme)
}

/// The local path of a `file:` URI after its scheme: `/x`, `///x`, `//localhost/x` or a
/// relative `x`, percent-decoded. `None` for another host, which is not a local store.
fn file_uri_path(after_scheme: &str) -> Option<PathBuf> {
    let path = match after_scheme.strip_prefix("//") {
        Some(with_host) => {
            let (host, path) = with_host.split_at(with_host.find('/').unwrap_or(with_host.len()));
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return None;
            }
            path
        }
        None => after_scheme,
    };
    if path.is_empty() {
        return None;
    }
    Some(PathBuf::from(percent_decode(path)?))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: Option<&str>) -> Result<TrackingTarget, TrackingError> {
        TrackingTarget::from_uri(uri, Path::new("/out"))
    }

    #[test]
    fn server_urls_are_rest_targets_without_trailing_slash() {
        assert_eq!(
            parse(Some("http://127.0.0.1:5000/")).unwrap(),
            TrackingTarget::Rest {
                base_url: "http://127.0.0.1:5000".into()
            }
        );
        assert_eq!(
            parse(Some("https://mlflow.example.org/prefix")).unwrap(),
            TrackingTarget::Rest {
                base_url: "https://mlflow.example.org/prefix".into()
            }
        );
    }

    #[test]
    fn file_uris_and_plain_paths_are_file_stores() {
        let store = |p: &str| TrackingTarget::FileStore { root: p.into() };
        assert_eq!(parse(Some("file:/x/mlruns")).unwrap(), store("/x/mlruns"));
        assert_eq!(
            parse(Some("file:///x/ml%20runs")).unwrap(),
            store("/x/ml runs")
        );
        assert_eq!(parse(Some("file://localhost/x")).unwrap(), store("/x"));
        assert_eq!(parse(Some("file:rel/mlruns")).unwrap(), store("rel/mlruns"));
        assert_eq!(parse(Some("/abs/mlruns")).unwrap(), store("/abs/mlruns"));
        assert_eq!(parse(Some("./mlruns")).unwrap(), store("./mlruns"));
    }

    #[test]
    fn unset_or_empty_means_the_output_directory() {
        let default = TrackingTarget::FileStore {
            root: "/out/mlruns".into(),
        };
        assert_eq!(parse(None).unwrap(), default);
        assert_eq!(parse(Some("  ")).unwrap(), default);
    }

    #[test]
    fn memory_is_memory() {
        assert_eq!(parse(Some("memory")).unwrap(), TrackingTarget::Memory);
    }

    #[test]
    fn other_schemes_are_refused_naming_the_variable_and_the_forms() {
        for uri in [
            "databricks",
            "databricks://profile",
            "sqlite:///mlflow.db",
            "postgresql://u@h/db",
            "http://",
            "file://otherhost/x",
        ] {
            let message = parse(Some(uri)).unwrap_err().to_string();
            assert!(message.contains("MLFLOW_TRACKING_URI"), "{message}");
            assert!(message.contains(&format!("{uri:?}")), "{message}");
            assert!(message.contains("http:// or https://"), "{message}");
            assert!(message.contains("file: URI or a plain path"), "{message}");
            assert!(message.contains("\"memory\""), "{message}");
        }
    }

    #[test]
    fn a_drive_letter_is_a_path_not_a_scheme() {
        assert_eq!(scheme("C:\\runs"), None);
        assert_eq!(scheme("https://h"), Some("https"));
        assert_eq!(scheme("no-scheme/here"), None);
    }
}
