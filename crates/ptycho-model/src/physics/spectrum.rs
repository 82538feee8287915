//! The far-field intensity `I = fftshift(|FFT2 Ψ|²) / N²` as one op on the CPU (`flex`) backend,
//! with its own backward step, wired into burn as a backend extension (like [`crate::conv`]);
//! every other backend runs burn-signal's FFT ([`super::farfield::intensity_signal_fft`]).
//!
//! burn-signal transforms one axis at a time: the second axis is strided, so each pass copies
//! the tensor to and from a contiguous layout, and its backward step scales strided tensors
//! element by element. At the demo's batch (16 patterns of 64²) those tensors are below
//! burn-flex's threshold for parallel work, and the far field took about a quarter of the time
//! the main thread spends alone in a training step. Here each pattern is one task: its rows,
//! then its columns, transformed by `rustfft`, the intensity written already shifted.
//!
//! The backward step follows from `I = |F|²/N²` with `F = D Ψ` (`D` the unnormalised 2-D DFT):
//! `∂L/∂F = 2 F ∂L/∂I / N²` and, `D` being linear, `∂L/∂Ψ = Dᴴ ∂L/∂F`, where `Dᴴ` is the
//! unnormalised inverse transform. The spectrum `F` is kept from the forward pass for it.

use std::sync::{Arc, Mutex, PoisonError};

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftDirection, FftPlanner};

use super::complex::Complex;
use crate::host_memory::par_zeroed;

/// `fftshift(|FFT2 Ψ|²) / N²` of `[K, N, N]` exit waves on our kernel, or `None` where it does
/// not apply (another backend or dtype): the caller then runs burn-signal's FFT.
pub fn far_field_intensity(psi: &Complex<3>) -> Option<Tensor<3>> {
    let flex = matches!(
        psi.re.device().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    );
    let f32s = psi.re.dtype() == DType::F32 && psi.im.dtype() == DType::F32;
    let [_, rows, cols] = psi.dims();
    (flex && f32s && rows == cols).then(|| {
        Tensor::from_dispatch(<Dispatch as SpectrumBackend>::far_field_intensity(
            psi.re.clone().into_dispatch(),
            psi.im.clone().into_dispatch(),
        ))
    })
}

/// The far-field intensity of `[K, N, N]` exit waves given as real and imaginary parts.
#[backend_extension(Flex, Autodiff)]
pub trait SpectrumBackend: Backend {
    /// `fftshift(|FFT2(re + i·im)|²) / N²` over the last two axes (callers check the dtype,
    /// the device and that the planes are square first).
    fn far_field_intensity(re: FloatTensor<Self>, im: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The 2-D transforms of one side `n`, planned once per process and side.
struct Plans {
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
}

impl Plans {
    fn new(n: usize) -> Self {
        static PLANNER: Mutex<Option<FftPlanner<f32>>> = Mutex::new(None);
        let mut planner = PLANNER.lock().unwrap_or_else(PoisonError::into_inner);
        let planner = planner.get_or_insert_with(FftPlanner::new);
        Self {
            forward: planner.plan_fft(n, FftDirection::Forward),
            inverse: planner.plan_fft(n, FftDirection::Inverse),
        }
    }

    /// The side `n` of the planes.
    fn side(&self) -> usize {
        self.forward.len()
    }

    /// Where row or column `i` of a spectrum lands after the fftshift.
    fn shifted(&self, i: usize) -> usize {
        let n = self.side();
        (i + n / 2) % n
    }

    /// The unnormalised 2-D transform of the `n × n` plane, in place: every row, then every
    /// column (as the rows of the transposed plane).
    fn transform(&self, fft: &dyn Fft<f32>, plane: &mut [Complex32]) {
        let n = self.side();
        let mut scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        let mut transposed = vec![Complex32::default(); n * n];
        fft.process_with_scratch(plane, &mut scratch);
        transpose(plane, &mut transposed, n);
        fft.process_with_scratch(&mut transposed, &mut scratch);
        transpose(&transposed, plane, n);
    }

    /// The spectra `F = D Ψ` of `[K, n, n]` planes, one plane per task.
    fn spectra(&self, re: &[f32], im: &[f32]) -> Vec<Complex32> {
        let plane = self.side() * self.side();
        par_zeroed(re.len(), plane, |k, f| {
            let (re, im) = (&re[k * plane..][..plane], &im[k * plane..][..plane]);
            for ((f, &re), &im) in f.iter_mut().zip(re).zip(im) {
                *f = Complex32::new(re, im);
            }
            self.transform(&*self.forward, f);
        })
    }

    /// `fftshift(|F|²) / n²` of every plane.
    fn intensity(&self, spectra: &[Complex32]) -> Vec<f32> {
        let n = self.side();
        let scale = 1.0 / (n * n) as f32;
        par_zeroed(spectra.len(), n * n, |k, out| {
            let f = &spectra[k * n * n..][..n * n];
            for (r, row) in f.chunks_exact(n).enumerate() {
                let out = &mut out[self.shifted(r) * n..][..n];
                for (c, v) in row.iter().enumerate() {
                    out[self.shifted(c)] = v.norm_sqr() * scale;
                }
            }
        })
    }

    /// `∂L/∂Ψ = Dᴴ (2 F ∂L/∂I / n²)` as (re, im), from the spectra and the (shifted) `∂L/∂I`.
    fn backward(&self, spectra: &[Complex32], d_intensity: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = self.side();
        let scale = 2.0 / (n * n) as f32;
        let d_psi = par_zeroed(spectra.len(), n * n, |k, g| {
            let f = &spectra[k * n * n..][..n * n];
            let d = &d_intensity[k * n * n..][..n * n];
            for (r, (g, f)) in g.chunks_exact_mut(n).zip(f.chunks_exact(n)).enumerate() {
                let d = &d[self.shifted(r) * n..][..n];
                for (c, (g, f)) in g.iter_mut().zip(f).enumerate() {
                    *g = f * (scale * d[self.shifted(c)]);
                }
            }
            self.transform(&*self.inverse, g);
        });
        d_psi.par_iter().map(|v| (v.re, v.im)).unzip()
    }
}

/// `dst[c·n + r] = src[r·n + c]` for an `n × n` plane.
fn transpose(src: &[Complex32], dst: &mut [Complex32], n: usize) {
    for (r, row) in src.chunks_exact(n).enumerate() {
        for (c, v) in row.iter().enumerate() {
            dst[c * n + r] = *v;
        }
    }
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the far-field kernel takes contiguous f32 tensors")
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// The spectra of `re + i·im` (`[K, N, N]`, contiguous) and the plans of their side.
fn plan_and_transform(re: &FlexTensor, im: &FlexTensor) -> (Plans, Vec<Complex32>) {
    assert_eq!(
        re.shape(),
        im.shape(),
        "real and imaginary parts differ in shape"
    );
    let plans = Plans::new(re.shape()[2]);
    let spectra = plans.spectra(slice(re), slice(im));
    (plans, spectra)
}

impl SpectrumBackend for Flex {
    fn far_field_intensity(re: FlexTensor, im: FlexTensor) -> FlexTensor {
        let (re, im) = (re.to_contiguous(), im.to_contiguous());
        let (plans, spectra) = plan_and_transform(&re, &im);
        tensor(plans.intensity(&spectra), &re.shape())
    }
}

/// The backward step of [`SpectrumBackend::far_field_intensity`]: keeps the spectra and the
/// extents of the exit waves.
#[derive(Debug)]
struct FarFieldBackward;

impl Backward<Flex, 2> for FarFieldBackward {
    type State = (Vec<Complex32>, Vec<usize>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_re, node_im] = ops.parents;
        let d_intensity = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (spectra, shape) = ops.state;
        let plans = Plans::new(shape[2]);
        let (d_re, d_im) = plans.backward(&spectra, slice(&d_intensity));
        if let Some(node) = node_re {
            grads.register::<Flex>(node.id, tensor(d_re, &shape));
        }
        if let Some(node) = node_im {
            grads.register::<Flex>(node.id, tensor(d_im, &shape));
        }
    }
}

impl<C: CheckpointStrategy> SpectrumBackend for Autodiff<Flex, C> {
    fn far_field_intensity(re: FloatTensor<Self>, im: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [re.node(), im.node()];
        let (re, im) = (
            re.primitive().to_contiguous(),
            im.primitive().to_contiguous(),
        );
        let (plans, spectra) = plan_and_transform(&re, &im);
        let out = tensor(plans.intensity(&spectra), &re.shape());
        match FarFieldBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((spectra, re.shape().to_vec()), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;
    use crate::physics::farfield::{DftMatrix, intensity_signal_fft};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// `f(ψ)` and the gradients of `sum(f(ψ) ⊙ r)` with respect to the real and imaginary parts.
    fn output_and_grads(
        f: impl Fn(Complex<3>) -> Tensor<3>,
        psi: &Complex<3>,
        r: &Tensor<3>,
    ) -> [Vec<f32>; 3] {
        let (re, im) = (psi.re.clone().require_grad(), psi.im.clone().require_grad());
        let y = f(Complex::new(re.clone(), im.clone()));
        let grads = (y.clone() * r.clone()).sum().backward();
        [
            values(y.inner()),
            values(re.grad(&grads).unwrap()),
            values(im.grad(&grads).unwrap()),
        ]
    }

    fn ours(psi: Complex<3>) -> Tensor<3> {
        far_field_intensity(&psi).expect("our kernel takes f32 on the CPU backend")
    }

    fn random(dims: [usize; 3], device: &Device) -> Tensor<3> {
        Tensor::random(dims, Distribution::Uniform(-1.0, 1.0), device)
    }

    /// Largest difference relative to the largest magnitude of the reference.
    fn relative_error(ours: &[f32], reference: &[f32]) -> f32 {
        let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = ours
            .iter()
            .zip(reference)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        diff / scale
    }

    /// Against burn-signal's FFT (powers of two from 2 only) and the dense DFT matrices (any side).
    #[test]
    fn intensity_and_gradients_match_burn_and_the_dft_matrices() {
        let device = Device::flex().autodiff();
        for (i, dims) in [[3, 8, 8], [2, 64, 64], [1, 6, 6], [2, 7, 7], [1, 1, 1]]
            .into_iter()
            .enumerate()
        {
            device.seed(i as u64);
            let psi = Complex::new(random(dims, &device), random(dims, &device));
            let r = random(dims, &device);
            let ours = output_and_grads(ours, &psi, &r);
            let dft = DftMatrix::new(dims[2], &device);
            let mut references = vec![output_and_grads(|psi| dft.intensity(psi), &psi, &r)];
            if dims[2] > 1 && dims[2].is_power_of_two() {
                references.push(output_and_grads(intensity_signal_fft, &psi, &r));
            }
            for reference in &references {
                let pairs = ours.iter().zip(reference);
                for (what, (a, b)) in ["intensity", "d re", "d im"].iter().zip(pairs) {
                    let error = relative_error(a, b);
                    assert!(error < 1e-5, "{what} of {dims:?}: relative error {error}");
                }
            }
        }
    }

    /// A plane wave `exp(2πi (a·r + b·c) / n)` puts all its power, `n²` after the `1/n²`, at row
    /// `a + n/2` and column `b + n/2` of the shifted intensity: rows and columns are not
    /// swapped, the sign of the exponent is the forward transform's, and DC sits at `n/2`.
    #[test]
    fn a_plane_wave_lands_on_its_frequency() {
        let (n, a, b) = (8usize, 1usize, 3usize);
        let angle = |r: usize, c: usize| {
            -2.0 * std::f64::consts::PI * ((a * r + b * c) % n) as f64 / n as f64
        };
        let wave = |part: fn(f64) -> f64| -> Vec<f32> {
            (0..n * n)
                .map(|i| part(-angle(i / n, i % n)) as f32)
                .collect()
        };
        let device = Device::flex();
        let plane = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [1, n, n]), &device);
        let psi = Complex::new(plane(wave(f64::cos)), plane(wave(f64::sin)));
        let intensity = values(ours(psi));
        let peak = (a + n / 2) % n * n + (b + n / 2) % n;
        for (i, v) in intensity.iter().enumerate() {
            let expected = if i == peak { (n * n) as f32 } else { 0.0 };
            assert!(
                (v - expected).abs() < 1e-3,
                "pixel {i}: {v}, expected {expected}"
            );
        }
    }

    /// The analytic gradient against central differences of `sum(I ⊙ r)`.
    #[test]
    fn gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let dims = [2, 6, 6];
        let psi = Complex::new(random(dims, &device), random(dims, &device));
        let r = random(dims, &device);
        let [_, d_re, d_im] = output_and_grads(ours, &psi, &r);
        let loss = |re: Vec<f32>, im: Vec<f32>| -> f64 {
            let t = |v| Tensor::<3>::from_data(TensorData::new(v, dims), &device);
            let y = values(ours(Complex::new(t(re), t(im))));
            y.iter()
                .zip(values(r.clone()))
                .map(|(y, r)| (y * r) as f64)
                .sum()
        };
        let (re, im) = (values(psi.re.clone()), values(psi.im.clone()));
        let eps = 1e-2f32;
        for j in [0, 5, 17, 40, 71] {
            for (part, grad) in [(0, &d_re), (1, &d_im)] {
                let bumped = |delta: f32| {
                    let (mut re, mut im) = (re.clone(), im.clone());
                    [&mut re, &mut im][part][j] += delta;
                    loss(re, im)
                };
                let numeric = (bumped(eps) - bumped(-eps)) / (2.0 * eps as f64);
                let analytic = grad[j] as f64;
                assert!(
                    (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                    "value {j} of part {part}: numeric {numeric}, analytic {analytic}"
                );
            }
        }
    }

    /// Without autodiff the kernel gives the same intensity.
    #[test]
    fn inference_matches_the_tracked_op() {
        let device = Device::flex();
        device.seed(3);
        let psi = Complex::new(random([2, 16, 16], &device), random([2, 16, 16], &device));
        let reference = values(intensity_signal_fft(psi.clone()));
        let error = relative_error(&values(ours(psi)), &reference);
        assert!(error < 1e-5, "relative error {error}");
    }
}
