//! Small, self-contained parameter structs of the model (generator, physics, losses).
//!
//! They carry upstream field names so that conversions from the workspace configuration are
//! one-to-one; `validate` names the offending field in its error.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Activation of the amplitude head (`amp_activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AmpActivation {
    /// Logistic sigmoid, amplitude in (0, 1) (TF default).
    #[default]
    Sigmoid,
    /// `x·sigmoid(x)` (also called SiLU).
    Swish,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `max(x, 0)`.
    Relu,
}

impl FromStr for AmpActivation {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sigmoid" => Ok(Self::Sigmoid),
            "swish" | "silu" => Ok(Self::Swish),
            "softplus" => Ok(Self::Softplus),
            "relu" => Ok(Self::Relu),
            other => Err(ModelError::setting(
                "amp_activation",
                "one of sigmoid, swish, softplus, relu",
                format!("{other:?}"),
            )),
        }
    }
}

/// Shape and options of the `cnn` generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSpec {
    /// Patch / detector side in pixels: 64, 128 or 256 (upstream), or 32 (an extension of the
    /// same ladder for small test data: encoder 64, 128 · nfs, decoder 32 · nfs).
    #[serde(rename = "N")]
    pub n: usize,
    /// Group side; the network sees `gridsize²` patterns per group.
    pub gridsize: usize,
    /// Width multiplier of every convolution.
    pub n_filters_scale: usize,
    /// Activation of the amplitude head.
    pub amp_activation: AmpActivation,
    /// One object patch per input pattern (`object.big`) instead of one per group.
    pub object_big: bool,
    /// Second head filling the border outside the central N/2 square (`probe.big`).
    pub probe_big: bool,
    /// Main head predicts the central N/2 square, zero-padded to N (`pad_object`).
    pub pad_object: bool,
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        Self {
            n: 64,
            gridsize: 1,
            n_filters_scale: 2,
            amp_activation: AmpActivation::Sigmoid,
            object_big: true,
            probe_big: true,
            pad_object: true,
        }
    }
}

impl GeneratorSpec {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !matches!(self.n, 32 | 64 | 128 | 256) {
            return Err(ModelError::setting("N", "32, 64, 128 or 256", self.n));
        }
        if self.gridsize == 0 {
            return Err(ModelError::setting("gridsize", "a positive integer", 0));
        }
        if self.n_filters_scale == 0 {
            return Err(ModelError::setting(
                "n_filters_scale",
                "a positive integer",
                0,
            ));
        }
        Ok(())
    }

    /// Patterns per group, `gridsize²`.
    pub fn channels_in(&self) -> usize {
        self.gridsize * self.gridsize
    }

    /// Object patches per group produced by each head.
    pub fn channels_out(&self) -> usize {
        if self.object_big {
            self.channels_in()
        } else {
            1
        }
    }
}

/// Which implementation computes the far field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FarFieldMethod {
    /// burn-signal's `cfft` along both axes, then an fftshift.
    #[default]
    Fft,
    /// Dense DFT matrices with the fftshift folded in (8 real GEMMs per pattern).
    MatmulDft,
}

/// Options of the differentiable forward physics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicsSpec {
    /// Patch side.
    #[serde(rename = "N")]
    pub n: usize,
    /// Group side.
    pub gridsize: usize,
    /// Spacing of the simulated gs×gs sub-grid, used for the canvas size (`offset`).
    pub offset: usize,
    /// Extra canvas margin for scan-position jitter (`max_position_jitter`).
    pub max_position_jitter: usize,
    /// Divisor of the mean-abs normalised probe (`probe_scale`).
    pub probe_scale: f32,
    /// Multiply the exit wave by the central disk mask (`probe.mask`).
    pub probe_mask: bool,
    /// σ of the 3×3 complex Gaussian smoothing of the exit wave; 0 disables it.
    pub gaussian_smoothing_sigma: f32,
    /// Merge the group's patches on one canvas before re-extraction (`object.big`).
    pub object_big: bool,
    /// The generator fills the patch border too (`probe.big`); sets the merge support.
    pub probe_big: bool,
    /// Photon scale `s`, initial value of `log_scale = ln s` (`intensity_scale`).
    pub intensity_scale: f32,
    /// Whether `log_scale` learns (`intensity_scale.trainable`).
    pub intensity_scale_trainable: bool,
    /// Whether the probe is refined as a trainable parameter (`probe.trainable`).
    #[serde(default)]
    pub probe_trainable: bool,
    /// Far-field implementation.
    pub far_field: FarFieldMethod,
}

impl Default for PhysicsSpec {
    fn default() -> Self {
        Self {
            n: 64,
            gridsize: 1,
            offset: 4,
            max_position_jitter: 10,
            probe_scale: 4.0,
            probe_mask: false,
            gaussian_smoothing_sigma: 0.0,
            object_big: true,
            probe_big: true,
            intensity_scale: 1.0,
            intensity_scale_trainable: true,
            probe_trainable: false,
            far_field: FarFieldMethod::Fft,
        }
    }
}

impl PhysicsSpec {
    /// Side of the per-group object canvas, `N + (gs−1)·offset + max_position_jitter`,
    /// rounded up so that `M − N` is even (the canvas is cropped symmetrically).
    pub fn padded_size(&self) -> usize {
        let m = self.n + (self.gridsize.saturating_sub(1)) * self.offset + self.max_position_jitter;
        m + (m - self.n) % 2
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !self.n.is_power_of_two() || self.n < 4 {
            return Err(ModelError::setting(
                "N",
                "a power of two of at least 4",
                self.n,
            ));
        }
        if self.gridsize == 0 {
            return Err(ModelError::setting("gridsize", "a positive integer", 0));
        }
        if !(self.probe_scale.is_finite() && self.probe_scale > 0.0) {
            return Err(ModelError::setting(
                "probe_scale",
                "a positive number",
                self.probe_scale,
            ));
        }
        if !(self.gaussian_smoothing_sigma.is_finite() && self.gaussian_smoothing_sigma >= 0.0) {
            return Err(ModelError::setting(
                "gaussian_smoothing_sigma",
                "a non-negative number",
                self.gaussian_smoothing_sigma,
            ));
        }
        if !(self.intensity_scale.is_finite() && self.intensity_scale > 0.0) {
            return Err(ModelError::setting(
                "intensity_scale",
                "a positive number",
                self.intensity_scale,
            ));
        }
        Ok(())
    }

    /// Patterns per group.
    pub fn channels(&self) -> usize {
        self.gridsize * self.gridsize
    }
}

/// Weights of the loss terms (upstream names).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    /// Poisson negative log-likelihood on intensities.
    pub nll_weight: f32,
    /// Mean absolute error on amplitudes (photon units).
    pub mae_weight: f32,
    /// Weight of the whole real-space term.
    pub realspace_weight: f32,
    /// Total variation inside the real-space term.
    pub tv_weight: f32,
    /// Complex MAE against a known object inside the real-space term.
    pub realspace_mae_weight: f32,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            nll_weight: 1.0,
            mae_weight: 0.0,
            realspace_weight: 0.0,
            tv_weight: 0.0,
            realspace_mae_weight: 0.0,
        }
    }
}

impl LossWeights {
    /// Checks that the weights are finite, non-negative and not all zero.
    pub fn validate(&self) -> Result<(), ModelError> {
        let named = [
            ("nll_weight", self.nll_weight),
            ("mae_weight", self.mae_weight),
            ("realspace_weight", self.realspace_weight),
            ("tv_weight", self.tv_weight),
            ("realspace_mae_weight", self.realspace_mae_weight),
        ];
        for (field, value) in named {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ModelError::setting(field, "a finite number >= 0", value));
            }
        }
        if self.nll_weight == 0.0 && self.mae_weight == 0.0 && self.realspace_weight == 0.0 {
            return Err(ModelError::setting(
                "nll_weight",
                "at least one of nll_weight, mae_weight, realspace_weight above 0",
                "all zero",
            ));
        }
        Ok(())
    }
}

impl GeneratorSpec {
    /// True when the generator only fills the central N/2 square (`pad_object` without
    /// `probe.big`); this is the support the canvas merge normalises by.
    pub fn support_is_centre(&self) -> bool {
        self.pad_object && !self.probe_big
    }
}
