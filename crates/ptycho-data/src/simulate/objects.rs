//! Synthetic objects and the default probe (upstream `diffsim.sim_object_image`,
//! `probe.get_default_probe`, reference data.md §6.2).
//!
//! - lines: 400 random segments on a `2·size` canvas (endpoints `int(2·size·U)`), blurred as
//!   `g₁ + 2·g₅ + 5·g₁₀` (Gaussian filters of σ = 1, 5, 10 px), central half kept;
//! - GRF: a Gaussian random field with power spectrum `k^-0.4`, min–max normalised, σ = 1 blur;
//! - amplitude is normalised to max 1 and the phase is `π·tanh((A − max/2) / (3·mean))`;
//! - default probe: a disk `outer(w, w) > 0.5` of the Gaussian window `w` (std `N/(0.7·π²)`),
//!   blurred with σ = 1, plus 1e-9, real-valued.

use ndarray::Array2;
use num_complex::{Complex, Complex32};
use rand::Rng;
use rand_distr::StandardNormal;
use rustfft::FftPlanner;

/// A separable Gaussian filter with scipy's defaults (`truncate = 4`, mode `reflect`).
pub fn gaussian_filter(img: &Array2<f64>, sigma: f64) -> Array2<f64> {
    let radius = (4.0 * sigma + 0.5) as isize;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|i| (-0.5 * (i as f64 / sigma).powi(2)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.into_iter().map(|k| k / total).collect();
    // scipy 'reflect': (d c b a | a b c d | d c b a)
    let reflect = |i: isize, n: isize| -> usize {
        let period = 2 * n;
        let mut j = i.rem_euclid(period);
        if j >= n {
            j = period - 1 - j;
        }
        j as usize
    };
    let (h, w) = img.dim();
    let mut tmp = Array2::<f64>::zeros((h, w));
    for r in 0..h {
        for c in 0..w {
            tmp[[r, c]] = kernel
                .iter()
                .enumerate()
                .map(|(k, kv)| kv * img[[r, reflect(c as isize + k as isize - radius, w as isize)]])
                .sum();
        }
    }
    let mut out = Array2::<f64>::zeros((h, w));
    for r in 0..h {
        for c in 0..w {
            out[[r, c]] = kernel
                .iter()
                .enumerate()
                .map(|(k, kv)| kv * tmp[[reflect(r as isize + k as isize - radius, h as isize), c]])
                .sum();
        }
    }
    out
}

/// Draws the pixels of a segment (Bresenham, like `skimage.draw.line`), adding 1 to each.
fn draw_line(img: &mut Array2<f64>, (r0, c0): (isize, isize), (r1, c1): (isize, isize)) {
    let (dr, dc) = ((r1 - r0).abs(), (c1 - c0).abs());
    let (sr, sc) = ((r1 - r0).signum(), (c1 - c0).signum());
    let (mut r, mut c) = (r0, c0);
    let mut err = dc - dr;
    let (h, w) = img.dim();
    loop {
        if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w {
            img[[r as usize, c as usize]] += 1.0;
        }
        if r == r1 && c == c1 {
            break;
        }
        let e2 = 2 * err;
        if e2 > -dr {
            err -= dr;
            c += sc;
        }
        if e2 < dc {
            err += dc;
            r += sr;
        }
    }
}

/// The lines amplitude image of `size × size` (before normalisation).
pub fn lines_image(size: usize, rng: &mut impl Rng) -> Array2<f64> {
    let big = 2 * size;
    let mut img = Array2::zeros((big, big));
    for _ in 0..400 {
        let mut end = || ((big as f64 * rng.random::<f64>()) as isize).min(big as isize - 1);
        let (r0, c0, r1, c1) = (end(), end(), end(), end());
        draw_line(&mut img, (r0, c0), (r1, c1));
    }
    let blurred = &(&gaussian_filter(&img, 1.0) + &(gaussian_filter(&img, 5.0) * 2.0))
        + &(gaussian_filter(&img, 10.0) * 5.0);
    let q = size / 2;
    blurred
        .slice(ndarray::s![q..q + size, q..q + size])
        .to_owned()
}

/// 2-D FFT in place of a row-major `rows × cols` buffer.
pub fn fft2(data: &mut [Complex<f64>], rows: usize, cols: usize, inverse: bool) {
    let mut planner = FftPlanner::<f64>::new();
    let row_fft = if inverse {
        planner.plan_fft_inverse(cols)
    } else {
        planner.plan_fft_forward(cols)
    };
    for row in data.chunks_mut(cols) {
        row_fft.process(row);
    }
    let col_fft = if inverse {
        planner.plan_fft_inverse(rows)
    } else {
        planner.plan_fft_forward(rows)
    };
    let mut column = vec![Complex::new(0.0, 0.0); rows];
    for c in 0..cols {
        for r in 0..rows {
            column[r] = data[r * cols + c];
        }
        col_fft.process(&mut column);
        for r in 0..rows {
            data[r * cols + c] = column[r];
        }
    }
}

/// A Gaussian random field of `size × size` with power spectrum `k^-0.4`, min–max normalised
/// and blurred with σ = 1.
pub fn grf_image(size: usize, rng: &mut impl Rng) -> Array2<f64> {
    let mut spec: Vec<Complex<f64>> = Vec::with_capacity(size * size);
    for r in 0..size {
        for c in 0..size {
            let fr = if r <= size / 2 {
                r as f64
            } else {
                r as f64 - size as f64
            };
            let fc = if c <= size / 2 {
                c as f64
            } else {
                c as f64 - size as f64
            };
            let k = (fr * fr + fc * fc).sqrt() / size as f64;
            let amp = if k == 0.0 { 0.0 } else { k.powf(-0.4).sqrt() };
            let (a, b): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            spec.push(Complex::new(a, b) * amp);
        }
    }
    fft2(&mut spec, size, size, true);
    let field = Array2::from_shape_fn((size, size), |(r, c)| spec[r * size + c].re);
    let (lo, hi) = field
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let norm = field.mapv(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 });
    gaussian_filter(&norm, 1.0)
}

/// Amplitude normalised to max 1 with upstream's `set_phi` phase.
pub fn to_complex_object(amplitude: &Array2<f64>) -> Array2<Complex32> {
    let max = amplitude.iter().copied().fold(0.0f64, f64::max);
    let amp = amplitude.mapv(|v| if max > 0.0 { v / max } else { 0.0 });
    let mean = amp.mean().unwrap_or(0.0).max(1e-12);
    amp.mapv(|a| {
        let phi = std::f64::consts::PI * ((a - 0.5) / (3.0 * mean)).tanh();
        Complex32::from_polar(a as f32, phi as f32)
    })
}

/// Upstream's default probe of size `n`.
pub fn default_probe(n: usize) -> Array2<Complex32> {
    let std = n as f64 / (0.7 * std::f64::consts::PI.powi(2));
    let centre = (n as f64 - 1.0) / 2.0;
    let w: Vec<f64> = (0..n)
        .map(|i| (-0.5 * ((i as f64 - centre) / std).powi(2)).exp())
        .collect();
    let wmax = w.iter().copied().fold(0.0, f64::max);
    let disk = Array2::from_shape_fn((n, n), |(r, c)| {
        if (w[r] / wmax) * (w[c] / wmax) > 0.5 {
            1.0
        } else {
            0.0
        }
    });
    gaussian_filter(&disk, 1.0).mapv(|v| Complex32::new((v + 1e-9) as f32, 0.0))
}
