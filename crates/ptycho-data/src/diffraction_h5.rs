//! Diffraction patterns from an HDF5 file (cargo feature `hdf5`): the stack at the first of
//! [`DATASET_PATHS`] the file has (NeXus `/entry/data/data`, APS Data Exchange
//! `/exchange/data`, PtychoShelves/fold_slice `/dp`), `(patterns, N, N)` photon counts of any
//! integer or float type, converted to the canonical amplitudes `sqrt(counts)` as f32.
//!
//! The file holds no positions and no probe: [`crate::product::product_scan`] joins the patterns
//! with a ptychodus product that has them.

use std::path::Path;

use ndarray::Array3;

use crate::error::{DataError, Problem, Result};
use crate::product::h5::{dataset_exists, h5_error, open};
use crate::reader::{first_non_finite, unravel};

/// Where diffraction stacks are looked for, in this order.
pub const DATASET_PATHS: [&str; 3] = ["/entry/data/data", "/exchange/data", "/dp"];

/// A diffraction stack read from HDF5.
#[derive(Debug, Clone)]
pub struct H5Diffraction {
    /// Amplitudes `sqrt(counts)`, `(patterns, N, N)`.
    pub amplitudes: Array3<f32>,
    /// The dataset they came from (one of [`DATASET_PATHS`]).
    pub dataset: &'static str,
}

/// Writes photon `counts` `(patterns, N, N)` as float32 at `dataset` (one of
/// [`DATASET_PATHS`], groups created) of a new HDF5 file `path`: an interchange file for
/// ptychodus and the other readers of these layouts.
pub fn write_h5_diffraction(path: &Path, dataset: &str, counts: &Array3<f32>) -> Result<()> {
    let fail = |e: hdf5_metno::Error| h5_error(path, dataset, "a written HDF5 dataset", e);
    let file = hdf5_metno::File::create(path).map_err(fail)?;
    let parts: Vec<&str> = dataset.trim_start_matches('/').split('/').collect();
    let mut group = file.as_group().map_err(fail)?;
    for part in &parts[..parts.len() - 1] {
        group = group.create_group(part).map_err(fail)?;
    }
    group
        .new_dataset_builder()
        .with_data(&counts.as_standard_layout())
        .create(parts[parts.len() - 1])
        .map_err(fail)?;
    file.close().map_err(fail)
}

/// Reads the diffraction stack of `path`.
pub fn read_h5_diffraction(path: &Path) -> Result<H5Diffraction> {
    let file = open(path)?;
    let Some(dataset) = DATASET_PATHS.into_iter().find(|d| dataset_exists(&file, d)) else {
        return Err(DataError::MissingKey {
            file: path.to_path_buf(),
            key: DATASET_PATHS[0].to_string(),
            hint: format!(
                "a diffraction stack (patterns, N, N) at one of {} (none is in the file)",
                DATASET_PATHS.join(", ")
            ),
        });
    };
    let ds = file
        .dataset(dataset)
        .map_err(|e| h5_error(path, dataset, "a readable dataset", e))?;
    let shape = ds.shape();
    let [patterns, rows, cols] = *shape.as_slice() else {
        return Err(DataError::invalid(
            path,
            dataset,
            Problem::Rank,
            "a 3-d stack (patterns, N, N)",
            format!("shape {shape:?}"),
        ));
    };
    if rows != cols || patterns == 0 {
        return Err(DataError::invalid(
            path,
            dataset,
            Problem::Shape,
            "at least one square pattern (patterns, N, N)",
            format!("shape {shape:?}"),
        ));
    }
    // HDF5 converts every integer and float type to f32 (counts up to 2^24 stay exact).
    let counts = ds.read_raw::<f32>().map_err(|e| {
        h5_error(
            path,
            dataset,
            "integer or float counts (a compression filter may be missing)",
            e,
        )
    })?;
    if let Some(i) = first_non_finite(counts.iter(), |v| v.is_finite()) {
        return Err(DataError::invalid(
            path,
            dataset,
            Problem::NonFinite,
            "finite photon counts",
            format!("{} at index {:?}", counts[i], unravel(i, &shape)),
        ));
    }
    if let Some(i) = counts.iter().position(|&v| v < 0.0) {
        return Err(DataError::invalid(
            path,
            dataset,
            Problem::Negative,
            "photon counts >= 0 (mask bad pixels with 0)",
            format!("{} at index {:?}", counts[i], unravel(i, &shape)),
        ));
    }
    let amplitudes = Array3::from_shape_vec(
        (patterns, rows, cols),
        counts.into_iter().map(f32::sqrt).collect(),
    )
    .expect("shape read with the data");
    Ok(H5Diffraction {
        amplitudes,
        dataset,
    })
}
