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

/// Extents of one pooling: `planes` of `height × width` in, of `height/2 × width/2` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolShape {
    planes: usize,
    height: usize,
    width: usize,
}

impl PoolShape {
    fn of(x: &FlexTensor) -> (Self, [usize; 4]) {
        let dims = dims4(x);
        let shape = Self {
            planes: dims[0] * dims[1],
            height: dims[2],
            width: dims[3],
        };
        (shape, [dims[0], dims[1], dims[2] / 2, dims[3] / 2])
    }

    fn out_plane(&self) -> usize {
        (self.height / 2) * (self.width / 2)
    }

    fn in_plane(&self) -> usize {
        self.height * self.width
    }
}

/// The pooled planes and, per output, which of its window's four pixels won (`2·dy + dx`).
fn forward(x: &[f32], s: PoolShape) -> (Vec<f32>, Vec<u8>) {
    let (out_plane, in_plane, wo) = (s.out_plane(), s.in_plane(), s.width / 2);
    let mut out = vec![0.0f32; s.planes * out_plane];
    let mut winner = vec![0u8; s.planes * out_plane];
    let task = PLANES_PER_TASK * out_plane;
    out.par_chunks_mut(task.max(1))
        .zip(winner.par_chunks_mut(task.max(1)))
        .zip(x.par_chunks((PLANES_PER_TASK * in_plane).max(1)))
        .for_each(|((out, winner), x)| {
            let rows = out.chunks_mut(wo.max(1)).zip(winner.chunks_mut(wo.max(1)));
            for (r, (out, winner)) in rows.enumerate() {
                let (plane, y) = (r / (s.height / 2), r % (s.height / 2));
                let top = &x[plane * in_plane + 2 * y * s.width..][..s.width];
                let bottom = &x[plane * in_plane + (2 * y + 1) * s.width..][..s.width];
                for (o, (out, winner)) in out.iter_mut().zip(winner.iter_mut()).enumerate() {
                    let window = [top[2 * o], top[2 * o + 1], bottom[2 * o], bottom[2 * o + 1]];
                    (*out, *winner) = window_max(window);
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
        if v > best.0 || v.is_nan() {
            best = (v, k as u8);
        }
    }
    best
}

/// `dx[B, C, H, W]`: each output's gradient at the pixel that won its window, zero elsewhere.
fn backward(dy: &[f32], winner: &[u8], s: PoolShape) -> Vec<f32> {
    let (out_plane, in_plane, wo) = (s.out_plane(), s.in_plane(), s.width / 2);
    let mut dx = vec![0.0f32; s.planes * in_plane];
    dx.par_chunks_mut((PLANES_PER_TASK * in_plane).max(1))
        .zip(dy.par_chunks((PLANES_PER_TASK * out_plane).max(1)))
        .zip(winner.par_chunks((PLANES_PER_TASK * out_plane).max(1)))
        .for_each(|((dx, dy), winner)| {
            let rows = dy.chunks(wo.max(1)).zip(winner.chunks(wo.max(1)));
            for (r, (dy, winner)) in rows.enumerate() {
                let (plane, y) = (r / (s.height / 2), r % (s.height / 2));
                let base = plane * in_plane + 2 * y * s.width;
                for (o, (&g, &k)) in dy.iter().zip(winner).enumerate() {
                    let (ky, kx) = (usize::from(k / 2), usize::from(k % 2));
                    dx[base + ky * s.width + 2 * o + kx] = g;
                }
            }
        });
    dx
}

/// `y[p, 2·i + a, 2·j + b] = x[p, i, j]` for `planes` planes of `height × width`.
fn upsample(x: &[f32], (planes, height, width): (usize, usize, usize)) -> Vec<f32> {
    let mut y = vec![0.0f32; 4 * x.len()];
    let rows = (4 * width).max(1);
    y.par_chunks_mut((PLANES_PER_TASK * height * rows).max(1))
        .zip(x.par_chunks((PLANES_PER_TASK * height * width).max(1)))
        .for_each(|(y, x)| {
            for (y, x) in y.chunks_exact_mut(rows).zip(x.chunks_exact(width.max(1))) {
                let (top, bottom) = y.split_at_mut(2 * width);
                for (pair, &v) in top.chunks_exact_mut(2).zip(x) {
                    pair.copy_from_slice(&[v, v]);
                }
                bottom.copy_from_slice(top);
            }
        });
    debug_assert_eq!(y.len(), 4 * planes * height * width);
    y
}

/// The adjoint of [`upsample`]: `dx[p, i, j] = Σ_{a, b} dy[p, 2·i + a, 2·j + b]`.
fn upsample_adjoint(dy: &[f32], (planes, height, width): (usize, usize, usize)) -> Vec<f32> {
    let mut dx = vec![0.0f32; planes * height * width];
    let rows = (4 * width).max(1);
    dx.par_chunks_mut((PLANES_PER_TASK * height * width).max(1))
        .zip(dy.par_chunks((PLANES_PER_TASK * height * rows).max(1)))
        .for_each(|(dx, dy)| {
            for (dx, dy) in dx.chunks_exact_mut(width.max(1)).zip(dy.chunks_exact(rows)) {
                let (top, bottom) = dy.split_at(2 * width);
                let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
                for (d, (t, b)) in dx.iter_mut().zip(pairs) {
                    *d = (t[0] + t[1]) + (b[0] + b[1]);
                }
            }
        });
    dx
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the resampling kernels take contiguous f32 tensors")
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3]]
}

fn tensor(values: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

impl ResampleBackend for Flex {
    fn max_pool_2x(x: FlexTensor) -> FlexTensor {
        let x = x.to_contiguous();
        let (s, out_dims) = PoolShape::of(&x);
        tensor(forward(slice(&x), s).0, out_dims)
    }

    fn upsample_2x(x: FlexTensor) -> FlexTensor {
        let x = x.to_contiguous();
        let [b, c, h, w] = dims4(&x);
        tensor(upsample(slice(&x), (b * c, h, w)), [b, c, 2 * h, 2 * w])
    }
}

/// The backward step of [`ResampleBackend::max_pool_2x`]: keeps the winners and the input shape.
#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = (Vec<u8>, PoolShape, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (winner, s, in_dims) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(backward(slice(&dy), &winner, s), in_dims));
        }
    }
}

/// The backward step of [`ResampleBackend::upsample_2x`]: keeps the input shape.
#[derive(Debug)]
struct UpsampleBackward;

impl Backward<Flex, 1> for UpsampleBackward {
    type State = [usize; 4];

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let [b, c, h, w] = ops.state;
        if let Some(node) = node_x {
            let dx = upsample_adjoint(slice(&dy), (b * c, h, w));
            grads.register::<Flex>(node.id, tensor(dx, [b, c, h, w]));
        }
    }
}

impl<C: CheckpointStrategy> ResampleBackend for Autodiff<Flex, C> {
    fn max_pool_2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let x = x.primitive().to_contiguous();
        let (s, out_dims) = PoolShape::of(&x);
        let in_dims = [out_dims[0], out_dims[1], s.height, s.width];
        let (out, winner) = forward(slice(&x), s);
        let out = tensor(out, out_dims);
        match MaxPoolBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((winner, s, in_dims), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn upsample_2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let x = x.primitive().to_contiguous();
        let dims = dims4(&x);
        let out = Flex::upsample_2x(x);
        match UpsampleBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(dims, out),
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
        let window = |v: [f32; 4]| window_max(v);
        assert_eq!(window([0.0; 4]), (0.0, 0));
        assert_eq!(window([1.0, 2.0, 3.0, 3.0]), (3.0, 2));
        let (v, k) = window([5.0, f32::NAN, 1.0, 2.0]);
        assert!(v.is_nan() && k == 1);
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
