//! The generator's convolutions. On the CPU (`flex`) backend, 1 × 1 and 3 × 3 stride-1
//! "same"-padded `f32` convolutions run our own GEMM kernels ([`kernels`], wired into burn as a
//! backend extension with its own backward step); every other case, and every other backend,
//! runs burn's `Conv2d::forward`. `nn::Conv2d` stays the parameter holder, so model bundles do
//! not change.
//!
//! burn-flex's convolution, which this replaces, copies the input to NHWC, zero-fills one im2col
//! tile per sample, and computes the weight gradient as a convolution with a 9-column output;
//! a training step spent most of its time in those copies and short GEMMs.

mod extension;
mod kernels;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{DType, Tensor};

pub use extension::SameConvBackend;

/// Which convolution kernels the CPU backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKernels {
    /// Our GEMM kernels where they apply (the default).
    Ours,
    /// burn's own convolution everywhere (for comparison in benchmarks).
    Burn,
}

static USE_BURN: AtomicBool = AtomicBool::new(false);

/// Chooses the CPU convolution kernels for the whole process; benchmarks use it to measure
/// both in one run. Results agree to rounding either way.
pub fn set_conv_kernels(kernels: ConvKernels) {
    USE_BURN.store(kernels == ConvKernels::Burn, Ordering::Relaxed);
}

/// The CPU convolution kernels in use.
pub fn conv_kernels() -> ConvKernels {
    if USE_BURN.load(Ordering::Relaxed) {
        ConvKernels::Burn
    } else {
        ConvKernels::Ours
    }
}

/// `conv.forward(x)`, on our kernels where they apply.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(bias) = conv.bias.as_ref().filter(|_| our_kernels_apply(conv, &x)) else {
        return conv.forward(x);
    };
    let y = <Dispatch as SameConvBackend>::same_conv(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
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
    conv_kernels() == ConvKernels::Ours
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
