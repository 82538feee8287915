//! ptycho-data: the PtychoPINN data pipeline in Rust.
//!
//! - [`npz`]: numpy-compatible `.npz` reading and writing.
//! - [`contract`]: the canonical scan dataset ([`ScanData`]) and its validation.

pub mod contract;
pub mod error;
pub mod npz;

pub use contract::{DataWarning, IntensityPolicy, LoadOptions, Loaded, ScanData};
pub use error::{DataError, Problem, Result};
pub use npz::{Compression, NpzReader, NpzWriter};
