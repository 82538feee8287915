//! The diffraction stack: which key (`diffraction`, else legacy `diff3d`), which layout
//! (`(n, N, N)` or legacy `(N, N, n)`, decided by the coordinate count first, FORMAT-001), and
//! whether it holds intensities where amplitudes are expected.

use std::io::{Read, Seek};

use ndarray::Array3;

use super::{Ctx, read_required};
use crate::contract::{IntensityPolicy, LoadOptions, keys};
use crate::error::{DataError, Problem, Result};
use crate::npz::{ArrayData, NpzReader};

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
pub(crate) fn diffraction_layout<R: Read + Seek>(
    reader: &mut NpzReader<R>,
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

pub(crate) fn read_diffraction<R: Read + Seek>(
    reader: &mut NpzReader<R>,
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
