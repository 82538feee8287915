//! Ptychodus product files: a reconstruction (object, probe, positions in metres, loss history)
//! in the layout ptychodus' `H5ProductFileIO` / `NPZProductFileIO` read and write
//! (`ptychodus/plugins/h5_product_file.py`, `npz_product_file.py`).
//!
//! [`Product`] is the format-neutral model; [`npz`] reads and writes the NPZ flavour and `h5`
//! (cargo feature `hdf5`) the HDF5 one. Both hold the same keys; the HDF5 file keeps the pixel
//! geometry as attributes of the `probe` and `object` datasets, the NPZ flattens them into
//! members (`probe_pixel_width_m`, `object_center_x_m`, ...).
//!
//! ## Coordinates
//! Ptychodus maps a position in metres to a pixel of the product's object by
//! `x_px = (x_m − center_x_m) / pixel_width_m + W / 2` (`ObjectGeometry.
//! map_coordinates_probe_to_object`), and a patch of width `n` centred at `x_px` starts at pixel
//! `x_px − n/2`: the same convention as our scan positions. [`Product::positions_px`] applies
//! that mapping. When we write a product of a canonical NPZ, positions are
//! `x_m = x_px · pixel_width_m` (what upstream PtychoPINN's `export_product_from_rawdata` writes
//! and its importer inverts) and the object's centre is placed so that ptychodus' mapping
//! returns exactly our pixel positions; a scan that came from a product keeps its world frame.
//!
//! Errors name the file and the key; an attribute is named `dataset@attribute` (`@name` for a
//! root attribute of the HDF5 file).

#[cfg(feature = "hdf5")]
pub mod h5;
pub mod npz;
mod scan;

use std::path::Path;

use ndarray::{Array2, Array3, Array4};
use num_complex::Complex32;

use crate::error::{DataError, Problem, Result};

pub use scan::{Reconstructed, product_scan};

/// Member, dataset and attribute names of both product flavours.
pub mod keys {
    pub const NAME: &str = "name";
    pub const COMMENTS: &str = "comments";
    pub const DETECTOR_OBJECT_DISTANCE_M: &str = "detector_object_distance_m";
    pub const PROBE_ENERGY_EV: &str = "probe_energy_eV";
    pub const PROBE_PHOTON_COUNT: &str = "probe_photon_count";
    pub const EXPOSURE_TIME_S: &str = "exposure_time_s";
    pub const MASS_ATTENUATION_M2_KG: &str = "mass_attenuation_m2_kg";
    pub const TOMOGRAPHY_ANGLE_DEG: &str = "tomography_angle_deg";
    pub const PROBE_POSITION_INDEXES: &str = "probe_position_indexes";
    pub const PROBE_POSITION_X_M: &str = "probe_position_x_m";
    pub const PROBE_POSITION_Y_M: &str = "probe_position_y_m";
    pub const PROBE: &str = "probe";
    pub const OPR_WEIGHTS: &str = "opr_weights";
    pub const OBJECT: &str = "object";
    pub const OBJECT_LAYER_SPACING_M: &str = "object_layer_spacing_m";
    pub const LOSS_EPOCHS: &str = "loss_epochs";
    pub const LOSS_VALUES: &str = "loss_values";
    /// Older products' name of `loss_values`.
    pub const COSTS: &str = "costs";
    /// HDF5 attributes of `probe` and `object`.
    pub const PIXEL_WIDTH_M: &str = "pixel_width_m";
    pub const PIXEL_HEIGHT_M: &str = "pixel_height_m";
    /// HDF5 attributes of `object`.
    pub const CENTER_X_M: &str = "center_x_m";
    pub const CENTER_Y_M: &str = "center_y_m";
    /// The NPZ's flattened attributes.
    pub const PROBE_PIXEL_WIDTH_M: &str = "probe_pixel_width_m";
    pub const PROBE_PIXEL_HEIGHT_M: &str = "probe_pixel_height_m";
    pub const OBJECT_PIXEL_WIDTH_M: &str = "object_pixel_width_m";
    pub const OBJECT_PIXEL_HEIGHT_M: &str = "object_pixel_height_m";
    pub const OBJECT_CENTER_X_M: &str = "object_center_x_m";
    pub const OBJECT_CENTER_Y_M: &str = "object_center_y_m";
}

/// The command that builds `ptycho` with HDF5 support (named in every refusal).
pub const ENABLE_HDF5: &str = "cargo build --release -p ptycho-cli --features hdf5";

/// Whether `path` names an HDF5 file by its extension (`.h5`, `.hdf5`, `.hdf`, `.nxs`,
/// `.cxi`), the way ptychodus' file filters tell them apart.
pub fn is_hdf5_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "h5" | "hdf5" | "hdf" | "nxs" | "cxi"
        )
    })
}

/// The refusal of an HDF5 file by a build without the `hdf5` feature; `what` says what the file
/// was given as.
pub fn hdf5_not_built_in(path: &Path, what: &str) -> DataError {
    DataError::NotBuiltIn {
        file: path.to_path_buf(),
        what: format!("an HDF5 file ({what})"),
        enable: ENABLE_HDF5.to_string(),
    }
}

/// The root metadata of a product (ptychodus `ProductMetadata`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProductMetadata {
    pub name: String,
    pub comments: String,
    pub detector_object_distance_m: f64,
    pub probe_energy_ev: f64,
    pub probe_photon_count: f64,
    pub exposure_time_s: f64,
    pub mass_attenuation_m2_kg: f64,
    pub tomography_angle_deg: f64,
}

/// The size of one pixel in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelGeometry {
    pub width_m: f64,
    pub height_m: f64,
}

impl PixelGeometry {
    /// A square pixel of side `size_m`.
    pub fn square(size_m: f64) -> Self {
        PixelGeometry {
            width_m: size_m,
            height_m: size_m,
        }
    }
}

/// One ptychodus product.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub metadata: ProductMetadata,
    /// Index of the diffraction pattern each position belongs to (ptychodus matches patterns to
    /// positions by it).
    pub probe_position_indexes: Vec<i64>,
    /// Positions in metres, x = along object columns.
    pub probe_position_x_m: Vec<f64>,
    /// Positions in metres, y = along object rows.
    pub probe_position_y_m: Vec<f64>,
    /// Probe `(coherent OPR modes, incoherent modes, H, W)` (ptychodus `ProbeSequence`); files
    /// with 2-d or 3-d probes are promoted on reading.
    pub probe: Array4<Complex32>,
    pub probe_pixel: PixelGeometry,
    /// Orthogonal probe relaxation weights `(K, coherent modes)`, when the product has them.
    pub opr_weights: Option<Array2<f64>>,
    /// Object `(layers, H, W)`; a 2-d object is promoted to one layer on reading.
    pub object: Array3<Complex32>,
    pub object_pixel: PixelGeometry,
    /// World coordinates of the object's centre (pixel coordinate `W/2, H/2`), metres.
    pub object_center_x_m: f64,
    pub object_center_y_m: f64,
    /// Spacing between consecutive object layers, `layers − 1` values, metres.
    pub object_layer_spacing_m: Vec<f64>,
    pub loss_epochs: Vec<i64>,
    pub loss_values: Vec<f64>,
}

impl Product {
    /// Number of positions.
    pub fn n_positions(&self) -> usize {
        self.probe_position_indexes.len()
    }

    /// Reads a product, NPZ or HDF5 by the extension (HDF5 needs the `hdf5` feature).
    pub fn load(path: impl AsRef<Path>) -> Result<Product> {
        let path = path.as_ref();
        if is_hdf5_path(path) {
            #[cfg(feature = "hdf5")]
            return h5::read(path);
            #[cfg(not(feature = "hdf5"))]
            return Err(hdf5_not_built_in(path, "a ptychodus product"));
        }
        npz::read(path)
    }

    /// Writes a product atomically, NPZ or HDF5 by the extension (HDF5 needs the `hdf5`
    /// feature), after validating it.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.validate(path)?;
        if is_hdf5_path(path) {
            #[cfg(feature = "hdf5")]
            return h5::write(self, path);
            #[cfg(not(feature = "hdf5"))]
            return Err(hdf5_not_built_in(path, "a ptychodus product to write"));
        }
        npz::write(self, path)
    }

    /// Positions in pixels of [`Product::object`] (column `x`, row `y`), by ptychodus' mapping
    /// `x_px = (x_m − center_x_m) / pixel_width_m + W / 2`.
    pub fn positions_px(&self) -> (Vec<f64>, Vec<f64>) {
        let (_, h, w) = self.object.dim();
        let px = self.object_pixel;
        let x = self
            .probe_position_x_m
            .iter()
            .map(|&x| (x - self.object_center_x_m) / px.width_m + w as f64 / 2.0)
            .collect();
        let y = self
            .probe_position_y_m
            .iter()
            .map(|&y| (y - self.object_center_y_m) / px.height_m + h as f64 / 2.0)
            .collect();
        (x, y)
    }

    /// Checks lengths, shapes and geometry; `origin` names the file in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let n = self.n_positions();
        for (key, len) in [
            (keys::PROBE_POSITION_X_M, self.probe_position_x_m.len()),
            (keys::PROBE_POSITION_Y_M, self.probe_position_y_m.len()),
        ] {
            if len != n {
                return Err(DataError::invalid(
                    origin,
                    key,
                    Problem::Length,
                    format!("length {n} (as {})", keys::PROBE_POSITION_INDEXES),
                    format!("length {len}"),
                ));
            }
        }
        for (key, values) in [
            (keys::PROBE_POSITION_X_M, &self.probe_position_x_m),
            (keys::PROBE_POSITION_Y_M, &self.probe_position_y_m),
        ] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(DataError::invalid(
                    origin,
                    key,
                    Problem::NonFinite,
                    "finite positions in metres",
                    format!("{} at index {i}", values[i]),
                ));
            }
        }
        let (probe_attr, object_attr) = (
            format!("{}@{}", keys::PROBE, keys::PIXEL_WIDTH_M),
            format!("{}@{}", keys::OBJECT, keys::PIXEL_WIDTH_M),
        );
        for (key, px) in [
            (probe_attr, self.probe_pixel),
            (object_attr, self.object_pixel),
        ] {
            for v in [px.width_m, px.height_m] {
                if !(v.is_finite() && v > 0.0) {
                    return Err(DataError::invalid(
                        origin,
                        &key,
                        Problem::Negative,
                        "a pixel size > 0 in metres",
                        v.to_string(),
                    ));
                }
            }
        }
        let p = self.probe.shape();
        if p.contains(&0) {
            return Err(DataError::invalid(
                origin,
                keys::PROBE,
                Problem::Shape,
                "a non-empty probe (coherent modes, incoherent modes, H, W)",
                format!("shape {p:?}"),
            ));
        }
        if let Some(w) = &self.opr_weights
            && w.ncols() != p[0]
        {
            return Err(DataError::invalid(
                origin,
                keys::OPR_WEIGHTS,
                Problem::Shape,
                format!("shape [K, {}] (one weight per coherent probe mode)", p[0]),
                format!("shape {:?}", w.shape()),
            ));
        }
        let layers = self.object.dim().0;
        if layers == 0 || self.object_layer_spacing_m.len() != layers - 1 {
            return Err(DataError::invalid(
                origin,
                keys::OBJECT_LAYER_SPACING_M,
                Problem::Length,
                format!(
                    "{} value(s) (object layers − 1, object shape {:?})",
                    layers.saturating_sub(1),
                    self.object.shape()
                ),
                format!("length {}", self.object_layer_spacing_m.len()),
            ));
        }
        if self.loss_epochs.len() != self.loss_values.len() {
            return Err(DataError::invalid(
                origin,
                keys::LOSS_EPOCHS,
                Problem::Length,
                format!(
                    "length {} (as {})",
                    self.loss_values.len(),
                    keys::LOSS_VALUES
                ),
                format!("length {}", self.loss_epochs.len()),
            ));
        }
        Ok(())
    }
}

/// Promotes a probe of rank 2, 3 or 4 to `(coherent, incoherent, H, W)` as ptychodus'
/// `ProbeSequence` does; `None` for another rank.
pub(crate) fn promote_probe(shape: &[usize], data: Vec<Complex32>) -> Option<Array4<Complex32>> {
    let dims = match *shape {
        [h, w] => (1, 1, h, w),
        [i, h, w] => (1, i, h, w),
        [c, i, h, w] => (c, i, h, w),
        _ => return None,
    };
    Array4::from_shape_vec(dims, data).ok()
}

/// Promotes an object of rank 2 or 3 to `(layers, H, W)` as ptychodus' `Object` does; `None`
/// for another rank.
pub(crate) fn promote_object(shape: &[usize], data: Vec<Complex32>) -> Option<Array3<Complex32>> {
    let dims = match *shape {
        [h, w] => (1, h, w),
        [l, h, w] => (l, h, w),
        _ => return None,
    };
    Array3::from_shape_vec(dims, data).ok()
}
