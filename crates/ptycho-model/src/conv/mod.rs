//! The generator's convolutions. On the CPU (`flex`) backend, 1 × 1 and 3 × 3 stride-1
//! "same"-padded `f32` convolutions run our own kernels ([`kernels`]: an im2col GEMM, and
//! Winograd F(4×4, 3×3) in [`winograd`] for the 3 × 3 layers with enough channels), wired into
//! burn as a backend extension with its own backward step; every other case, and every other
//! backend, runs burn's `Conv2d::forward`. `nn::Conv2d` stays the parameter holder, so model
//! bundles do not change.
//!
//! burn-flex's convolution, which this replaces, copies the input to NHWC, zero-fills one im2col
//! tile per sample, and computes the weight gradient as a convolution with a 9-column output;
//! a training step spent most of its time in those copies and short GEMMs.

mod extension;
mod kernels;
mod winograd;

use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::{Dispatch, DispatchDevice};
use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::{DType, Tensor};

pub use extension::SameConvBackend;

/// Which convolution kernels the CPU backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKernels {
    /// Our kernels: Winograd F(4×4, 3×3) for the 3 × 3 layers with 64 or more channels in and
    /// out and enough tiles in the batch, the im2col GEMM for the rest (the default).
    Ours,
    /// Our im2col GEMM for every layer, no Winograd (for comparison in benchmarks).
    Direct,
    /// burn's own convolution everywhere (for comparison in benchmarks).
    Burn,
}

static KERNELS: AtomicU8 = AtomicU8::new(0);

/// Chooses the CPU convolution kernels for the whole process; benchmarks use it to measure
/// them side by side in one run. Results agree to rounding whichever runs.
pub fn set_conv_kernels(kernels: ConvKernels) {
    KERNELS.store(kernels as u8, Ordering::Relaxed);
}

/// The CPU convolution kernels in use.
pub fn conv_kernels() -> ConvKernels {
    match KERNELS.load(Ordering::Relaxed) {
        0 => ConvKernels::Ours,
        1 => ConvKernels::Direct,
        _ => ConvKernels::Burn,
    }
}

/// `conv.forward(x)`, on our kernels where they apply.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match our_bias(conv, &x) {
        Some(bias) => same_conv(conv, bias, x, false),
        None => conv.forward(x),
    }
}

/// `relu(conv.forward(x))`, in one pass on our kernels where they apply.
pub fn conv2d_relu(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match our_bias(conv, &x) {
        Some(bias) => same_conv(conv, bias, x, true),
        None => relu(conv.forward(x)),
    }
}

/// The layer's bias where our kernels apply to `conv(x)` (they always add one).
fn our_bias<'a>(conv: &'a Conv2d, x: &Tensor<4>) -> Option<&'a Param<Tensor<1>>> {
    conv.bias.as_ref().filter(|_| our_kernels_apply(conv, x))
}

/// The convolution, then a ReLU if `relu`, on our kernels.
fn same_conv(conv: &Conv2d, bias: &Param<Tensor<1>>, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let y = <Dispatch as SameConvBackend>::same_conv(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
        relu,
    );
    Tensor::from_dispatch(y)
}

fn our_kernels_apply(conv: &Conv2d, x: &Tensor<4>) -> bool {
    let k = conv.kernel_size[0];
    let same = match conv.padding {
        PaddingConfig2d::Same => true,
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r] == [k / 2; 4],
        PaddingConfig2d::Valid => k == 1,
    };
    conv_kernels() != ConvKernels::Burn
        && matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
        && x.dtype() == DType::F32
        && conv.weight.val().dtype() == DType::F32
        && (k == 1 || k == 3)
        && conv.kernel_size == [k, k]
        && conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && same
}

#[cfg(test)]
mod tests;
