//! The generator's 2× resampling of feature maps: 2 × 2, stride-2 max-pooling in the encoder and
//! 2× nearest-neighbour upsampling in the decoders. On the CPU (`flex`) backend with `f32`
//! tensors both run our kernels, wired into burn as a backend extension with their own backward
//! steps (the same way as [`crate::conv`]); every other case runs burn's ops.
//!
//! burn-flex pools through its general 3-D pooling code, which computes every window's bounds
//! and flat indices (as `i64`) per output, and upsampling was a broadcast followed by a strided
//! copy (and a reduction over the broadcast axes backwards); at N = 64 the two took about 6 % of
//! a training step each. Here a window is four loads, the pooling backward keeps one byte per
//! output (which of the four won), and upsampling writes each input value into its 2 × 2 block.
//!
//! The pooling semantics are burn's (and PyTorch's): outputs cover the whole windows only (odd
//! last rows and columns are dropped), the first of equal maxima wins, and a NaN wins over any
//! number.

use std::mem::MaybeUninit;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use crate::host_memory::{par_zeroed, written_by};

/// Output planes per parallel task.
const PLANES_PER_TASK: usize = 16;

/// `x[B, C, H, W]` → `[B, C, H/2, W/2]`, the maximum of every 2 × 2 window.
pub fn max_pool_2x(x: Tensor<4>) -> Tensor<4> {
    if !ours(&x) {
        return max_pool2d(x, MaxPoolOptions::new([2, 2]));
    }
    Tensor::from_dispatch(<Dispatch as ResampleBackend>::max_pool_2x(
        x.into_dispatch(),
    ))
}

/// `x[B, C, H, W]` → `[B, C, 2H, 2W]`, every pixel repeated as a 2 × 2 block (Keras
/// `UpSampling2D`).
pub fn upsample_2x(x: Tensor<4>) -> Tensor<4> {
    if !ours(&x) {
        let [b, c, h, w] = x.dims();
        return x
            .reshape([b, c, h, 1, w, 1])
            .expand([b, c, h, 2, w, 2])
            .reshape([b, c, 2 * h, 2 * w]);
    }
    Tensor::from_dispatch(<Dispatch as ResampleBackend>::upsample_2x(
        x.into_dispatch(),
    ))
}

/// Whether our kernels take `x`: `f32` on the CPU backend.
fn ours(x: &Tensor<4>) -> bool {
    matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_)) && x.dtype() == DType::F32
}

/// 2× resampling of `[B, C, H, W]` (callers check the dtype and device first).
#[backend_extension(Flex, Autodiff)]
pub trait ResampleBackend: Backend {
    /// 2 × 2, stride-2 max-pooling.
    fn max_pool_2x(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// 2× nearest-neighbour upsampling.
    fn upsample_2x(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The extents `[B, C, H, W]` of a feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dims([usize; 4]);

impl Dims {
    fn of(t: &FlexTensor) -> Self {
        let s = t.shape();
        Self([s[0], s[1], s[2], s[3]])
    }

    fn planes(self) -> usize {
        self.0[0] * self.0[1]
    }

    fn height(self) -> usize {
        self.0[2]
    }

    fn width(self) -> usize {
        self.0[3]
    }

    /// Values per plane.
    fn plane(self) -> usize {
        self.height() * self.width()
    }

    /// Values per parallel task: [`PLANES_PER_TASK`] planes (at least one, for empty planes).
    fn task(self) -> usize {
        (PLANES_PER_TASK * self.plane()).max(1)
    }

    /// The extents after 2 × 2 pooling (odd last rows and columns dropped).
    fn pooled(self) -> Self {
        let [b, c, h, w] = self.0;
        Self([b, c, h / 2, w / 2])
    }

    /// The extents after 2× upsampling.
    fn upsampled(self) -> Self {
        let [b, c, h, w] = self.0;
        Self([b, c, 2 * h, 2 * w])
    }
}

/// The pooled planes of `x` (extents `d`) and, if `WINNERS`, per output which of its window's
/// four pixels won (`2·dy + dx`; empty otherwise: inference needs no backward step, and the
/// value alone compiles to branch-free vector code).
fn forward<const WINNERS: bool>(x: &[f32], d: Dims) -> (Vec<f32>, Vec<u8>) {
    let (pooled, width) = (d.pooled(), d.width());
    let (ho, wo) = (pooled.height(), pooled.width().max(1));
    let mut out = vec![0.0f32; pooled.planes() * pooled.plane()];
    let mut winner = vec![0u8; if WINNERS { out.len() } else { 0 }];
    let tasks = out.len().div_ceil(pooled.task());
    // One slice of winners per task, empty ones when they are not kept.
    let winners: Vec<&mut [u8]> = if WINNERS {
        winner.chunks_mut(pooled.task()).collect()
    } else {
        std::iter::repeat_with(Default::default)
            .take(tasks)
            .collect()
    };
    out.par_chunks_mut(pooled.task())
        .zip(winners)
        .zip(x.par_chunks(d.task()))
        .for_each(|((out, winner), x)| {
            for (r, out) in out.chunks_mut(wo).enumerate() {
                let (plane, y) = (r / ho, r % ho);
                let top = &x[plane * d.plane() + 2 * y * width..][..width];
                let bottom = &x[plane * d.plane() + (2 * y + 1) * width..][..width];
                let window =
                    |o: usize| [top[2 * o], top[2 * o + 1], bottom[2 * o], bottom[2 * o + 1]];
                if WINNERS {
                    let winner = &mut winner[r * wo..][..out.len()];
                    for (o, (out, winner)) in out.iter_mut().zip(winner).enumerate() {
                        (*out, *winner) = window_max(window(o));
                    }
                } else {
                    for (o, out) in out.iter_mut().enumerate() {
                        *out = window_value(window(o));
                    }
                }
            }
        });
    (out, winner)
}

/// The maximum of a window in reading order and its position: the first of equal maxima, a NaN
/// over any number (the last NaN), as burn and PyTorch choose.
#[inline(always)]
fn window_max(window: [f32; 4]) -> (f32, u8) {
    let mut best = (window[0], 0u8);
    for (k, &v) in window.iter().enumerate().skip(1) {
        if wins(v, best.0) {
            best = (v, k as u8);
        }
    }
    best
}

/// The value of [`window_max`] alone, as selects.
#[inline(always)]
fn window_value([a, b, c, d]: [f32; 4]) -> f32 {
    let pick = |best: f32, v: f32| if wins(v, best) { v } else { best };
    pick(pick(pick(a, b), c), d)
}

/// Whether `v`, later in reading order, replaces `best` as the window's maximum.
#[inline(always)]
fn wins(v: f32, best: f32) -> bool {
    v > best || v.is_nan()
}

/// `dx` (extents `d`): each output's gradient at the pixel that won its window, zero elsewhere.
fn backward(dy: &[f32], winner: &[u8], d: Dims) -> Vec<f32> {
    let (pooled, width) = (d.pooled(), d.width());
    let (ho, wo) = (pooled.height(), pooled.width().max(1));
    par_zeroed(d.planes() * d.plane(), d.task(), |i, dx| {
        // Empty when the planes pool to nothing (a side of 1).
        let first = (i * pooled.task()).min(dy.len());
        let outputs = first..(first + pooled.task()).min(dy.len());
        let rows = dy[outputs.clone()]
            .chunks(wo)
            .zip(winner[outputs].chunks(wo));
        for (r, (dy, winner)) in rows.enumerate() {
            let (plane, y) = (r / ho, r % ho);
            let base = plane * d.plane() + 2 * y * width;
            for (o, (&g, &k)) in dy.iter().zip(winner).enumerate() {
                let (ky, kx) = (usize::from(k / 2), usize::from(k % 2));
                dx[base + ky * width + 2 * o + kx] = g;
            }
        }
    })
}

/// `y[p, 2·i + a, 2·j + b] = x[p, i, j]` for the planes of `x` (extents `d`).
fn upsample(x: &[f32], d: Dims) -> Vec<f32> {
    let (width, rows) = (d.width(), (4 * d.width()).max(1));
    let write = |i: usize, y: &mut [MaybeUninit<f32>]| {
        let x = &x[i * d.task()..][..y.len() / 4];
        for (y, x) in y.chunks_exact_mut(rows).zip(x.chunks_exact(width.max(1))) {
            let (top, bottom) = y.split_at_mut(2 * width);
            let blocks = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
            for ((top, bottom), &v) in blocks.zip(x) {
                for pixel in top.iter_mut().chain(bottom) {
                    pixel.write(v);
                }
            }
        }
    };
    #[allow(unsafe_code)]
    // SAFETY: a chunk is whole upsampled planes, `height` rows of `4·width` values; every input
    // pixel writes its 2 × 2 block, which together cover each row pair.
    unsafe {
        written_by(4 * x.len(), d.upsampled().task(), true, write)
    }
}

/// The adjoint of [`upsample`]: `dx[p, i, j] = Σ_{a, b} dy[p, 2·i + a, 2·j + b]` (`dx` of
/// extents `d`).
fn upsample_adjoint(dy: &[f32], d: Dims) -> Vec<f32> {
    let (width, rows) = (d.width(), (4 * d.width()).max(1));
    let write = |i: usize, dx: &mut [MaybeUninit<f32>]| {
        let dy = &dy[i * d.upsampled().task()..][..4 * dx.len()];
        for (dx, dy) in dx.chunks_exact_mut(width.max(1)).zip(dy.chunks_exact(rows)) {
            let (top, bottom) = dy.split_at(2 * width);
            let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (d, (t, b)) in dx.iter_mut().zip(pairs) {
                d.write((t[0] + t[1]) + (b[0] + b[1]));
            }
        }
    };
    #[allow(unsafe_code)]
    // SAFETY: a chunk is whole planes, `height` rows of `width` values, and each row is written
    // from its two rows of `dy`.
    unsafe {
        written_by(d.planes() * d.plane(), d.task(), true, write)
    }
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the resampling kernels take contiguous f32 tensors")
}

fn tensor(values: Vec<f32>, d: Dims) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, d.0.to_vec()))
}

impl ResampleBackend for Flex {
    fn max_pool_2x(x: FlexTensor) -> FlexTensor {
        let x = x.to_contiguous();
        let d = Dims::of(&x);
        tensor(forward::<false>(slice(&x), d).0, d.pooled())
    }

    fn upsample_2x(x: FlexTensor) -> FlexTensor {
        let x = x.to_contiguous();
        let d = Dims::of(&x);
        tensor(upsample(slice(&x), d), d.upsampled())
    }
}

/// The backward step of [`ResampleBackend::max_pool_2x`]: keeps the winners and the input's
/// extents.
#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = (Vec<u8>, Dims);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (winner, d) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(backward(slice(&dy), &winner, d), d));
        }
    }
}

/// The backward step of [`ResampleBackend::upsample_2x`]: keeps the input's extents.
#[derive(Debug)]
struct UpsampleBackward;

impl Backward<Flex, 1> for UpsampleBackward {
    type State = Dims;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let d = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(upsample_adjoint(slice(&dy), d), d));
        }
    }
}

impl<C: CheckpointStrategy> ResampleBackend for Autodiff<Flex, C> {
    fn max_pool_2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let x = x.primitive().to_contiguous();
        let d = Dims::of(&x);
        let (out, winner) = forward::<true>(slice(&x), d);
        let out = tensor(out, d.pooled());
        match MaxPoolBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((winner, d), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn upsample_2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let x = x.primitive().to_contiguous();
        let d = Dims::of(&x);
        let out = Flex::upsample_2x(x);
        match UpsampleBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(d, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// `f(x)` and the gradient of `sum(f(x) ⊙ r)` with respect to `x`.
    fn output_and_grad(
        f: fn(Tensor<4>) -> Tensor<4>,
        x: &Tensor<4>,
        r: &Tensor<4>,
    ) -> [Vec<f32>; 2] {
        let x = x.clone().require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * r.clone()).sum().backward();
        [values(y.inner()), values(x.grad(&grads).unwrap())]
    }

    /// burn's own pooling, bypassing ours.
    fn reference(x: Tensor<4>) -> Tensor<4> {
        max_pool2d(x, MaxPoolOptions::new([2, 2]))
    }

    #[test]
    fn output_and_gradient_match_burn_on_odd_and_even_planes() {
        let device = Device::flex().autodiff();
        for (i, dims) in [[2, 3, 8, 8], [1, 2, 7, 9], [3, 1, 2, 5], [2, 40, 16, 16]]
            .into_iter()
            .enumerate()
        {
            device.seed(i as u64);
            let x = Tensor::<4>::random(dims, Distribution::Uniform(-1.0, 1.0), &device);
            let r = Tensor::<4>::random(
                [dims[0], dims[1], dims[2] / 2, dims[3] / 2],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            );
            let ours = output_and_grad(max_pool_2x, &x, &r);
            assert_eq!(ours, output_and_grad(reference, &x, &r), "case {dims:?}");
        }
    }

    #[test]
    fn max_pool_halves_and_takes_block_maxima() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new((0..16).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 4, 4]),
            &device,
        );
        assert_eq!(values(max_pool_2x(x)), vec![5., 7., 13., 15.]);
    }

    #[test]
    fn ties_go_to_the_first_pixel_and_nan_wins() {
        // Windows: all equal (a ReLU's zeros), a tie between the last two, a NaN after a
        // larger number, and the maximum at the bottom right.
        // The inference path computes the value alone; it must agree, NaN included.
        let window = |v: [f32; 4]| {
            let (best, k) = window_max(v);
            assert_eq!(window_value(v).to_bits(), best.to_bits(), "{v:?}");
            (best, k)
        };
        assert_eq!(window([0.0; 4]), (0.0, 0));
        assert_eq!(window([1.0, 2.0, 3.0, 3.0]), (3.0, 2));
        let (v, k) = window([5.0, f32::NAN, 1.0, 2.0]);
        assert!(v.is_nan() && k == 1);
        assert!(window([f32::NAN, 9.0, 1.0, 2.0]).0.is_nan());
        assert_eq!(window([-1.0, -3.0, -0.5, -2.0]), (-0.5, 2));
        assert_eq!(window([1.0, 2.0, 3.0, 4.0]), (4.0, 3));
        // Through the autodiff op: the gradient of an all-zero window lands on its first pixel.
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::zeros([1, 1, 2, 4], &device).require_grad();
        let grads = max_pool_2x(x.clone()).sum().backward();
        assert_eq!(
            values(x.grad(&grads).unwrap()),
            vec![1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn upsample_repeats_each_pixel_as_a_2x2_block() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 2, 3]),
            &device,
        );
        assert_eq!(
            values(upsample_2x(x)),
            vec![
                1., 1., 2., 2., 3., 3., 1., 1., 2., 2., 3., 3., //
                4., 4., 5., 5., 6., 6., 4., 4., 5., 5., 6., 6.,
            ]
        );
    }

    /// burn's broadcast-and-copy upsampling, bypassing ours.
    fn reference_upsample(x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h, 1, w, 1])
            .expand([b, c, h, 2, w, 2])
            .reshape([b, c, 2 * h, 2 * w])
    }

    #[test]
    fn upsample_and_its_gradient_match_burn() {
        let device = Device::flex().autodiff();
        for (i, dims) in [[2, 3, 4, 5], [1, 40, 8, 8], [3, 1, 1, 7]]
            .into_iter()
            .enumerate()
        {
            device.seed(10 + i as u64);
            let x = Tensor::<4>::random(dims, Distribution::Uniform(-1.0, 1.0), &device);
            let [b, c, h, w] = dims;
            let r = Tensor::<4>::random([b, c, 2 * h, 2 * w], Distribution::Default, &device);
            let [ours_y, ours_dx] = output_and_grad(upsample_2x, &x, &r);
            let [theirs_y, theirs_dx] = output_and_grad(reference_upsample, &x, &r);
            assert_eq!(ours_y, theirs_y, "case {dims:?}");
            let diff = ours_dx.iter().zip(&theirs_dx).map(|(a, b)| (a - b).abs());
            assert!(diff.fold(0.0f32, f32::max) < 1e-6, "case {dims:?}");
        }
    }

    #[test]
    fn inference_matches_burn_without_autodiff() {
        let device = Device::flex();
        device.seed(3);
        let x = Tensor::<4>::random([2, 5, 12, 10], Distribution::Default, &device);
        assert_eq!(values(max_pool_2x(x.clone())), values(reference(x.clone())));
        assert_eq!(
            values(upsample_2x(x.clone())),
            values(reference_upsample(x))
        );
    }
}
