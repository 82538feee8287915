//! How errors of the library become Python exceptions: bad input (arguments, configuration,
//! data files, bundles, shapes that disagree) raises `ValueError`, a missing or unwritable file
//! `OSError`, a cancelled run `KeyboardInterrupt`, and a failure while computing
//! `RuntimeError`; every one carries the library's own message.

use ptycho_model::ModelError;
use ptycho_workflows::WorkflowError;
use pyo3::PyErr;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};

/// The Python exception for a workflow error.
pub fn to_py(err: WorkflowError) -> PyErr {
    let message = err.to_string();
    match err {
        WorkflowError::Model(model) => model_error(model, message),
        WorkflowError::Config(_)
        | WorkflowError::Data(_)
        | WorkflowError::Bundle(_)
        | WorkflowError::Device(_)
        | WorkflowError::Mismatch { .. }
        | WorkflowError::Checkpoint { .. } => PyValueError::new_err(message),
        WorkflowError::Io { .. } => PyOSError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

fn model_error(err: ModelError, message: String) -> PyErr {
    match err {
        ModelError::Cancelled { .. } => PyKeyboardInterrupt::new_err(message),
        ModelError::InvalidSetting { .. } | ModelError::Shape { .. } | ModelError::Resume(_) => {
            PyValueError::new_err(message)
        }
        ModelError::Io { .. } => PyOSError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

/// `ValueError` for an argument: `{name}: expected {expected}, found {found}`.
pub fn bad_argument(
    name: &str,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> PyErr {
    PyValueError::new_err(format!("{name}: expected {expected}, found {found}"))
}
