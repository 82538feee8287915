//! Alignment steps of the reference scorer (`compare_to_reference.py`): the soft taper of the
//! illumination mask, the partially whitened phase correlation with its local upsampled-DFT
//! refinement, and the weighted least-squares removal of a linear phase ramp.
//!
//! These differ from [`crate::registration`] (skimage's algorithm, fully whitened, with a
//! different refinement grid) because the scorer's numbers must be reproducible bit for bit in
//! spirit: same weighting, same search window (±1.5 px), same step (1/20 px).

use ndarray::{Array2, Axis};
use num_complex::Complex64;

use crate::error::{EvalError, Result, ensure_same_shape};
use crate::fft2::{Direction, fft2_in_place, signed_frequency};

/// Width of the box blur of the soft mask taper.
pub const TAPER_WIDTH: usize = 8;
/// Upsampling factor of the registration refinement (1/20 px steps).
pub const REGISTRATION_UPSAMPLE: usize = 20;

/// `np.convolve(v, ones(width)/width, mode='same')` for `v.len() >= width`: NumPy centres an
/// even kernel with `width/2` taps before the output sample, so `out[i]` averages
/// `v[i − width/2 ..= i + width − width/2 − 1]` (zero outside). For shorter lanes NumPy
/// would return `width` samples; here the output keeps the lane's length.
pub fn box_blur_same(v: &[f64], width: usize) -> Vec<f64> {
    let n = v.len();
    let left = width / 2;
    let k = 1.0 / width as f64;
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(left);
            let hi = (i + width - left).min(n);
            v[lo..hi].iter().map(|x| x * k).sum()
        })
        .collect()
}

/// The script's `_soft(mask, width)`: a separable box blur applied twice (rows axis, then
/// columns axis, per pass) and multiplied by the mask, so the taper is zero outside the mask
/// and falls smoothly to it, keeping the mask edge out of the correlation peak.
pub fn soft_taper(mask: &Array2<bool>, width: usize) -> Array2<f64> {
    let mut m = mask.mapv(|b| if b { 1.0 } else { 0.0 });
    for _ in 0..2 {
        for axis in [Axis(0), Axis(1)] {
            for mut lane in m.lanes_mut(axis) {
                let v: Vec<f64> = lane.iter().copied().collect();
                let out = box_blur_same(&v, width);
                lane.iter_mut().zip(out).for_each(|(d, s)| *d = s);
            }
        }
    }
    m.zip_mut_with(mask, |v, &b| {
        if !b {
            *v = 0.0;
        }
    });
    m
}

/// First index of the largest `|z|` in row-major order (`np.argmax` of `np.abs`).
fn argmax_norm(a: &Array2<Complex64>) -> (usize, usize) {
    let mut best = ((0, 0), f64::NEG_INFINITY);
    for (idx, z) in a.indexed_iter() {
        let m = z.norm();
        if m > best.1 {
            best = (idx, m);
        }
    }
    best.0
}

/// `np.fft.fftfreq(n)[k]`, computed as NumPy does (`k_signed · (1/n)`).
fn fftfreq(k: usize, n: usize) -> f64 {
    signed_frequency(k, n) as f64 * (1.0 / n as f64)
}

/// The script's `register(ref, mov, up)`: the `(dy, dx)` such that shifting `moving` by it
/// (content towards larger indices for positive values, see
/// [`crate::registration::fourier_shift_complex`]) matches `reference`.
///
/// The cross-power spectrum is only partially whitened (`X / (sqrt|X| + 1e-12)`), a
/// compromise between the sharp peak of phase correlation and the robustness of plain
/// correlation on smooth objects. The integer peak of `|ifft2|` is refined by evaluating the
/// inverse DFT on a `3·up`-point grid, step `1/up`, over `[−1.5, 1.5)` px around it.
pub fn register_partially_whitened(
    reference: &Array2<Complex64>,
    moving: &Array2<Complex64>,
    up: usize,
) -> Result<(f64, f64)> {
    ensure_same_shape("reference registration", reference.dim(), moving.dim())?;
    let (ny, nx) = reference.dim();
    let mut x = reference.to_owned();
    let mut fm = moving.to_owned();
    fft2_in_place(&mut x, Direction::Forward);
    fft2_in_place(&mut fm, Direction::Forward);
    x.zip_mut_with(&fm, |p, m| {
        let v = *p * m.conj();
        *p = v / (v.norm().sqrt() + 1e-12);
    });
    let mut cc = x.clone();
    fft2_in_place(&mut cc, Direction::Inverse);
    let (py, px) = argmax_norm(&cc);
    let wrap = |p: usize, n: usize| ((p + n / 2) % n) as f64 - (n / 2) as f64;
    let d = (wrap(py, ny), wrap(px, nx));
    let off: Vec<f64> = (0..3 * up).map(|u| u as f64 / up as f64 - 1.5).collect();
    let tau = 2.0 * std::f64::consts::PI;
    let ey = Array2::from_shape_fn((off.len(), ny), |(u, k)| {
        Complex64::from_polar(1.0, tau * ((d.0 + off[u]) * fftfreq(k, ny)))
    });
    let ex = Array2::from_shape_fn((nx, off.len()), |(k, v)| {
        Complex64::from_polar(1.0, tau * (fftfreq(k, nx) * (d.1 + off[v])))
    });
    let local = ey.dot(&x).dot(&ex);
    let (qy, qx) = argmax_norm(&local);
    Ok((d.0 + off[qy], d.1 + off[qx]))
}

/// Solves the 3×3 system `m·c = r` by Gaussian elimination with partial pivoting; `None`
/// when a pivot is negligible against the matrix scale (rank-deficient system).
fn solve3(mut m: [[f64; 3]; 3], mut r: [f64; 3]) -> Option<[f64; 3]> {
    let scale = m.iter().flatten().fold(0.0f64, |s, v| s.max(v.abs()));
    if scale <= 0.0 {
        return None;
    }
    for col in 0..3 {
        let piv = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() <= 1e-12 * scale {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        for row in col + 1..3 {
            let f = m[row][col] / m[col][col];
            let pivot_row = m[col];
            for (dst, src) in m[row].iter_mut().zip(pivot_row).skip(col) {
                *dst -= f * src;
            }
            r[row] -= f * r[col];
        }
    }
    let mut c = [0.0; 3];
    for row in (0..3).rev() {
        let tail: f64 = (row + 1..3).map(|k| m[row][k] * c[k]).sum();
        c[row] = (r[row] - tail) / m[row][row];
    }
    Some(c)
}

/// The script's `remove_ramp(a, b, mask)`: fits `b·exp(i(g + c0 + cy·y + cx·x))` to `a` on
/// the mask and returns the corrected `b` (over the whole grid).
///
/// `g` is the global phase of `Σ a·b*`; the residual phase difference is then small and free
/// of wraps, so a weighted linear least-squares fit on `[1, y, x]` with weights `|a·b|`
/// (bright pixels have reliable phase) is enough. The 3×3 normal equations are solved in f64
/// with coordinates centred on the mask centroid for conditioning; for a full-rank system
/// this is the solution `np.linalg.lstsq` returns.
pub fn remove_phase_ramp(
    a: &Array2<Complex64>,
    b: &Array2<Complex64>,
    mask: &Array2<bool>,
) -> Result<Array2<Complex64>> {
    ensure_same_shape("phase ramp removal", a.dim(), b.dim())?;
    ensure_same_shape("phase ramp removal mask", a.dim(), mask.dim())?;
    let pts: Vec<(usize, usize)> = mask
        .indexed_iter()
        .filter_map(|(idx, &m)| m.then_some(idx))
        .collect();
    let prod = |&(y, x): &(usize, usize)| a[[y, x]] * b[[y, x]].conj();
    let g = pts.iter().map(prod).sum::<Complex64>().arg();
    let rot = Complex64::from_polar(1.0, -g);
    let n = pts.len().max(1) as f64;
    let y0 = pts.iter().map(|p| p.0 as f64).sum::<f64>() / n;
    let x0 = pts.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let (mut m, mut r) = ([[0.0; 3]; 3], [0.0; 3]);
    for p in &pts {
        let dphi = (prod(p) * rot).arg();
        let w2 = (a[*p] * b[*p]).norm().powi(2);
        let phi = [1.0, p.0 as f64 - y0, p.1 as f64 - x0];
        for i in 0..3 {
            r[i] += w2 * dphi * phi[i];
            for j in 0..3 {
                m[i][j] += w2 * phi[i] * phi[j];
            }
        }
    }
    let c = solve3(m, r).ok_or_else(|| EvalError::Degenerate {
        what: "phase ramp removal",
        detail: "the weighted fit is singular: the reference or the candidate is zero inside \
                 the mask, or the mask lies on one line"
            .into(),
    })?;
    let c0 = c[0] - c[1] * y0 - c[2] * x0;
    Ok(Array2::from_shape_fn(b.dim(), |(y, x)| {
        let phase = g + c0 + c[1] * y as f64 + c[2] * x as f64;
        b[[y, x]] * Complex64::from_polar(1.0, phase)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::fourier_shift_complex;

    #[test]
    fn box_blur_matches_numpy_same_mode() {
        // np.convolve(e5, ones(8)/8, 'same') over 12 samples: 0.125 at indices 2..=9
        let mut v = vec![0.0; 12];
        v[5] = 1.0;
        let out = box_blur_same(&v, 8);
        for (i, o) in out.iter().enumerate() {
            let e = if (2..=9).contains(&i) { 0.125 } else { 0.0 };
            assert_eq!(*o, e, "index {i}: {out:?}");
        }
    }

    #[test]
    fn taper_is_zero_outside_and_below_one_at_the_edge() {
        let mask = Array2::from_shape_fn((40, 40), |(r, c)| (10..30).contains(&r) && c >= 8);
        let t = soft_taper(&mask, TAPER_WIDTH);
        assert!(
            t.indexed_iter()
                .all(|((r, c), &v)| mask[[r, c]] || v == 0.0)
        );
        assert!((t[[20, 25]] - 1.0).abs() < 1e-12);
        assert!(t[[10, 25]] > 0.0 && t[[10, 25]] < 0.5);
    }

    #[test]
    fn registration_returns_the_shift_that_maps_moving_onto_reference() {
        let reference = Array2::from_shape_fn((48, 40), |(r, c)| {
            let (y, x) = (r as f64 - 20.0, c as f64 - 17.0);
            let g = (-(y * y + 2.0 * x * x) / 30.0).exp()
                + 0.6 * (-((y - 6.0).powi(2)) / 5.0 - (x + 4.0).powi(2) / 9.0).exp();
            Complex64::new(g, 0.3 * g * g)
        });
        let moving = fourier_shift_complex(reference.view(), 1.35, -2.6);
        let (dy, dx) = register_partially_whitened(&reference, &moving, 20).unwrap();
        assert!(
            (dy + 1.35).abs() < 0.03 && (dx - 2.6).abs() < 0.03,
            "{dy} {dx}"
        );
    }

    #[test]
    fn ramp_removal_recovers_a_linear_phase() {
        let a = Array2::from_shape_fn((24, 30), |(r, c)| {
            Complex64::from_polar(1.0 + 0.1 * ((r * c) % 7) as f64, 0.05 * r as f64)
        });
        let b = Array2::from_shape_fn(a.dim(), |(r, c)| {
            a[[r, c]] * Complex64::from_polar(0.5, 2.9 + 0.07 * r as f64 - 0.04 * c as f64)
        });
        let mask = Array2::from_shape_fn(a.dim(), |(r, c)| r > 2 && c > 3 && r + c < 40);
        let fixed = remove_phase_ramp(&a, &b, &mask).unwrap();
        for (f, z) in fixed.iter().zip(a.iter()) {
            assert!((f - z * 0.5).norm() < 1e-9, "{f} {z}");
        }
        let zero = Array2::<Complex64>::zeros(a.dim());
        let e = remove_phase_ramp(&a, &zero, &mask).unwrap_err();
        assert!(e.to_string().contains("singular"), "{e}");
    }
}
