//! Error type of the model crate: bad specifications, bad batches, failed reads of device tensors.

use thiserror::Error;

/// Everything that can go wrong while building, running or training the model.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A specification field holds a value the model cannot use.
    #[error("invalid model setting `{field}`: expected {expected}, found {found}")]
    InvalidSetting {
        /// The config field name (upstream spelling).
        field: &'static str,
        /// What would have been accepted.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A batch or array handed to the model has the wrong shape.
    #[error("shape mismatch for {what}: expected {expected}, found {found}")]
    Shape {
        /// Which array.
        what: &'static str,
        /// The expected shape.
        expected: String,
        /// The shape that was given.
        found: String,
    },
    /// The data source failed to deliver a batch.
    #[error("data source failed: {0}")]
    Source(String),
    /// Training produced a non-finite loss.
    #[error("training diverged: loss is {loss} at epoch {epoch}, step {step}")]
    Diverged {
        /// The offending loss value.
        loss: f64,
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch (0-based).
        step: usize,
    },
    /// Reading a tensor back from the device failed.
    #[error("reading a tensor from the device failed: {0}")]
    Readback(String),
    /// The caller cancelled training (see [`crate::train::CancelToken`]).
    #[error("training cancelled at epoch {epoch}, step {step}")]
    Cancelled {
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch (0-based) that did not run.
        step: usize,
    },
    /// An observer stopped training at the end of an epoch (e.g. a checkpoint write failed).
    #[error("training stopped after epoch {epoch}: {source}")]
    Observer {
        /// Epoch (0-based).
        epoch: usize,
        /// What the observer reported.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A run cannot continue from the given training state.
    #[error("cannot resume training: {0}")]
    Resume(String),
    /// Writing an output file failed.
    #[error("writing {path} failed: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ModelError {
    /// Shorthand for [`ModelError::InvalidSetting`].
    pub fn setting(field: &'static str, expected: impl Into<String>, found: impl ToString) -> Self {
        Self::InvalidSetting {
            field,
            expected: expected.into(),
            found: found.to_string(),
        }
    }
}
