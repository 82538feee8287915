//! Reading the members of a canonical NPZ with the contract's checks and conversions; shared by
//! [`crate::contract::ScanData::load_with`] and the streaming memory-map builder.

use std::path::Path;

use ndarray::{Array2, Array3};
use num_complex::Complex32;

use crate::contract::{DataWarning, IntensityPolicy, LoadOptions, keys};
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

pub(crate) fn read_required(reader: &mut NpzReader, key: &str, hint: &str) -> Result<NpyArray> {
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

pub(crate) fn read_positions(reader: &mut NpzReader, ctx: &mut Ctx<'_>) -> Result<Positions> {
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

/// Where and how the diffraction stack is stored, decided from headers only.
#[derive(Debug, Clone)]
pub(crate) struct DiffLayout {
    /// `diffraction` or the legacy `diff3d`.
    pub key: &'static str,
    /// Patterns `n` and size `N`.
    pub n: usize,
    pub npix: usize,
    /// Stored as `(N, N, n)` (legacy HWN) rather than `(n, N, N)`.
    pub hwn: bool,
    /// Stored in Fortran order.
    pub fortran: bool,
    /// numpy dtype name and an "N-d array of shape .. (dtype)" description for messages.
    pub dtype: String,
    pub found: String,
}

impl DiffLayout {
    /// Position in the canonical C-order `(n, N, N)` stack of the `k`-th stored element.
    pub fn canonical_index(&self, k: usize) -> usize {
        let (n, p) = (self.n, self.npix);
        // multi-index of element k in the stored shape and order
        let stored = if self.hwn { [p, p, n] } else { [n, p, p] };
        let idx = if self.fortran {
            [
                k % stored[0],
                (k / stored[0]) % stored[1],
                k / (stored[0] * stored[1]),
            ]
        } else {
            [
                k / (stored[1] * stored[2]),
                (k / stored[2]) % stored[1],
                k % stored[2],
            ]
        };
        let (i, r, c) = if self.hwn {
            (idx[2], idx[0], idx[1])
        } else {
            (idx[0], idx[1], idx[2])
        };
        (i * p + r) * p + c
    }
}

/// Resolves the diffraction key and layout from headers (FORMAT-001: coordinate count first, then
/// squareness).
pub(crate) fn diffraction_layout(
    reader: &mut NpzReader,
    ctx: &mut Ctx<'_>,
    n: usize,
) -> Result<DiffLayout> {
    let (key, header) = match reader.header(keys::DIFFRACTION)? {
        Some(h) => (keys::DIFFRACTION, h),
        None => match reader.header(keys::DIFF3D)? {
            Some(h) => {
                ctx.warn(keys::DIFF3D, "legacy key `diff3d` read as `diffraction`");
                (keys::DIFF3D, h)
            }
            None => {
                return Err(DataError::MissingKey {
                    file: ctx.file.to_path_buf(),
                    key: keys::DIFFRACTION.to_string(),
                    hint: format!(
                        "diffraction amplitudes (n, N, N) float32 under `diffraction` (or legacy `diff3d`); the file has {:?}",
                        reader.names()
                    ),
                });
            }
        },
    };
    let found = format!(
        "{}-d array of shape {:?} ({})",
        header.shape.len(),
        header.shape,
        header.dtype
    );
    let expected =
        format!("3-d float32 array (n, N, N) of amplitudes with n = {n} (len of xcoords)");
    let mut shape = header.shape.clone();
    if shape.len() == 4 && shape[3] == 1 {
        ctx.warn(
            key,
            format!("trailing singleton axis of shape {shape:?} removed"),
        );
        shape.pop();
    }
    if shape.len() != 3 {
        return Err(ctx.invalid(key, Problem::Rank, expected, found));
    }
    let numeric = header.dtype.starts_with("float")
        || header.dtype.starts_with("int")
        || header.dtype.starts_with("uint");
    if !numeric || header.dtype == "float16" || header.dtype == "float128" {
        return Err(ctx.invalid(key, Problem::DType, expected, found));
    }
    let canonical = shape[0] == n && shape[1] == shape[2];
    let legacy = shape[2] == n && shape[0] == shape[1];
    let (npix, hwn) = if canonical {
        (shape[1], false)
    } else if legacy {
        ctx.warn(
            key,
            format!("legacy (N, N, n) layout {shape:?} transposed to (n, N, N)"),
        );
        (shape[0], true)
    } else if shape[0] == n || shape[2] == n {
        return Err(ctx.invalid(key, Problem::Shape, "square patterns (n, N, N)", found));
    } else {
        return Err(ctx.invalid(
            key,
            Problem::Length,
            expected,
            format!("{found}: no axis matches the {n} scan positions"),
        ));
    };
    if npix < 2 {
        return Err(ctx.invalid(
            key,
            Problem::Shape,
            "patterns of at least 2 x 2 pixels",
            found,
        ));
    }
    if header.dtype == "float64" {
        ctx.warn(key, "float64 converted to float32");
    }
    Ok(DiffLayout {
        key,
        n,
        npix,
        hwn,
        fortran: header.fortran_order,
        dtype: header.dtype,
        found,
    })
}

pub(crate) fn read_diffraction(
    reader: &mut NpzReader,
    ctx: &mut Ctx<'_>,
    n: usize,
    options: &LoadOptions,
) -> Result<Array3<f32>> {
    let layout = diffraction_layout(reader, ctx, n)?;
    let key = layout.key;
    let arr = read_required(reader, key, "diffraction amplitudes")?;
    let is_int = matches!(arr.data, ArrayData::Int(_));
    // The reader already returned C order; only the HWN axis order remains to undo.
    let values: Vec<f32> = match arr.data {
        ArrayData::F32(v) => v,
        ArrayData::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        ArrayData::Int(v) => v.into_iter().map(|x| x as f32).collect(),
        _ => {
            return Err(ctx.invalid(
                key,
                Problem::DType,
                "float32 amplitudes",
                layout.found.clone(),
            ));
        }
    };
    let canonical = if layout.hwn {
        let c_layout = DiffLayout {
            fortran: false,
            ..layout.clone()
        };
        let mut canonical = vec![0f32; values.len()];
        for (k, v) in values.into_iter().enumerate() {
            canonical[c_layout.canonical_index(k)] = v;
        }
        canonical
    } else {
        values
    };
    let (npix, found) = (layout.npix, layout.found);
    let mut data = Array3::from_shape_vec((n, npix, npix), canonical)
        .map_err(|e| ctx.invalid(key, Problem::Format, "consistent shape", e.to_string()))?;
    if let Some(reason) = intensity_evidence(&data, is_int, &found) {
        match options.intensity {
            IntensityPolicy::Reject => {
                return Err(ctx.invalid(key, Problem::Intensity, INTENSITY_EXPECTED, reason));
            }
            IntensityPolicy::ConvertToAmplitude => {
                ctx.warn(key, format!("{reason}; converted to amplitude with sqrt"));
                data.mapv_inplace(|v| if v > 0.0 { v.sqrt() } else { v });
            }
        }
    }
    Ok(data)
}

/// The expectation stated when intensities are found.
pub(crate) const INTENSITY_EXPECTED: &str = "amplitudes (sqrt of photon counts); convert with sqrt, or load with IntensityPolicy::ConvertToAmplitude";

/// Why the stack looks like intensities: integer dtype (detector counts), or float values that are
/// all whole numbers above 1 (counts stored as float; amplitudes sqrt(k) are rarely integral).
pub(crate) fn intensity_evidence(data: &Array3<f32>, is_int: bool, found: &str) -> Option<String> {
    if is_int {
        return Some(format!("{found}: integer detector counts (intensities)"));
    }
    let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let nonzero = data.iter().filter(|v| **v != 0.0).count();
    if max > 1.0 && nonzero > 0 && data.iter().all(|v| !v.is_finite() || v.fract() == 0.0) {
        return Some(format!(
            "{found}: every value is a whole number (max {max}), i.e. photon counts (intensities)"
        ));
    }
    None
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

pub(crate) fn read_y(
    reader: &mut NpzReader,
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
pub(crate) fn read_object(
    reader: &mut NpzReader,
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
