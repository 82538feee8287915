//! Our convolution against burn's reference convolution (output and all three gradients), the
//! adjoint identity of the input gradient, and a finite-difference check through the autodiff op.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::kernels::{self, Activation, ConvShape, Epilogue};
use super::{conv2d, conv2d_relu, our_kernels_apply, winograd};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// `max |a - b| / max |b|`.
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    device.seed(seed);
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

/// A conv layer with random (not zero) bias on `device`.
fn layer(s: &ConvShape, seed: u64, device: &Device) -> Conv2d {
    let mut conv = Conv2dConfig::new([s.c_in, s.c_out], [s.kernel, s.kernel])
        .with_padding(PaddingConfig2d::Same)
        .init(device);
    conv.weight = Param::from_tensor(random([s.c_out, s.c_in, s.kernel, s.kernel], seed, device));
    conv.bias = Some(Param::from_tensor(random([s.c_out], seed + 1, device)));
    conv
}

/// burn's own convolution, bypassing our routing.
fn reference(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let p = conv.kernel_size[0] / 2;
    let options = ConvOptions::new([1, 1], [p, p], [1, 1], 1);
    burn_conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

fn shape(batch: usize, c_in: usize, c_out: usize, (h, w): (usize, usize), k: usize) -> ConvShape {
    ConvShape::of([batch, c_in, h, w], [c_out, c_in, k, k])
}

/// Batch 1–16, channels 1–256, sides 8–128, both kernels, odd and non-square planes.
fn cases() -> Vec<ConvShape> {
    vec![
        shape(1, 1, 8, (8, 8), 3),
        shape(3, 5, 7, (9, 12), 3),
        shape(16, 4, 32, (32, 32), 3),
        shape(2, 256, 64, (8, 8), 3),
        shape(2, 16, 256, (16, 16), 3),
        shape(1, 2, 4, (128, 128), 3),
        shape(4, 64, 1, (64, 64), 3),
        // Several im2col bands with a short last one (7 rows of 37 per band, 50 rows).
        shape(2, 64, 8, (50, 37), 3),
        shape(5, 6, 3, (11, 8), 1),
        shape(2, 128, 32, (16, 16), 1),
        // Winograd: ragged tiles (sides not multiples of 4), one sample (the sequential path),
        // several chunks of tiles, rows of more than one segment of tiles (70 columns: 16 + 2
        // tiles), and the generator's deepest layer.
        shape(4, 64, 80, (33, 30), 3),
        shape(2, 64, 64, (40, 70), 3),
        shape(1, 64, 64, (72, 64), 3),
        shape(2, 64, 64, (64, 64), 3),
        shape(16, 256, 256, (8, 8), 3),
        shape(3, 128, 64, (36, 44), 3),
    ]
}

#[test]
fn the_cases_cover_both_algorithms() {
    let winograd = cases().iter().filter(|s| winograd::suits(s)).count();
    assert!(winograd >= 5, "{winograd} Winograd cases");
    assert!(cases().len() - winograd >= 5);
}

/// Output and gradients of `sum(y ⊙ r)` for x, weight and bias, with `y = layer(conv, x)`.
fn output_and_grads(
    conv: &Conv2d,
    (x, r): (Tensor<4>, Tensor<4>),
    layer: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
) -> [Vec<f32>; 4] {
    let x = x.require_grad();
    let y = layer(conv, x.clone());
    let grads = (y.clone() * r).sum().backward();
    let weight = conv.weight.val().grad(&grads).unwrap();
    let bias = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
    [
        values(y.inner()),
        values(x.grad(&grads).unwrap()),
        values(weight),
        values(bias),
    ]
}

const QUANTITIES: [&str; 4] = ["output", "input grad", "weight grad", "bias grad"];

#[test]
fn output_and_all_gradients_match_burn_on_random_shapes() {
    let device = Device::flex().autodiff();
    for (i, s) in cases().into_iter().enumerate() {
        let conv = layer(&s, 10 * i as u64, &device);
        assert!(our_kernels_apply(
            &conv,
            &random([1, s.c_in, 4, 4], 0, &device)
        ));
        let x = random(
            [s.batch, s.c_in, s.height, s.width],
            10 * i as u64 + 5,
            &device,
        );
        let r = random(
            [s.batch, s.c_out, s.height, s.width],
            10 * i as u64 + 6,
            &device,
        );
        let ours = output_and_grads(&conv, (x.clone(), r.clone()), conv2d);
        let theirs = output_and_grads(&conv, (x.clone(), r.clone()), reference);
        for (name, (a, b)) in QUANTITIES.iter().zip(ours.iter().zip(&theirs)) {
            let err = relative_error(a, b);
            assert!(err < 1e-4, "{s:?}: {name} relative error {err}");
        }
        // The fused ReLU against burn's ReLU after our convolution: the same values to the bit
        // (against burn's convolution, outputs within rounding of zero could take the other
        // side of the ReLU and move a gradient by a whole term).
        let fused = output_and_grads(&conv, (x.clone(), r.clone()), conv2d_relu);
        let apart = output_and_grads(&conv, (x, r), |conv, x| relu(conv2d(conv, x)));
        for (name, (a, b)) in QUANTITIES.iter().zip(fused.iter().zip(&apart)) {
            assert!(a == b, "{s:?}: {name} of the fused ReLU differs");
        }
        let clamped = fused[0].iter().filter(|v| **v == 0.0).count();
        assert!(
            clamped > fused[0].len() / 10,
            "{s:?}: the ReLU clamped {clamped}"
        );
    }
}

#[test]
fn the_fused_relu_follows_burns_rules_for_nan_and_negative_zero() {
    // A 1 × 1 convolution with weight 1 and bias 0 passes x through to the ReLU.
    let s = shape(1, 1, 1, (1, 4), 1);
    let x = [f32::NAN, -0.0, -2.0, 3.0];
    let relu = Epilogue {
        bias: Some(&[0.0]),
        act: Activation::Relu,
    };
    let y = kernels::forward(&x, &[1.0], relu, &s);
    assert!(y[0].is_nan());
    assert_eq!(
        y[1..].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        [0.0f32, 0.0, 3.0].map(f32::to_bits)
    );
    // The gradient passes where the output is positive or NaN.
    let dy = Activation::Relu.backward(&y, &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(dy, [1.0, 0.0, 0.0, 4.0]);
    assert_eq!(
        Activation::Identity.backward(&y, &[1.0, 2.0, 3.0, 4.0]),
        [1.0, 2.0, 3.0, 4.0]
    );
}

#[test]
fn inference_path_matches_burn_without_autodiff() {
    let device = Device::flex();
    let s = shape(3, 8, 16, (16, 20), 3);
    let conv = layer(&s, 1, &device);
    let x = random([s.batch, s.c_in, s.height, s.width], 2, &device);
    let err = relative_error(
        &values(conv2d(&conv, x.clone())),
        &values(reference(&conv, x)),
    );
    assert!(err < 1e-5, "relative error {err}");
}

#[test]
fn input_gradient_is_the_adjoint_of_the_convolution() {
    // <conv(x), y> = <x, conv*(y)> for any x, y (no bias), on both algorithms.
    for s in [shape(2, 3, 5, (6, 7), 3), shape(4, 64, 72, (40, 36), 3)] {
        assert_eq!(s.c_in == 64, winograd::suits(&s));
        let plane = s.height * s.width;
        let x = fill(s.batch * s.c_in * plane, 1);
        let y = fill(s.batch * s.c_out * plane, 2);
        let w = fill(s.c_out * s.c_in * 9, 3);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p * q) as f64).sum::<f64>();
        let lhs = dot(&kernels::forward(&x, &w, Epilogue::NONE, &s), &y);
        let rhs = dot(&x, &kernels::input_grad(&y, &w, &s));
        assert!(
            (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
            "{s:?}: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn a_shifted_kernel_moves_the_image_the_right_way() {
    // A kernel whose only tap is (ky, kx) = (0, 2) reads x[y - 1, x + 1]: an asymmetric check of
    // the im2col shift directions and of the zero border.
    let s = shape(1, 1, 1, (3, 4), 3);
    let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
    let mut w = vec![0.0; 9];
    w[2] = 1.0;
    let bias = Epilogue {
        bias: Some(&[0.5]),
        act: Activation::Identity,
    };
    let y = kernels::forward(&x, &w, bias, &s);
    let expected = [
        0.5, 0.5, 0.5, 0.5, //
        2.5, 3.5, 4.5, 0.5, //
        6.5, 7.5, 8.5, 0.5,
    ];
    assert_eq!(y, expected);
}

/// `L = ½ Σ (conv(x) ⊙ r)²`, evaluated on host values.
fn loss(conv: &Conv2d, x: &Tensor<4>, r: &Tensor<4>) -> f64 {
    let y = values(conv2d(conv, x.clone()) * r.clone());
    y.iter().map(|v| 0.5 * (*v as f64).powi(2)).sum()
}

#[test]
fn finite_differences_agree_with_the_autodiff_gradients() {
    finite_differences_agree(shape(2, 3, 2, (5, 6), 3));
}

#[test]
fn finite_differences_agree_through_winograd() {
    let s = shape(1, 64, 64, (64, 64), 3);
    assert!(winograd::suits(&s));
    finite_differences_agree(s);
}

fn finite_differences_agree(s: ConvShape) {
    let device = Device::flex().autodiff();
    let conv = layer(&s, 3, &device);
    let x = random([s.batch, s.c_in, s.height, s.width], 4, &device).require_grad();
    let r = random([s.batch, s.c_out, s.height, s.width], 5, &device);
    let y = conv2d(&conv, x.clone()) * r.clone();
    let grads = (y.clone() * y).sum().mul_scalar(0.5).backward();
    let analytic = [
        values(x.grad(&grads).unwrap()),
        values(conv.weight.val().grad(&grads).unwrap()),
        values(conv.bias.as_ref().unwrap().val().grad(&grads).unwrap()),
    ];
    // The loss is quadratic in every parameter, so the central difference is exact for any step;
    // a large step keeps the f32 rounding of the loss (about 1e-7 of it) small against it.
    let eps = 0.25f32;
    for (which, grad) in analytic.iter().enumerate() {
        for index in [0, grad.len() / 3, grad.len() - 1] {
            let nudge = |delta: f32| {
                let mut conv = conv.clone();
                let mut x = x.clone();
                let bump = |t: Tensor<4>| -> Tensor<4> {
                    let dims = t.dims();
                    let mut v = values(t);
                    v[index] += delta;
                    Tensor::from_data(TensorData::new(v, dims), &device)
                };
                match which {
                    0 => x = bump(x),
                    1 => conv.weight = Param::from_tensor(bump(conv.weight.val())),
                    _ => {
                        let b = conv.bias.unwrap().val();
                        let bumped = bump(b.reshape([1, 1, 1, s.c_out])).reshape([s.c_out]);
                        conv.bias = Some(Param::from_tensor(bumped));
                    }
                }
                loss(&conv, &x, &r)
            };
            let numeric = (nudge(eps) - nudge(-eps)) / (2.0 * eps as f64);
            let a = grad[index] as f64;
            assert!(
                (numeric - a).abs() < 2e-3 * a.abs().max(1.0),
                "parameter {which} index {index}: numeric {numeric} autodiff {a}"
            );
        }
    }
}

#[test]
fn other_convolutions_keep_burns_kernels() {
    let device = Device::flex();
    let x = random([1, 2, 8, 8], 0, &device);
    let strided = Conv2dConfig::new([2, 2], [3, 3])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Same)
        .init(&device);
    let valid = Conv2dConfig::new([2, 2], [3, 3]).init(&device);
    let five = Conv2dConfig::new([2, 2], [5, 5])
        .with_padding(PaddingConfig2d::Same)
        .init(&device);
    for conv in [&strided, &valid, &five] {
        assert!(!our_kernels_apply(conv, &x));
    }
    // Still correct through the fallback.
    let err = relative_error(
        &values(conv2d(&valid, x.clone())),
        &values(valid.forward(x)),
    );
    assert_eq!(err, 0.0);
}

/// A deterministic fill in [-1, 1).
fn fill(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

#[test]
fn winograd_moves_the_image_the_right_way() {
    // As `a_shifted_kernel_moves_the_image_the_right_way`, through Winograd: output channel 3
    // reads input channel 5 at (y - 1, x + 1) only, on a plane whose sides are not multiples of 4.
    let s = shape(1, 64, 64, (6, 7), 3);
    let x: Vec<f32> = (0..64 * 42).map(|v| (v % 97) as f32).collect();
    let mut w = vec![0.0; 64 * 64 * 9];
    w[(3 * 64 + 5) * 9 + 2] = 1.0;
    let y = winograd::forward(&x, &w, Epilogue::NONE, &s);
    let plane = &y[3 * 42..][..42];
    let src = &x[5 * 42..][..42];
    for (r, row) in plane.chunks_exact(7).enumerate() {
        for (c, v) in row.iter().enumerate() {
            let expected = if r >= 1 && c + 1 < 7 {
                src[(r - 1) * 7 + c + 1]
            } else {
                0.0
            };
            assert!((v - expected).abs() < 1e-3, "({r}, {c}): {v} vs {expected}");
        }
    }
    assert!(y[..3 * 42].iter().all(|v| v.abs() < 1e-4));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for (s, winograd) in [
        (shape(4, 64, 64, (32, 32), 3), true),
        (shape(4, 16, 8, (12, 12), 3), false),
    ] {
        assert_eq!(winograd::suits(&s), winograd);
        let x = fill(s.batch * s.c_in * s.height * s.width, 1);
        let dy = fill(s.batch * s.c_out * s.height * s.width, 2);
        let w = fill(s.c_out * s.c_in * 9, 3);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                [
                    kernels::forward(&x, &w, Epilogue::NONE, &s),
                    kernels::input_grad(&dy, &w, &s),
                    kernels::weight_grad(&x, &dy, &s),
                ]
            })
        };
        let one = run(1);
        for threads in [2, 3, 8] {
            assert!(
                one == run(threads),
                "{s:?}: {threads} threads differ from one"
            );
        }
    }
}
