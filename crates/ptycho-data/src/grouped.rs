//! The grouped dataset (upstream `_generate_dataset_from_groups`, §3.5), normalisation (§5.1) and
//! the physics intensity scale (§5.2). Layout is channel-first: images `(G, C, N, N)`, coordinates
//! `(G, C, 1, 2)` with the last axis `[x, y]`, group centroids `(G, 1, 1, 2)`.

use ndarray::{Array2, Array4, Axis, s};
use num_complex::Complex32;

use crate::contract::ScanData;
use crate::error::{DataError, Result};
use crate::grouping::{GroupingParams, group_positions};
use crate::patches::extract_patch_into;

/// Sign of the local offsets: `coords_relative = -(coords_nn - centroid)` (upstream c40fd52).
pub const LOCAL_OFFSET_SIGN: f64 = -1.0;

/// Group member positions, centroids and relative offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCoords {
    /// `(G, C, 1, 2)`: `[x, y]` of each member.
    pub nn: Array4<f64>,
    /// `(G, 1, 1, 2)`: the group centroid ("global offset").
    pub offsets: Array4<f64>,
    /// `(G, C, 1, 2)`: `centroid - position` ("local offset", sign −1).
    pub relative: Array4<f64>,
}

impl GroupCoords {
    /// Builds the coordinates of `groups` from positions `x`, `y`.
    pub fn new(x: &[f64], y: &[f64], groups: &[Vec<usize>]) -> Self {
        let g = groups.len();
        let c = groups.first().map_or(1, Vec::len);
        let mut nn = Array4::zeros((g, c, 1, 2));
        let mut offsets = Array4::zeros((g, 1, 1, 2));
        let mut relative = Array4::zeros((g, c, 1, 2));
        for (gi, members) in groups.iter().enumerate() {
            let (mut mx, mut my) = (0.0, 0.0);
            for (ci, &i) in members.iter().enumerate() {
                nn[[gi, ci, 0, 0]] = x[i];
                nn[[gi, ci, 0, 1]] = y[i];
                mx += x[i];
                my += y[i];
            }
            mx /= c as f64;
            my /= c as f64;
            offsets[[gi, 0, 0, 0]] = mx;
            offsets[[gi, 0, 0, 1]] = my;
            for ci in 0..c {
                relative[[gi, ci, 0, 0]] = LOCAL_OFFSET_SIGN * (nn[[gi, ci, 0, 0]] - mx);
                relative[[gi, ci, 0, 1]] = LOCAL_OFFSET_SIGN * (nn[[gi, ci, 0, 1]] - my);
            }
        }
        GroupCoords {
            nn,
            offsets,
            relative,
        }
    }

    /// Member positions recovered from the centroid and the local offsets: `global - local`.
    pub fn positions(&self) -> Array4<f64> {
        &self.offsets + &(&self.relative * LOCAL_OFFSET_SIGN)
    }
}

/// The grouped training set of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedData {
    /// `(G, C)` global scan indices of each group's members.
    pub nn_indices: Array2<i64>,
    /// `(G, C, N, N)` raw (un-normalised) diffraction amplitudes of the members.
    pub diffraction: Array4<f32>,
    /// `(G, C, N, N)` normalised amplitudes, `mean_{g,c} Σ_hw X² = (N/2)²`: the model input.
    pub x_full: Array4<f32>,
    /// The factor `X_full = norm · diffraction`.
    pub norm: f32,
    /// `(G, C, N, N)` ground-truth object patches (complex64), from the file's `Y` or extracted
    /// from `objectGuess` at each member's true position; `None` without either.
    pub y: Option<Array4<Complex32>>,
    /// Nominal positions (`xcoords`, `ycoords`).
    pub coords: GroupCoords,
    /// True positions (`xcoords_start`, `ycoords_start`).
    pub coords_start: GroupCoords,
    /// The full object, passed through.
    pub object: Option<Array2<Complex32>>,
    /// Rows of the original file kept by subsampling, when it happened.
    pub sample_indices: Option<Vec<usize>>,
    /// The gridsize the groups were made with.
    pub gridsize: usize,
}

impl GroupedData {
    /// Groups, `G`.
    pub fn len(&self) -> usize {
        self.nn_indices.nrows()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels per group, `C`.
    pub fn channels(&self) -> usize {
        self.nn_indices.ncols()
    }
}

/// Upstream `normalize_data`: the factor `sqrt((N/2)² / mean_{g,c} Σ_hw d²)` (f64 accumulation,
/// f32 result) over the grouped stack, so each appearance of a pattern counts once.
pub fn normalization_factor(diffraction: &Array4<f32>) -> Result<f32> {
    let (g, c, n, _) = diffraction.dim();
    let sum_sq: f64 = diffraction
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    let mean = sum_sq / (g * c).max(1) as f64;
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(DataError::parameter(
            "diffraction",
            "some non-zero, finite amplitude to normalise",
            format!("mean energy per pattern {mean}"),
        ));
    }
    let half = n as f64 / 2.0;
    Ok(((half * half) / mean).sqrt() as f32)
}

/// Upstream `scale_nphotons`: `sqrt(nphotons / mean_{g,c} Σ_hw X²)`.
pub fn scale_nphotons(x: &Array4<f32>, nphotons: f64) -> f64 {
    let (g, c, _, _) = x.dim();
    let sum_sq: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    (nphotons / (sum_sq / (g * c).max(1) as f64)).sqrt()
}

/// Closed-form intensity scale for normalised data, `sqrt(nphotons) / (N/2)` (equal to
/// [`scale_nphotons`] of `X_full`, whose mean energy is `(N/2)²`).
pub fn intensity_scale(nphotons: f64, n: usize) -> f64 {
    nphotons.sqrt() / (n as f64 / 2.0)
}

/// Groups a scan and assembles the grouped set (upstream `generate_grouped_data`).
pub fn generate_grouped_data(scan: &ScanData, params: &GroupingParams) -> Result<GroupedData> {
    let x = scan
        .xcoords
        .as_slice()
        .map_or_else(|| scan.xcoords.to_vec(), <[f64]>::to_vec);
    let y = scan
        .ycoords
        .as_slice()
        .map_or_else(|| scan.ycoords.to_vec(), <[f64]>::to_vec);
    let groups = group_positions(&x, &y, params)?;
    assemble(scan, &groups, params.gridsize)
}

/// Builds the grouped set for given `groups` (each `C` global indices).
pub fn assemble(scan: &ScanData, groups: &[Vec<usize>], gridsize: usize) -> Result<GroupedData> {
    let g = groups.len();
    let c = gridsize * gridsize;
    let n = scan.patch_size();
    if let Some(bad) = groups.iter().find(|m| m.len() != c) {
        return Err(DataError::parameter(
            "groups",
            format!("{c} members per group"),
            bad.len(),
        ));
    }
    let x = scan.xcoords.to_vec();
    let y = scan.ycoords.to_vec();
    let coords = GroupCoords::new(&x, &y, groups);
    let coords_start = GroupCoords::new(
        &scan.xcoords_start.to_vec(),
        &scan.ycoords_start.to_vec(),
        groups,
    );
    let mut nn_indices = Array2::zeros((g, c));
    let mut diffraction = Array4::zeros((g, c, n, n));
    for (gi, members) in groups.iter().enumerate() {
        for (ci, &i) in members.iter().enumerate() {
            nn_indices[[gi, ci]] = i as i64;
            diffraction
                .slice_mut(s![gi, ci, .., ..])
                .assign(&scan.diffraction.index_axis(Axis(0), i));
        }
    }
    let norm = normalization_factor(&diffraction)?;
    let x_full = diffraction.mapv(|v| v * norm);
    let y_patches = if let Some(yp) = &scan.y_patches {
        let mut out = Array4::zeros((g, c, n, n));
        for (gi, members) in groups.iter().enumerate() {
            for (ci, &i) in members.iter().enumerate() {
                out.slice_mut(s![gi, ci, .., ..])
                    .assign(&yp.index_axis(Axis(0), i));
            }
        }
        Some(out)
    } else if let Some(obj) = &scan.object {
        // Each member at its own position (global - local), not upstream's mirrored
        // `global + local` (suspected bug §3.6, pitfall 16).
        let mut out = Array4::zeros((g, c, n, n));
        for gi in 0..g {
            for ci in 0..c {
                let px = coords.offsets[[gi, 0, 0, 0]]
                    + LOCAL_OFFSET_SIGN * coords.relative[[gi, ci, 0, 0]];
                let py = coords.offsets[[gi, 0, 0, 1]]
                    + LOCAL_OFFSET_SIGN * coords.relative[[gi, ci, 0, 1]];
                extract_patch_into(obj, px, py, out.slice_mut(s![gi, ci, .., ..]));
            }
        }
        Some(out)
    } else {
        None
    };
    Ok(GroupedData {
        nn_indices,
        diffraction,
        x_full,
        norm,
        y: y_patches,
        coords,
        coords_start,
        object: scan.object.clone(),
        sample_indices: None,
        gridsize,
    })
}
