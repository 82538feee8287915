//! Test target `cross_backend_parity` (seed module `tests/torch/test_cross_backend_parity.py`,
//! outside the backend-optional whitelist; needs `--features wgpu` and a Vulkan adapter, which
//! `.ci/setup-vulkan` provides as Mesa's software Vulkan where there is no GPU).
//!
//! The same model must give the same answers on the CPU backend (`flex`) and on the wgpu
//! backend: inference of one bundle on both, bundles saved under one backend loading and
//! inferring under the other, and a short training run giving the same losses.
//!
//! Tolerances (see `support`): the two backends run the same f32 graph with different kernels
//! (flex's gemm convolutions and FFT on the CPU; CubeCL's WGSL kernels on the adapter), so sums
//! are taken in different orders and transcendental functions (sigmoid, tanh, exp) come from
//! different libraries. Each op then differs by a few ulp (relative ~1e-7); measured through
//! the whole generator on lavapipe the object differs by at most 3e-7 in amplitude (range
//! [0, 1]) and 6e-7 rad in phase, so 1e-5 leaves a 15-30x margin for other drivers, while an
//! actual bug (a transposed kernel, a sign, a shifted FFT) changes them by 1e-2 or more.

mod bundle_compat;
mod device_selection;
mod inference_parity;
mod support;
mod training_parity;
