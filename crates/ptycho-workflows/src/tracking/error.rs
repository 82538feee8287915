//! What can go wrong while tracking a run. These errors stay inside [`super::Tracker`]: it turns
//! the first one into a warning and counts the rest, so training code never handles them.

use std::path::PathBuf;

/// One failed tracking operation.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error(
        "MLFLOW_TRACKING_URI is {uri:?}: expected an http:// or https:// URL of an MLflow \
         server, a file: URI or a plain path naming a local mlruns store, or \"memory\""
    )]
    UnsupportedUri { uri: String },

    /// The server could not be reached at all (connection refused, timeout, TLS, DNS).
    #[error("{method} {url}: cannot reach the mlflow server: {reason}")]
    Unreachable {
        method: &'static str,
        url: String,
        reason: String,
    },

    /// The server answered, but not with success.
    #[error("{method} {url}: expected a 2xx answer from the mlflow server, found {status}: {body}")]
    Refused {
        method: &'static str,
        url: String,
        status: u16,
        body: String,
    },

    #[error("{url}: expected {expected} in the mlflow server's answer, found {found}")]
    BadResponse {
        url: String,
        expected: &'static str,
        found: String,
    },

    #[error(
        "artifact_uri {uri:?} of run {run_id}: expected an mlflow-artifacts: URI that the \
         tracking server proxies (start it with --serve-artifacts)"
    )]
    ArtifactsNotProxied { uri: String, run_id: String },

    #[error("{path}: {action} failed: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: expected MLflow metadata in YAML, found unreadable content: {reason}")]
    Yaml { path: PathBuf, reason: String },

    #[error(
        "experiment {name:?} in {path} is deleted: expected an active experiment (restore it \
         or pick another experiment name)"
    )]
    DeletedExperiment { name: String, path: PathBuf },

    #[error(
        "mlflow {kind} name {key:?}: expected 1 to 250 alphanumerics, '_', '-', '.', ' ', ':' \
         or '/' forming a relative path without '.', '..' or empty parts"
    )]
    InvalidKey { kind: &'static str, key: String },

    #[error("param {key:?} in {path}: already logged as {logged:?}, found the new value {new:?}")]
    ParamChanged {
        key: String,
        path: PathBuf,
        logged: String,
        new: String,
    },

    #[error("artifact {path}: expected a file or a directory to log, found neither")]
    MissingArtifact { path: PathBuf },
}

impl TrackingError {
    /// Whether the server is out of reach, so that further requests would only wait out their
    /// timeouts too.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            path,
            action,
            source,
        }
    }
}
