//! Reading the members of a canonical NPZ with the contract's checks and conversions; shared by
//! [`crate::contract::ScanData::load_with`] and the streaming memory-map builder. The
//! diffraction stack (key, layout, intensity detection) lives in [`diffraction`].

mod diffraction;

pub(crate) use diffraction::{
    DiffLayout, INTENSITY_EXPECTED, diffraction_layout, read_diffraction,
};

use std::io::{Read, Seek};
use std::path::Path;

use ndarray::{Array2, Array3};
use num_complex::Complex32;

use crate::contract::{DataWarning, keys};
use crate::error::{DataError, Problem, Result};
use crate::npz::{ArrayData, NpyArray, NpzReader};

pub(crate) fn describe(arr: &NpyArray) -> String {
    format!(
        "{}-d array of shape {:?} ({})",
        arr.shape.len(),
        arr.shape,
        arr.dtype
    )
}

pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub warnings: Vec<DataWarning>,
}

impl Ctx<'_> {
    pub(crate) fn warn(&mut self, key: &str, message: impl Into<String>) {
        let w = DataWarning {
            key: key.to_string(),
            message: message.into(),
        };
        log::warn!("{}: {}", self.file.display(), w);
        self.warnings.push(w);
    }

    pub(crate) fn invalid(
        &self,
        key: &str,
        p: Problem,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> DataError {
        DataError::invalid(self.file, key, p, expected, found)
    }

    /// Real floating data as f64 (coordinates).
    pub(crate) fn real_f64(
        &mut self,
        key: &str,
        arr: NpyArray,
        expected: &str,
    ) -> Result<Vec<f64>> {
        let found = describe(&arr);
        match arr.data {
            ArrayData::F64(v) => Ok(v),
            ArrayData::F32(v) => {
                self.warn(key, "float32 converted to float64");
                Ok(v.into_iter().map(f64::from).collect())
            }
            ArrayData::Int(v) => {
                self.warn(key, format!("{} converted to float64", arr.dtype));
                Ok(v.into_iter().map(|x| x as f64).collect())
            }
            _ => Err(self.invalid(key, Problem::DType, expected, found)),
        }
    }

    /// Complex data as complex64; complex128 and real floats are converted with a warning.
    pub(crate) fn complex64(
        &mut self,
        key: &str,
        arr: NpyArray,
        expected: &str,
    ) -> Result<Vec<Complex32>> {
        let found = describe(&arr);
        match arr.data {
            ArrayData::C64(v) => Ok(v),
            ArrayData::C128(v) => {
                self.warn(
                    key,
                    "complex128 converted to complex64 (DATA-001: complex arrays must be complex64)",
                );
                Ok(v.into_iter()
                    .map(|c| Complex32::new(c.re as f32, c.im as f32))
                    .collect())
            }
            ArrayData::F32(v) => {
                self.warn(key, "real float32 converted to complex64 with zero phase");
                Ok(v.into_iter().map(|r| Complex32::new(r, 0.0)).collect())
            }
            ArrayData::F64(v) => {
                self.warn(key, "real float64 converted to complex64 with zero phase");
                Ok(v.into_iter()
                    .map(|r| Complex32::new(r as f32, 0.0))
                    .collect())
            }
            _ => Err(self.invalid(key, Problem::DType, expected, found)),
        }
    }
}

pub(crate) fn read_required<R: Read + Seek>(
    reader: &mut NpzReader<R>,
    key: &str,
    hint: &str,
) -> Result<NpyArray> {
    reader.read(key)?.ok_or_else(|| DataError::MissingKey {
        file: reader.path().to_path_buf(),
        key: key.to_string(),
        hint: hint.to_string(),
    })
}

pub(crate) fn first_non_finite<'a, T: 'a>(
    values: impl IntoIterator<Item = &'a T>,
    finite: impl Fn(&T) -> bool,
) -> Option<usize> {
    values.into_iter().position(|v| !finite(v))
}

/// Converts a flat index of a C-order array of `shape` into its multi-index, for messages.
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = flat % d;
            flat /= d;
        }
    }
    idx
}

/// Scan positions, read first: their count decides the diffraction layout (FORMAT-001).
pub(crate) struct Positions {
    pub n: usize,
    pub xcoords: Vec<f64>,
    pub ycoords: Vec<f64>,
    pub xcoords_start: Vec<f64>,
    pub ycoords_start: Vec<f64>,
}

pub(crate) fn read_positions<R: Read + Seek>(
    reader: &mut NpzReader<R>,
    ctx: &mut Ctx<'_>,
) -> Result<Positions> {
    let coord_expected = "1-d float64 array (n,) of scan positions in object pixels";
    let x_arr = read_required(
        reader,
        keys::XCOORDS,
        "scan x positions (columns of objectGuess, pixels)",
    )?;
    let y_arr = read_required(
        reader,
        keys::YCOORDS,
        "scan y positions (rows of objectGuess, pixels)",
    )?;
    for arr in [&x_arr, &y_arr] {
        let key = if std::ptr::eq(arr, &x_arr) {
            keys::XCOORDS
        } else {
            keys::YCOORDS
        };
        if arr.shape.len() != 1 {
            return Err(ctx.invalid(key, Problem::Rank, coord_expected, describe(arr)));
        }
    }
    if x_arr.shape != y_arr.shape {
        return Err(ctx.invalid(
            keys::YCOORDS,
            Problem::Length,
            format!("the same length as xcoords ({})", x_arr.shape[0]),
            format!("length {}", y_arr.shape[0]),
        ));
    }
    let n = x_arr.shape[0];
    if n == 0 {
        return Err(ctx.invalid(
            keys::XCOORDS,
            Problem::Length,
            "at least one scan position",
            "an empty array",
        ));
    }
    let xcoords = ctx.real_f64(keys::XCOORDS, x_arr, coord_expected)?;
    let ycoords = ctx.real_f64(keys::YCOORDS, y_arr, coord_expected)?;
    let mut starts = Vec::new();
    for (key, fallback) in [
        (keys::XCOORDS_START, &xcoords),
        (keys::YCOORDS_START, &ycoords),
    ] {
        match reader.read(key)? {
            Some(arr) => {
                if arr.shape != [n] {
                    return Err(ctx.invalid(
                        key,
                        if arr.shape.len() == 1 {
                            Problem::Length
                        } else {
                            Problem::Rank
                        },
                        format!("1-d float64 array of length n = {n} (len of xcoords)"),
                        describe(&arr),
                    ));
                }
                starts.push(ctx.real_f64(key, arr, coord_expected)?);
            }
            None => starts.push(fallback.clone()),
        }
    }
    let ycoords_start = starts.pop().unwrap_or_default();
    let xcoords_start = starts.pop().unwrap_or_default();

    Ok(Positions {
        n,
        xcoords,
        ycoords,
        xcoords_start,
        ycoords_start,
    })
}

pub(crate) fn read_probe(
    ctx: &mut Ctx<'_>,
    arr: NpyArray,
    npix: usize,
) -> Result<Array2<Complex32>> {
    let key = keys::PROBE;
    let expected = format!("2-d complex64 array ({npix}, {npix}) (the pattern size N)");
    let mut shape = arr.shape.clone();
    if shape.len() == 3 && shape[2] == 1 {
        ctx.warn(
            key,
            format!("trailing singleton axis of shape {shape:?} removed"),
        );
        shape.pop();
    }
    if shape.len() != 2 {
        return Err(ctx.invalid(key, Problem::Rank, expected, describe(&arr)));
    }
    if shape != [npix, npix] {
        return Err(ctx.invalid(key, Problem::Shape, expected, describe(&arr)));
    }
    let v = ctx.complex64(key, arr, &expected)?;
    Array2::from_shape_vec((npix, npix), v)
        .map_err(|e| ctx.invalid(key, Problem::Format, "consistent shape", e.to_string()))
}

pub(crate) fn read_y<R: Read + Seek>(
    reader: &mut NpzReader<R>,
    ctx: &mut Ctx<'_>,
    n: usize,
    npix: usize,
) -> Result<Option<Array3<Complex32>>> {
    let (key, arr) = match reader.read(keys::Y)? {
        Some(arr) => (keys::Y, arr),
        None => match reader.read(keys::GROUND_TRUTH_PATCHES)? {
            Some(arr) => {
                // Upstream's simulate_and_save writes ground truth under this key, which no upstream
                // loader reads (pitfall 4); we use it as Y.
                ctx.warn(
                    keys::GROUND_TRUTH_PATCHES,
                    "used as the ground-truth patches `Y`",
                );
                (keys::GROUND_TRUTH_PATCHES, arr)
            }
            None => return Ok(None),
        },
    };
    let expected =
        format!("complex64 array ({n}, {npix}, {npix}) of object patches, one per scan position");
    let mut shape = arr.shape.clone();
    if shape.len() == 4 && shape[3] == 1 {
        shape.pop();
    }
    if shape.len() != 3 {
        return Err(ctx.invalid(key, Problem::Rank, expected, describe(&arr)));
    }
    if shape[1] != npix || shape[2] != npix {
        return Err(ctx.invalid(key, Problem::Shape, expected, describe(&arr)));
    }
    if shape[0] != n {
        // Upstream drops a mis-sized Y silently (pitfall 3: generate_patches_tool's singleton Y).
        ctx.warn(
            key,
            format!(
                "{} patches for {n} scan positions cannot be paired with the positions; ignored",
                shape[0]
            ),
        );
        return Ok(None);
    }
    if !matches!(arr.data, ArrayData::C64(_) | ArrayData::C128(_)) {
        let found = describe(&arr);
        return Err(ctx.invalid(key, Problem::DType, expected, found));
    }
    let v = ctx.complex64(key, arr, &expected)?;
    let y = Array3::from_shape_vec((n, npix, npix), v)
        .map_err(|e| ctx.invalid(key, Problem::Format, "consistent shape", e.to_string()))?;
    Ok(Some(y))
}

/// `objectGuess`, when present: 2-d, at least `N × N`, complex64 (complex128 converted).
pub(crate) fn read_object<R: Read + Seek>(
    reader: &mut NpzReader<R>,
    ctx: &mut Ctx<'_>,
    npix: usize,
) -> Result<Option<Array2<Complex32>>> {
    let object = match reader.read(keys::OBJECT)? {
        Some(arr) => {
            let expected = format!("2-d complex64 array (H, W) with H, W >= N = {npix}");
            if arr.shape.len() != 2 {
                return Err(ctx.invalid(keys::OBJECT, Problem::Rank, expected, describe(&arr)));
            }
            if arr.shape[0] < npix || arr.shape[1] < npix {
                return Err(ctx.invalid(keys::OBJECT, Problem::Shape, expected, describe(&arr)));
            }
            let shape = (arr.shape[0], arr.shape[1]);
            let v = ctx.complex64(keys::OBJECT, arr, &expected)?;
            Some(Array2::from_shape_vec(shape, v).map_err(|e| {
                ctx.invalid(
                    keys::OBJECT,
                    Problem::Format,
                    "consistent shape",
                    e.to_string(),
                )
            })?)
        }
        None => None,
    };
    Ok(object)
}
