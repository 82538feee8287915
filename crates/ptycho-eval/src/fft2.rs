//! Two-dimensional FFT of complex f64 arrays on top of `rustfft` (rows, then columns),
//! with NumPy's sign and scaling conventions: forward `Σ x·e^{−2πi kn/N}` unscaled, inverse
//! scaled by `1/(rows·cols)`.

use ndarray::{Array2, Axis};
use num_complex::Complex64;
use rustfft::{FftDirection, FftPlanner};

/// Direction of a 2-D transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `numpy.fft.fft2`.
    Forward,
    /// `numpy.fft.ifft2` (includes the `1/(rows·cols)` factor).
    Inverse,
}

/// Transforms `data` in place.
pub fn fft2_in_place(data: &mut Array2<Complex64>, direction: Direction) {
    let (h, w) = data.dim();
    if h == 0 || w == 0 {
        return;
    }
    let dir = match direction {
        Direction::Forward => FftDirection::Forward,
        Direction::Inverse => FftDirection::Inverse,
    };
    let mut planner = FftPlanner::<f64>::new();
    for (axis, len) in [(Axis(1), w), (Axis(0), h)] {
        let fft = planner.plan_fft(len, dir);
        let mut buf = vec![Complex64::new(0.0, 0.0); len];
        for mut lane in data.lanes_mut(axis) {
            buf.iter_mut().zip(lane.iter()).for_each(|(b, &v)| *b = v);
            fft.process(&mut buf);
            lane.iter_mut().zip(buf.iter()).for_each(|(d, &v)| *d = v);
        }
    }
    if direction == Direction::Inverse {
        let scale = 1.0 / (h * w) as f64;
        data.mapv_inplace(|v| v * scale);
    }
}

/// Forward transform of a real image.
pub fn fft2_real(image: ndarray::ArrayView2<'_, f64>) -> Array2<Complex64> {
    let mut data = image.mapv(|v| Complex64::new(v, 0.0));
    fft2_in_place(&mut data, Direction::Forward);
    data
}

/// Signed integer frequency of FFT bin `k` out of `n` (NumPy `fftfreq(n) * n`).
pub fn signed_frequency(k: usize, n: usize) -> i64 {
    if k < n.div_ceil(2) {
        k as i64
    } else {
        k as i64 - n as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_a_direct_dft_and_inverse_round_trips() {
        let img = Array2::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f64 * 0.5 - 1.0);
        let f = fft2_real(img.view());
        for ((ky, kx), &v) in f.indexed_iter() {
            let mut acc = Complex64::new(0.0, 0.0);
            for ((y, x), &p) in img.indexed_iter() {
                let ang = -2.0
                    * std::f64::consts::PI
                    * (ky as f64 * y as f64 / 3.0 + kx as f64 * x as f64 / 4.0);
                acc += Complex64::from_polar(p, ang);
            }
            assert!((acc - v).norm() < 1e-12);
        }
        let mut g = f.clone();
        fft2_in_place(&mut g, Direction::Inverse);
        for (a, b) in g.iter().zip(img.iter()) {
            assert!((a.re - b).abs() < 1e-12 && a.im.abs() < 1e-12);
        }
    }

    #[test]
    fn signed_frequencies_follow_fftfreq() {
        let even: Vec<i64> = (0..4).map(|k| signed_frequency(k, 4)).collect();
        assert_eq!(even, vec![0, 1, -2, -1]);
        let odd: Vec<i64> = (0..5).map(|k| signed_frequency(k, 5)).collect();
        assert_eq!(odd, vec![0, 1, 2, -2, -1]);
    }
}
