//! The generator's 2 × 2, stride-2 max-pooling. On the CPU (`flex`) backend with `f32` tensors
//! it runs our kernel, wired into burn as a backend extension with its own backward step (the
//! same way as [`crate::conv`]); every other case runs burn's `max_pool2d`.
//!
//! burn-flex pools through its general 3-D pooling code, which computes every window's
//! bounds and flat indices (as `i64`) per output; a training step at N = 64 spent about 6 % of
//! its time there. Here a window is four loads, and the backward step keeps one byte per output:
//! which of the four won.
//!
//! The semantics are burn's (and PyTorch's): outputs cover the whole windows only (odd last rows
//! and columns are dropped), the first of equal maxima wins, and a NaN wins over any number.

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
    let ours = matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
        && x.dtype() == DType::F32;
    if !ours {
        return max_pool2d(x, MaxPoolOptions::new([2, 2]));
    }
    Tensor::from_dispatch(<Dispatch as MaxPoolBackend>::max_pool_2x(x.into_dispatch()))
}

/// 2 × 2, stride-2 max-pooling of `[B, C, H, W]` (callers check the dtype and device first).
#[backend_extension(Flex, Autodiff)]
pub trait MaxPoolBackend: Backend {
    fn max_pool_2x(x: FloatTensor<Self>) -> FloatTensor<Self>;
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
        let s = x.shape();
        let dims = [s[0], s[1], s[2], s[3]];
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

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the pooling kernel takes contiguous f32 tensors")
}

fn tensor(values: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

impl MaxPoolBackend for Flex {
    fn max_pool_2x(x: FlexTensor) -> FlexTensor {
        let x = x.to_contiguous();
        let (s, out_dims) = PoolShape::of(&x);
        tensor(forward(slice(&x), s).0, out_dims)
    }
}

/// The backward step of [`MaxPoolBackend::max_pool_2x`]: keeps the winners and the input shape.
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

impl<C: CheckpointStrategy> MaxPoolBackend for Autodiff<Flex, C> {
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
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
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
            let run = |ours: bool| {
                let x = x.clone().require_grad();
                let y = if ours {
                    max_pool_2x(x.clone())
                } else {
                    reference(x.clone())
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                (values(y.inner()), values(x.grad(&grads).unwrap()))
            };
            assert_eq!(run(true), run(false), "case {dims:?}");
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
    fn inference_matches_burn_without_autodiff() {
        let device = Device::flex();
        device.seed(3);
        let x = Tensor::<4>::random([2, 5, 12, 10], Distribution::Default, &device);
        assert_eq!(values(max_pool_2x(x.clone())), values(reference(x)));
    }
}
