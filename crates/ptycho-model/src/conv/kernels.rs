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
//! The 3 × 3 layers with enough channels go to [`super::winograd`] instead (same layout, same
//! entry points), unless the process chose [`ConvKernels::Direct`].
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

use super::winograd;
use super::{ConvKernels, conv_kernels};
use crate::host_memory::{par_zeroed, par_zeros};

/// Sample groups of the weight gradient (partial sums in parallel, added in a fixed order).
const WEIGHT_GRAD_GROUPS: usize = 16;

/// Fewest values of `dy` one task of [`bias_grad`] sums (a smaller task costs more to hand to
/// another thread than to add).
const BIAS_GRAD_TASK: usize = 1 << 16;

/// Values per parallel task of the weight gradient's sum over sample groups.
const SUM_TASK: usize = 1 << 14;

/// Values per parallel task of [`Activation::backward`].
const MASK_TASK: usize = 1 << 16;

/// Bytes of one forward im2col band (see [`band_rows`]).
const IM2COL_BAND_BYTES: usize = 512 << 10;

/// The fewest pixels in a forward im2col band.
const MIN_BAND_PIXELS: usize = 128;

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
    /// The extents of `conv(x, weight)` from `x[B, C_in, H, W]` and `weight[C_out, C_in, k, k]`.
    pub fn of([batch, c_in, height, width]: [usize; 4], [c_out, _, kernel, _]: [usize; 4]) -> Self {
        Self {
            batch,
            c_in,
            c_out,
            height,
            width,
            kernel,
        }
    }

    pub(super) fn plane(&self) -> usize {
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

/// What the forward convolution applies to each output value after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Nothing: the convolution plus bias.
    Identity,
    /// `max(v, 0)` with burn's rules: a NaN passes through, `-0.0` becomes `0.0`.
    Relu,
}

impl Activation {
    #[inline(always)]
    pub(super) fn apply(self, v: f32) -> f32 {
        match self {
            Self::Identity => v,
            Self::Relu if relu_clamps(v) => 0.0,
            Self::Relu => v,
        }
    }

    /// `dL/d(pre-activation)` from `dL/dy` and the activation's output `y`: the gradient where
    /// the value passed (positive or NaN, as burn's ReLU), zero where it was clamped.
    pub fn backward(self, y: &[f32], dy: &[f32]) -> Vec<f32> {
        assert_eq!(y.len(), dy.len(), "activation output and gradient lengths");
        match self {
            Self::Identity => dy.to_vec(),
            Self::Relu => {
                // The output is zero exactly where the input was clamped.
                let pass = |(y, d): (&f32, &f32)| if relu_clamps(*y) { 0.0 } else { *d };
                let pairs = y.par_iter().zip(dy).with_min_len(MASK_TASK);
                pairs.map(pass).collect()
            }
        }
    }

    /// Applies the activation to every value of `out`.
    fn apply_all(self, out: &mut [f32]) {
        if self == Self::Relu {
            for v in out {
                *v = self.apply(*v);
            }
        }
    }
}

/// Whether the ReLU sets `v` to zero (burn's rule: not for a NaN, and `-0.0` becomes `0.0`).
#[inline(always)]
fn relu_clamps(v: f32) -> bool {
    v <= 0.0
}

/// What the forward convolution does to each output value after the products: adds the
/// channel's bias, then applies the activation.
#[derive(Debug, Clone, Copy)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub act: Activation,
}

impl Epilogue<'_> {
    /// No bias, no activation: the bare convolution (the input gradient's).
    pub const NONE: Self = Self {
        bias: None,
        act: Activation::Identity,
    };

    /// Adds output channel `channel`'s bias to `values` and applies the activation.
    fn apply(self, channel: usize, values: &mut [f32]) {
        match self.bias {
            Some(bias) => {
                let b = bias[channel];
                for v in values {
                    *v = self.act.apply(*v + b);
                }
            }
            None => self.act.apply_all(values),
        }
    }
}

/// A matrix operand of [`matmul`]: base slice, row stride, column stride.
#[derive(Clone, Copy)]
pub(super) struct Operand<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Operand<'a> {
    /// A row-major matrix whose rows are `row_stride` apart.
    pub(super) fn rows(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            row_stride,
            col_stride: 1,
        }
    }
}

/// Where [`matmul`] writes its `m × n` result.
pub(super) struct Destination<'a> {
    pub(super) data: &'a mut [f32],
    pub(super) row_stride: usize,
    /// Add to what is there (`true`) or overwrite it (`false`).
    pub(super) accumulate: bool,
}

/// `dst (+)= lhs[m, k] · rhs[k, n]`.
pub(super) fn matmul(
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
    /// Scratch (im2col columns, Winograd tiles) reused by every convolution this thread runs.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Floats per cache line: scratch buffers start on a line.
pub(super) const LINE: usize = 16;

/// Runs `f` with a scratch buffer of `len` floats (contents unspecified) that starts on a cache
/// line, reusing this thread's buffer unless it is already in use further up the stack.
///
/// The kernels store whole 64-byte vectors at multiples of 16 floats from the buffer's start;
/// from a heap block that starts elsewhere, every one of those stores splits two cache lines,
/// and a process ran a quarter slower or not depending on where its buffer landed.
pub(super) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let aligned = |buf: &mut [f32]| {
        let skip = buf.as_ptr().align_offset(4 * LINE).min(LINE);
        f(&mut buf[skip..skip + len])
    };
    COLUMNS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len + LINE {
                buf.resize(len + LINE, 0.0);
            }
            aligned(&mut buf)
        }
        Err(_) => aligned(&mut vec![0.0; len + LINE]),
    })
}

/// Rows `rows` of `plane` (`height × width`) shifted by `(dy, dx)`, written to `dst`, zero where
/// the shift reads outside the plane: `dst[y - rows.start, x] = plane[y + dy, x + dx]`.
///
/// One flat copy of the whole band, then the column that wrapped across a row edge is zeroed:
/// a position is valid exactly when its column does not wrap and its flat source index is
/// inside the plane.
fn shifted_copy(
    plane: &[f32],
    (height, width): (usize, usize),
    rows: std::ops::Range<usize>,
    (dy, dx): (isize, isize),
    dst: &mut [f32],
) {
    let (n, len) = ((height * width) as isize, (rows.len() * width) as isize);
    let dst = &mut dst[..len as usize];
    // dst[j] = plane[j + start], valid where 0 <= j + start < n.
    let start = (rows.start * width) as isize + dy * width as isize + dx;
    let lo = (-start).clamp(0, len) as usize;
    let hi = (n - start).clamp(0, len) as usize;
    dst[..lo].fill(0.0);
    if lo < hi {
        let from = (lo as isize + start) as usize;
        dst[lo..hi].copy_from_slice(&plane[from..from + (hi - lo)]);
    }
    dst[hi.max(lo)..].fill(0.0);
    let wrapped = match dx {
        0 => return,
        dx if dx > 0 => width - (dx as usize).min(width)..width,
        dx => 0..(dx.unsigned_abs()).min(width),
    };
    // Column by column, strided: a `fill` per row was a `memset` call for one value.
    for column in wrapped {
        for v in dst[column..].iter_mut().step_by(width) {
            *v = 0.0;
        }
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

/// im2col of rows `rows` of one sample `x[c_in, H, W]` into `cols[k²·c_in, rows·W]`.
fn im2col(x: &[f32], s: &ConvShape, rows: std::ops::Range<usize>, cols: &mut [f32]) {
    let (plane, band) = (s.plane(), rows.len() * s.width);
    for (row, dst) in cols.chunks_exact_mut(band).enumerate() {
        let (ci, shift) = tap(row, s.kernel);
        let src = &x[ci * plane..][..plane];
        shifted_copy(src, (s.height, s.width), rows.clone(), shift, dst);
    }
}

/// Image rows per im2col band: enough pixels for an efficient GEMM, few enough that the band's
/// columns stay in the core's L2 cache between being written and being multiplied.
fn band_rows(s: &ConvShape) -> usize {
    let pixels =
        (IM2COL_BAND_BYTES / (s.depth() * std::mem::size_of::<f32>())).max(MIN_BAND_PIXELS);
    pixels.div_ceil(s.width).clamp(1, s.height)
}

/// One sample of the forward convolution into `out[c_out, HW]`, one band of rows at a time,
/// each band's products overwriting what `out` held and then taking the epilogue while they
/// are still in cache.
fn forward_sample(
    x: &[f32],
    weight: &[f32],
    (s, epilogue): (&ConvShape, Epilogue<'_>),
    out: &mut [f32],
    par: Parallelism,
) {
    let (plane, depth) = (s.plane(), s.depth());
    let lhs = Operand::rows(weight, depth);
    let mut band_products = |y0: usize, pixels: usize, rhs: Operand<'_>| {
        let dst = Destination {
            data: &mut out[y0 * s.width..],
            row_stride: plane,
            accumulate: false,
        };
        matmul((s.c_out, pixels, depth), dst, lhs, rhs, par);
        for (o, channel) in out.chunks_exact_mut(plane).enumerate() {
            epilogue.apply(o, &mut channel[y0 * s.width..][..pixels]);
        }
    };
    if s.kernel == 1 {
        band_products(0, plane, Operand::rows(x, plane));
        return;
    }
    let band = band_rows(s);
    with_scratch(depth * band * s.width, |cols| {
        for y0 in (0..s.height).step_by(band) {
            let rows = y0..(y0 + band).min(s.height);
            let pixels = rows.len() * s.width;
            let cols = &mut cols[..depth * pixels];
            im2col(x, s, rows, cols);
            band_products(y0, pixels, Operand::rows(cols, pixels));
        }
    });
}

/// Whether `s` goes to Winograd: where it pays ([`winograd::suits`]) and the process did not
/// choose [`ConvKernels::Direct`].
fn use_winograd(s: &ConvShape) -> bool {
    conv_kernels() != ConvKernels::Direct && winograd::suits(s)
}

/// `y = act(conv(x, weight) + bias)`: `x[B, c_in, H, W]`, `weight[c_out, c_in, k, k]`,
/// `bias[c_out]` → `y[B, c_out, H, W]`.
pub fn forward(x: &[f32], weight: &[f32], epilogue: Epilogue<'_>, s: &ConvShape) -> Vec<f32> {
    assert_eq!(x.len(), s.batch * s.c_in * s.plane(), "conv input length");
    assert_eq!(weight.len(), s.c_out * s.depth(), "conv weight length");
    if let Some(bias) = epilogue.bias {
        assert_eq!(bias.len(), s.c_out, "conv bias length");
    }
    if use_winograd(s) {
        winograd::forward(x, weight, epilogue, s)
    } else {
        direct_forward(x, weight, epilogue, s)
    }
}

/// [`forward`] by the im2col GEMM.
fn direct_forward(x: &[f32], weight: &[f32], epilogue: Epilogue<'_>, s: &ConvShape) -> Vec<f32> {
    let (in_len, out_len) = (s.c_in * s.plane(), s.c_out * s.plane());
    let sample = |b: usize, out: &mut [f32], par| {
        forward_sample(&x[b * in_len..][..in_len], weight, (s, epilogue), out, par)
    };
    if s.batch >= rayon::current_num_threads() {
        par_zeroed(s.batch * out_len, out_len, |b, out| {
            sample(b, out, Parallelism::None)
        })
    } else {
        let mut out = par_zeros(s.batch * out_len, out_len);
        for (b, out) in out.chunks_mut(out_len).enumerate() {
            sample(b, out, Parallelism::Rayon(0));
        }
        out
    }
}

/// `weight[c_out, c_in, k, k]` → `weight'[c_in, c_out, k, k]` with `weight'[i, o, ky, kx] =
/// weight[o, i, k-1-ky, k-1-kx]`: the kernel of the adjoint convolution.
fn adjoint_kernel(weight: &[f32], s: &ConvShape) -> Vec<f32> {
    let taps = s.kernel * s.kernel;
    // One task per input channel: its kernels for every output channel.
    par_zeroed(weight.len(), s.c_out * taps, |i, out| {
        for (o, dst) in out.chunks_exact_mut(taps).enumerate() {
            let src = &weight[(o * s.c_in + i) * taps..][..taps];
            for (d, v) in dst.iter_mut().zip(src.iter().rev()) {
                *d = *v;
            }
        }
    })
}

/// `dL/dx` from `dy[B, c_out, H, W]` and `weight[c_out, c_in, k, k]`.
pub fn input_grad(dy: &[f32], weight: &[f32], s: &ConvShape) -> Vec<f32> {
    forward(
        dy,
        &adjoint_kernel(weight, s),
        Epilogue::NONE,
        &s.transposed(),
    )
}

/// Runs `f` compiled for the widest vector instructions this CPU has (AVX-512, AVX2 + FMA, or
/// the baseline); what is inlined into `f` (`#[inline(always)]`) gets the same instructions.
#[inline(always)]
pub(super) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `dL/dbias[c_out]`: `dy` summed over samples and pixels, channels in parallel (each channel's
/// sum in the same order whatever the thread count).
pub fn bias_grad(dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let plane = s.plane();
    let per_task = BIAS_GRAD_TASK.div_ceil((s.batch * plane).max(1));
    let mut out = vec![0.0f32; s.c_out];
    let channels = out.par_iter_mut().with_min_len(per_task);
    channels.enumerate().for_each(|(o, acc)| {
        vectorized(
            #[inline(always)]
            || {
                for sample in dy.chunks_exact(s.c_out * plane) {
                    *acc += lane_sum(&sample[o * plane..][..plane]);
                }
            },
        )
    });
    out
}

/// `Σ values` as 16 interleaved partial sums (so that it vectorises), added in a fixed order.
#[inline(always)]
fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let chunks = values.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (acc, v) in lanes.iter_mut().zip(chunk) {
            *acc += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `dst[c, r] = src[r·stride + c]` for `r < rows`, `c < cols`: 8 × 8 blocks through vector
/// registers, the ragged edges one value at a time.
pub(super) fn transpose(src: &[f32], stride: usize, (rows, cols): (usize, usize), dst: &mut [f32]) {
    const B: usize = 8;
    let (full_rows, full_cols) = (rows / B * B, cols / B * B);
    vectorized(
        #[inline(always)]
        || {
            let mut block = [[0.0f32; B]; B];
            for r0 in (0..full_rows).step_by(B) {
                for c0 in (0..full_cols).step_by(B) {
                    for (i, row) in block.iter_mut().enumerate() {
                        row.copy_from_slice(&src[(r0 + i) * stride + c0..][..B]);
                    }
                    for j in 0..B {
                        let out = &mut dst[(c0 + j) * rows + r0..][..B];
                        for (o, row) in out.iter_mut().zip(&block) {
                            *o = row[j];
                        }
                    }
                }
            }
        },
    );
    for r in 0..rows {
        let first = if r < full_rows { full_cols } else { 0 };
        for c in first..cols {
            dst[c * rows + r] = src[r * stride + c];
        }
    }
}

/// `dWᵀ (+)= cols(x)[k²·c_in, P] · dYᵀ[P, c_out]` over the samples `samples`, one band of `P`
/// pixels at a time so that the columns stay in cache between being written and multiplied.
fn weight_grad_part(
    x: &[f32],
    dy: &[f32],
    s: &ConvShape,
    samples: std::ops::Range<usize>,
) -> Vec<f32> {
    let (plane, depth) = (s.plane(), s.depth());
    let band = band_rows(s);
    let mut dw_t = vec![0.0f32; depth * s.c_out];
    with_scratch((depth + s.c_out) * band * s.width, |buf| {
        let (cols_buf, dy_buf) = buf.split_at_mut(depth * band * s.width);
        let mut accumulate = false;
        for b in samples {
            let x = &x[b * s.c_in * plane..][..s.c_in * plane];
            let dy = &dy[b * s.c_out * plane..][..s.c_out * plane];
            for y0 in (0..s.height).step_by(band) {
                let rows = y0..(y0 + band).min(s.height);
                let pixels = rows.len() * s.width;
                let cols = &mut cols_buf[..depth * pixels];
                im2col(x, s, rows, cols);
                let dy_t = &mut dy_buf[..pixels * s.c_out];
                transpose(&dy[y0 * s.width..], plane, (s.c_out, pixels), dy_t);
                let dst = Destination {
                    data: &mut dw_t,
                    row_stride: s.c_out,
                    accumulate,
                };
                let (lhs, rhs) = (Operand::rows(cols, pixels), Operand::rows(dy_t, s.c_out));
                matmul((depth, s.c_out, pixels), dst, lhs, rhs, Parallelism::None);
                accumulate = true;
            }
        }
    });
    dw_t
}

/// `dL/dweight[c_out, c_in, k, k]` from the layer input `x` and `dy`.
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    if use_winograd(s) {
        winograd::weight_grad(x, dy, s)
    } else {
        direct_weight_grad(x, dy, s)
    }
}

/// [`weight_grad`] by the im2col GEMM, computed transposed,
/// `dWᵀ[k²·c_in, c_out] = cols(x)[k²·c_in, B·HW] · dYᵀ[B·HW, c_out]`, so that both GEMM operands
/// are row-major (measured 1.5–3× faster in `gemm` than reading the columns transposed). The
/// samples are split into a fixed number of groups whose partial sums run in parallel and are
/// added in order, so the result does not depend on the thread count.
fn direct_weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let depth = s.depth();
    let per_group = s.batch.div_ceil(WEIGHT_GRAD_GROUPS).max(1);
    let groups: Vec<_> = (0..s.batch)
        .step_by(per_group)
        .map(|first| first..(first + per_group).min(s.batch))
        .collect();
    let partials: Vec<Vec<f32>> = groups
        .into_par_iter()
        .map(|samples| weight_grad_part(x, dy, s, samples))
        .collect();
    // In parallel over the values, each value's partials added in group order.
    let dw_t = par_zeroed(depth * s.c_out, SUM_TASK, |i, acc| {
        for part in &partials {
            for (acc, v) in acc.iter_mut().zip(&part[i * SUM_TASK..]) {
                *acc += v;
            }
        }
    });
    let mut dw = vec![0.0f32; s.c_out * depth];
    transpose(&dw_t, s.c_out, (depth, s.c_out), &mut dw);
    dw
}
