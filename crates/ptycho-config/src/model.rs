//! Canonical `ModelConfig`: the architecture and physics switches of the generator.
//!
//! Field names, order and defaults are upstream's (`ptycho/config/config.py`). Unlike upstream,
//! the `Literal` sets are enforced (they are enums) and [`ModelConfig::validate`] runs on every
//! load and every [`ModelConfigBuilder::build`], so an invalid model configuration is never handed
//! to the rest of the program.

use serde::{Deserialize, Serialize};

use crate::choices::{
    AmpActivation, Architecture, FnoInputTransform, GeneratorOutputMode, ModelType,
};
use crate::error::{ConfigError, Result};
use crate::validate::{non_negative_real, positive_count, positive_count_opt, positive_real};

/// Patch sizes the generator supports (upstream's `Literal[64, 128, 256]`).
pub const SUPPORTED_N: [usize; 3] = [64, 128, 256];

/// Generator architecture and physics configuration (23 fields, upstream order).
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Diffraction pattern / patch side in pixels: 64, 128 or 256.
    pub N: usize,
    /// Side of a group of neighbouring patterns; channels C = gridsize².
    pub gridsize: usize,
    pub n_filters_scale: usize,
    pub model_type: ModelType,
    pub architecture: Architecture,
    pub fno_modes: usize,
    pub fno_width: usize,
    pub fno_blocks: usize,
    pub fno_cnn_blocks: usize,
    pub learned_input_channels: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_hidden_channels: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resnet_width: Option<usize>,
    pub fno_input_transform: FnoInputTransform,
    pub generator_output_mode: GeneratorOutputMode,
    pub amp_activation: AmpActivation,
    pub object_big: bool,
    pub probe_big: bool,
    pub probe_mask: bool,
    pub probe_mask_sigma: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_mask_diameter: Option<f64>,
    pub pad_object: bool,
    pub probe_scale: f64,
    pub gaussian_smoothing_sigma: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            N: 64,
            gridsize: 1,
            n_filters_scale: 2,
            model_type: ModelType::Pinn,
            architecture: Architecture::Cnn,
            fno_modes: 12,
            fno_width: 32,
            fno_blocks: 4,
            fno_cnn_blocks: 2,
            learned_input_channels: 1,
            max_hidden_channels: None,
            resnet_width: None,
            fno_input_transform: FnoInputTransform::None,
            generator_output_mode: GeneratorOutputMode::RealImag,
            amp_activation: AmpActivation::Sigmoid,
            object_big: true,
            probe_big: true,
            probe_mask: false,
            probe_mask_sigma: 1.0,
            probe_mask_diameter: None,
            pad_object: true,
            probe_scale: 4.0,
            gaussian_smoothing_sigma: 0.0,
        }
    }
}

/// Field names in declaration order (used for unknown-key hints and the legacy flattening).
pub const MODEL_FIELDS: &[&str] = &[
    "N",
    "gridsize",
    "n_filters_scale",
    "model_type",
    "architecture",
    "fno_modes",
    "fno_width",
    "fno_blocks",
    "fno_cnn_blocks",
    "learned_input_channels",
    "max_hidden_channels",
    "resnet_width",
    "fno_input_transform",
    "generator_output_mode",
    "amp_activation",
    "object_big",
    "probe_big",
    "probe_mask",
    "probe_mask_sigma",
    "probe_mask_diameter",
    "pad_object",
    "probe_scale",
    "gaussian_smoothing_sigma",
];

impl ModelConfig {
    /// A builder starting from the defaults; `build()` validates.
    pub fn builder() -> ModelConfigBuilder {
        ModelConfigBuilder(ModelConfig::default())
    }

    /// Number of channels per group (gridsize²).
    pub fn channels(&self) -> usize {
        self.gridsize * self.gridsize
    }

    /// Checks every rule; field names in errors are prefixed with `model.`.
    pub fn validate(&self) -> Result<()> {
        if !SUPPORTED_N.contains(&self.N) {
            return Err(ConfigError::invalid(
                "model.N",
                self.N,
                "must be one of 64, 128, 256 (the patch sizes the generator supports)",
            ));
        }
        positive_count("model.gridsize", self.gridsize)?;
        positive_count("model.n_filters_scale", self.n_filters_scale)?;
        positive_count("model.fno_modes", self.fno_modes)?;
        positive_count("model.fno_width", self.fno_width)?;
        positive_count("model.fno_blocks", self.fno_blocks)?;
        positive_count("model.learned_input_channels", self.learned_input_channels)?;
        positive_count_opt("model.max_hidden_channels", self.max_hidden_channels)?;
        positive_count_opt("model.resnet_width", self.resnet_width)?;
        positive_real("model.probe_mask_sigma", self.probe_mask_sigma)?;
        if let Some(diameter) = self.probe_mask_diameter {
            positive_real("model.probe_mask_diameter", diameter)?;
        }
        positive_real("model.probe_scale", self.probe_scale)?;
        non_negative_real(
            "model.gaussian_smoothing_sigma",
            self.gaussian_smoothing_sigma,
        )?;
        Ok(())
    }
}

/// Builds a [`ModelConfig`] field by field; [`ModelConfigBuilder::build`] validates.
#[derive(Debug, Clone)]
pub struct ModelConfigBuilder(ModelConfig);

crate::builder::setters!(ModelConfigBuilder {
    N: usize,
    gridsize: usize,
    n_filters_scale: usize,
    model_type: ModelType,
    architecture: Architecture,
    fno_modes: usize,
    fno_width: usize,
    fno_blocks: usize,
    fno_cnn_blocks: usize,
    learned_input_channels: usize,
    max_hidden_channels: Option<usize>,
    resnet_width: Option<usize>,
    fno_input_transform: FnoInputTransform,
    generator_output_mode: GeneratorOutputMode,
    amp_activation: AmpActivation,
    object_big: bool,
    probe_big: bool,
    probe_mask: bool,
    probe_mask_sigma: f64,
    probe_mask_diameter: Option<f64>,
    pad_object: bool,
    probe_scale: f64,
    gaussian_smoothing_sigma: f64,
});

impl ModelConfigBuilder {
    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ModelConfig> {
        self.0.validate()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstream_defaults() {
        let m = ModelConfig::default();
        assert_eq!((m.N, m.gridsize, m.n_filters_scale), (64, 1, 2));
        assert!(m.object_big && m.probe_big && !m.probe_mask && m.pad_object);
        assert_eq!(m.probe_scale, 4.0);
        assert_eq!(m.probe_mask_sigma, 1.0);
        assert_eq!(MODEL_FIELDS.len(), 23);
        m.validate().unwrap();
    }

    #[test]
    fn builder_rejects_unsupported_n_and_zero_gridsize() {
        let err = ModelConfig::builder().N(100).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`model.N` = 100 is invalid: must be one of 64, 128, 256 (the patch sizes the generator supports)"
        );
        let err = ModelConfig::builder().gridsize(0).build().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`model.gridsize` = 0 is invalid")
        );
        let err = ModelConfig::builder()
            .gaussian_smoothing_sigma(-0.5)
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("`model.gaussian_smoothing_sigma` = -0.5")
        );
        let ok = ModelConfig::builder().N(128).gridsize(2).build().unwrap();
        assert_eq!(ok.channels(), 4);
    }
}
