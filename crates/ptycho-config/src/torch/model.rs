//! PyTorch-side `ModelConfig` (upstream `ptycho_torch/config_params.py`).
//!
//! `mode` and `amp_activation` stay free strings because the bridge, not the loader, decides
//! what they translate to (and reports upstream's errors for values it cannot translate).

use serde::{Deserialize, Serialize};

use super::one_of;
use crate::choices::{Architecture, FnoInputTransform, GeneratorOutputMode};
use crate::error::Result;

/// `probe_mask`: upstream's `Optional[Union[bool, Tensor]]`; a tensor is given as rows of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProbeMask {
    Flag(bool),
    Tensor(Vec<Vec<f32>>),
}

/// Architecture and loss settings of the PyTorch configuration.
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub mode: String,
    pub architecture: Architecture,
    pub fno_modes: usize,
    pub fno_width: usize,
    pub fno_blocks: usize,
    pub fno_cnn_blocks: usize,
    pub learned_input_channels: usize,
    pub fno_input_transform: FnoInputTransform,
    pub max_hidden_channels: Option<usize>,
    pub resnet_width: Option<usize>,
    pub spectral_bottleneck_blocks: usize,
    pub spectral_bottleneck_modes: usize,
    pub spectral_bottleneck_share_weights: bool,
    pub spectral_bottleneck_gate_init: f64,
    pub spectral_bottleneck_gate_mode: String,
    pub generator_output_mode: GeneratorOutputMode,
    pub cnn_output_mode: String,
    pub use_shared_decoder: bool,
    pub intensity_scale_trainable: bool,
    pub intensity_scale: f64,
    pub max_position_jitter: usize,
    pub num_datasets: usize,
    pub C_model: usize,
    pub n_filters_scale: usize,
    pub amp_activation: String,
    pub batch_norm: bool,
    pub probe_mask: Option<ProbeMask>,
    pub probe_mask_tensor: Option<Vec<Vec<f32>>>,
    pub probe_mask_sigma: f64,
    pub probe_mask_diameter: Option<f64>,
    pub edge_pad: usize,
    pub decoder_last_c_outer_fraction: f64,
    pub decoder_last_amp_channels: usize,
    pub use_legacy_decoder_channel_override: bool,
    pub eca_encoder: bool,
    pub cbam_encoder: bool,
    pub cbam_bottleneck: bool,
    pub cbam_decoder: bool,
    pub eca_decoder: bool,
    pub spatial_decoder: bool,
    pub decoder_spatial_kernel: usize,
    pub object_big: bool,
    pub probe_big: bool,
    pub offset: usize,
    pub C_forward: usize,
    pub training_patch_weighting: String,
    pub physics_forward_mode: String,
    pub rect_s1s2_trainable: bool,
    pub rect_s1s2_init: String,
    pub amplitude_physics_gain: f64,
    pub pad_object: bool,
    pub gaussian_smoothing_sigma: f64,
    pub loss_function: String,
    pub amp_loss: Option<String>,
    pub phase_loss: Option<String>,
    pub amp_loss_coeff: f64,
    pub phase_loss_coeff: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            mode: "Unsupervised".into(),
            architecture: Architecture::Cnn,
            fno_modes: 12,
            fno_width: 32,
            fno_blocks: 4,
            fno_cnn_blocks: 2,
            learned_input_channels: 1,
            fno_input_transform: FnoInputTransform::None,
            max_hidden_channels: None,
            resnet_width: None,
            spectral_bottleneck_blocks: 6,
            spectral_bottleneck_modes: 12,
            spectral_bottleneck_share_weights: true,
            spectral_bottleneck_gate_init: 0.1,
            spectral_bottleneck_gate_mode: "shared".into(),
            generator_output_mode: GeneratorOutputMode::RealImag,
            cnn_output_mode: "amp_phase".into(),
            use_shared_decoder: false,
            intensity_scale_trainable: false,
            intensity_scale: 10000.0,
            max_position_jitter: 10,
            num_datasets: 1,
            C_model: 4,
            n_filters_scale: 2,
            amp_activation: "silu".into(),
            batch_norm: false,
            probe_mask: Some(ProbeMask::Flag(false)),
            probe_mask_tensor: None,
            probe_mask_sigma: 1.0,
            probe_mask_diameter: None,
            edge_pad: 10,
            decoder_last_c_outer_fraction: 0.125,
            decoder_last_amp_channels: 1,
            use_legacy_decoder_channel_override: false,
            eca_encoder: false,
            cbam_encoder: true,
            cbam_bottleneck: false,
            cbam_decoder: false,
            eca_decoder: false,
            spatial_decoder: false,
            decoder_spatial_kernel: 7,
            object_big: true,
            probe_big: true,
            offset: 6,
            C_forward: 4,
            training_patch_weighting: "central_mask".into(),
            physics_forward_mode: "amplitude".into(),
            rect_s1s2_trainable: true,
            rect_s1s2_init: "ones".into(),
            amplitude_physics_gain: 1.0,
            pad_object: true,
            gaussian_smoothing_sigma: 0.0,
            loss_function: "Poisson".into(),
            amp_loss: None,
            phase_loss: None,
            amp_loss_coeff: 1.0,
            phase_loss_coeff: 1.0,
        }
    }
}

/// Field names in declaration order.
pub const TORCH_MODEL_FIELDS: &[&str] = &[
    "mode",
    "architecture",
    "fno_modes",
    "fno_width",
    "fno_blocks",
    "fno_cnn_blocks",
    "learned_input_channels",
    "fno_input_transform",
    "max_hidden_channels",
    "resnet_width",
    "spectral_bottleneck_blocks",
    "spectral_bottleneck_modes",
    "spectral_bottleneck_share_weights",
    "spectral_bottleneck_gate_init",
    "spectral_bottleneck_gate_mode",
    "generator_output_mode",
    "cnn_output_mode",
    "use_shared_decoder",
    "intensity_scale_trainable",
    "intensity_scale",
    "max_position_jitter",
    "num_datasets",
    "C_model",
    "n_filters_scale",
    "amp_activation",
    "batch_norm",
    "probe_mask",
    "probe_mask_tensor",
    "probe_mask_sigma",
    "probe_mask_diameter",
    "edge_pad",
    "decoder_last_c_outer_fraction",
    "decoder_last_amp_channels",
    "use_legacy_decoder_channel_override",
    "eca_encoder",
    "cbam_encoder",
    "cbam_bottleneck",
    "cbam_decoder",
    "eca_decoder",
    "spatial_decoder",
    "decoder_spatial_kernel",
    "object_big",
    "probe_big",
    "offset",
    "C_forward",
    "training_patch_weighting",
    "physics_forward_mode",
    "rect_s1s2_trainable",
    "rect_s1s2_init",
    "amplitude_physics_gain",
    "pad_object",
    "gaussian_smoothing_sigma",
    "loss_function",
    "amp_loss",
    "phase_loss",
    "amp_loss_coeff",
    "phase_loss_coeff",
];

impl ModelConfig {
    /// Checks the `Literal` sets other than `mode` (the bridge reports that one).
    pub fn validate(&self) -> Result<()> {
        let s = "model_config";
        one_of(
            s,
            "spectral_bottleneck_gate_mode",
            &self.spectral_bottleneck_gate_mode,
            &["shared", "per_block"],
        )?;
        one_of(
            s,
            "cnn_output_mode",
            &self.cnn_output_mode,
            &["amp_phase", "real_imag"],
        )?;
        one_of(
            s,
            "training_patch_weighting",
            &self.training_patch_weighting,
            &["central_mask", "probe", "uniform"],
        )?;
        one_of(
            s,
            "physics_forward_mode",
            &self.physics_forward_mode,
            &["amplitude", "rectangular_scaled"],
        )?;
        one_of(s, "rect_s1s2_init", &self.rect_s1s2_init, &["ones", "data"])?;
        one_of(s, "loss_function", &self.loss_function, &["MAE", "Poisson"])?;
        for (field, value) in [
            ("amp_loss", &self.amp_loss),
            ("phase_loss", &self.phase_loss),
        ] {
            if let Some(value) = value {
                one_of(s, field, value, &["Total_Variation", "Mean_Deviation"])?;
            }
        }
        Ok(())
    }
}
