//! `simulate`: a synthetic scan with ground truth (the `ptycho simulate` simulation), returned
//! as numpy arrays and optionally written as a canonical NPZ.

use std::path::PathBuf;

use ptycho_data::{Compression, ObjectKind, ProbeSource, ScanKind, SimulationConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::scan_to_dict;
use crate::errors::{bad_argument, to_py};

/// Simulates a scan: `n`-pixel patterns of an `object` ("lines" or "grf") of `object_size`
/// pixels, `n_images` positions on a raster of step `grid_step` pixels (random positions when
/// `None`), `nphotons` per pattern, Poisson noise unless `poisson` is false. Writes the NPZ
/// when `output` is given. Returns the arrays (`diffraction`, `xcoords`, `ycoords`, `probe`,
/// `object`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (*, n=64, object_size=256, object="lines", n_images=500, grid_step=None, nphotons=1e9, poisson=true, seed=42, output=None))]
pub fn simulate<'py>(
    py: Python<'py>,
    n: usize,
    object_size: usize,
    object: &str,
    n_images: usize,
    grid_step: Option<f64>,
    nphotons: f64,
    poisson: bool,
    seed: u64,
    output: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let object = match object {
        "lines" => ObjectKind::Lines,
        "grf" => ObjectKind::Grf,
        other => {
            return Err(bad_argument(
                "object",
                "\"lines\" or \"grf\"",
                format!("{other:?}"),
            ));
        }
    };
    let config = SimulationConfig {
        n,
        object_size,
        object,
        probe: ProbeSource::Default,
        scan: match grid_step {
            Some(step) => ScanKind::Grid { step },
            None => ScanKind::Random,
        },
        n_images,
        nphotons,
        poisson,
        seed,
    };
    let scan = py
        .detach(|| -> Result<_, ptycho_data::DataError> {
            let scan = ptycho_data::simulate(&config)?;
            if let Some(path) = &output {
                scan.save(path, Compression::Deflated)?;
            }
            Ok(scan)
        })
        .map_err(|e| to_py(e.into()))?;
    scan_to_dict(py, scan)
}
