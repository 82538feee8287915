//! The error type of the workflows: each variant names the stage that failed and wraps the
//! error of the crate that did the work.

use std::path::PathBuf;

/// Anything that can go wrong in a workflow.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// Configuration could not be built, bridged or validated.
    #[error(transparent)]
    Config(#[from] ptycho_config::ConfigError),
    /// Data could not be loaded, grouped or batched.
    #[error(transparent)]
    Data(#[from] ptycho_data::DataError),
    /// The model refused a setting or failed while training.
    #[error(transparent)]
    Model(#[from] ptycho_model::ModelError),
    /// The bundle could not be saved or loaded.
    #[error(transparent)]
    Bundle(#[from] ptycho_bundle::BundleError),
    /// The requested compute device is not built in or not present.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// Stitching, metrics or image export failed.
    #[error(transparent)]
    Eval(#[from] ptycho_eval::EvalError),
    /// `MLFLOW_TRACKING_URI` names nothing this program can log to.
    #[error(transparent)]
    Tracking(#[from] crate::tracking::TrackingError),
    /// Model weights could not be converted to or from named tensors.
    #[error("weights: {0}")]
    Weights(String),
    /// Two inputs of one workflow disagree (e.g. the data's N and the model's N).
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        /// What disagrees.
        what: String,
        /// What the workflow needed.
        expected: String,
        /// What it got.
        found: String,
    },
    /// A training checkpoint cannot be resumed from.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is missing or wrong.
        problem: String,
    },
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl WorkflowError {
    /// A mismatch between what a workflow needed and what it got.
    pub fn mismatch(
        what: impl Into<String>,
        expected: impl std::fmt::Display,
        found: impl std::fmt::Display,
    ) -> Self {
        WorkflowError::Mismatch {
            what: what.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// Result of the workflows.
pub type Result<T> = std::result::Result<T, WorkflowError>;
