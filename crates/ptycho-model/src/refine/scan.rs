//! The measured scan as the whole-field refinement sees it: the diffraction amplitudes, where
//! each probe window sits on the object canvas (an integer corner plus a sub-pixel remainder
//! that moves the probe, not the object), and the canvas size.

use crate::error::ModelError;
use crate::physics::translate::shift_matrix;

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
}

impl FieldScan {
    /// Lays out `amplitude` (`[K, N, N]`) with probe centres `xy` (`x` = column, `y` = row, in
    /// object pixels; the window of `(x, y)` covers rows `y − N/2 ..` and columns `x − N/2 ..`).
    /// Canvas pixel `(0, 0)` is object pixel `(0, 0)`, so the result shares the data's object
    /// frame; a window reaching below 0 is refused with its index.
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
        let half = (n / 2) as f64;
        let (mut corners, mut fractions) = (Vec::with_capacity(k), Vec::with_capacity(k));
        let (mut rows, mut cols) = (0, 0);
        for (i, &(x, y)) in xy.iter().enumerate() {
            let (top, left) = (y - half, x - half);
            if !(top.is_finite() && left.is_finite()) || top < 0.0 || left < 0.0 {
                return Err(ModelError::setting(
                    "xcoords/ycoords",
                    format!("probe windows inside the object frame (centres >= N/2 = {half})"),
                    format!("position {i} at x {x}, y {y}"),
                ));
            }
            let (r0, c0) = (top.floor(), left.floor());
            corners.push((r0 as usize, c0 as usize));
            fractions.push(((top - r0) as f32, (left - c0) as f32));
            // One more pixel than the window so a sub-pixel shift never reads past the edge.
            rows = rows.max(r0 as usize + n + 1);
            cols = cols.max(c0 as usize + n + 1);
        }
        Ok(Self {
            n,
            amplitude,
            corners,
            fractions,
            canvas: (rows, cols),
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
        let total: f64 = self.amplitude.iter().map(|&a| (a as f64).powi(2)).sum();
        total / self.len() as f64
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

    /// Row and transposed column bilinear shift matrices `[B, N, N]` that move the probe by
    /// each pattern's sub-pixel remainder (`P' = T_y · P · T_xᵀ`).
    pub fn probe_shifts_of(&self, idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let n = self.n;
        let (mut rows, mut cols_t) = (Vec::new(), Vec::new());
        for &i in idx {
            let (dy, dx) = self.fractions[i];
            rows.extend(shift_matrix(n, dy));
            let cols = shift_matrix(n, dx);
            for c in 0..n {
                for r in 0..n {
                    cols_t.push(cols[r * n + c]);
                }
            }
        }
        (rows, cols_t)
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
        assert_eq!(scan.mean_counts(), 16.0);
    }

    #[test]
    fn a_window_outside_the_frame_is_refused_by_index() {
        let err = FieldScan::new(4, vec![1.0; 32], &[(2.0, 2.0), (1.5, 9.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("position 1") && err.contains("x 1.5"), "{err}");
        let err = FieldScan::new(4, vec![1.0; 31], &[(2.0, 2.0), (3.0, 3.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("31 values"), "{err}");
    }

    #[test]
    fn probe_shift_moves_content_by_the_remainder() {
        let n = 4;
        let scan = FieldScan::new(n, vec![0.0; 16], &[(2.25, 2.5)]).unwrap();
        let (rows, cols_t) = scan.probe_shifts_of(&[0]);
        // Row shift 0.5: output row 1 reads input rows 0 and 1 equally.
        assert_eq!(&rows[4..8], &[0.5, 0.5, 0.0, 0.0]);
        // Column shift 0.25, transposed: column 1 of Txᵀ is row 1 of Tx.
        let col1: Vec<f32> = (0..n).map(|r| cols_t[r * n + 1]).collect();
        assert_eq!(col1, vec![0.25, 0.75, 0.0, 0.0]);
    }
}
