//! One 3 × 3 convolution layer, forward and backward (output, input and weight gradients), at the
//! generator's shapes, on each of the CPU kernel sets (`ptycho_model::conv::ConvKernels`) in the
//! same run: ours (the default: Winograd where `conv::winograd` suits the shape, else the im2col
//! GEMM), our im2col GEMM everywhere, and burn's convolution.
//!
//! `cargo bench -p ptycho-model --bench conv --profile dev [-- <filter>]`; a case is named
//! `<kernels>/b<batch>_c<in>x<out>_<side>`.

use std::hint::black_box;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;

use ptycho_model::conv::{ConvKernels, conv2d, set_conv_kernels};

/// `(batch, c_in, c_out, side)`: the encoder and decoder layers at N = 64, batch 16,
/// n_filters_scale 2, and the demo's smallest channel counts (n_filters_scale 1, batch 4).
const SHAPES: [(usize, usize, usize, usize); 9] = [
    (16, 64, 64, 64),
    (16, 64, 128, 32),
    (16, 128, 128, 32),
    (16, 256, 256, 16),
    (16, 256, 256, 8),
    (4, 32, 32, 64),
    (4, 64, 64, 32),
    (4, 128, 128, 16),
    (4, 16, 16, 64),
];

fn layer(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(device)
}

/// Forward, `sum(y ⊙ r)`, backward; reads the three gradients back.
fn step(conv: &Conv2d, x: &Tensor<4>, r: &Tensor<4>) {
    let x = x.clone().require_grad();
    let grads = (conv2d(conv, x.clone()) * r.clone()).sum().backward();
    black_box(x.grad(&grads).map(|g| g.into_data()));
    black_box(conv.weight.val().grad(&grads).map(|g| g.into_data()));
}

fn main() {
    // As the `ptycho` program does (see `ptycho_model::host_memory`).
    let _ = ptycho_model::host_memory::keep_freed_memory();
    let mut criterion = Criterion::default().sample_size(10).configure_from_args();
    let device = Device::flex().autodiff();
    for (batch, c_in, c_out, side) in SHAPES {
        device.seed(1);
        let conv = layer(c_in, c_out, &device);
        let x = Tensor::random([batch, c_in, side, side], Distribution::Default, &device);
        let r = Tensor::random([batch, c_out, side, side], Distribution::Default, &device);
        for (name, kernels) in [
            ("ours", ConvKernels::Ours),
            ("im2col", ConvKernels::Direct),
            ("burn", ConvKernels::Burn),
        ] {
            set_conv_kernels(kernels);
            let id = format!("{name}/b{batch}_c{c_in}x{c_out}_{side}");
            criterion.bench_function(&id, |b| b.iter(|| step(&conv, &x, &r)));
        }
    }
    set_conv_kernels(ConvKernels::Ours);
    criterion.final_summary();
}
