//! Test helpers: an independent host-side forward model (rustfft), asymmetric and "lines"
//! objects, and a small noiseless scan simulator.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

use ptycho_model::train::Scheduler;
use ptycho_model::{GroupBatch, HostProbe, LossWeights, TrainingSpec};

/// `fftshift(|FFT2(ψ)|²)/N²` of one `n × n` wave, computed with rustfft in f32.
pub fn far_field_reference(re: &[f32], im: &[f32], n: usize) -> Vec<f32> {
    let mut data: Vec<Complex32> = re
        .iter()
        .zip(im)
        .map(|(&a, &b)| Complex32::new(a, b))
        .collect();
    let fft = FftPlanner::<f32>::new().plan_fft_forward(n);
    for row in data.chunks_mut(n) {
        fft.process(row);
    }
    let mut t = vec![Complex32::new(0.0, 0.0); n * n];
    for r in 0..n {
        for c in 0..n {
            t[c * n + r] = data[r * n + c];
        }
    }
    for col in t.chunks_mut(n) {
        fft.process(col);
    }
    let mut out = vec![0.0f32; n * n];
    for c in 0..n {
        for r in 0..n {
            let v = t[c * n + r];
            let (rs, cs) = ((r + n / 2) % n, (c + n / 2) % n);
            out[rs * n + cs] = v.norm_sqr() / (n * n) as f32;
        }
    }
    out
}

/// An asymmetric complex object: amplitude ramps differently along rows and columns plus a
/// bright off-centre "L", phase a tilted plane.
pub fn asymmetric_object(side: usize) -> (Vec<f32>, Vec<f32>) {
    let mut re = vec![0.0f32; side * side];
    let mut im = vec![0.0f32; side * side];
    for r in 0..side {
        for c in 0..side {
            let mut amp = 0.3 + 0.4 * (r as f32 / side as f32) + 0.1 * ((c * 7 % 13) as f32 / 13.0);
            let in_l = (r > side / 5 && r < side / 2 && c > side / 6 && c < side / 6 + 4)
                || (r >= side / 2 - 4 && r < side / 2 && c > side / 6 && c < side / 2);
            if in_l {
                amp += 0.5;
            }
            let phase = 0.8 * (c as f32 / side as f32) - 0.5 * (r as f32 / side as f32) + 0.2;
            re[r * side + c] = amp * phase.cos();
            im[r * side + c] = amp * phase.sin();
        }
    }
    (re, im)
}

/// `n × n` crop whose top-left corner is `(top, left)`.
pub fn crop(img: &[f32], side: usize, top: usize, left: usize, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * n);
    for r in top..top + n {
        out.extend_from_slice(&img[r * side + left..r * side + left + n]);
    }
    out
}

/// Upstream-style "lines" amplitude: random segments on a `2·side` canvas, blurred at three
/// scales (`gf(1) + 2·gf(5) + 5·gf(10)`, here by box-blur approximations), centre crop,
/// normalised to max 1.
pub fn lines_object(side: usize, lines: usize, seed: u64) -> Vec<f32> {
    let big = 2 * side;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut canvas = vec![0.0f32; big * big];
    for _ in 0..lines {
        let (x0, y0) = (
            rng.random_range(0..big) as f32,
            rng.random_range(0..big) as f32,
        );
        let (x1, y1) = (
            rng.random_range(0..big) as f32,
            rng.random_range(0..big) as f32,
        );
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            let (x, y) = ((x0 + t * (x1 - x0)) as usize, (y0 + t * (y1 - y0)) as usize);
            canvas[y.min(big - 1) * big + x.min(big - 1)] = 1.0;
        }
    }
    let blurred: Vec<f32> = {
        let a = gaussian_blur(&canvas, big, 1.0);
        let b = gaussian_blur(&canvas, big, 5.0);
        let c = gaussian_blur(&canvas, big, 10.0);
        (0..big * big)
            .map(|i| a[i] + 2.0 * b[i] + 5.0 * c[i])
            .collect()
    };
    let out = crop(&blurred, big, side / 2, side / 2, side);
    let max = out.iter().cloned().fold(0.0f32, f32::max);
    out.iter().map(|v| v / max).collect()
}

fn gaussian_blur(img: &[f32], side: usize, sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|x| (-(x * x) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let pass = |src: &[f32], rows: bool| {
        let mut out = vec![0.0f32; side * side];
        for r in 0..side {
            for c in 0..side {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let t = k as i64 - radius;
                    let (rr, cc) = if rows {
                        (r as i64 + t, c as i64)
                    } else {
                        (r as i64, c as i64 + t)
                    };
                    if rr >= 0 && cc >= 0 && (rr as usize) < side && (cc as usize) < side {
                        acc += w * src[rr as usize * side + cc as usize];
                    }
                }
                out[r * side + c] = acc / total;
            }
        }
        out
    };
    pass(&pass(img, true), false)
}

/// A simulated scan of a complex object.
pub struct SimScan {
    /// Grouped data (normalised amplitudes, offsets, true object at each group centre).
    pub batch: GroupBatch,
    /// Group centres (row, col) of each group, in object pixels.
    pub centres: Vec<(f32, f32)>,
    /// Photon scale `s = sqrt(nphotons)/(N/2)`.
    pub intensity_scale: f32,
    /// The normalisation factor applied to the amplitudes.
    pub norm: f32,
}

/// Geometry of a simulated scan: `gs × gs` patterns per group spaced `offset` px, group
/// corners every `step` px, `margin` px kept free at the object border.
#[derive(Debug, Clone, Copy)]
pub struct ScanLayout {
    pub gs: usize,
    pub offset: usize,
    pub step: usize,
    pub margin: usize,
}

/// Simulates noiseless diffraction of `object` (`side × side`, re/im) on a regular grid of group
/// centres with spacing `step`, `gs × gs` patterns per group spaced `offset` px, through the
/// *normalised* probe, then normalises like upstream `normalize_data` and returns groups.
pub fn simulate_scan(
    object: (&[f32], &[f32]),
    side: usize,
    probe: &HostProbe,
    probe_scale: f32,
    layout: ScanLayout,
    nphotons: f64,
) -> SimScan {
    let ScanLayout {
        gs,
        offset,
        step,
        margin,
    } = layout;
    let n = probe.n;
    let p = probe.normalised(probe_scale).unwrap();
    let span = (gs - 1) * offset;
    let mut amplitude = Vec::new();
    let mut offsets = Vec::new();
    let (mut truth_re, mut truth_im) = (Vec::new(), Vec::new());
    let mut centres = Vec::new();
    let lo = margin;
    let hi = side - n - span - margin;
    let mut top = lo;
    while top <= hi {
        let mut left = lo;
        while left <= hi {
            let mut group_pos = Vec::new();
            for gr in 0..gs {
                for gc in 0..gs {
                    group_pos.push((top + gr * offset, left + gc * offset));
                }
            }
            let (mr, mc) = (
                group_pos.iter().map(|p| p.0 as f32).sum::<f32>() / group_pos.len() as f32,
                group_pos.iter().map(|p| p.1 as f32).sum::<f32>() / group_pos.len() as f32,
            );
            for &(t, l) in &group_pos {
                let ore = crop(object.0, side, t, l, n);
                let oim = crop(object.1, side, t, l, n);
                let (pre, pim): (Vec<f32>, Vec<f32>) = (0..n * n)
                    .map(|i| {
                        (
                            p.re[i] * ore[i] - p.im[i] * oim[i],
                            p.re[i] * oim[i] + p.im[i] * ore[i],
                        )
                    })
                    .unzip();
                let intensity = far_field_reference(&pre, &pim, n);
                amplitude.extend(intensity.iter().map(|v| v.sqrt()));
                // coords_relative = −(r − r̄), order [dx, dy].
                offsets.push(-(l as f32 - mc));
                offsets.push(-(t as f32 - mr));
            }
            // Truth at the group centre (centres are integers or half-integers; use the floor).
            let (ct, cl) = (mr.floor() as usize, mc.floor() as usize);
            truth_re.extend(crop(object.0, side, ct, cl, n));
            truth_im.extend(crop(object.1, side, ct, cl, n));
            centres.push((mr + n as f32 / 2.0, mc + n as f32 / 2.0));
            left += step;
        }
        top += step;
    }
    let c = gs * gs;
    let patterns = amplitude.len() / (n * n);
    let mean_total: f64 =
        amplitude.iter().map(|a| (*a as f64).powi(2)).sum::<f64>() / patterns as f64;
    let norm = (((n / 2) as f64).powi(2) / mean_total).sqrt() as f32;
    amplitude.iter_mut().for_each(|a| *a *= norm);
    SimScan {
        batch: GroupBatch {
            groups: patterns / c,
            channels: c,
            n,
            amplitude,
            offsets,
            object: Some((truth_re, truth_im)),
        },
        centres,
        intensity_scale: (nphotons.sqrt() / (n / 2) as f64) as f32,
        norm,
    }
}

/// The short-training recipe of the reconstruction tests: amplitude-MAE loss only (the 2023
/// ablation rows), batch 4, a constant learning rate, every group trained (no validation split,
/// no early stopping), no progress bar.
pub fn mae_training(nepochs: usize, learning_rate: f64, seed: u64) -> TrainingSpec {
    TrainingSpec {
        batch_size: 4,
        nepochs,
        learning_rate,
        validation_split: 0.0,
        early_stop_patience: None,
        scheduler: Scheduler::Constant,
        loss_weights: LossWeights {
            nll_weight: 0.0,
            mae_weight: 1.0,
            ..LossWeights::default()
        },
        seed,
        ..TrainingSpec::default()
    }
}

/// Mean SSIM with a 7×7 uniform window (skimage defaults, K1 0.01, K2 0.03, sample covariance).
pub fn ssim(a: &[f32], b: &[f32], side: usize, data_range: f32) -> f32 {
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    let w = 7usize;
    let np = (w * w) as f32;
    let mut total = 0.0f64;
    let mut count = 0usize;
    for r in 0..=side - w {
        for c in 0..=side - w {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f32, 0.0, 0.0, 0.0, 0.0);
            for i in 0..w {
                for j in 0..w {
                    let (x, y) = (a[(r + i) * side + c + j], b[(r + i) * side + c + j]);
                    sa += x;
                    sb += y;
                    saa += x * x;
                    sbb += y * y;
                    sab += x * y;
                }
            }
            let (ma, mb) = (sa / np, sb / np);
            let cov = np / (np - 1.0);
            let va = (saa / np - ma * ma) * cov;
            let vb = (sbb / np - mb * mb) * cov;
            let vab = (sab / np - ma * mb) * cov;
            let s = ((2.0 * ma * mb + c1) * (2.0 * vab + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            total += s as f64;
            count += 1;
        }
    }
    (total / count as f64) as f32
}

struct Collect(Vec<f32>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(
        &mut self,
        param: &burn::module::Param<burn::tensor::Tensor<D>>,
    ) {
        self.0
            .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
    }
}

/// Every float parameter of a module, in visiting order.
pub fn flat_weights<M: burn::module::Module>(module: &M) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}
