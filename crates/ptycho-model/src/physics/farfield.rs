//! Far-field diffraction of exit waves: `I = fftshift(|FFT2(Ψ)|²) / N²` (upstream
//! `pad_and_diffract(pad=False)` squared), by burn-signal's FFT or by dense DFT matrices.

use std::f64::consts::PI;

use burn::tensor::signal::cfft;
use burn::tensor::{Device, Tensor, TensorData};

use super::complex::Complex;
use super::spectrum::far_field_intensity;

/// Far-field intensity by the FFT: our kernel on the CPU backend ([`super::spectrum`]),
/// burn-signal's FFT elsewhere.
///
/// `psi`: `[K, N, N]` exit waves; returns `[K, N, N]` intensities with DC at index `N/2`.
pub fn intensity_fft(psi: Complex<3>) -> Tensor<3> {
    match far_field_intensity(&psi) {
        Some(intensity) => intensity,
        None => intensity_signal_fft(psi),
    }
}

/// Far-field intensity through burn-signal's `cfft` along both axes, then an fftshift (any
/// backend).
pub fn intensity_signal_fft(psi: Complex<3>) -> Tensor<3> {
    let n = psi.dims()[2];
    let (re, im) = cfft(psi.re, psi.im, 2, None);
    let (re, im) = cfft(re, im, 1, None);
    let intensity = (re.powi_scalar(2) + im.powi_scalar(2)).div_scalar((n * n) as f32);
    let half = (n / 2) as i64;
    intensity.roll(&[half, half], &[1, 2])
}

/// The fftshift-folded DFT matrix `W' = R·(C − iS)` of side `n` as `[1, n, n]` real and
/// imaginary parts, `W'[k, m] = exp(−2πi·((k − n/2) mod n)·m / n)`.
#[derive(Debug, Clone)]
pub struct DftMatrix {
    /// Real part `[1, n, n]`.
    pub re: Tensor<3>,
    /// Imaginary part `[1, n, n]`.
    pub im: Tensor<3>,
    /// Transposed real part `[n, n]`.
    re_t: Tensor<2>,
    /// Transposed imaginary part `[n, n]`.
    im_t: Tensor<2>,
}

impl DftMatrix {
    /// Builds the matrices in f64 and rounds once to f32.
    pub fn new(n: usize, device: &Device) -> Self {
        let mut re = vec![0.0f32; n * n];
        let mut im = vec![0.0f32; n * n];
        for k in 0..n {
            // Row k holds frequency k − n/2 (mod n), numpy's fftshift also for odd n.
            let shifted = (k + n - n / 2) % n;
            for m in 0..n {
                // Reduce the index product modulo n first so the angle stays exact in f64.
                let angle = -2.0 * PI * ((shifted * m) % n) as f64 / n as f64;
                re[k * n + m] = angle.cos() as f32;
                im[k * n + m] = angle.sin() as f32;
            }
        }
        let re = Tensor::<2>::from_data(TensorData::new(re, [n, n]), device);
        let im = Tensor::<2>::from_data(TensorData::new(im, [n, n]), device);
        Self {
            re_t: re.clone().transpose(),
            im_t: im.clone().transpose(),
            re: re.unsqueeze(),
            im: im.unsqueeze(),
        }
    }

    /// Far-field intensity `|W' Ψ W'ᵀ|² / N²` of `[K, N, N]` exit waves.
    pub fn intensity(&self, psi: Complex<3>) -> Tensor<3> {
        let [k, n, _] = psi.dims();
        // Left product A = W'Ψ (broadcast over the K patterns).
        let ar = self.re.clone().matmul(psi.re.clone()) - self.im.clone().matmul(psi.im.clone());
        let ai = self.re.clone().matmul(psi.im) + self.im.clone().matmul(psi.re);
        // Right product F = A W'ᵀ as one tall GEMM per part.
        let ar = ar.reshape([k * n, n]);
        let ai = ai.reshape([k * n, n]);
        let fr = ar.clone().matmul(self.re_t.clone()) - ai.clone().matmul(self.im_t.clone());
        let fi = ar.matmul(self.im_t.clone()) + ai.matmul(self.re_t.clone());
        (fr.powi_scalar(2) + fi.powi_scalar(2))
            .div_scalar((n * n) as f32)
            .reshape([k, n, n])
    }
}
