//! Building blocks of the `cnn` generator: Glorot-initialised 3×3 convolutions and conv pairs
//! (the 2× pooling and upsampling between them are in [`crate::resample`]).

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::conv::conv2d_relu;

/// A 3×3, stride-1, "same"-padded convolution with bias, initialised like Keras:
/// Glorot-uniform kernel (`limit = sqrt(6 / (9·c_in + 9·c_out))`) and zero bias.
///
/// The kernel is drawn from the caller's seeded generator (not the backend's global RNG) so
/// that the same seed gives bit-identical weights on every backend.
pub fn glorot_conv3x3(c_in: usize, c_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Conv2d {
    let mut conv = Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .with_initializer(Initializer::Zeros)
        .init(device);
    let fan_in = (c_in * 9) as f64;
    let fan_out = (c_out * 9) as f64;
    let limit = (6.0 / (fan_in + fan_out)).sqrt() as f32;
    let values: Vec<f32> = (0..c_out * c_in * 9)
        .map(|_| rng.random_range(-limit..limit))
        .collect();
    let kernel = Tensor::<4>::from_data(TensorData::new(values, [c_out, c_in, 3, 3]), device);
    conv.weight = Param::from_tensor(kernel);
    conv
}

/// Two 3×3 convolutions, each followed by ReLU (upstream `Conv_Pool_block` / `Conv_Up_block`
/// without their pooling or upsampling).
#[derive(Module, Debug)]
pub struct ConvPair {
    /// First convolution, `c_in → c_out`.
    pub conv1: Conv2d,
    /// Second convolution, `c_out → c_out`.
    pub conv2: Conv2d,
}

impl ConvPair {
    /// Glorot-initialised pair `c_in → c_out → c_out`.
    pub fn new(c_in: usize, c_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            conv1: glorot_conv3x3(c_in, c_out, rng, device),
            conv2: glorot_conv3x3(c_out, c_out, rng, device),
        }
    }

    /// `relu(conv2(relu(conv1(x))))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d_relu(&self.conv2, conv2d_relu(&self.conv1, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn glorot_kernel_stays_within_its_limit_and_bias_is_zero() {
        let device = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let conv = glorot_conv3x3(60, 4, &mut rng, &device);
        let limit = (6.0f32 / (540.0 + 36.0)).sqrt();
        let w: Vec<f32> = conv.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(w.len(), 4 * 60 * 9);
        assert!(w.iter().all(|v| v.abs() <= limit));
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            max > 0.9 * limit,
            "kernel should fill its range, max {max} limit {limit}"
        );
        let b: Vec<f32> = conv
            .bias
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(b.iter().all(|v| *v == 0.0));
    }
}
