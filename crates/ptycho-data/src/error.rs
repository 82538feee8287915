//! The error type of the data pipeline: every variant names the file (or dataset), the key or
//! parameter, what was expected and what was found, so a beamline user can fix the input.

use std::path::{Path, PathBuf};

/// What kind of contract violation an [`DataError::Invalid`] describes; lets callers and tests
/// match on the problem without parsing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The array has the wrong number of dimensions.
    Rank,
    /// The array has an element type the contract does not allow.
    DType,
    /// The array's shape disagrees with another array (e.g. probe vs diffraction).
    Shape,
    /// Arrays that must have one entry per scan position have different lengths.
    Length,
    /// NaN or infinite values.
    NonFinite,
    /// Negative values where amplitudes (>= 0) are required.
    Negative,
    /// The diffraction stack holds intensities (counts) where amplitudes are expected.
    Intensity,
    /// The file is not a readable `.npz`/`.npy`.
    Format,
}

/// Errors of the data pipeline.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{}: {action}: {source}", file.display())]
    Io {
        file: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A required key is absent.
    #[error("{}: missing key `{key}`: {hint}", file.display())]
    MissingKey {
        file: PathBuf,
        key: String,
        hint: String,
    },
    /// A key is present but violates the contract.
    #[error("{}: key `{key}`: expected {expected}, found {found}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        problem: Problem,
        expected: String,
        found: String,
    },
    /// A grouping, container or simulation parameter is out of range.
    #[error("invalid parameter `{name}`: expected {expected}, found {found}")]
    Parameter {
        name: &'static str,
        expected: String,
        found: String,
    },
    /// The file needs support this build leaves out (HDF5 without the `hdf5` cargo feature).
    #[error(
        "{}: {what}, but HDF5 support is not built in: rebuild with `{enable}` (it links the system libhdf5: run .ci/setup-hdf5 or install libhdf5-dev)",
        file.display()
    )]
    NotBuiltIn {
        file: PathBuf,
        what: String,
        enable: String,
    },
    /// A memory-mapped cache does not match its inputs or configuration.
    #[error("{}: stale cache: {reason}", dir.display())]
    StaleCache { dir: PathBuf, reason: String },
}

impl DataError {
    pub(crate) fn io(file: &Path, action: &'static str, source: std::io::Error) -> Self {
        DataError::Io {
            file: file.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn invalid(
        file: &Path,
        key: &str,
        problem: Problem,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        DataError::Invalid {
            file: file.to_path_buf(),
            key: key.to_string(),
            problem,
            expected: expected.into(),
            found: found.into(),
        }
    }

    pub(crate) fn parameter(
        name: &'static str,
        expected: impl Into<String>,
        found: impl std::fmt::Display,
    ) -> Self {
        DataError::Parameter {
            name,
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    /// The contract problem, when this is an [`DataError::Invalid`].
    pub fn problem(&self) -> Option<Problem> {
        match self {
            DataError::Invalid { problem, .. } => Some(*problem),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
