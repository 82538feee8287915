//! Ground truth for the memory map: each file's own patches (`Y`, or upstream's
//! `ground_truth_patches`), streamed through a mapped staging file, or patches extracted from its
//! `objectGuess` at every member's position with the same arithmetic as the in-memory path.

use std::path::Path;

use num_complex::Complex32;

use super::build::{Plan, as_mut, create_mapped};
use crate::contract::keys;
use crate::error::{DataError, Problem, Result};
use crate::grouped::LOCAL_OFFSET_SIGN;
use crate::reader::{Ctx, DiffLayout};

/// Where a file's ground truth comes from.
pub(super) enum Truth {
    /// Its own patches (`Y` or `ground_truth_patches`), one per position.
    Patches(DiffLayout),
    /// Extracted from `objectGuess` at each member's position.
    Object,
}

/// Finds a usable ground-truth source from headers only.
pub(super) fn truth_source(
    reader: &mut crate::npz::NpzReader,
    n: usize,
    npix: usize,
) -> Result<Option<Truth>> {
    for key in [keys::Y, keys::GROUND_TRUTH_PATCHES] {
        if let Some(h) = reader.header(key)? {
            let mut shape = h.shape.clone();
            if shape.len() == 4 && shape[3] == 1 {
                shape.pop();
            }
            if shape == [n, npix, npix] && h.dtype.starts_with("complex") {
                let found = format!(
                    "{}-d array of shape {:?} ({})",
                    h.shape.len(),
                    h.shape,
                    h.dtype
                );
                return Ok(Some(Truth::Patches(DiffLayout {
                    key,
                    n,
                    npix,
                    hwn: false,
                    fortran: h.fortran_order,
                    dtype: h.dtype,
                    found,
                })));
            }
        }
    }
    Ok(reader.contains(keys::OBJECT).then_some(Truth::Object))
}

/// Writes the ground-truth patches of `plan`'s groups into `y_out` (rows from `first_row`).
pub(super) fn write_truth(
    plan: &Plan,
    truth: &Truth,
    first_row: usize,
    c: usize,
    y_out: &mut [Complex32],
    tp: &Path,
) -> Result<()> {
    let n = plan.layout.npix;
    let npix2 = n * n;
    let (x, y) = (&plan.positions.xcoords, &plan.positions.ycoords);
    match truth {
        Truth::Patches(layout) => {
            let stage_path = tp.join("stage_y.c64");
            let mut stage_map = create_mapped(&stage_path, plan.positions.n * npix2 * 8)?;
            let stage = as_mut::<Complex32>(&mut stage_map, &stage_path)?;
            let mut reader = crate::npz::NpzReader::open(&plan.path)?;
            reader.stream_c64(layout.key, |k, v| {
                let at = layout.canonical_index(k);
                if !(v.re.is_finite() && v.im.is_finite()) {
                    return Err(DataError::invalid(
                        &plan.path,
                        layout.key,
                        Problem::NonFinite,
                        "finite complex values",
                        format!("{v} at flat index {at}"),
                    ));
                }
                stage[at] = v;
                Ok(())
            })?;
            for (g, members) in plan.groups.iter().enumerate() {
                for (ch, &i) in members.iter().enumerate() {
                    let dst = ((first_row + g) * c + ch) * npix2;
                    y_out[dst..dst + npix2].copy_from_slice(&stage[i * npix2..(i + 1) * npix2]);
                }
            }
            drop(stage_map);
            std::fs::remove_file(&stage_path)
                .map_err(|e| DataError::io(&stage_path, "cannot remove", e))?;
        }
        Truth::Object => {
            // The object is read whole: it is one image, unlike the diffraction stack.
            let mut reader = crate::npz::NpzReader::open(&plan.path)?;
            let mut ctx = Ctx {
                file: &plan.path,
                warnings: Vec::new(),
            };
            let scan_object =
                crate::reader::read_object(&mut reader, &mut ctx, n)?.ok_or_else(|| {
                    DataError::MissingKey {
                        file: plan.path.clone(),
                        key: keys::OBJECT.to_string(),
                        hint: "the object the ground truth is extracted from".to_string(),
                    }
                })?;
            if let Some(k) = scan_object
                .iter()
                .position(|v| !(v.re.is_finite() && v.im.is_finite()))
            {
                return Err(DataError::invalid(
                    &plan.path,
                    keys::OBJECT,
                    Problem::NonFinite,
                    "finite complex values",
                    format!(
                        "{} at flat index {k}",
                        scan_object.iter().nth(k).copied().unwrap_or_default()
                    ),
                ));
            }
            for (g, members) in plan.groups.iter().enumerate() {
                let cx = members.iter().map(|&i| x[i]).sum::<f64>() / c as f64;
                let cy = members.iter().map(|&i| y[i]).sum::<f64>() / c as f64;
                for (ch, &i) in members.iter().enumerate() {
                    // the same arithmetic as the in-memory path: global + sign · local
                    let px = cx + LOCAL_OFFSET_SIGN * (LOCAL_OFFSET_SIGN * (x[i] - cx));
                    let py = cy + LOCAL_OFFSET_SIGN * (LOCAL_OFFSET_SIGN * (y[i] - cy));
                    let dst = ((first_row + g) * c + ch) * npix2;
                    let view =
                        ndarray::ArrayViewMut2::from_shape((n, n), &mut y_out[dst..dst + npix2])
                            .map_err(|e| {
                                DataError::io(
                                    tp,
                                    "cannot view ground truth in",
                                    std::io::Error::other(e.to_string()),
                                )
                            })?;
                    crate::patches::extract_patch_into(&scan_object, px, py, view);
                }
            }
        }
    }
    Ok(())
}
