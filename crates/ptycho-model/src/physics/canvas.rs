//! Per-group object canvas: reassembly of a group's patches with overlap normalisation
//! (reference/model.md §3.2) and re-extraction at the scan offsets (§3.3).
//!
//! Intended semantics with upstream bugs fixed:
//! * every group is merged on its own canvas (TF HEAD mixes all groups of a large batch, Q1);
//! * numerator and count are co-masked by the generator's support (the centre N/2 square when
//!   the main head is zero-padded and there is no border head, else the whole patch), so a
//!   border no centre window covers is neither amplified ×1000 (Q2) nor silently kept;
//! * reassembly shifts patch c by `−d_c`, extraction by `+d_c`, `d = coords_relative` (Q3).

use burn::tensor::{Device, Tensor, TensorData};

use super::complex::Complex;
use super::translate::{apply_separable, pad_then_shift, shift_then_crop};
use crate::error::ModelError;

/// Added to the overlap count before dividing (TF `mk_norm`).
pub const COUNT_EPSILON: f32 = 0.001;

/// Translation matrices and overlap counts of one batch of groups, on the device.
#[derive(Debug, Clone)]
pub struct GroupGeometry {
    /// Groups in the batch.
    pub groups: usize,
    /// Patterns per group.
    pub channels: usize,
    /// Patch side.
    pub n: usize,
    /// Canvas side.
    pub m: usize,
    /// Reassembly row matrices, `[2·B·C, M, N]` (stacked twice for real and imaginary parts).
    place_rows: Tensor<3>,
    /// Transposed reassembly column matrices, `[2·B·C, N, M]`.
    place_cols_t: Tensor<3>,
    /// Extraction row matrices, `[2·B·C, N, M]`.
    take_rows: Tensor<3>,
    /// Transposed extraction column matrices, `[2·B·C, M, N]`.
    take_cols_t: Tensor<3>,
    /// Overlap count of the translated supports plus [`COUNT_EPSILON`], `[B, 1, M, M]`.
    count: Tensor<4>,
    /// Support of one patch, `[1, 1, N, N]`.
    support: Tensor<4>,
}

fn transpose_host(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

impl GroupGeometry {
    /// Builds the matrices for `groups × channels` offsets `[dx, dy]` (pixels, `coords_relative`
    /// order and sign), patch side `n`, canvas side `m` and the patch `support` (`n·n` values).
    pub fn new(
        offsets: &[f32],
        groups: usize,
        channels: usize,
        n: usize,
        m: usize,
        support: &[f32],
        device: &Device,
    ) -> Result<Self, ModelError> {
        let k = groups * channels;
        if offsets.len() != k * 2 {
            return Err(ModelError::Shape {
                what: "offsets",
                expected: format!("{groups}x{channels}x2 = {} values", k * 2),
                found: format!("{} values", offsets.len()),
            });
        }
        if let Some(bad) = offsets.iter().find(|v| !v.is_finite()) {
            return Err(ModelError::setting(
                "coords_relative",
                "finite offsets",
                bad,
            ));
        }
        if m < n || !(m - n).is_multiple_of(2) {
            return Err(ModelError::setting(
                "padded_size",
                format!("a canvas side >= N = {n} with an even margin"),
                m,
            ));
        }
        let (mut place_rows, mut place_cols_t) = (Vec::new(), Vec::new());
        let (mut take_rows, mut take_cols_t) = (Vec::new(), Vec::new());
        let mut count = vec![0.0f32; groups * m * m];
        for g in 0..groups {
            for c in 0..channels {
                let idx = g * channels + c;
                let (dx, dy) = (offsets[2 * idx], offsets[2 * idx + 1]);
                let rows = pad_then_shift(m, n, -dy);
                let cols = pad_then_shift(m, n, -dx);
                let placed = apply_separable(&rows, support, &cols, n, n);
                for (acc, v) in count[g * m * m..(g + 1) * m * m].iter_mut().zip(placed) {
                    *acc += v;
                }
                place_cols_t.extend(transpose_host(&cols, m, n));
                place_rows.extend(rows);
                take_rows.extend(shift_then_crop(m, n, dy));
                take_cols_t.extend(transpose_host(&shift_then_crop(m, n, dx), n, m));
            }
        }
        count.iter_mut().for_each(|v| *v += COUNT_EPSILON);
        let doubled = |v: Vec<f32>, shape: [usize; 3]| {
            let mut both = v.clone();
            both.extend(v);
            Tensor::<3>::from_data(
                TensorData::new(both, [2 * shape[0], shape[1], shape[2]]),
                device,
            )
        };
        Ok(Self {
            groups,
            channels,
            n,
            m,
            place_rows: doubled(place_rows, [k, m, n]),
            place_cols_t: doubled(place_cols_t, [k, n, m]),
            take_rows: doubled(take_rows, [k, n, m]),
            take_cols_t: doubled(take_cols_t, [k, m, n]),
            count: Tensor::from_data(TensorData::new(count, [groups, 1, m, m]), device),
            support: Tensor::from_data(TensorData::new(support.to_vec(), [1, 1, n, n]), device),
        })
    }

    /// Merges `[B, C, N, N]` patches into `[B, 1, M, M]` canvases:
    /// `Σ_c T_{−d_c}(pad(support·patch_c)) / (Σ_c T_{−d_c}(pad(support)) + 0.001)`.
    pub fn reassemble(&self, patches: Complex<4>) -> Complex<4> {
        let (b, c, n, m) = (self.groups, self.channels, self.n, self.m);
        let placed = patches
            .mul_real(self.support.clone())
            .reshape([b * c, n, n])
            .map_stacked(|t| {
                self.place_rows
                    .clone()
                    .matmul(t)
                    .matmul(self.place_cols_t.clone())
            });
        placed
            .reshape([b, c, m, m])
            .map(|t| t.sum_dim(1))
            .map(|t| t / self.count.clone())
    }

    /// Zero-pads one patch per group `[B, 1, N, N]` to the canvas `[B, 1, M, M]`
    /// (`object.big = false`).
    pub fn pad_single(&self, patch: Complex<4>) -> Complex<4> {
        let border = (self.m - self.n) / 2;
        patch.map(|t| t.pad([(border, border), (border, border)], 0.0))
    }

    /// Extracts `[B·C, N, N]` patches from `[B, 1, M, M]` canvases, channel c shifted by `+d_c`
    /// then centre-cropped.
    pub fn extract(&self, canvas: Complex<4>) -> Complex<3> {
        let (b, c, m) = (self.groups, self.channels, self.m);
        canvas
            .map(|t| t.expand([b, c, m, m]))
            .reshape([b * c, m, m])
            .map_stacked(|t| {
                self.take_rows
                    .clone()
                    .matmul(t)
                    .matmul(self.take_cols_t.clone())
            })
    }

    /// Central `N × N` crop of `[B, 1, M, M]` canvases (upstream `trim_reconstruction`).
    pub fn trim(&self, canvas: Complex<4>) -> Complex<4> {
        let border = (self.m - self.n) / 2;
        let n = self.n;
        canvas.map(|t| t.narrow(2, border, n).narrow(3, border, n))
    }
}
