//! The convolution arithmetic on plain `f32` slices (NCHW, contiguous): square odd kernels,
//! stride 1, "same" zero padding, one group. Every product is one call of the `gemm` crate:
//!
//! - forward, per sample: `y[C_out, HW] = W[C_out, k²·C_in] · cols[k²·C_in, HW] (+ bias)`, where
//!   row `(ci, ky, kx)` of `cols` is channel `ci` shifted by `(ky - k/2, kx - k/2)`, so building
//!   it is a run of contiguous row copies (and nothing at all for a 1 × 1 kernel);
//! - input gradient: the same forward with the kernel flipped in space and transposed in
//!   channels, which is exactly the adjoint of a stride-1 same-padded convolution;
//! - weight gradient: one GEMM per chunk of samples,
//!   `dW[C_out, k²·C_in] += dY[C_out, B·HW] · cols(x)[B·HW, k²·C_in]`, so the long reduction runs
//!   over the batch and the pixels together instead of one short GEMM per sample.
//!
//! Parallelism happens at one level only: over samples (each GEMM single-threaded) when the batch
//! can keep every thread busy, otherwise inside the GEMM. The `gemm` crate splits work over rows
//! and columns, never over the reduction, so results do not depend on the thread count.

// `gemm` is an unsafe raw-pointer API; the calls below pass slices whose lengths are checked
// against the matrix extents first.
#![allow(unsafe_code)]

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

/// Bytes of im2col columns the weight gradient builds at a time (bounds its memory).
const WEIGHT_GRAD_COLS_BUDGET: usize = 32 << 20;

/// Extents of one convolution: `x[batch, c_in, height, width]`, `weight[c_out, c_in, k, k]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Samples.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Rows of every plane.
    pub height: usize,
    /// Columns of every plane.
    pub width: usize,
    /// Kernel side (odd).
    pub kernel: usize,
}

impl ConvShape {
    fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Length of one im2col column: `k²·c_in`.
    fn depth(&self) -> usize {
        self.kernel * self.kernel * self.c_in
    }

    /// The shape of the adjoint convolution (channels swapped).
    fn transposed(&self) -> Self {
        Self {
            c_in: self.c_out,
            c_out: self.c_in,
            ..*self
        }
    }
}

/// A matrix operand of [`matmul`]: base slice, row stride, column stride.
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Operand<'a> {
    /// A row-major matrix whose rows are `row_stride` apart.
    fn rows(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            row_stride,
            col_stride: 1,
        }
    }
}

/// Where [`matmul`] writes its `m × n` result.
struct Destination<'a> {
    data: &'a mut [f32],
    row_stride: usize,
    /// Add to what is there (`true`) or overwrite it (`false`).
    accumulate: bool,
}

/// `dst (+)= lhs[m, k] · rhs[k, n]`.
fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: Destination<'_>,
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    parallelism: Parallelism,
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    assert!(dst.data.len() >= last(m, n, dst.row_stride, 1));
    assert!(lhs.data.len() >= last(m, k, lhs.row_stride, lhs.col_stride));
    assert!(rhs.data.len() >= last(k, n, rhs.row_stride, rhs.col_stride));
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above keep every element `gemm` touches inside the three slices, the
    // destination is borrowed mutably and cannot alias the shared operands.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            dst.row_stride as isize,
            dst.accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

thread_local! {
    /// im2col columns reused by every convolution this thread runs.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a scratch buffer of `len` floats (contents unspecified), reusing this thread's
/// buffer unless it is already in use further up the stack.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COLUMNS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Writes `plane` (`height × width`) shifted by `(dy, dx)` into `dst`, zero where the shift
/// reads outside the plane: `dst[y, x] = plane[y + dy, x + dx]`.
fn shifted_copy(
    plane: &[f32],
    (height, width): (usize, usize),
    (dy, dx): (isize, isize),
    dst: &mut [f32],
) {
    let x0 = (-dx).clamp(0, width as isize) as usize;
    let x1 = (width as isize - dx).clamp(0, width as isize) as usize;
    for (y, row) in dst.chunks_exact_mut(width).take(height).enumerate() {
        let sy = y as isize + dy;
        if sy < 0 || sy >= height as isize || x0 >= x1 {
            row.fill(0.0);
            continue;
        }
        let src = &plane[sy as usize * width..][..width];
        row[..x0].fill(0.0);
        let s0 = (x0 as isize + dx) as usize;
        row[x0..x1].copy_from_slice(&src[s0..s0 + (x1 - x0)]);
        row[x1..].fill(0.0);
    }
}

/// The shift of im2col row `row` (`(ci, ky, kx)` flattened) and its channel.
fn tap(row: usize, kernel: usize) -> (usize, (isize, isize)) {
    let half = (kernel / 2) as isize;
    let (ci, t) = (row / (kernel * kernel), row % (kernel * kernel));
    (
        ci,
        ((t / kernel) as isize - half, (t % kernel) as isize - half),
    )
}

/// im2col of one sample `x[c_in, H, W]` into `cols[k²·c_in, HW]`.
fn im2col(x: &[f32], s: &ConvShape, cols: &mut [f32]) {
    let plane = s.plane();
    for (row, dst) in cols.chunks_exact_mut(plane).enumerate() {
        let (ci, shift) = tap(row, s.kernel);
        shifted_copy(&x[ci * plane..][..plane], (s.height, s.width), shift, dst);
    }
}

/// One sample of the forward convolution into `out[c_out, HW]`.
fn forward_sample(
    x: &[f32],
    weight: &[f32],
    s: &ConvShape,
    out: &mut [f32],
    accumulate: bool,
    par: Parallelism,
) {
    let (plane, depth) = (s.plane(), s.depth());
    let dst = Destination {
        data: out,
        row_stride: plane,
        accumulate,
    };
    let lhs = Operand::rows(weight, depth);
    let dims = (s.c_out, plane, depth);
    if s.kernel == 1 {
        matmul(dims, dst, lhs, Operand::rows(x, plane), par);
    } else {
        with_scratch(depth * plane, |cols| {
            im2col(x, s, cols);
            matmul(dims, dst, lhs, Operand::rows(cols, plane), par);
        });
    }
}

/// `y = conv(x, weight) + bias`: `x[B, c_in, H, W]`, `weight[c_out, c_in, k, k]`,
/// `bias[c_out]` → `y[B, c_out, H, W]`.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    assert_eq!(x.len(), s.batch * s.c_in * s.plane(), "conv input length");
    assert_eq!(weight.len(), s.c_out * s.depth(), "conv weight length");
    let out_len = s.c_out * s.plane();
    let mut out = match bias {
        Some(bias) => {
            assert_eq!(bias.len(), s.c_out, "conv bias length");
            let mut out = Vec::with_capacity(s.batch * out_len);
            for _ in 0..s.batch {
                for &b in bias {
                    out.extend(std::iter::repeat_n(b, s.plane()));
                }
            }
            out
        }
        None => vec![0.0; s.batch * out_len],
    };
    let accumulate = bias.is_some();
    let in_len = s.c_in * s.plane();
    if s.batch >= rayon::current_num_threads() {
        out.par_chunks_mut(out_len)
            .zip(x.par_chunks(in_len))
            .for_each(|(out, x)| forward_sample(x, weight, s, out, accumulate, Parallelism::None));
    } else {
        for (out, x) in out.chunks_mut(out_len).zip(x.chunks(in_len)) {
            forward_sample(x, weight, s, out, accumulate, Parallelism::Rayon(0));
        }
    }
    out
}

/// `weight[c_out, c_in, k, k]` → `weight'[c_in, c_out, k, k]` with `weight'[i, o, ky, kx] =
/// weight[o, i, k-1-ky, k-1-kx]`: the kernel of the adjoint convolution.
fn adjoint_kernel(weight: &[f32], s: &ConvShape) -> Vec<f32> {
    let taps = s.kernel * s.kernel;
    let mut out = vec![0.0; weight.len()];
    for o in 0..s.c_out {
        for i in 0..s.c_in {
            let src = &weight[(o * s.c_in + i) * taps..][..taps];
            let dst = &mut out[(i * s.c_out + o) * taps..][..taps];
            for (d, v) in dst.iter_mut().zip(src.iter().rev()) {
                *d = *v;
            }
        }
    }
    out
}

/// `dL/dx` from `dy[B, c_out, H, W]` and `weight[c_out, c_in, k, k]`.
pub fn input_grad(dy: &[f32], weight: &[f32], s: &ConvShape) -> Vec<f32> {
    forward(dy, &adjoint_kernel(weight, s), None, &s.transposed())
}

/// `dL/dbias[c_out]`: `dy` summed over samples and pixels.
pub fn bias_grad(dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let mut out = vec![0.0f32; s.c_out];
    for sample in dy.chunks_exact(s.c_out * s.plane()) {
        for (o, row) in out.iter_mut().zip(sample.chunks_exact(s.plane())) {
            *o += row.iter().sum::<f32>();
        }
    }
    out
}

/// `dL/dweight[c_out, c_in, k, k]` from the layer input `x` and `dy`.
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let (plane, depth) = (s.plane(), s.depth());
    let per_sample = depth * plane * std::mem::size_of::<f32>();
    let chunk = (WEIGHT_GRAD_COLS_BUDGET / per_sample.max(1)).clamp(1, s.batch.max(1));
    let mut dw = vec![0.0f32; s.c_out * depth];
    let mut cols = Vec::new();
    let mut dy_rows = Vec::new();
    for (i, first) in (0..s.batch).step_by(chunk).enumerate() {
        let count = chunk.min(s.batch - first);
        let ld = count * plane;
        cols.resize(depth * ld, 0.0);
        dy_rows.resize(s.c_out * ld, 0.0);
        // Rows of every sample side by side: cols[(ci, ky, kx), (b, p)], dy_rows[o, (b, p)].
        cols.par_chunks_mut(ld).enumerate().for_each(|(row, dst)| {
            let (ci, shift) = tap(row, s.kernel);
            for (b, dst) in dst.chunks_exact_mut(plane).enumerate() {
                let src = &x[((first + b) * s.c_in + ci) * plane..][..plane];
                shifted_copy(src, (s.height, s.width), shift, dst);
            }
        });
        dy_rows.par_chunks_mut(ld).enumerate().for_each(|(o, dst)| {
            for (b, dst) in dst.chunks_exact_mut(plane).enumerate() {
                dst.copy_from_slice(&dy[((first + b) * s.c_out + o) * plane..][..plane]);
            }
        });
        let dst = Destination {
            data: &mut dw,
            row_stride: depth,
            accumulate: i > 0,
        };
        let lhs = Operand::rows(&dy_rows, ld);
        // The transpose of the row-major `cols`.
        let rhs = Operand {
            data: &cols,
            row_stride: 1,
            col_stride: ld,
        };
        matmul((s.c_out, depth, ld), dst, lhs, rhs, Parallelism::Rayon(0));
    }
    dw
}
