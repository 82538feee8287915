//! Probe preparation on the host: the central disk mask and the mean-abs normalisation
//! (upstream `probe.set_probe`), plus the centre-square support mask of the generator.

use crate::error::ModelError;

/// A complex `n × n` probe as row-major real and imaginary parts.
#[derive(Debug, Clone, PartialEq)]
pub struct HostProbe {
    /// Side in pixels.
    pub n: usize,
    /// Real part, `n·n` values.
    pub re: Vec<f32>,
    /// Imaginary part, `n·n` values.
    pub im: Vec<f32>,
}

impl HostProbe {
    /// Wraps parts, checking their lengths.
    pub fn new(n: usize, re: Vec<f32>, im: Vec<f32>) -> Result<Self, ModelError> {
        for (what, part) in [("probe real part", &re), ("probe imaginary part", &im)] {
            if part.len() != n * n {
                return Err(ModelError::Shape {
                    what,
                    expected: format!("{n}x{n} = {} values", n * n),
                    found: format!("{} values", part.len()),
                });
            }
            if let Some(bad) = part.iter().find(|v| !v.is_finite()) {
                return Err(ModelError::setting("probeGuess", "finite values", bad));
            }
        }
        Ok(Self { n, re, im })
    }

    /// Upstream's default probe: a real disk `gaussian_filter((g⊗g > 0.5), σ=1) + 1e-9` with `g`
    /// a Gaussian window of length `n` and standard deviation `n / (0.7·π²)`.
    pub fn default_disk(n: usize) -> Self {
        let std = n as f64 / (0.7 * std::f64::consts::PI.powi(2));
        let centre = (n as f64 - 1.0) / 2.0;
        let g: Vec<f64> = (0..n)
            .map(|i| (-0.5 * ((i as f64 - centre) / std).powi(2)).exp())
            .collect();
        let binary: Vec<f64> = (0..n * n)
            .map(|i| if g[i / n] * g[i % n] > 0.5 { 1.0 } else { 0.0 })
            .collect();
        let smooth = gaussian_filter_reflect(&binary, n, 1.0);
        let re = smooth.iter().map(|v| (v + 1e-9) as f32).collect();
        Self {
            n,
            re,
            im: vec![0.0; n * n],
        }
    }

    /// `P / (probe_scale · mean_{n×n} |disk · P|)`, the probe the forward model uses.
    pub fn normalised(&self, probe_scale: f32) -> Result<Self, ModelError> {
        let factor = self.normalisation_factor(probe_scale)?;
        Ok(self.scaled(factor))
    }

    /// The factor [`HostProbe::normalised`] multiplies by, `1 / (probe_scale · mean|disk · P|)`;
    /// dividing a refined (normalised) probe by it gives it back in this probe's units.
    pub fn normalisation_factor(&self, probe_scale: f32) -> Result<f32, ModelError> {
        let disk = disk_mask(self.n);
        let total: f64 = (0..self.n * self.n)
            .map(|i| disk[i] as f64 * (self.re[i] as f64).hypot(self.im[i] as f64))
            .sum();
        let mean = total / (self.n * self.n) as f64;
        if mean.is_nan() || mean <= 0.0 {
            return Err(ModelError::setting(
                "probeGuess",
                "a probe with nonzero amplitude inside the central disk of diameter N/2",
                "zero amplitude there",
            ));
        }
        Ok((1.0 / (probe_scale as f64 * mean)) as f32)
    }

    /// Every value multiplied by `factor`.
    pub fn scaled(&self, factor: f32) -> Self {
        Self {
            n: self.n,
            re: self.re.iter().map(|v| v * factor).collect(),
            im: self.im.iter().map(|v| v * factor).collect(),
        }
    }
}

/// 1 where `sqrt((i−n/2+0.5)² + (j−n/2+0.5)²) < n/4` (integer n/4), else 0; row-major `n × n`.
pub fn disk_mask(n: usize) -> Vec<f32> {
    let half = n as f64 / 2.0;
    let radius = (n / 4) as f64;
    (0..n * n)
        .map(|k| {
            let (i, j) = ((k / n) as f64, (k % n) as f64);
            let r = ((i - half + 0.5).powi(2) + (j - half + 0.5).powi(2)).sqrt();
            if r < radius { 1.0 } else { 0.0 }
        })
        .collect()
}

/// 1 on the central `n/2 × n/2` square `[n/4, 3n/4)`, else 0 (upstream `CenterMaskLayer`).
pub fn center_square_mask(n: usize) -> Vec<f32> {
    let (lo, hi) = (n / 4, n / 4 + n / 2);
    (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            if (lo..hi).contains(&i) && (lo..hi).contains(&j) {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Separable Gaussian filter with scipy's defaults (truncate 4σ, `reflect` = half-sample
/// symmetric boundary), used only for the default probe.
fn gaussian_filter_reflect(img: &[f64], n: usize, sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let mut kernel: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x as f64 / sigma).powi(2)).exp())
        .collect();
    let sum: f64 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= sum);
    let reflect = |i: i64| -> usize {
        let len = n as i64;
        let period = 2 * len;
        let mut i = i.rem_euclid(period);
        if i >= len {
            i = period - 1 - i;
        }
        i as usize
    };
    let pass = |src: &[f64], along_rows: bool| -> Vec<f64> {
        let mut out = vec![0.0; n * n];
        for r in 0..n {
            for c in 0..n {
                out[r * n + c] = (-radius..=radius)
                    .map(|t| {
                        let w = kernel[(t + radius) as usize];
                        if along_rows {
                            w * src[reflect(r as i64 + t) * n + c]
                        } else {
                            w * src[r * n + reflect(c as i64 + t)]
                        }
                    })
                    .sum();
            }
        }
        out
    };
    pass(&pass(img, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_mask_has_diameter_n_over_2_and_is_centred() {
        let m = disk_mask(64);
        // Row 32 (just below centre): columns 16..48 lie strictly inside radius 16 except the ends.
        let row: Vec<f32> = m[32 * 64..33 * 64].to_vec();
        assert_eq!(row[15], 0.0);
        assert_eq!(row[16], 1.0);
        assert_eq!(row[47], 1.0);
        assert_eq!(row[48], 0.0);
        // Symmetric under the 180° rotation about the pixel-grid centre.
        for k in 0..64 * 64 {
            assert_eq!(m[k], m[64 * 64 - 1 - k]);
        }
        let area: f32 = m.iter().sum();
        assert!(
            (area - std::f32::consts::PI * 256.0).abs() < 40.0,
            "area {area}"
        );
    }

    #[test]
    fn normalised_probe_has_mean_abs_in_disk_of_one_over_scale() {
        let p = HostProbe::default_disk(64);
        let q = p.normalised(4.0).unwrap();
        let disk = disk_mask(64);
        let mean: f64 = (0..4096)
            .map(|i| disk[i] as f64 * (q.re[i] as f64).hypot(q.im[i] as f64))
            .sum::<f64>()
            / 4096.0;
        assert!((mean - 0.25).abs() < 1e-6, "mean {mean}");
    }

    #[test]
    fn zero_probe_is_rejected_with_a_clear_message() {
        let p = HostProbe::new(8, vec![0.0; 64], vec![0.0; 64]).unwrap();
        let err = p.normalised(4.0).unwrap_err().to_string();
        assert!(err.contains("probeGuess"), "{err}");
        let err = HostProbe::new(8, vec![0.0; 63], vec![0.0; 64])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("probe real part") && err.contains("63 values"),
            "{err}"
        );
    }
}
