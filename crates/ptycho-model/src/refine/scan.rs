//! The measured scan as the whole-field refinement sees it: the diffraction amplitudes, where
//! each probe window sits on the object canvas (an integer corner plus a sub-pixel remainder
//! that moves the probe, not the object), and the canvas size.

use crate::error::ModelError;

/// A scan on one object canvas: amplitudes in photon units (`sqrt(counts)`, zero frequency at
/// `N/2`) and the window of every pattern.
#[derive(Debug, Clone)]
pub struct FieldScan {
    /// Pattern side `N`.
    pub n: usize,
    /// `[K, N, N]` measured amplitudes, row-major.
    pub amplitude: Vec<f32>,
    /// Top-left canvas pixel `(row, col)` of each pattern's window.
    pub corners: Vec<(usize, usize)>,
    /// Sub-pixel remainder `(dy, dx)` in `[0, 1)` of each window: the probe is shifted by it.
    pub fractions: Vec<(f32, f32)>,
    /// Canvas `(rows, cols)`; every window fits.
    pub canvas: (usize, usize),
    /// Object coordinates `(x, y)` of canvas pixel `(0, 0)` (whole pixels, at most 0).
    pub origin: (f64, f64),
    /// Mean photon count per pattern, `mean_k Σ amplitude²` (computed once).
    mean_counts: f64,
}

impl FieldScan {
    /// Lays out `amplitude` (`[K, N, N]`) with probe centres `xy` (`x` = column, `y` = row, in
    /// object pixels; the window of `(x, y)` covers rows `y − N/2 ..` and columns `x − N/2 ..`).
    /// Canvas pixel `(0, 0)` is object pixel [`FieldScan::origin`]: `(0, 0)` when every window
    /// lies inside the object frame, so the result shares the data's frame, else the whole
    /// pixels the canvas had to grow by (a scan reaching past the frame's top or left edge).
    pub fn new(n: usize, amplitude: Vec<f32>, xy: &[(f64, f64)]) -> Result<Self, ModelError> {
        let k = xy.len();
        if k == 0 || amplitude.len() != k * n * n {
            return Err(ModelError::Shape {
                what: "refinement diffraction",
                expected: format!("{k} patterns of {n}x{n} (at least one)"),
                found: format!("{} values", amplitude.len()),
            });
        }
        if let Some(bad) = amplitude.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(ModelError::setting(
                "diffraction",
                "finite non-negative amplitudes",
                bad,
            ));
        }
        if let Some((i, (x, y))) = xy
            .iter()
            .enumerate()
            .find(|(_, (x, y))| !(x.is_finite() && y.is_finite()))
        {
            return Err(ModelError::setting(
                "xcoords/ycoords",
                "finite positions",
                format!("position {i} at x {x}, y {y}"),
            ));
        }
        let half = (n / 2) as f64;
        let lowest = |f: fn(&(f64, f64)) -> f64| {
            xy.iter().map(|p| (f(p) - half).floor()).fold(0.0, f64::min)
        };
        let (oy, ox) = (lowest(|p| p.1), lowest(|p| p.0));
        let (mut corners, mut fractions) = (Vec::with_capacity(k), Vec::with_capacity(k));
        let (mut rows, mut cols) = (0, 0);
        for &(x, y) in xy {
            let (top, left) = (y - half - oy, x - half - ox);
            let (r0, c0) = (top.floor(), left.floor());
            corners.push((r0 as usize, c0 as usize));
            fractions.push(((top - r0) as f32, (left - c0) as f32));
            // One more pixel than the window so a sub-pixel shift never reads past the edge.
            rows = rows.max(r0 as usize + n + 1);
            cols = cols.max(c0 as usize + n + 1);
        }
        let total: f64 = amplitude.iter().map(|&a| (a as f64).powi(2)).sum();
        Ok(Self {
            n,
            amplitude,
            corners,
            fractions,
            canvas: (rows, cols),
            origin: (ox, oy),
            mean_counts: total / k as f64,
        })
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.corners.len()
    }

    /// True when the scan holds no pattern (never, after [`FieldScan::new`]).
    pub fn is_empty(&self) -> bool {
        self.corners.is_empty()
    }

    /// Mean photon count per pattern, `mean_k Σ amplitude²`.
    pub fn mean_counts(&self) -> f64 {
        self.mean_counts
    }

    /// `fraction` of the mean intensity per detector pixel (the guard under square roots).
    pub fn intensity_floor(&self, fraction: f64) -> f32 {
        (fraction * self.mean_counts() / (self.n * self.n) as f64) as f32
    }

    /// Amplitudes of the patterns `idx`, `[B, N, N]` row-major.
    pub fn amplitudes_of(&self, idx: &[usize]) -> Vec<f32> {
        let per = self.n * self.n;
        let mut out = Vec::with_capacity(idx.len() * per);
        for &i in idx {
            out.extend_from_slice(&self.amplitude[i * per..(i + 1) * per]);
        }
        out
    }

    /// Illumination `Σ_k power` of the patterns `idx` on the canvas (row-major), with `power`
    /// (`N·N` values) placed at each window's integer corner.
    pub fn illumination_of(&self, idx: &[usize], power: &[f32]) -> Vec<f32> {
        let (n, (_, cols)) = (self.n, self.canvas);
        let mut out = vec![0.0f32; self.canvas.0 * cols];
        for &i in idx {
            let (r0, c0) = self.corners[i];
            for r in 0..n {
                let row = &mut out[(r0 + r) * cols + c0..(r0 + r) * cols + c0 + n];
                for (o, p) in row.iter_mut().zip(&power[r * n..(r + 1) * n]) {
                    *o += p;
                }
            }
        }
        out
    }

    /// Fourier phase ramps `[B, N, N]` (real and imaginary parts, unshifted FFT order) that
    /// move the probe by each pattern's sub-pixel remainder: `P' = IFFT(FFT(P) · ramp)`,
    /// `ramp = exp(−2πi (f_y·dy + f_x·dx))`. Unlike bilinear interpolation, which damps the
    /// high spatial frequencies a zone-plate probe carries, the Fourier shift is exact for a
    /// band-limited probe.
    pub fn probe_ramps_of(&self, idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let n = self.n;
        let freq: Vec<f64> = (0..n)
            .map(|k| {
                let k = if k < n.div_ceil(2) {
                    k as f64
                } else {
                    k as f64 - n as f64
                };
                k / n as f64
            })
            .collect();
        let (mut re, mut im) = (Vec::with_capacity(idx.len() * n * n), Vec::new());
        im.reserve(idx.len() * n * n);
        for &i in idx {
            let (dy, dx) = self.fractions[i];
            for fy in &freq {
                for fx in &freq {
                    let angle = -2.0 * std::f64::consts::PI * (fy * dy as f64 + fx * dx as f64);
                    re.push(angle.cos() as f32);
                    im.push(angle.sin() as f32);
                }
            }
        }
        (re, im)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_split_into_integer_corner_and_probe_shift() {
        let n = 4;
        let scan = FieldScan::new(n, vec![1.0; 2 * 16], &[(2.0, 2.0), (5.25, 3.5)]).unwrap();
        assert_eq!(scan.corners, vec![(0, 0), (1, 3)]);
        assert_eq!(scan.fractions, vec![(0.0, 0.0), (0.5, 0.25)]);
        assert_eq!(scan.canvas, (1 + 4 + 1, 3 + 4 + 1));
        assert_eq!(scan.origin, (0.0, 0.0));
        assert_eq!(scan.mean_counts(), 16.0);
    }

    #[test]
    fn a_scan_past_the_frame_edge_grows_the_canvas_and_bad_input_is_named() {
        let scan = FieldScan::new(4, vec![1.0; 32], &[(2.0, 2.0), (1.5, 9.0)]).unwrap();
        // The second window starts half a pixel left of the frame: the canvas starts one
        // whole pixel earlier and both windows move right by one.
        assert_eq!(scan.origin, (-1.0, 0.0));
        assert_eq!(scan.corners, vec![(0, 1), (7, 0)]);
        assert_eq!(scan.fractions[1], (0.0, 0.5));
        let err = FieldScan::new(4, vec![1.0; 32], &[(2.0, 2.0), (f64::NAN, 9.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("position 1") && err.contains("NaN"), "{err}");
        let err = FieldScan::new(4, vec![1.0; 31], &[(2.0, 2.0), (3.0, 3.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("31 values"), "{err}");
    }

    #[test]
    fn fourier_ramp_shifts_a_band_limited_probe_exactly() {
        // A single Fourier mode shifted by 0.25 px must equal the mode sampled 0.25 px earlier.
        let n = 8;
        let scan = FieldScan::new(n, vec![0.0; 64], &[(4.0, 4.25)]).unwrap();
        let (re, im) = scan.probe_ramps_of(&[0]);
        // dy = 0.25, dx = 0: at f_y = 1/8 the ramp is exp(−2πi/32).
        let angle = -2.0 * std::f32::consts::PI * 0.25 / 8.0;
        assert!((re[n] - angle.cos()).abs() < 1e-6 && (im[n] - angle.sin()).abs() < 1e-6);
        // f_y = −1/8 (index 7) takes the opposite angle; f_x leaves it alone.
        assert!(
            (im[7 * n + 3] + angle.sin()).abs() < 1e-6,
            "{}",
            im[7 * n + 3]
        );
    }
}
