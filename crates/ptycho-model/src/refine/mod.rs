//! Whole-field refinement: the object canvas and the probe as free parameters, fitted to the
//! measured amplitudes through the same far-field physics the network trains with.
//!
//! The network maps each diffraction pattern to its object patch in one pass; it is fast on a
//! new scan but, trained for minutes of CPU on one measured scan, it does not reach what an
//! iterative solver reaches (docs/real_data.md). Refinement starts from the network's stitched
//! object (or a flat one) and minimises the amplitude misfit
//! `mean (√|FFT(P'_k · O_k)|² − A_k)²` over the whole canvas: the object by rPIE's
//! illumination-normalised step on the autodiff gradient, the probe `P`
//! by Adam after a warm-up, sub-pixel positions by an exact Fourier shift of the probe. It is
//! mini-batch automatic-differentiation ptychography (Kandel et al. 2019) with the network as
//! its initial guess. Positions stay fixed.

pub mod modes;
pub mod scan;

pub use scan::FieldScan;

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::signal::cfft;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::physics::{Complex, intensity_fft};

/// Guard under the square root of the modelled intensity, as a fraction of the data's mean
/// intensity per pixel: it keeps the gradient finite at zero intensity without putting a floor
/// under amplitudes, whatever units the data are in (photon counts or normalised amplitudes).
const AMPLITUDE_EPSILON: f64 = 1e-3;

/// Options of a refinement run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefineSpec {
    /// Passes over all patterns.
    pub epochs: usize,
    /// Patterns per Adam step.
    pub batch_size: usize,
    /// Step of the object update `α` (1 is the full PIE step).
    pub object_lr: f64,
    /// Share `γ` of the largest illumination added to every pixel's illumination in the
    /// object step's denominator (rPIE's regularisation: dim pixels move less).
    pub object_regularisation: f64,
    /// Adam step of the probe, in units of the probe's largest amplitude.
    pub probe_lr: f64,
    /// Epochs with the probe held fixed before it is refined; `None` never refines it.
    pub probe_start: Option<usize>,
    /// Incoherent probe modes (mixed state, see [`modes`]); 1 is a coherent probe.
    pub probe_modes: usize,
    /// Seed of the pattern order.
    pub seed: u64,
}

impl Default for RefineSpec {
    fn default() -> Self {
        Self {
            epochs: 60,
            batch_size: 32,
            object_lr: 0.5,
            object_regularisation: 0.1,
            probe_lr: 0.002,
            probe_start: Some(5),
            probe_modes: 1,
            seed: 42,
        }
    }
}

impl RefineSpec {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.epochs == 0 {
            return Err(ModelError::setting(
                "refine_epochs",
                "a positive integer",
                0,
            ));
        }
        if self.batch_size == 0 {
            return Err(ModelError::setting(
                "refine_batch_size",
                "a positive integer",
                0,
            ));
        }
        if !(1..=8).contains(&self.probe_modes) {
            return Err(ModelError::setting(
                "probe_modes",
                "1 to 8 incoherent probe modes",
                self.probe_modes,
            ));
        }
        for (field, v) in [
            ("refine_object_lr", self.object_lr),
            ("refine_probe_lr", self.probe_lr),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ModelError::setting(field, "a positive number", v));
            }
        }
        Ok(())
    }
}

/// A complex host array, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostField {
    /// `(rows, cols)`.
    pub shape: (usize, usize),
    /// Real part.
    pub re: Vec<f32>,
    /// Imaginary part.
    pub im: Vec<f32>,
}

impl HostField {
    /// A constant field.
    pub fn constant(shape: (usize, usize), re: f32, im: f32) -> Self {
        let len = shape.0 * shape.1;
        Self {
            shape,
            re: vec![re; len],
            im: vec![im; len],
        }
    }

    fn check(&self, what: &'static str, shape: (usize, usize)) -> Result<(), ModelError> {
        let len = shape.0 * shape.1;
        if self.shape != shape || self.re.len() != len || self.im.len() != len {
            return Err(ModelError::Shape {
                what,
                expected: format!("{}x{}", shape.0, shape.1),
                found: format!(
                    "{}x{} ({} values)",
                    self.shape.0,
                    self.shape.1,
                    self.re.len()
                ),
            });
        }
        if self.re.iter().chain(&self.im).any(|v| !v.is_finite()) {
            return Err(ModelError::setting(
                what,
                "finite values",
                "NaN or infinity",
            ));
        }
        Ok(())
    }
}

/// What a refinement run returns.
#[derive(Debug, Clone)]
pub struct RefineResult {
    /// The refined object on the scan's canvas (the data's object frame).
    pub object: HostField,
    /// The refined probe modes stacked as `(modes·N) × N`, mode 0 first: the probe given,
    /// first rescaled so that the modelled photon count of the initial object matches the
    /// data's, split into modes (see [`modes::initial_modes`]), then refined.
    pub probe: HostField,
    /// Mean amplitude misfit per epoch (photon-amplitude units squared).
    pub loss: Vec<f64>,
}

/// A trainable complex 2-D array stored in scaled units: `value = scale · (re + i·im)`, so
/// that one Adam step size means a fixed fraction of `scale`.
#[derive(Module, Debug)]
struct ScaledField {
    re: Param<Tensor<2>>,
    im: Param<Tensor<2>>,
}

impl ScaledField {
    fn new(field: &HostField, scale: f32, device: &Device) -> Self {
        let (h, w) = field.shape;
        let param = |v: &[f32]| {
            let scaled: Vec<f32> = v.iter().map(|x| x / scale).collect();
            Param::from_tensor(Tensor::from_data(TensorData::new(scaled, [h, w]), device))
        };
        Self {
            re: param(&field.re),
            im: param(&field.im),
        }
    }

    fn value(&self, scale: f32) -> Complex<2> {
        Complex::new(
            self.re.val().mul_scalar(scale),
            self.im.val().mul_scalar(scale),
        )
    }

    fn to_host(&self, scale: f32) -> HostField {
        let [h, w] = self.re.val().dims();
        let host = |t: Tensor<2>| -> Vec<f32> {
            let v: Vec<f32> = t.into_data().try_to_vec().unwrap_or_default();
            v.into_iter().map(|x| x * scale).collect()
        };
        HostField {
            shape: (h, w),
            re: host(self.re.val()),
            im: host(self.im.val()),
        }
    }
}

/// Fits the object (starting from `object`, on `scan.canvas`) and the probe (starting from
/// `probe`, `N × N`, in the convention `counts = |fft2(P·O, ortho)|²`) to `scan`'s amplitudes.
/// `device` must be an autodiff device.
pub fn refine(
    scan: &FieldScan,
    object: &HostField,
    probe: &HostField,
    spec: &RefineSpec,
    device: &Device,
) -> Result<RefineResult, ModelError> {
    refine_observed(scan, object, probe, spec, device, &mut |_| {})
}

/// What [`refine_observed`] reports after each epoch.
pub struct EpochReport<'a> {
    /// Epoch index (from 0).
    pub epoch: usize,
    /// Mean amplitude misfit of the epoch.
    pub loss: f64,
    /// The current object, copied to the host on demand.
    pub object: &'a dyn Fn() -> HostField,
}

impl std::fmt::Debug for EpochReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochReport")
            .field("epoch", &self.epoch)
            .field("loss", &self.loss)
            .finish_non_exhaustive()
    }
}

/// [`refine`] that calls `on_epoch` after every epoch (progress, or scoring along the way).
pub fn refine_observed(
    scan: &FieldScan,
    object: &HostField,
    probe: &HostField,
    spec: &RefineSpec,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochReport<'_>),
) -> Result<RefineResult, ModelError> {
    spec.validate()?;
    object.check("initial object", scan.canvas)?;
    probe.check("probe", (scan.n, scan.n))?;
    if !device.is_autodiff() {
        return Err(ModelError::setting(
            "device",
            "an autodiff device",
            "a device without autodiff",
        ));
    }
    let probe = modes::initial_modes(
        &photon_matched(probe, object, scan.mean_counts()),
        spec.probe_modes,
    );
    let probe_scale = max_amplitude(&probe).max(f32::MIN_POSITIVE);
    let mut obj = ScaledField::new(object, 1.0, device);
    let mut prb = ScaledField::new(&probe, probe_scale, device);
    let mut optim_prb = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..scan.len()).collect();
    let mut loss = Vec::with_capacity(spec.epochs);
    for epoch in 0..spec.epochs {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ (epoch as u64) << 20);
        order.shuffle(&mut rng);
        let probe_moves = spec.probe_start.is_some_and(|start| epoch >= start);
        let power = mode_power(&prb.to_host(probe_scale), scan.n);
        let (mut total, mut seen) = (0.0f64, 0usize);
        for (step, chunk) in order.chunks(spec.batch_size).enumerate() {
            let misfit = batch_misfit(scan, chunk, &obj, &prb, probe_scale, device);
            let value = misfit.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(ModelError::Diverged {
                    loss: value,
                    epoch,
                    step,
                });
            }
            let mut grads = misfit.backward();
            let illumination = scan.illumination_of(chunk, &power);
            let scale = (chunk.len() * scan.n * scan.n) as f32;
            obj = object_step(obj, &mut grads, &illumination, scale, spec, device);
            if probe_moves {
                let g_prb = GradientsParams::from_module(&mut grads, &prb);
                prb = optim_prb.step(spec.probe_lr, prb, g_prb);
            }
            total += value * chunk.len() as f64;
            seen += chunk.len();
        }
        loss.push(total / seen as f64);
        on_epoch(&EpochReport {
            epoch,
            loss: total / seen as f64,
            object: &|| obj.to_host(1.0),
        });
    }
    Ok(RefineResult {
        object: obj.to_host(1.0),
        probe: prb.to_host(probe_scale),
        loss,
    })
}

/// The object update of ptychographic engines (rPIE, Maiden et al. 2017), applied to a
/// mini-batch: `O ← O + α Σ_k P_k*(ψ'_k − ψ_k) / ((1 − γ)·I + γ·max I)` with `I = Σ_k |P_k|²`
/// the batch's illumination. The sum in the numerator is half the gradient of the summed
/// misfit, i.e. `scale/2` times the gradient of the mean misfit (`scale` = values averaged).
/// Unlike a per-pixel adaptive optimiser, the step follows the illumination, so pixels the
/// probe barely reaches barely move and do not fill with noise.
fn object_step(
    obj: ScaledField,
    grads: &mut burn::tensor::Gradients,
    illumination: &[f32],
    scale: f32,
    spec: &RefineSpec,
    device: &Device,
) -> ScaledField {
    let [h, w] = obj.re.val().dims();
    let gamma = spec.object_regularisation as f32;
    let max = illumination
        .iter()
        .copied()
        .fold(0.0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let step: Vec<f32> = illumination
        .iter()
        .map(|&i| spec.object_lr as f32 * scale / (2.0 * ((1.0 - gamma) * i + gamma * max)))
        .collect();
    let step = Tensor::<2>::from_data(TensorData::new(step, [h, w]), &device.clone().inner());
    let mut update = |param: &Param<Tensor<2>>| {
        let value = param.val();
        let next = match value.grad_remove(grads) {
            Some(g) => value.inner() - g * step.clone(),
            None => value.inner(),
        };
        Param::from_tensor(Tensor::from_inner(next))
    };
    ScaledField {
        re: update(&obj.re),
        im: update(&obj.im),
    }
}

/// Unnormalised 2-D FFT over the last two axes of `[K, N, N]`.
fn fft2(z: Complex<3>) -> Complex<3> {
    let (re, im) = cfft(z.re, z.im, 2, None);
    let (re, im) = cfft(re, im, 1, None);
    Complex::new(re, im)
}

/// Inverse of [`fft2`]: `conj(FFT(conj z)) / N²`.
fn ifft2(z: Complex<3>) -> Complex<3> {
    let [_, n, _] = z.dims();
    let out = fft2(Complex::new(z.re, z.im.neg()));
    let norm = 1.0 / (n * n) as f32;
    Complex::new(out.re.mul_scalar(norm), out.im.mul_scalar(-norm))
}

/// Per-pixel power `Σ_m |P_m|²` of stacked probe modes `(modes·N) × N`, `N·N` values.
fn mode_power(probe: &HostField, n: usize) -> Vec<f32> {
    let mut power = vec![0.0f32; n * n];
    for (k, (&re, &im)) in probe.re.iter().zip(&probe.im).enumerate() {
        power[k % (n * n)] += re * re + im * im;
    }
    power
}

/// The amplitudes `√(Σ_m |FFT(P'_{k,m} · O_k)|²)` the model predicts for the patterns `idx`
/// of `scan`, `[B, N, N]` row-major (zero frequency at `N/2`), from an object on the scan's
/// canvas and stacked probe modes `(modes·N) × N`; on any device.
pub fn modelled_amplitudes(
    scan: &FieldScan,
    object: &HostField,
    probe: &HostField,
    idx: &[usize],
    device: &Device,
) -> Result<Vec<f32>, ModelError> {
    object.check("object", scan.canvas)?;
    let modes = probe.shape.0 / scan.n.max(1);
    probe.check("probe", (modes * scan.n, scan.n))?;
    if modes == 0 || idx.iter().any(|&i| i >= scan.len()) {
        return Err(ModelError::setting(
            "patterns",
            format!("indices below {} and at least one probe mode", scan.len()),
            format!("{idx:?} with {modes} modes"),
        ));
    }
    let obj = ScaledField::new(object, 1.0, device);
    let prb = ScaledField::new(probe, 1.0, device);
    let amplitudes = modelled(scan, idx, &obj, &prb, 1.0, device);
    Ok(amplitudes.into_data().try_to_vec().unwrap_or_default())
}

/// Mean squared amplitude misfit of the patterns `idx` (a scalar carrying gradients).
fn batch_misfit(
    scan: &FieldScan,
    idx: &[usize],
    obj: &ScaledField,
    prb: &ScaledField,
    probe_scale: f32,
    device: &Device,
) -> Tensor<1> {
    let (b, n) = (idx.len(), scan.n);
    let measured =
        Tensor::<3>::from_data(TensorData::new(scan.amplitudes_of(idx), [b, n, n]), device);
    let modelled = modelled(scan, idx, obj, prb, probe_scale, device);
    (modelled - measured).powi_scalar(2).mean()
}

/// Modelled amplitudes `[B, N, N]` of the patterns `idx` (carrying gradients on an autodiff
/// device).
fn modelled(
    scan: &FieldScan,
    idx: &[usize],
    obj: &ScaledField,
    prb: &ScaledField,
    probe_scale: f32,
    device: &Device,
) -> Tensor<3> {
    let (b, n) = (idx.len(), scan.n);
    let [rows_all, _] = prb.re.val().dims();
    let m = rows_all / n;
    let object = obj.value(1.0);
    let windows = |t: &Tensor<2>| {
        let parts = idx
            .iter()
            .map(|&i| {
                let (r, c) = scan.corners[i];
                t.clone().slice([r..r + n, c..c + n])
            })
            .collect();
        Tensor::stack::<3>(parts, 0)
    };
    let patches = Complex::new(windows(&object.re), windows(&object.im));
    let (ramp_re, ramp_im) = scan.probe_ramps_of(idx);
    let matrix = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [b, n, n]), device);
    let per_mode = |t: Tensor<3>| {
        t.unsqueeze_dim::<4>(1)
            .expand([b, m, n, n])
            .reshape([b * m, n, n])
    };
    let ramp = Complex::new(per_mode(matrix(ramp_re)), per_mode(matrix(ramp_im)));
    // Every mode of every pattern, `[B·M, N, N]`: the modes' spectra times each pattern's
    // sub-pixel ramp, back in real space, each times the same object window.
    let probe = prb.value(probe_scale);
    let spectrum = fft2(Complex::new(
        probe.re.reshape([m, n, n]),
        probe.im.reshape([m, n, n]),
    ))
    .map(|t| {
        t.unsqueeze::<4>()
            .expand([b, m, n, n])
            .reshape([b * m, n, n])
    });
    let shifted = ifft2(spectrum.mul_complex(ramp));
    let psi = Complex::new(per_mode(patches.re), per_mode(patches.im)).mul_complex(shifted);
    intensity_fft(psi)
        .reshape([b, m, n, n])
        .sum_dim(1)
        .reshape([b, n, n])
        .add_scalar(scan.intensity_floor(AMPLITUDE_EPSILON))
        .sqrt()
}

/// `probe` scaled so that `Σ|P|² · mean|O|²` equals the data's mean photon count: a probe
/// guess in arbitrary units (or one normalised for the network) then starts at the right
/// photon scale instead of spending the first epochs on it.
fn photon_matched(probe: &HostField, object: &HostField, mean_counts: f64) -> HostField {
    let power = |f: &HostField| -> f64 {
        f.re.iter()
            .zip(&f.im)
            .map(|(&r, &i)| (r as f64).powi(2) + (i as f64).powi(2))
            .sum()
    };
    let modelled = power(probe) * power(object) / object.re.len().max(1) as f64;
    if !(modelled > 0.0 && mean_counts > 0.0) {
        return probe.clone();
    }
    let factor = (mean_counts / modelled).sqrt() as f32;
    HostField {
        shape: probe.shape,
        re: probe.re.iter().map(|v| v * factor).collect(),
        im: probe.im.iter().map(|v| v * factor).collect(),
    }
}

fn max_amplitude(f: &HostField) -> f32 {
    f.re.iter()
        .zip(&f.im)
        .map(|(&r, &i)| r.hypot(i))
        .fold(0.0, f32::max)
}
