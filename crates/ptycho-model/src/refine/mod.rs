//! Whole-field refinement: the object canvas and the probe as free parameters, fitted to the
//! measured amplitudes through the same far-field physics the network trains with.
//!
//! The network maps each diffraction pattern to its object patch in one pass; it is fast on a
//! new scan but, trained for minutes on one scan, it recovers the object's large-scale
//! structure better than its finest detail. Refinement starts from the network's stitched
//! object (or a flat one) and minimises the amplitude misfit
//! `mean (√|FFT(P'_k · O_k)|² − A_k)²` over the whole canvas with Adam, the probe `P` refined
//! beside it after a warm-up: the automatic-differentiation ptychography of Kandel et al.
//! (2019) with the network as its initial guess. Positions stay fixed.

pub mod scan;

pub use scan::FieldScan;

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::physics::{Complex, intensity_fft};

/// Guard under the square root of the modelled intensity (photons).
const AMPLITUDE_EPSILON: f32 = 1e-3;

/// Options of a refinement run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefineSpec {
    /// Passes over all patterns.
    pub epochs: usize,
    /// Patterns per Adam step.
    pub batch_size: usize,
    /// Adam step of the object, in units of the object's initial mean amplitude.
    pub object_lr: f64,
    /// Adam step of the probe, in units of the probe's largest amplitude.
    pub probe_lr: f64,
    /// Epochs with the probe held fixed before it is refined; `None` never refines it.
    pub probe_start: Option<usize>,
    /// Seed of the pattern order.
    pub seed: u64,
}

impl Default for RefineSpec {
    fn default() -> Self {
        Self {
            epochs: 40,
            batch_size: 32,
            object_lr: 0.02,
            probe_lr: 0.002,
            probe_start: Some(5),
            seed: 42,
        }
    }
}

impl RefineSpec {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.epochs == 0 {
            return Err(ModelError::setting("refine_epochs", "a positive integer", 0));
        }
        if self.batch_size == 0 {
            return Err(ModelError::setting("refine_batch_size", "a positive integer", 0));
        }
        for (field, v) in [("refine_object_lr", self.object_lr), ("refine_probe_lr", self.probe_lr)]
        {
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
                found: format!("{}x{} ({} values)", self.shape.0, self.shape.1, self.re.len()),
            });
        }
        if self.re.iter().chain(&self.im).any(|v| !v.is_finite()) {
            return Err(ModelError::setting(what, "finite values", "NaN or infinity"));
        }
        Ok(())
    }
}

/// What a refinement run returns.
#[derive(Debug, Clone)]
pub struct RefineResult {
    /// The refined object on the scan's canvas (the data's object frame).
    pub object: HostField,
    /// The refined probe (`N × N`): the probe given, first rescaled so that the modelled photon
    /// count of the initial object matches the data's, then refined.
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
        Complex::new(self.re.val().mul_scalar(scale), self.im.val().mul_scalar(scale))
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
    let obj_scale = mean_amplitude(object).max(f32::MIN_POSITIVE);
    let probe = photon_matched(probe, object, scan.mean_counts());
    let probe_scale = max_amplitude(&probe).max(f32::MIN_POSITIVE);
    let mut obj = ScaledField::new(object, obj_scale, device);
    let mut prb = ScaledField::new(&probe, probe_scale, device);
    let mut optim_obj = AdamConfig::new().init();
    let mut optim_prb = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..scan.len()).collect();
    let mut loss = Vec::with_capacity(spec.epochs);
    for epoch in 0..spec.epochs {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ (epoch as u64) << 20);
        order.shuffle(&mut rng);
        let probe_moves = spec.probe_start.is_some_and(|start| epoch >= start);
        let (mut total, mut seen) = (0.0f64, 0usize);
        for (step, chunk) in order.chunks(spec.batch_size).enumerate() {
            let misfit = batch_misfit(scan, chunk, &obj, obj_scale, &prb, probe_scale, device);
            let value = misfit.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(ModelError::Diverged {
                    loss: value,
                    epoch,
                    step,
                });
            }
            let mut grads = misfit.backward();
            let g_obj = GradientsParams::from_module(&mut grads, &obj);
            obj = optim_obj.step(spec.object_lr, obj, g_obj);
            if probe_moves {
                let g_prb = GradientsParams::from_module(&mut grads, &prb);
                prb = optim_prb.step(spec.probe_lr, prb, g_prb);
            }
            total += value * chunk.len() as f64;
            seen += chunk.len();
        }
        loss.push(total / seen as f64);
    }
    Ok(RefineResult {
        object: obj.to_host(obj_scale),
        probe: prb.to_host(probe_scale),
        loss,
    })
}

/// Mean squared amplitude misfit of the patterns `idx` (a scalar carrying gradients).
fn batch_misfit(
    scan: &FieldScan,
    idx: &[usize],
    obj: &ScaledField,
    obj_scale: f32,
    prb: &ScaledField,
    probe_scale: f32,
    device: &Device,
) -> Tensor<1> {
    let (b, n) = (idx.len(), scan.n);
    let object = obj.value(obj_scale);
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
    let (rows, cols_t) = scan.probe_shifts_of(idx);
    let matrix = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [b, n, n]), device);
    let (rows, cols_t) = (matrix(rows), matrix(cols_t));
    let probe = prb.value(probe_scale);
    let shift = |t: Tensor<2>| {
        rows.clone()
            .matmul(t.unsqueeze::<3>().expand([b, n, n]))
            .matmul(cols_t.clone())
    };
    let shifted = Complex::new(shift(probe.re), shift(probe.im));
    let psi = patches.mul_complex(shifted);
    let modelled = intensity_fft(psi).add_scalar(AMPLITUDE_EPSILON).sqrt();
    let measured = matrix(scan.amplitudes_of(idx));
    (modelled - measured).powi_scalar(2).mean()
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

fn mean_amplitude(f: &HostField) -> f32 {
    let total: f64 = f
        .re
        .iter()
        .zip(&f.im)
        .map(|(&r, &i)| (r as f64).hypot(i as f64))
        .sum();
    (total / f.re.len().max(1) as f64) as f32
}

fn max_amplitude(f: &HostField) -> f32 {
    f.re.iter()
        .zip(&f.im)
        .map(|(&r, &i)| r.hypot(i))
        .fold(0.0, f32::max)
}
