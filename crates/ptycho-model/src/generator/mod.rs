//! The `cnn` generator of PtychoPINN (reference/model.md §2): a plain encoder and two
//! independent decoders (amplitude, phase); no skip connections.

mod blocks;
mod decoder;

pub use crate::resample::{max_pool_2x, upsample_2x};
pub use blocks::{ConvPair, glorot_conv3x3};
pub use decoder::{Decoder, HeadActivation, border_mask, border_width, decoder_filters};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::ModelError;
use crate::spec::GeneratorSpec;

/// Encoder filter ladder for side `n` (upstream `create_encoder`).
pub fn encoder_filters(n: usize, nfs: usize) -> Vec<usize> {
    let base: &[usize] = match n {
        32 => &[64, 128],
        64 => &[32, 64, 128],
        128 => &[16, 32, 64, 128],
        _ => &[8, 16, 32, 64, 128],
    };
    base.iter().map(|f| f * nfs).collect()
}

/// Encoder: conv pairs, each followed by 2×2 max-pooling, down to 8×8.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Conv-pool blocks.
    pub blocks: Vec<ConvPair>,
}

impl Encoder {
    /// `[B, C, N, N]` → `[B, 128·nfs, 8, 8]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.blocks
            .iter()
            .fold(x, |x, block| max_pool_2x(block.forward(x)))
    }
}

/// Amplitude and phase of the predicted object patches, each `[B, C_out, N, N]`.
#[derive(Debug, Clone)]
pub struct AmpPhase {
    /// Amplitude (after the amplitude activation).
    pub amplitude: Tensor<4>,
    /// Phase in radians.
    pub phase: Tensor<4>,
}

/// The `cnn` generator.
#[derive(Module, Debug)]
pub struct Generator {
    /// Shared encoder.
    pub encoder: Encoder,
    /// Amplitude decoder.
    pub decoder_amp: Decoder,
    /// Phase decoder.
    pub decoder_phase: Decoder,
}

impl Generator {
    /// Builds the generator with Glorot-uniform kernels drawn from `seed`.
    pub fn new(spec: &GeneratorSpec, seed: u64, device: &Device) -> Result<Self, ModelError> {
        spec.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut blocks = Vec::new();
        let mut channels = spec.channels_in();
        for f in encoder_filters(spec.n, spec.n_filters_scale) {
            blocks.push(ConvPair::new(channels, f, &mut rng, device));
            channels = f;
        }
        let decoder_amp = Decoder::new(
            spec,
            channels,
            HeadActivation::Amplitude(spec.amp_activation),
            &mut rng,
            device,
        );
        let decoder_phase = Decoder::new(spec, channels, HeadActivation::Phase, &mut rng, device);
        Ok(Self {
            encoder: Encoder { blocks },
            decoder_amp,
            decoder_phase,
        })
    }

    /// `[B, gs², N, N]` scaled diffraction amplitudes → amplitude and phase `[B, C_out, N, N]`.
    pub fn forward(&self, x: Tensor<4>) -> AmpPhase {
        let features = self.encoder.forward(x);
        AmpPhase {
            amplitude: self.decoder_amp.forward(features.clone()),
            phase: self.decoder_phase.forward(features),
        }
    }
}
