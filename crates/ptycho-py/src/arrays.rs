//! numpy arrays in and out: a scan given as arrays (or a mapping of them) becomes a
//! [`ScanData`], checked strictly: diffraction amplitudes float32 `(n, N, N)`, positions float64
//! `(n,)`, probe complex64 `(N, N)`, object complex64 `(H, W)`. A wrong dtype or shape raises
//! `ValueError` naming the argument, what was expected and what was found; nothing is converted
//! silently.

use std::path::PathBuf;

use ndarray::{Array1, Array2, Array3};
use num_complex::Complex32;
use numpy::{
    Element, IntoPyArray, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use ptycho_data::ScanData;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors::bad_argument;

/// Keys of a scan mapping, as in the canonical NPZ where they differ (`probeGuess`,
/// `objectGuess`) both spellings are accepted.
const SCAN_KEYS: &str = "diffraction, xcoords, ycoords, probe (object optional)";

/// Data to train on or reconstruct: an NPZ path, or a scan given as arrays.
#[derive(Debug)]
pub enum ScanSource {
    /// A canonical NPZ file.
    File(PathBuf),
    /// Arrays, already checked.
    Arrays(Box<ScanData>),
}

impl ScanSource {
    /// Reads `value` given as argument `name`: a `str` or `os.PathLike` path, or a mapping with
    /// the arrays of a scan (see [`scan_from_mapping`]).
    pub fn from_py(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        if value.is_instance_of::<PyString>() || value.hasattr("__fspath__")? {
            return Ok(ScanSource::File(value.extract::<PathBuf>()?));
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            return Ok(ScanSource::Arrays(Box::new(scan_from_mapping(name, dict)?)));
        }
        Err(bad_argument(
            name,
            format!("a path or a mapping with {SCAN_KEYS}"),
            type_name(value),
        ))
    }

    /// The scan, loading it when it is a file.
    pub fn load(self) -> Result<ScanData, ptycho_data::DataError> {
        match self {
            ScanSource::File(path) => Ok(ScanData::load(&path)?.data),
            ScanSource::Arrays(scan) => Ok(*scan),
        }
    }
}

/// A scan from a mapping of arrays; `name` is the argument, named with the key in errors.
pub fn scan_from_mapping(name: &str, dict: &Bound<'_, PyDict>) -> PyResult<ScanData> {
    let get = |keys: &[&str]| -> PyResult<Option<Bound<'_, PyAny>>> {
        for key in keys {
            if let Some(v) = dict.get_item(key)?
                && !v.is_none()
            {
                return Ok(Some(v));
            }
        }
        Ok(None)
    };
    let required = |keys: &[&str]| -> PyResult<Bound<'_, PyAny>> {
        get(keys)?.ok_or_else(|| {
            bad_argument(
                name,
                format!("a mapping with {SCAN_KEYS}"),
                format!("no `{}`", keys[0]),
            )
        })
    };
    let diffraction: Array3<f32> = array(
        &format!("{name}['diffraction']"),
        &required(&["diffraction", "diff3d"])?,
        "float32 amplitudes of shape (n, N, N)",
    )?;
    let (n, rows, cols) = diffraction.dim();
    if rows != cols || n == 0 {
        return Err(bad_argument(
            &format!("{name}['diffraction']"),
            "float32 amplitudes of shape (n, N, N) with n >= 1 square patterns",
            format!("shape ({n}, {rows}, {cols})"),
        ));
    }
    let coords = |key: &str| -> PyResult<Array1<f64>> {
        let what = format!("{name}['{key}']");
        let a: Array1<f64> = array(&what, &required(&[key])?, "float64 of shape (n,)")?;
        if a.len() != n {
            return Err(bad_argument(
                &what,
                format!("float64 of shape ({n},) (one per pattern)"),
                format!("shape ({},)", a.len()),
            ));
        }
        Ok(a)
    };
    let xcoords = coords("xcoords")?;
    let ycoords = coords("ycoords")?;
    let probe: Array2<Complex32> = array(
        &format!("{name}['probe']"),
        &required(&["probe", "probeGuess"])?,
        "complex64 of shape (N, N)",
    )?;
    if probe.dim() != (rows, rows) {
        return Err(bad_argument(
            &format!("{name}['probe']"),
            format!("complex64 of shape ({rows}, {rows}) (the pattern size)"),
            format!("shape {:?}", probe.dim()),
        ));
    }
    let object = get(&["object", "objectGuess"])?
        .map(|o| {
            array::<Complex32, ndarray::Ix2>(
                &format!("{name}['object']"),
                &o,
                "complex64 of shape (H, W)",
            )
        })
        .transpose()?;
    Ok(ScanData {
        diffraction,
        xcoords_start: xcoords.clone(),
        ycoords_start: ycoords.clone(),
        xcoords,
        ycoords,
        probe,
        object,
        scan_index: Array1::from_iter(0..n as i64),
        y_patches: None,
    })
}

/// An owned copy of a numpy array of element `T` and dimension `D`, or `ValueError` naming
/// `what`, `expected` and the dtype and shape found.
pub fn array<T: Element + Clone, D: ndarray::Dimension>(
    what: &str,
    value: &Bound<'_, PyAny>,
    expected: &str,
) -> PyResult<ndarray::Array<T, D>> {
    let Ok(untyped) = value.cast::<PyUntypedArray>() else {
        return Err(bad_argument(
            what,
            format!("a numpy array, {expected}"),
            type_name(value),
        ));
    };
    let py = value.py();
    let found = || {
        format!(
            "{} of shape {}",
            untyped.dtype(),
            shape_text(untyped.shape())
        )
    };
    if !untyped.dtype().is_equiv_to(&T::get_dtype(py)) {
        return Err(bad_argument(what, expected, found()));
    }
    let typed = value
        .cast::<numpy::PyArray<T, D>>()
        .map_err(|_| bad_argument(what, expected, found()))?;
    Ok(typed.readonly().as_array().to_owned())
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The Python type of `value`, for messages.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an object".to_owned())
}

/// A scan as a dict of numpy arrays (the canonical NPZ's content, `probe` and `object` named
/// plainly).
pub fn scan_to_dict<'py>(py: Python<'py>, scan: ScanData) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("diffraction", scan.diffraction.into_pyarray(py))?;
    dict.set_item("xcoords", scan.xcoords.into_pyarray(py))?;
    dict.set_item("ycoords", scan.ycoords.into_pyarray(py))?;
    dict.set_item("probe", scan.probe.into_pyarray(py))?;
    dict.set_item("object", scan.object.map(|o| o.into_pyarray(py)))?;
    Ok(dict)
}
