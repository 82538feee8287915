//! The NPZ flavour of a ptychodus product (`NPZProductFileIO`): one member per key, the HDF5
//! attributes flattened into members.
//!
//! | member | dtype | shape |
//! |---|---|---|
//! | `name`, `comments` | `<U` | `()` |
//! | `detector_object_distance_m`, `probe_energy_eV`, `probe_photon_count`, `exposure_time_s`, `mass_attenuation_m2_kg`, `tomography_angle_deg` | float64 | `()` |
//! | `probe_position_indexes` | int64 | `(n,)` |
//! | `probe_position_x_m`, `probe_position_y_m` | float64 | `(n,)` |
//! | `probe` | complex64 | `(coherent, incoherent, N, N)` |
//! | `probe_pixel_width_m`, `probe_pixel_height_m` | float64 | `()` |
//! | `opr_weights` (only when present) | float64 | `(K, coherent)` |
//! | `object` | complex64 | `(layers, H, W)` |
//! | `object_center_x_m`, `object_center_y_m`, `object_pixel_width_m`, `object_pixel_height_m` | float64 | `()` |
//! | `object_layer_spacing_m` | float64 | `(layers − 1,)` |
//! | `loss_epochs` | int64 | `(E,)` |
//! | `loss_values` | float64 | `(E,)` |
//!
//! Reading accepts what numpy writes from Python values (float32 or integer scalars,
//! complex128 arrays, 2-d probes and objects, `costs` for `loss_values`); metadata members that
//! are absent read as `""` or 0, as ptychodus does for the optional ones.

use std::path::Path;

use ndarray::Array2;
use num_complex::Complex32;

use super::{PixelGeometry, Product, ProductMetadata, keys, promote_object, promote_probe};
use crate::error::{DataError, Problem, Result};
use crate::npz::{ArrayData, Compression, NpzReader, NpzWriter};

/// Writes `product` to `path` (uncompressed, as `numpy.savez`), atomically.
pub fn write(product: &Product, path: &Path) -> Result<()> {
    let mut w = NpzWriter::create(path, Compression::Stored)?;
    let m = &product.metadata;
    w.add_str(keys::NAME, &m.name)?;
    w.add_str(keys::COMMENTS, &m.comments)?;
    for (key, value) in [
        (
            keys::DETECTOR_OBJECT_DISTANCE_M,
            m.detector_object_distance_m,
        ),
        (keys::PROBE_ENERGY_EV, m.probe_energy_ev),
        (keys::PROBE_PHOTON_COUNT, m.probe_photon_count),
        (keys::EXPOSURE_TIME_S, m.exposure_time_s),
        (keys::MASS_ATTENUATION_M2_KG, m.mass_attenuation_m2_kg),
        (keys::TOMOGRAPHY_ANGLE_DEG, m.tomography_angle_deg),
    ] {
        w.add(key, &[], &[value])?;
    }
    let n = product.n_positions();
    w.add(
        keys::PROBE_POSITION_INDEXES,
        &[n],
        &product.probe_position_indexes,
    )?;
    w.add(keys::PROBE_POSITION_X_M, &[n], &product.probe_position_x_m)?;
    w.add(keys::PROBE_POSITION_Y_M, &[n], &product.probe_position_y_m)?;
    let probe: Vec<Complex32> = product.probe.iter().copied().collect();
    w.add(keys::PROBE, product.probe.shape(), &probe)?;
    w.add(
        keys::PROBE_PIXEL_WIDTH_M,
        &[],
        &[product.probe_pixel.width_m],
    )?;
    w.add(
        keys::PROBE_PIXEL_HEIGHT_M,
        &[],
        &[product.probe_pixel.height_m],
    )?;
    if let Some(opr) = &product.opr_weights {
        let v: Vec<f64> = opr.iter().copied().collect();
        w.add(keys::OPR_WEIGHTS, opr.shape(), &v)?;
    }
    let object: Vec<Complex32> = product.object.iter().copied().collect();
    w.add(keys::OBJECT, product.object.shape(), &object)?;
    for (key, value) in [
        (keys::OBJECT_CENTER_X_M, product.object_center_x_m),
        (keys::OBJECT_CENTER_Y_M, product.object_center_y_m),
        (keys::OBJECT_PIXEL_WIDTH_M, product.object_pixel.width_m),
        (keys::OBJECT_PIXEL_HEIGHT_M, product.object_pixel.height_m),
    ] {
        w.add(key, &[], &[value])?;
    }
    let spacing = &product.object_layer_spacing_m;
    w.add(keys::OBJECT_LAYER_SPACING_M, &[spacing.len()], spacing)?;
    let e = product.loss_values.len();
    w.add(keys::LOSS_EPOCHS, &[e], &product.loss_epochs)?;
    w.add(keys::LOSS_VALUES, &[e], &product.loss_values)?;
    w.finish()
}

/// Reads a product NPZ.
pub fn read(path: &Path) -> Result<Product> {
    let mut r = NpzReader::open(path)?;
    let metadata = ProductMetadata {
        name: r.read_str(keys::NAME)?.unwrap_or_default(),
        comments: r.read_str(keys::COMMENTS)?.unwrap_or_default(),
        detector_object_distance_m: optional_scalar(&mut r, keys::DETECTOR_OBJECT_DISTANCE_M)?,
        probe_energy_ev: optional_scalar(&mut r, keys::PROBE_ENERGY_EV)?,
        probe_photon_count: optional_scalar(&mut r, keys::PROBE_PHOTON_COUNT)?,
        exposure_time_s: optional_scalar(&mut r, keys::EXPOSURE_TIME_S)?,
        mass_attenuation_m2_kg: optional_scalar(&mut r, keys::MASS_ATTENUATION_M2_KG)?,
        tomography_angle_deg: optional_scalar(&mut r, keys::TOMOGRAPHY_ANGLE_DEG)?,
    };
    let x = real_vec(
        &mut r,
        keys::PROBE_POSITION_X_M,
        "probe x positions in metres",
    )?;
    let y = real_vec(
        &mut r,
        keys::PROBE_POSITION_Y_M,
        "probe y positions in metres",
    )?;
    let indexes = match r.read(keys::PROBE_POSITION_INDEXES)? {
        Some(arr) => match arr.data {
            ArrayData::Int(v) if arr.shape.len() == 1 => v,
            _ => {
                return Err(DataError::invalid(
                    path,
                    keys::PROBE_POSITION_INDEXES,
                    Problem::DType,
                    "a 1-d integer array",
                    format!("{} of shape {:?}", arr.dtype, arr.shape),
                ));
            }
        },
        None => missing(
            path,
            keys::PROBE_POSITION_INDEXES,
            "pattern index per position",
        )?,
    };

    let (shape, data) = complex(&mut r, keys::PROBE, "the probe, complex (.., H, W)")?;
    let probe = promote_probe(&shape, data).ok_or_else(|| {
        DataError::invalid(
            path,
            keys::PROBE,
            Problem::Rank,
            "2-d, 3-d or 4-d (coherent, incoherent, H, W)",
            format!("shape {shape:?}"),
        )
    })?;
    let (shape, data) = complex(&mut r, keys::OBJECT, "the object, complex (layers, H, W)")?;
    let object = promote_object(&shape, data).ok_or_else(|| {
        DataError::invalid(
            path,
            keys::OBJECT,
            Problem::Rank,
            "2-d or 3-d (layers, H, W)",
            format!("shape {shape:?}"),
        )
    })?;
    let opr_weights = match r.read(keys::OPR_WEIGHTS)? {
        Some(arr) => {
            let shape = arr.shape.clone();
            let values = real(path, keys::OPR_WEIGHTS, arr.data, &arr.dtype)?;
            match *shape {
                [k, c] => Some(Array2::from_shape_vec((k, c), values).expect("shape checked")),
                _ => {
                    return Err(DataError::invalid(
                        path,
                        keys::OPR_WEIGHTS,
                        Problem::Rank,
                        "2-d (K, coherent modes)",
                        format!("shape {shape:?}"),
                    ));
                }
            }
        }
        None => None,
    };
    let object_layer_spacing_m = if r.contains(keys::OBJECT_LAYER_SPACING_M) {
        real_vec(&mut r, keys::OBJECT_LAYER_SPACING_M, "")?
    } else {
        Vec::new()
    };
    let loss_values = if r.contains(keys::LOSS_VALUES) {
        real_vec(&mut r, keys::LOSS_VALUES, "")?
    } else if r.contains(keys::COSTS) {
        real_vec(&mut r, keys::COSTS, "")?
    } else {
        Vec::new()
    };
    let loss_epochs = match r.read(keys::LOSS_EPOCHS)? {
        Some(arr) => match arr.data {
            ArrayData::Int(v) => v,
            // numpy saves an empty Python list as float64.
            ArrayData::F64(v) if v.is_empty() => Vec::new(),
            _ => {
                return Err(DataError::invalid(
                    path,
                    keys::LOSS_EPOCHS,
                    Problem::DType,
                    "a 1-d integer array",
                    format!("{} of shape {:?}", arr.dtype, arr.shape),
                ));
            }
        },
        None => (0..loss_values.len() as i64).collect(),
    };

    let product = Product {
        metadata,
        probe_position_indexes: indexes,
        probe_position_x_m: x,
        probe_position_y_m: y,
        probe,
        probe_pixel: PixelGeometry {
            width_m: required_scalar(&mut r, keys::PROBE_PIXEL_WIDTH_M, "probe pixel width")?,
            height_m: required_scalar(&mut r, keys::PROBE_PIXEL_HEIGHT_M, "probe pixel height")?,
        },
        opr_weights,
        object,
        object_pixel: PixelGeometry {
            width_m: required_scalar(&mut r, keys::OBJECT_PIXEL_WIDTH_M, "object pixel width")?,
            height_m: required_scalar(&mut r, keys::OBJECT_PIXEL_HEIGHT_M, "object pixel height")?,
        },
        object_center_x_m: required_scalar(&mut r, keys::OBJECT_CENTER_X_M, "object centre x")?,
        object_center_y_m: required_scalar(&mut r, keys::OBJECT_CENTER_Y_M, "object centre y")?,
        object_layer_spacing_m,
        loss_epochs,
        loss_values,
    };
    product.validate(path)?;
    Ok(product)
}

fn missing<T>(path: &Path, key: &str, what: &str) -> Result<T> {
    Err(DataError::MissingKey {
        file: path.to_path_buf(),
        key: key.to_string(),
        hint: format!("{what} (a ptychodus product NPZ has it)"),
    })
}

/// Real (or integer) data widened to f64.
fn real(path: &Path, key: &str, data: ArrayData, dtype: &str) -> Result<Vec<f64>> {
    Ok(match data {
        ArrayData::F64(v) => v,
        ArrayData::F32(v) => v.into_iter().map(f64::from).collect(),
        ArrayData::Int(v) => v.into_iter().map(|i| i as f64).collect(),
        _ => {
            return Err(DataError::invalid(
                path,
                key,
                Problem::DType,
                "real numbers (float64)",
                dtype.to_string(),
            ));
        }
    })
}

fn real_vec(r: &mut NpzReader, key: &str, what: &str) -> Result<Vec<f64>> {
    let path = r.path().to_path_buf();
    let Some(arr) = r.read(key)? else {
        return missing(&path, key, what);
    };
    if arr.shape.len() != 1 {
        return Err(DataError::invalid(
            &path,
            key,
            Problem::Rank,
            "a 1-d array",
            format!("shape {:?}", arr.shape),
        ));
    }
    real(&path, key, arr.data, &arr.dtype)
}

fn scalar(r: &mut NpzReader, key: &str) -> Result<Option<f64>> {
    let path = r.path().to_path_buf();
    let Some(arr) = r.read(key)? else {
        return Ok(None);
    };
    let values = real(&path, key, arr.data, &arr.dtype)?;
    match values.as_slice() {
        [v] => Ok(Some(*v)),
        _ => Err(DataError::invalid(
            &path,
            key,
            Problem::Shape,
            "a single number (shape ())",
            format!("shape {:?}", arr.shape),
        )),
    }
}

fn optional_scalar(r: &mut NpzReader, key: &str) -> Result<f64> {
    Ok(scalar(r, key)?.unwrap_or(0.0))
}

fn required_scalar(r: &mut NpzReader, key: &str, what: &str) -> Result<f64> {
    let path = r.path().to_path_buf();
    match scalar(r, key)? {
        Some(v) => Ok(v),
        None => missing(&path, key, &format!("the {what} in metres")),
    }
}

fn complex(r: &mut NpzReader, key: &str, what: &str) -> Result<(Vec<usize>, Vec<Complex32>)> {
    let path = r.path().to_path_buf();
    let Some(arr) = r.read(key)? else {
        return missing(&path, key, what);
    };
    let data = match arr.data {
        ArrayData::C64(v) => v,
        ArrayData::C128(v) => v
            .into_iter()
            .map(|z| Complex32::new(z.re as f32, z.im as f32))
            .collect(),
        _ => {
            return Err(DataError::invalid(
                &path,
                key,
                Problem::DType,
                "complex64 or complex128",
                arr.dtype,
            ));
        }
    };
    Ok((arr.shape, data))
}
