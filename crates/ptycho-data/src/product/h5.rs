//! The HDF5 flavour of a ptychodus product (`H5ProductFileIO`), through `hdf5-metno` (cargo
//! feature `hdf5`, which links the system libhdf5).
//!
//! | object | kind | dtype | shape / attributes |
//! |---|---|---|---|
//! | `/` | attributes | `name`, `comments`: variable-length UTF-8 strings; `detector_object_distance_m`, `probe_energy_eV`, `probe_photon_count`, `exposure_time_s`, `mass_attenuation_m2_kg`, `tomography_angle_deg`: float64 scalars | |
//! | `probe_position_indexes` | dataset | int64 | `(n,)` |
//! | `probe_position_x_m`, `probe_position_y_m` | dataset | float64 | `(n,)` |
//! | `probe` | dataset | complex64 (h5py's compound `{r, i}`) | `(coherent, incoherent, N, N)`; attributes `pixel_width_m`, `pixel_height_m` float64 |
//! | `opr_weights` (only when present) | dataset | float64 | `(K, coherent)` |
//! | `object` | dataset | complex64 | `(layers, H, W)`; attributes `center_x_m`, `center_y_m`, `pixel_width_m`, `pixel_height_m` float64 |
//! | `object_layer_spacing_m` | dataset | float64 | `(layers − 1,)` |
//! | `loss_epochs` | dataset | int64 | `(E,)` |
//! | `loss_values` | dataset | float64 | `(E,)` |
//!
//! ptychodus' writer stores `opr_weights` as a root dataset while its reader looks for an
//! attribute of `probe`; we read either and write the dataset (ptychodus' writer). Reading
//! converts any integer or float type HDF5 can convert, promotes 2-d/3-d probes and 2-d objects,
//! takes `costs` when `loss_values` is absent, and reads absent metadata as `""` or 0.

use std::path::Path;
use std::str::FromStr;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5_metno as hdf5;
use ndarray::Array2;
use num_complex::Complex32;

use super::{PixelGeometry, Product, ProductMetadata, keys, promote_object, promote_probe};
use crate::error::{DataError, Problem, Result};

/// An HDF5 library error about `key` of `file`.
pub(crate) fn h5_error(file: &Path, key: &str, expected: &str, err: hdf5::Error) -> DataError {
    DataError::invalid(file, key, Problem::Format, expected, err.to_string())
}

/// Opens an HDF5 file for reading, naming it in the error.
pub(crate) fn open(path: &Path) -> Result<hdf5::File> {
    if !path.exists() {
        return Err(DataError::io(
            path,
            "cannot open",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    hdf5::File::open(path).map_err(|e| h5_error(path, "(file)", "a readable HDF5 file", e))
}

/// Whether the dataset at `path` (slash-separated, from the root) exists; checks every level,
/// since HDF5 refuses to look up a link below a missing group.
pub(crate) fn dataset_exists(file: &hdf5::File, path: &str) -> bool {
    let mut prefix = String::new();
    for part in path.trim_start_matches('/').split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if !file.link_exists(&prefix) {
            return false;
        }
    }
    file.dataset(path).is_ok()
}

/// Writes `product` to `path` atomically: the file is written beside it under a temporary name
/// and renamed into place once closed.
pub fn write(product: &Product, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| DataError::io(path, "cannot create", e))?
        .into_temp_path();
    let file = hdf5::File::create(&temp)
        .map_err(|e| h5_error(path, "(file)", "a writable HDF5 file", e))?;
    write_into(&file, product)
        .map_err(|(key, e)| h5_error(path, &key, "a written HDF5 object", e))?;
    file.close()
        .map_err(|e| h5_error(path, "(file)", "a closed HDF5 file", e))?;
    temp.persist(path)
        .map_err(|e| DataError::io(path, "cannot write", e.error))?;
    crate::npz::publish_permissions(path, false);
    Ok(())
}

type WriteResult = std::result::Result<(), (String, hdf5::Error)>;

fn write_into(file: &hdf5::File, p: &Product) -> WriteResult {
    let at = |key: &str| {
        let key = key.to_string();
        move |e: hdf5::Error| (key.clone(), e)
    };
    let m = &p.metadata;
    for (key, text) in [(keys::NAME, &m.name), (keys::COMMENTS, &m.comments)] {
        // A NUL cannot be stored in an HDF5 string; nothing we write contains one.
        let value = VarLenUnicode::from_str(&text.replace('\0', ""))
            .map_err(|e| (format!("@{key}"), hdf5::Error::from(e.to_string().as_str())))?;
        file.new_attr::<VarLenUnicode>()
            .create(key)
            .and_then(|a| a.write_scalar(&value))
            .map_err(at(&format!("@{key}")))?;
    }
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
        scalar_attr(file, key, value).map_err(at(&format!("@{key}")))?;
    }
    let n = p.n_positions();
    file.new_dataset::<i64>()
        .shape([n])
        .create(keys::PROBE_POSITION_INDEXES)
        .and_then(|d| d.write_raw(&p.probe_position_indexes))
        .map_err(at(keys::PROBE_POSITION_INDEXES))?;
    for (key, values) in [
        (keys::PROBE_POSITION_X_M, &p.probe_position_x_m),
        (keys::PROBE_POSITION_Y_M, &p.probe_position_y_m),
    ] {
        real_dataset(file, key, values).map_err(at(key))?;
    }
    let probe = file
        .new_dataset_builder()
        .with_data(&p.probe.as_standard_layout())
        .create(keys::PROBE)
        .map_err(at(keys::PROBE))?;
    for (key, value) in [
        (keys::PIXEL_WIDTH_M, p.probe_pixel.width_m),
        (keys::PIXEL_HEIGHT_M, p.probe_pixel.height_m),
    ] {
        scalar_attr(&probe, key, value).map_err(at(&format!("probe@{key}")))?;
    }
    if let Some(opr) = &p.opr_weights {
        file.new_dataset_builder()
            .with_data(&opr.as_standard_layout())
            .create(keys::OPR_WEIGHTS)
            .map_err(at(keys::OPR_WEIGHTS))?;
    }
    let object = file
        .new_dataset_builder()
        .with_data(&p.object.as_standard_layout())
        .create(keys::OBJECT)
        .map_err(at(keys::OBJECT))?;
    for (key, value) in [
        (keys::CENTER_X_M, p.object_center_x_m),
        (keys::CENTER_Y_M, p.object_center_y_m),
        (keys::PIXEL_WIDTH_M, p.object_pixel.width_m),
        (keys::PIXEL_HEIGHT_M, p.object_pixel.height_m),
    ] {
        scalar_attr(&object, key, value).map_err(at(&format!("object@{key}")))?;
    }
    real_dataset(
        file,
        keys::OBJECT_LAYER_SPACING_M,
        &p.object_layer_spacing_m,
    )
    .map_err(at(keys::OBJECT_LAYER_SPACING_M))?;
    file.new_dataset::<i64>()
        .shape([p.loss_epochs.len()])
        .create(keys::LOSS_EPOCHS)
        .and_then(|d| d.write_raw(&p.loss_epochs))
        .map_err(at(keys::LOSS_EPOCHS))?;
    real_dataset(file, keys::LOSS_VALUES, &p.loss_values).map_err(at(keys::LOSS_VALUES))?;
    Ok(())
}

fn scalar_attr(loc: &hdf5::Location, key: &str, value: f64) -> hdf5::Result<()> {
    loc.new_attr::<f64>().create(key)?.write_scalar(&value)
}

fn real_dataset(file: &hdf5::File, key: &str, values: &[f64]) -> hdf5::Result<()> {
    file.new_dataset::<f64>()
        .shape([values.len()])
        .create(key)?
        .write_raw(values)
}

/// Reads a product HDF5 file.
pub fn read(path: &Path) -> Result<Product> {
    let file = open(path)?;
    let r = Reader { path, file: &file };
    let root: &hdf5::Location = &file;
    let metadata = ProductMetadata {
        name: r.string_attr(root, keys::NAME)?,
        comments: r.string_attr(root, keys::COMMENTS)?,
        detector_object_distance_m: r.optional_attr(root, keys::DETECTOR_OBJECT_DISTANCE_M)?,
        probe_energy_ev: r.optional_attr(root, keys::PROBE_ENERGY_EV)?,
        probe_photon_count: r.optional_attr(root, keys::PROBE_PHOTON_COUNT)?,
        exposure_time_s: r.optional_attr(root, keys::EXPOSURE_TIME_S)?,
        mass_attenuation_m2_kg: r.optional_attr(root, keys::MASS_ATTENUATION_M2_KG)?,
        tomography_angle_deg: r.optional_attr(root, keys::TOMOGRAPHY_ANGLE_DEG)?,
    };
    let indexes_ds = r.dataset(
        keys::PROBE_POSITION_INDEXES,
        "the pattern index per position",
    )?;
    let indexes: Vec<i64> = r.read_1d(&indexes_ds, keys::PROBE_POSITION_INDEXES)?;
    let x_ds = r.dataset(keys::PROBE_POSITION_X_M, "probe x positions in metres")?;
    let x: Vec<f64> = r.read_1d(&x_ds, keys::PROBE_POSITION_X_M)?;
    let y_ds = r.dataset(keys::PROBE_POSITION_Y_M, "probe y positions in metres")?;
    let y: Vec<f64> = r.read_1d(&y_ds, keys::PROBE_POSITION_Y_M)?;

    let probe_ds = r.dataset(keys::PROBE, "the probe, complex (.., H, W)")?;
    let shape = probe_ds.shape();
    let data = r.complex(&probe_ds, keys::PROBE)?;
    let probe = promote_probe(&shape, data).ok_or_else(|| {
        DataError::invalid(
            path,
            keys::PROBE,
            Problem::Rank,
            "2-d, 3-d or 4-d (coherent, incoherent, H, W)",
            format!("shape {shape:?}"),
        )
    })?;
    let probe_pixel = PixelGeometry {
        width_m: r.required_attr(&probe_ds, keys::PROBE, keys::PIXEL_WIDTH_M)?,
        height_m: r.required_attr(&probe_ds, keys::PROBE, keys::PIXEL_HEIGHT_M)?,
    };
    let opr_weights = r.opr_weights(&probe_ds)?;

    let object_ds = r.dataset(keys::OBJECT, "the object, complex (layers, H, W)")?;
    let shape = object_ds.shape();
    let data = r.complex(&object_ds, keys::OBJECT)?;
    let object = promote_object(&shape, data).ok_or_else(|| {
        DataError::invalid(
            path,
            keys::OBJECT,
            Problem::Rank,
            "2-d or 3-d (layers, H, W)",
            format!("shape {shape:?}"),
        )
    })?;
    let object_pixel = PixelGeometry {
        width_m: r.required_attr(&object_ds, keys::OBJECT, keys::PIXEL_WIDTH_M)?,
        height_m: r.required_attr(&object_ds, keys::OBJECT, keys::PIXEL_HEIGHT_M)?,
    };
    let object_center_x_m = r.required_attr(&object_ds, keys::OBJECT, keys::CENTER_X_M)?;
    let object_center_y_m = r.required_attr(&object_ds, keys::OBJECT, keys::CENTER_Y_M)?;
    let object_layer_spacing_m = r.optional_1d(keys::OBJECT_LAYER_SPACING_M)?;
    let loss_values = if dataset_exists(&file, keys::LOSS_VALUES) {
        r.optional_1d(keys::LOSS_VALUES)?
    } else {
        r.optional_1d(keys::COSTS)?
    };
    let loss_epochs = if dataset_exists(&file, keys::LOSS_EPOCHS) {
        r.optional_1d(keys::LOSS_EPOCHS)?
    } else {
        (0..loss_values.len() as i64).collect()
    };
    let product = Product {
        metadata,
        probe_position_indexes: indexes,
        probe_position_x_m: x,
        probe_position_y_m: y,
        probe,
        probe_pixel,
        opr_weights,
        object,
        object_pixel,
        object_center_x_m,
        object_center_y_m,
        object_layer_spacing_m,
        loss_epochs,
        loss_values,
    };
    product.validate(path)?;
    Ok(product)
}

struct Reader<'a> {
    path: &'a Path,
    file: &'a hdf5::File,
}

impl Reader<'_> {
    fn dataset(&self, key: &str, what: &str) -> Result<hdf5::Dataset> {
        if !dataset_exists(self.file, key) {
            return Err(DataError::MissingKey {
                file: self.path.to_path_buf(),
                key: key.to_string(),
                hint: format!("{what} (a dataset of every ptychodus product)"),
            });
        }
        self.file
            .dataset(key)
            .map_err(|e| h5_error(self.path, key, "a readable dataset", e))
    }

    fn read_1d<T: hdf5::H5Type>(&self, ds: &hdf5::Dataset, key: &str) -> Result<Vec<T>> {
        let shape = ds.shape();
        if shape.len() != 1 {
            return Err(DataError::invalid(
                self.path,
                key,
                Problem::Rank,
                "a 1-d dataset",
                format!("shape {shape:?}"),
            ));
        }
        ds.read_raw::<T>().map_err(|e| {
            h5_error(
                self.path,
                key,
                &format!("numbers convertible to {}", std::any::type_name::<T>()),
                e,
            )
        })
    }

    /// A 1-d dataset, empty when absent.
    fn optional_1d<T: hdf5::H5Type>(&self, key: &str) -> Result<Vec<T>> {
        if !dataset_exists(self.file, key) {
            return Ok(Vec::new());
        }
        let ds = self.dataset(key, "")?;
        self.read_1d(&ds, key)
    }

    fn complex(&self, ds: &hdf5::Dataset, key: &str) -> Result<Vec<Complex32>> {
        ds.read_raw::<Complex32>().map_err(|e| {
            h5_error(
                self.path,
                key,
                "complex64 or complex128 (h5py's compound {r, i})",
                e,
            )
        })
    }

    fn has_attr(&self, loc: &hdf5::Location, name: &str) -> bool {
        loc.attr_names()
            .map(|names| names.iter().any(|n| n == name))
            .unwrap_or(false)
    }

    fn scalar_attr(&self, loc: &hdf5::Location, key: &str, name: &str) -> Result<f64> {
        let attr = loc
            .attr(name)
            .map_err(|e| h5_error(self.path, key, "a readable attribute", e))?;
        attr.read_raw::<f64>()
            .map_err(|e| h5_error(self.path, key, "a float64 attribute", e))
            .and_then(|v| match v.as_slice() {
                [x] => Ok(*x),
                _ => Err(DataError::invalid(
                    self.path,
                    key,
                    Problem::Shape,
                    "a scalar attribute",
                    format!("{} values", v.len()),
                )),
            })
    }

    fn optional_attr(&self, loc: &hdf5::Location, name: &str) -> Result<f64> {
        if !self.has_attr(loc, name) {
            return Ok(0.0);
        }
        self.scalar_attr(loc, &format!("@{name}"), name)
    }

    fn required_attr(&self, ds: &hdf5::Dataset, dataset: &str, name: &str) -> Result<f64> {
        let key = format!("{dataset}@{name}");
        if !self.has_attr(ds, name) {
            return Err(DataError::MissingKey {
                file: self.path.to_path_buf(),
                key,
                hint: format!("attribute `{name}` of `{dataset}`, float64 metres"),
            });
        }
        self.scalar_attr(ds, &key, name)
    }

    fn string_attr(&self, loc: &hdf5::Location, name: &str) -> Result<String> {
        if !self.has_attr(loc, name) {
            return Ok(String::new());
        }
        let key = format!("@{name}");
        let attr = loc
            .attr(name)
            .map_err(|e| h5_error(self.path, &key, "a readable attribute", e))?;
        let descriptor = attr
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| h5_error(self.path, &key, "a string attribute", e))?;
        let err = |e| h5_error(self.path, &key, "a string attribute", e);
        match descriptor {
            TypeDescriptor::VarLenUnicode => Ok(attr
                .read_scalar::<VarLenUnicode>()
                .map_err(err)?
                .to_string()),
            TypeDescriptor::VarLenAscii => {
                Ok(attr.read_scalar::<VarLenAscii>().map_err(err)?.to_string())
            }
            TypeDescriptor::FixedAscii(_) | TypeDescriptor::FixedUnicode(_) => {
                // Fixed-length strings (numpy `S` arrays): read the bytes, drop the padding.
                let bytes = attr
                    .read_raw::<hdf5::types::FixedUnicode<4096>>()
                    .map_err(err)?;
                Ok(bytes.first().map(|s| s.to_string()).unwrap_or_default())
            }
            other => Err(DataError::invalid(
                self.path,
                &key,
                Problem::DType,
                "a string",
                format!("{other:?}"),
            )),
        }
    }

    /// `opr_weights`: an attribute of `probe` (ptychodus' reader) or a root dataset
    /// (ptychodus' writer).
    fn opr_weights(&self, probe: &hdf5::Dataset) -> Result<Option<Array2<f64>>> {
        let (key, shape, values) = if self.has_attr(probe, keys::OPR_WEIGHTS) {
            let key = format!("probe@{}", keys::OPR_WEIGHTS);
            let attr = probe
                .attr(keys::OPR_WEIGHTS)
                .map_err(|e| h5_error(self.path, &key, "a readable attribute", e))?;
            let values = attr
                .read_raw::<f64>()
                .map_err(|e| h5_error(self.path, &key, "float weights", e))?;
            (key, attr.shape(), values)
        } else if dataset_exists(self.file, keys::OPR_WEIGHTS) {
            let ds = self.dataset(keys::OPR_WEIGHTS, "")?;
            let values = ds
                .read_raw::<f64>()
                .map_err(|e| h5_error(self.path, keys::OPR_WEIGHTS, "float weights", e))?;
            (keys::OPR_WEIGHTS.to_string(), ds.shape(), values)
        } else {
            return Ok(None);
        };
        match *shape {
            [k, c] => Ok(Some(
                Array2::from_shape_vec((k, c), values).expect("shape read with the data"),
            )),
            _ => Err(DataError::invalid(
                self.path,
                &key,
                Problem::Rank,
                "2-d (K, coherent modes)",
                format!("shape {shape:?}"),
            )),
        }
    }
}
