//! Differentiable forward physics of PtychoPINN in (re, im) f32 pairs: probe illumination,
//! optional probe mask and Gaussian smoothing, far-field intensity (reference/model.md §1.2).

pub mod canvas;
pub mod complex;
pub mod farfield;
pub mod probe;
mod spectrum;
pub mod translate;

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

pub use canvas::GroupGeometry;
pub use complex::Complex;
pub use farfield::{DftMatrix, intensity_fft, intensity_signal_fft};
pub use probe::{HostProbe, center_square_mask, disk_mask};
pub use spectrum::SpectrumBackend;

use crate::error::ModelError;
use crate::spec::{FarFieldMethod, PhysicsSpec};

/// Fixed (non-trainable) tensors of the forward model, built once per run.
#[derive(Debug, Clone)]
pub struct Physics {
    spec: PhysicsSpec,
    /// The normalised (and, with `probe.mask`, disk-masked) probe, `[1, N, N]`.
    probe: Complex<3>,
    /// Generator support for the canvas merge, `n·n` values.
    support: Vec<f32>,
    /// 3×3 Gaussian kernel `[1, 1, 3, 3]`, when smoothing is on.
    smoothing: Option<Tensor<4>>,
    /// DFT matrices, when the matmul far field is selected.
    dft: Option<DftMatrix>,
    /// The `probe.mask` disk `[1, N, N]`, re-applied to a trainable probe so that refinement
    /// cannot grow it outside the mask.
    disk: Option<Tensor<3>>,
    device: Device,
}

impl Physics {
    /// Normalises `probe` (`probe_scale`, disk mask) and prepares the constant tensors.
    /// `support_is_centre` is true when the generator only fills the central N/2 square
    /// (`pad_object` and not `probe.big`).
    pub fn new(
        spec: &PhysicsSpec,
        probe: &HostProbe,
        support_is_centre: bool,
        device: &Device,
    ) -> Result<Self, ModelError> {
        spec.validate()?;
        let n = spec.n;
        if probe.n != n {
            return Err(ModelError::Shape {
                what: "probeGuess",
                expected: format!("{n}x{n}"),
                found: format!("{0}x{0}", probe.n),
            });
        }
        let mut normalised = probe.normalised(spec.probe_scale)?;
        if spec.probe_mask {
            let disk = disk_mask(n);
            for (i, d) in disk.iter().enumerate() {
                normalised.re[i] *= d;
                normalised.im[i] *= d;
            }
        }
        let to_tensor = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [1, n, n]), device);
        let disk = spec.probe_mask.then(|| to_tensor(disk_mask(n)));
        let probe_t = Complex::new(to_tensor(normalised.re), to_tensor(normalised.im));
        let support = if support_is_centre {
            center_square_mask(n)
        } else {
            vec![1.0; n * n]
        };
        let smoothing = (spec.gaussian_smoothing_sigma > 0.0).then(|| {
            let sigma = spec.gaussian_smoothing_sigma as f64;
            let g: Vec<f64> = [-1.0f64, 0.0, 1.0]
                .iter()
                .map(|x| (-x * x / (2.0 * sigma * sigma)).exp())
                .collect();
            let total: f64 = g.iter().sum::<f64>().powi(2);
            let kernel: Vec<f32> = (0..9)
                .map(|i| (g[i / 3] * g[i % 3] / total) as f32)
                .collect();
            Tensor::<4>::from_data(TensorData::new(kernel, [1, 1, 3, 3]), device)
        });
        let dft = (spec.far_field == FarFieldMethod::MatmulDft).then(|| DftMatrix::new(n, device));
        Ok(Self {
            spec: spec.clone(),
            probe: probe_t,
            support,
            smoothing,
            dft,
            disk,
            device: device.clone(),
        })
    }

    /// The specification this was built from.
    pub fn spec(&self) -> &PhysicsSpec {
        &self.spec
    }

    /// The probe the forward model multiplies with, `[1, N, N]`.
    pub fn probe(&self) -> &Complex<3> {
        &self.probe
    }

    /// The device the constants live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Translation matrices for a batch of `groups` groups with `coords_relative` offsets
    /// `[groups, C, 2]` (`[dx, dy]`).
    pub fn geometry(&self, offsets: &[f32], groups: usize) -> Result<GroupGeometry, ModelError> {
        GroupGeometry::new(
            offsets,
            groups,
            self.spec.channels(),
            self.spec.n,
            self.spec.padded_size(),
            &self.support,
            &self.device,
        )
    }

    /// Exit waves `P·O` of `[K, N, N]` object patches, with the optional 3×3 complex Gaussian
    /// smoothing (reflect padding, as `tfa.image.gaussian_filter2d`).
    pub fn illuminate(&self, patches: Complex<3>) -> Complex<3> {
        self.illuminate_with(patches, self.probe.clone())
    }

    /// [`Physics::illuminate`] with another probe `[1, N, N]` in the normalised units of
    /// [`Physics::probe`] (a trainable probe); the `probe.mask` disk still applies.
    pub fn illuminate_with(&self, patches: Complex<3>, probe: Complex<3>) -> Complex<3> {
        let probe = match &self.disk {
            Some(disk) => probe.mul_real(disk.clone()),
            None => probe,
        };
        let psi = patches.mul_complex(probe);
        match &self.smoothing {
            None => psi,
            Some(kernel) => psi.map_stacked(|t| {
                let [k, n, _] = t.dims();
                let padded = t
                    .reshape([k, 1, n, n])
                    .pad([(1, 1), (1, 1)], PadMode::Reflect);
                conv2d(
                    padded,
                    kernel.clone(),
                    None,
                    ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                )
                .reshape([k, n, n])
            }),
        }
    }

    /// Far-field intensity `fftshift(|FFT2 Ψ|²)/N²` of `[K, N, N]` exit waves.
    pub fn far_field(&self, psi: Complex<3>) -> Tensor<3> {
        match &self.dft {
            Some(dft) => dft.intensity(psi),
            None => intensity_fft(psi),
        }
    }
}
