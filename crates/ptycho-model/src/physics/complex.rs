//! Complex tensors as (re, im) pairs of f32 tensors, with the few operations the physics needs.

use burn::tensor::Tensor;

/// A complex tensor stored as separate real and imaginary parts of the same shape.
#[derive(Debug, Clone)]
pub struct Complex<const D: usize> {
    /// Real part.
    pub re: Tensor<D>,
    /// Imaginary part.
    pub im: Tensor<D>,
}

impl<const D: usize> Complex<D> {
    /// Pairs two tensors of the same shape.
    pub fn new(re: Tensor<D>, im: Tensor<D>) -> Self {
        debug_assert_eq!(
            re.dims(),
            im.dims(),
            "real and imaginary parts differ in shape"
        );
        Self { re, im }
    }

    /// `a·e^{iφ}` from amplitude and phase (upstream `combine_complex`, polar mode).
    pub fn from_polar(amplitude: Tensor<D>, phase: Tensor<D>) -> Self {
        Self {
            re: amplitude.clone() * phase.clone().cos(),
            im: amplitude * phase.sin(),
        }
    }

    /// Shape of either part.
    pub fn dims(&self) -> [usize; D] {
        self.re.dims()
    }

    /// Complex product; broadcasting follows burn's rules for both parts.
    pub fn mul_complex(self, other: Self) -> Self {
        let re = self.re.clone() * other.re.clone() - self.im.clone() * other.im.clone();
        let im = self.re * other.im + self.im * other.re;
        Self { re, im }
    }

    /// Multiplies both parts by a real tensor (broadcasting).
    pub fn mul_real(self, factor: Tensor<D>) -> Self {
        Self {
            re: self.re * factor.clone(),
            im: self.im * factor,
        }
    }

    /// `|z|² = re² + im²`.
    pub fn norm_sqr(self) -> Tensor<D> {
        self.re.powi_scalar(2) + self.im.powi_scalar(2)
    }

    /// Applies the same real-linear map to both parts.
    pub fn map(self, f: impl Fn(Tensor<D>) -> Tensor<D>) -> Self {
        Self {
            re: f(self.re),
            im: f(self.im),
        }
    }

    /// Reshapes both parts.
    pub fn reshape<const D2: usize>(self, shape: [usize; D2]) -> Complex<D2> {
        Complex {
            re: self.re.reshape(shape),
            im: self.im.reshape(shape),
        }
    }

    /// Applies a map to both parts at once, stacked along dim 0 (halves kernel launches for
    /// batched linear maps whose per-item matrices are shared by the two parts).
    pub fn map_stacked(self, f: impl FnOnce(Tensor<D>) -> Tensor<D>) -> Self {
        let both = f(Tensor::cat(vec![self.re, self.im], 0));
        let out = both.dims()[0] / 2;
        debug_assert_eq!(out * 2, both.dims()[0]);
        Self {
            re: both.clone().narrow(0, 0, out),
            im: both.narrow(0, out, out),
        }
    }
}
