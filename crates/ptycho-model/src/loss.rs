//! Loss terms (reference/model.md §4.1) and their weighted sum.

use burn::tensor::Tensor;

use crate::batch::DeviceBatch;
use crate::error::ModelError;
use crate::model::PinnOutput;
use crate::physics::Complex;
use crate::spec::LossWeights;

/// Guard added to the Poisson rate before the logarithm.
pub const NLL_EPSILON: f32 = 1e-12;
/// Guard added under square roots of intensities (keeps the gradient finite at zero).
pub const SQRT_EPSILON: f32 = 1e-12;

/// Poisson negative log-likelihood without the `lgamma` term, mean over all elements:
/// `mean(λ − k·ln(λ + ε))` with `λ = exp(2·log_scale)·I`, `k = (s·X)²`.
pub fn poisson_nll(intensity: Tensor<4>, log_scale: Tensor<1>, counts: Tensor<4>) -> Tensor<1> {
    let rate = intensity * log_scale.mul_scalar(2.0).exp().reshape([1, 1, 1, 1]);
    (rate.clone() - counts * rate.add_scalar(NLL_EPSILON).log()).mean()
}

/// Mean absolute error in photon-amplitude units: `mean|exp(log_scale)·√I − s·X|`.
pub fn amplitude_mae(intensity: Tensor<4>, log_scale: Tensor<1>, target: Tensor<4>) -> Tensor<1> {
    let amplitude =
        intensity.add_scalar(SQRT_EPSILON).sqrt() * log_scale.exp().reshape([1, 1, 1, 1]);
    (amplitude - target).abs().mean()
}

/// Total variation: per-sample sum of squared horizontal and vertical differences of the real
/// and imaginary parts, mean over samples.
pub fn total_variation(object: &Complex<4>) -> Tensor<1> {
    let [b, _, h, w] = object.dims();
    let tv = |t: Tensor<4>| {
        let dy = t.clone().narrow(2, 1, h - 1) - t.clone().narrow(2, 0, h - 1);
        let dx = t.clone().narrow(3, 1, w - 1) - t.narrow(3, 0, w - 1);
        dy.powi_scalar(2).sum() + dx.powi_scalar(2).sum()
    };
    (tv(object.re.clone()) + tv(object.im.clone())).div_scalar(b as f32)
}

/// Complex MAE: `mean|amp_pred − amp_true| + mean|phase_pred − phase_true|`.
pub fn complex_mae(pred: &Complex<4>, truth: &Complex<4>) -> Tensor<1> {
    let amplitude = |z: &Complex<4>| z.clone().norm_sqr().add_scalar(SQRT_EPSILON).sqrt();
    let phase = |z: &Complex<4>| atan2(z.im.clone(), z.re.clone());
    (amplitude(pred) - amplitude(truth)).abs().mean() + (phase(pred) - phase(truth)).abs().mean()
}

fn atan2(y: Tensor<4>, x: Tensor<4>) -> Tensor<4> {
    y.atan2(x)
}

/// The value of each term and the weighted total (a scalar tensor that carries gradients).
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// `Σ weight·term`.
    pub total: Tensor<1>,
    /// Poisson NLL, when weighted in.
    pub nll: Option<Tensor<1>>,
    /// Amplitude MAE, when weighted in.
    pub mae: Option<Tensor<1>>,
    /// Real-space term `tv_weight·TV + realspace_mae_weight·complex_MAE`, when weighted in.
    pub realspace: Option<Tensor<1>>,
}

/// Computes the weighted loss of a forward pass against its batch.
///
/// `centre_mask` (`[1, 1, N, N]`) is applied to the predicted object before the real-space term
/// when the generator only fills the centre (upstream masks by the centre when `probe.big` is
/// off).
pub fn weighted_loss(
    out: &PinnOutput,
    batch: &DeviceBatch,
    intensity_scale: f32,
    weights: &LossWeights,
    centre_mask: Option<Tensor<4>>,
) -> Result<LossTerms, ModelError> {
    let target_amp = batch.amplitude.clone().mul_scalar(intensity_scale);
    let mut total: Option<Tensor<1>> = None;
    let mut add = |term: Tensor<1>, weight: f32| {
        let weighted = term.mul_scalar(weight);
        total = Some(match total.take() {
            Some(t) => t + weighted,
            None => weighted,
        });
    };
    let nll = (weights.nll_weight > 0.0).then(|| {
        poisson_nll(
            out.intensity.clone(),
            out.log_scale.clone(),
            target_amp.clone().powi_scalar(2),
        )
    });
    if let Some(t) = &nll {
        add(t.clone(), weights.nll_weight);
    }
    let mae = (weights.mae_weight > 0.0)
        .then(|| amplitude_mae(out.intensity.clone(), out.log_scale.clone(), target_amp));
    if let Some(t) = &mae {
        add(t.clone(), weights.mae_weight);
    }
    let realspace = if weights.realspace_weight > 0.0 {
        let pred = match centre_mask {
            Some(mask) => out.object.clone().mul_real(mask),
            None => out.object.clone(),
        };
        let mut term: Option<Tensor<1>> = None;
        if weights.tv_weight > 0.0 {
            term = Some(total_variation(&pred).mul_scalar(weights.tv_weight));
        }
        if weights.realspace_mae_weight > 0.0 {
            let truth = batch.object.as_ref().ok_or_else(|| {
                ModelError::setting(
                    "realspace_mae_weight",
                    "0 unless the data carry the ground-truth object",
                    weights.realspace_mae_weight,
                )
            })?;
            let t = complex_mae(&pred, truth).mul_scalar(weights.realspace_mae_weight);
            term = Some(match term {
                Some(a) => a + t,
                None => t,
            });
        }
        term
    } else {
        None
    };
    if let Some(t) = &realspace {
        add(t.clone(), weights.realspace_weight);
    }
    let total = total.ok_or_else(|| {
        ModelError::setting(
            "nll_weight",
            "at least one loss term with a positive weight",
            "none",
        )
    })?;
    Ok(LossTerms {
        total,
        nll,
        mae,
        realspace,
    })
}
