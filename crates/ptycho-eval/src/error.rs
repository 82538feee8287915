//! Error type of the evaluation crate: every failure names the input it concerns, what was
//! expected and what was found.

use thiserror::Error;

/// Everything that can go wrong while evaluating or stitching a reconstruction.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EvalError {
    /// Two images that must have the same shape do not.
    #[error("{what}: shapes differ, expected {expected:?} (rows, cols), found {found:?}")]
    ShapeMismatch {
        what: &'static str,
        expected: (usize, usize),
        found: (usize, usize),
    },
    /// An image is too small for the requested operation.
    #[error("{what}: image of {found:?} (rows, cols) is too small, need at least {need}")]
    TooSmall {
        what: &'static str,
        need: String,
        found: (usize, usize),
    },
    /// A parameter is outside its valid range.
    #[error("{what}: expected {expected}, found {found}")]
    InvalidParameter {
        what: &'static str,
        expected: String,
        found: String,
    },
    /// A computation would divide by zero or produce a non-finite value.
    #[error("{what}: {detail}")]
    Degenerate { what: &'static str, detail: String },
    /// Writing an output file failed.
    #[error("writing {path}: {detail}")]
    Write { path: String, detail: String },
}

/// Shorthand result type of this crate.
pub type Result<T> = std::result::Result<T, EvalError>;

/// Checks that two (rows, cols) shapes agree.
pub(crate) fn ensure_same_shape(
    what: &'static str,
    expected: (usize, usize),
    found: (usize, usize),
) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(EvalError::ShapeMismatch {
            what,
            expected,
            found,
        })
    }
}
