//! One decoder of the `cnn` generator (amplitude or phase): conv-up blocks to N/2, then the
//! output stage of upstream `create_decoder_last` (main head, optional border head).

use std::f32::consts::PI;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::{relu, sigmoid, silu, softplus, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::blocks::{ConvPair, glorot_conv3x3};
use crate::conv::conv2d;
use crate::resample::upsample_2x;
use crate::spec::{AmpActivation, GeneratorSpec};

/// Feature channels of the last decoder block that feed the border head (TF `c_outer`).
const C_OUTER: usize = 4;

/// Output activation of a decoder's main head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeadActivation {
    /// Amplitude head with the configured activation.
    Amplitude(AmpActivation),
    /// Phase head, `π·tanh`.
    Phase,
}

impl HeadActivation {
    /// Applies the activation.
    pub fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Amplitude(AmpActivation::Sigmoid) => sigmoid(x),
            Self::Amplitude(AmpActivation::Swish) => silu(x),
            Self::Amplitude(AmpActivation::Softplus) => softplus(x, 1.0),
            Self::Amplitude(AmpActivation::Relu) => relu(x),
            Self::Phase => tanh(x).mul_scalar(PI),
        }
    }
}

/// Decoder filter ladder for side `n` (upstream `create_decoder_base`).
pub fn decoder_filters(n: usize, nfs: usize) -> Vec<usize> {
    let base: &[usize] = match n {
        32 => &[32],
        64 => &[64, 32],
        128 => &[128, 64, 32],
        _ => &[256, 128, 64, 32],
    };
    base.iter().map(|f| f * nfs).collect()
}

/// Width of the border / no-pad up-block, `nfs · 2048 / N` (upstream `get_resolution_scale_factor`).
pub fn border_width(n: usize, nfs: usize) -> usize {
    nfs * (2048 / n)
}

/// One decoder: `blocks` (each conv pair followed by 2× upsampling), then the output stage.
#[derive(Module, Debug)]
pub struct Decoder {
    /// Conv-up blocks, ending at N/2 with `32·nfs` channels.
    pub blocks: Vec<ConvPair>,
    /// Main head on all but the last 4 channels (`pad_object` only).
    pub conv1: Option<Conv2d>,
    /// Up-block of the border head (`probe.big`) or of the unpadded head (`pad_object=false`).
    pub conv_up_block: Option<ConvPair>,
    /// Final convolution after `conv_up_block`.
    pub conv2: Option<Conv2d>,
    /// Output activation of the main head.
    #[module(skip)]
    pub activation: HeadActivation,
    /// Patch side.
    #[module(skip)]
    pub n: usize,
}

impl Decoder {
    /// Builds a decoder whose input has `c_in` channels at N/(2^(levels+1)) resolution.
    pub fn new(
        spec: &GeneratorSpec,
        c_in: usize,
        activation: HeadActivation,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let filters = decoder_filters(spec.n, spec.n_filters_scale);
        let mut blocks = Vec::with_capacity(filters.len());
        let mut channels = c_in;
        for &f in &filters {
            blocks.push(ConvPair::new(channels, f, rng, device));
            channels = f;
        }
        let c_out = spec.channels_out();
        let width = border_width(spec.n, spec.n_filters_scale);
        let (conv1, conv_up_block, conv2) = if spec.pad_object {
            let conv1 = glorot_conv3x3(channels - C_OUTER, c_out, rng, device);
            if spec.probe_big {
                let up = ConvPair::new(C_OUTER, width, rng, device);
                let conv2 = glorot_conv3x3(width, c_out, rng, device);
                (Some(conv1), Some(up), Some(conv2))
            } else {
                (Some(conv1), None, None)
            }
        } else {
            let up = ConvPair::new(channels, width, rng, device);
            let conv2 = glorot_conv3x3(width, c_out, rng, device);
            (None, Some(up), Some(conv2))
        };
        Self {
            blocks,
            conv1,
            conv_up_block,
            conv2,
            activation,
            n: spec.n,
        }
    }

    /// Maps encoder features `[B, c_in, h, w]` to the head output `[B, C_out, N, N]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = x;
        for block in &self.blocks {
            x = upsample_2x(block.forward(x));
        }
        let channels = x.dims()[1];
        match (&self.conv1, &self.conv_up_block, &self.conv2) {
            (Some(conv1), border_up, border_out) => {
                let quarter = self.n / 4;
                let main = self
                    .activation
                    .apply(conv2d(conv1, x.clone().narrow(1, 0, channels - C_OUTER)));
                let main = main.pad([(quarter, quarter), (quarter, quarter)], 0.0);
                match (border_up, border_out) {
                    (Some(up), Some(out)) => {
                        let tail = x.narrow(1, channels - C_OUTER, C_OUTER);
                        let border = silu(conv2d(out, upsample_2x(up.forward(tail))));
                        let mask = border_mask(self.n, &border.device());
                        main + border * mask
                    }
                    _ => main,
                }
            }
            (None, Some(up), Some(out)) => self
                .activation
                .apply(conv2d(out, upsample_2x(up.forward(x)))),
            _ => unreachable!("a decoder is always built with a main head or an unpadded head"),
        }
    }
}

/// `[1, 1, n, n]` mask: 1 outside the central `[n/4, 3n/4)` square, 0 inside.
pub fn border_mask(n: usize, device: &Device) -> Tensor<4> {
    let (lo, hi) = (n / 4, 3 * n / 4);
    let values: Vec<f32> = (0..n * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            let inside = (lo..hi).contains(&r) && (lo..hi).contains(&c);
            if inside { 0.0 } else { 1.0 }
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, n, n]), device)
}
