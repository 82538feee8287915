//! The training container (upstream `PtychoDataContainer` / `PtychoDataContainerTorch`): the
//! grouped, normalised arrays the model trains on, channel-first.
//!
//! | field | shape | type | content |
//! |---|---|---|---|
//! | `x` | `(B, C, N, N)` | f32 | normalised amplitudes `X_full` |
//! | `y` | `(B, C, N, N)` | complex64 | ground truth, or ones (unit amplitude, zero phase) |
//! | `y_i`, `y_phi` | `(B, C, N, N)` | f32 | `|Y|`, `angle(Y)` in (−π, π] |
//! | `coords_nominal` (= `coords`) | `(B, C, 1, 2)` | f32 | offsets of the nominal positions |
//! | `coords_true` | `(B, C, 1, 2)` | f32 | offsets of the true (`*_start`) positions |
//! | `probe` | `(N, N)` | complex64 | |
//! | `norm_y_i` | scalar | f32 | `sqrt(nphotons / mean Σ X²)` |
//! | `nn_indices` | `(B, C)` | i64 | global scan indices |
//! | `global_offsets` | `(B, 1, 1, 2)` | f64 | centroids |
//! | `local_offsets` | `(B, C, 1, 2)` | f64 | `coords_relative` |
//! | `yy_full` | `(H, W)` | complex64 | the full object, when known |
//!
//! Fixes against upstream: the true positions are used for `coords_true` (upstream sets both
//! nominal and true to the start offsets, TF-LOADER-COORDS-001), and [`PtychoDataContainer::split`]
//! splits every per-group array, `nn_indices` and the offsets included (pitfall 20).

use std::path::Path;

use ndarray::{Array2, Array3, Array4, Axis, s};
use num_complex::Complex32;

use crate::batch::{BatchSource, TrainingBatch};
use crate::error::{DataError, Result};
use crate::grouped::{GroupedData, scale_nphotons};
use crate::npz::{Compression, NpzWriter};

/// The container the model trains on.
#[derive(Debug, Clone, PartialEq)]
pub struct PtychoDataContainer {
    pub x: Array4<f32>,
    pub y: Array4<Complex32>,
    pub y_i: Array4<f32>,
    pub y_phi: Array4<f32>,
    /// False when `y` is the unit placeholder (no ground truth): disable any MAE loss.
    pub has_ground_truth: bool,
    pub coords_nominal: Array4<f32>,
    pub coords_true: Array4<f32>,
    pub probe: Array2<Complex32>,
    pub norm_y_i: f32,
    pub nn_indices: Array2<i64>,
    pub global_offsets: Array4<f64>,
    pub local_offsets: Array4<f64>,
    pub yy_full: Option<Array2<Complex32>>,
}

impl PtychoDataContainer {
    /// Builds the container from a grouped set, its probe and the photon count.
    pub fn from_grouped(
        grouped: &GroupedData,
        probe: &Array2<Complex32>,
        nphotons: f64,
    ) -> Result<Self> {
        let (b, c, n, _) = grouped.x_full.dim();
        if probe.dim() != (n, n) {
            return Err(DataError::parameter(
                "probe",
                format!("shape ({n}, {n}) like the patterns"),
                format!("{:?}", probe.shape()),
            ));
        }
        if !(nphotons > 0.0 && nphotons.is_finite()) {
            return Err(DataError::parameter(
                "nphotons",
                "a positive, finite photon count",
                nphotons,
            ));
        }
        let (y, has_ground_truth) = match &grouped.y {
            Some(y) => {
                if y.dim() != (b, c, n, n) {
                    return Err(DataError::parameter(
                        "Y",
                        format!("shape ({b}, {c}, {n}, {n})"),
                        format!("{:?}", y.shape()),
                    ));
                }
                (y.clone(), true)
            }
            None => (
                Array4::from_elem((b, c, n, n), Complex32::new(1.0, 0.0)),
                false,
            ),
        };
        Ok(PtychoDataContainer {
            x: grouped.x_full.clone(),
            y_i: y.mapv(|v| v.norm()),
            y_phi: y.mapv(|v| v.arg()),
            y,
            has_ground_truth,
            coords_nominal: grouped.coords.relative.mapv(|v| v as f32),
            coords_true: grouped.coords_start.relative.mapv(|v| v as f32),
            probe: probe.clone(),
            norm_y_i: scale_nphotons(&grouped.x_full, nphotons) as f32,
            nn_indices: grouped.nn_indices.clone(),
            global_offsets: grouped.coords.offsets.clone(),
            local_offsets: grouped.coords.relative.clone(),
            yy_full: grouped.object.clone(),
        })
    }

    /// Groups `B`.
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Alias of `coords_nominal` (upstream `coords`).
    pub fn coords(&self) -> &Array4<f32> {
        &self.coords_nominal
    }

    /// `x` in TF's channel-last layout `(B, N, N, C)`.
    pub fn x_channel_last(&self) -> Array4<f32> {
        self.x
            .view()
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned()
    }

    /// Coordinates in TF's layout `(B, 1, 2, C)`.
    pub fn coords_channel_last(coords: &Array4<f32>) -> Array4<f32> {
        coords
            .view()
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned()
    }

    /// Rows `[0, n_train)` and `[n_train, B)` with `n_train = floor(B · train_frac)`; every
    /// per-group array is split.
    pub fn split(&self, train_frac: f64) -> Result<(Self, Self)> {
        if !(0.0..=1.0).contains(&train_frac) {
            return Err(DataError::parameter(
                "train_frac",
                "a fraction in [0, 1]",
                train_frac,
            ));
        }
        let n_train = (self.len() as f64 * train_frac) as usize;
        let part = |lo: usize, hi: usize| PtychoDataContainer {
            x: self.x.slice(s![lo..hi, .., .., ..]).to_owned(),
            y: self.y.slice(s![lo..hi, .., .., ..]).to_owned(),
            y_i: self.y_i.slice(s![lo..hi, .., .., ..]).to_owned(),
            y_phi: self.y_phi.slice(s![lo..hi, .., .., ..]).to_owned(),
            has_ground_truth: self.has_ground_truth,
            coords_nominal: self.coords_nominal.slice(s![lo..hi, .., .., ..]).to_owned(),
            coords_true: self.coords_true.slice(s![lo..hi, .., .., ..]).to_owned(),
            probe: self.probe.clone(),
            norm_y_i: self.norm_y_i,
            nn_indices: self.nn_indices.slice(s![lo..hi, ..]).to_owned(),
            global_offsets: self.global_offsets.slice(s![lo..hi, .., .., ..]).to_owned(),
            local_offsets: self.local_offsets.slice(s![lo..hi, .., .., ..]).to_owned(),
            yy_full: self.yy_full.clone(),
        };
        Ok((part(0, n_train), part(n_train, self.len())))
    }

    /// Writes the container with upstream's `to_npz` keys (TF channel-last layout) plus `Y`.
    pub fn save_npz(&self, path: impl AsRef<Path>, compression: Compression) -> Result<()> {
        let mut w = NpzWriter::create(path.as_ref(), compression)?;
        let cl4 = |a: &Array4<f32>| {
            a.view()
                .permuted_axes([0, 2, 3, 1])
                .as_standard_layout()
                .into_owned()
        };
        let put4 = |w: &mut NpzWriter, k: &str, a: Array4<f32>| {
            w.add(
                k,
                a.shape(),
                a.as_slice()
                    .unwrap_or(&a.iter().copied().collect::<Vec<_>>()),
            )
        };
        put4(&mut w, "X", cl4(&self.x))?;
        put4(&mut w, "Y_I", cl4(&self.y_i))?;
        put4(&mut w, "Y_phi", cl4(&self.y_phi))?;
        let y = self
            .y
            .view()
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned();
        w.add("Y", y.shape(), &y.iter().copied().collect::<Vec<_>>())?;
        w.add("norm_Y_I", &[], &[self.norm_y_i])?;
        put4(
            &mut w,
            "coords_nominal",
            Self::coords_channel_last(&self.coords_nominal),
        )?;
        put4(
            &mut w,
            "coords_true",
            Self::coords_channel_last(&self.coords_true),
        )?;
        w.add(
            "nn_indices",
            self.nn_indices.shape(),
            &self.nn_indices.iter().copied().collect::<Vec<_>>(),
        )?;
        let cl64 = |a: &Array4<f64>| {
            a.view()
                .permuted_axes([0, 2, 3, 1])
                .as_standard_layout()
                .iter()
                .copied()
                .collect::<Vec<_>>()
        };
        let (b, c) = self.nn_indices.dim();
        w.add("global_offsets", &[b, 1, 2, 1], &cl64(&self.global_offsets))?;
        w.add("local_offsets", &[b, 1, 2, c], &cl64(&self.local_offsets))?;
        w.add(
            "probe",
            self.probe.shape(),
            &self.probe.iter().copied().collect::<Vec<_>>(),
        )?;
        w.finish()
    }
}

impl BatchSource for PtychoDataContainer {
    fn len(&self) -> usize {
        PtychoDataContainer::len(self)
    }

    fn channels(&self) -> usize {
        self.x.shape()[1]
    }

    fn patch_size(&self) -> usize {
        self.x.shape()[2]
    }

    fn batch(&self, indices: &[usize]) -> Result<TrainingBatch> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::parameter(
                "batch index",
                format!("< {} rows", self.len()),
                bad,
            ));
        }
        let n = self.patch_size();
        let probe = Array3::from_shape_fn((indices.len(), n, n), |(_, r, c)| self.probe[[r, c]]);
        Ok(TrainingBatch {
            indices: indices.to_vec(),
            diffraction: self.x.select(Axis(0), indices),
            coords_relative: self.coords_nominal.select(Axis(0), indices),
            coords_offsets: self.global_offsets.select(Axis(0), indices),
            probe,
            y: self
                .has_ground_truth
                .then(|| self.y.select(Axis(0), indices)),
        })
    }
}
