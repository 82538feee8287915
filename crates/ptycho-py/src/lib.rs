//! The native part of the `ptychopinn` Python package (`ptychopinn._native`), built with PyO3
//! and maturin as an abi3 extension (CPython 3.9 and later). The Python modules in
//! `python/ptychopinn/` wrap it with typed functions and config classes; this crate only
//! converts: numpy arrays and mappings to [`ptycho_data::ScanData`] ([`arrays`]), JSON
//! configurations to the canonical config ([`config`]), library errors to Python exceptions
//! ([`errors`]), training progress to a Python callback with Ctrl-C handling ([`progress`]).
//!
//! * [`train::train`]: scan in, trained [`model::Model`] out;
//! * [`model::load_bundle`], [`model::Model`]: reconstruct, save, configuration, history;
//! * [`simulate::simulate`]: a synthetic scan with ground truth;
//! * [`config::check_config`]: a configuration checked, every field's effective value out.

pub mod arrays;
pub mod config;
pub mod errors;
pub mod model;
pub mod progress;
pub mod simulate;
pub mod train;

use pyo3::prelude::*;

/// The `ptychopinn._native` extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(model::load_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(simulate::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(config::check_config, m)?)?;
    m.add_class::<model::Model>()?;
    Ok(())
}
