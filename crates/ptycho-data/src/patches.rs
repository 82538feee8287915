//! Ground-truth patch extraction from the full object (upstream `get_image_patches`, §3.6–3.7).
//!
//! A patch of size `N` extracted at scan position `(x, y)` has object point `(row y, col x)` at
//! patch pixel `(N/2, N/2)`: `patch[r, c] = object(r + y - N/2, c + x - N/2)`, bilinearly sampled,
//! each of the four corners contributing zero when it lies outside the object (TF's XLA
//! `translate` with `fill_mode='zeros'` on the zero-padded object). Integer positions copy exactly.
//! We sample the N×N window directly instead of translating the whole padded canvas.

use ndarray::{Array2, ArrayViewMut2};
use num_complex::Complex32;

/// Bilinear sample of `img` at fractional (row `sy`, col `sx`), zero outside.
pub fn sample_bilinear(img: &Array2<Complex32>, sy: f64, sx: f64) -> Complex32 {
    let (h, w) = img.dim();
    let y0 = sy.floor();
    let x0 = sx.floor();
    let wy = (sy - y0) as f32;
    let wx = (sx - x0) as f32;
    let mut acc = Complex32::new(0.0, 0.0);
    for (dy, fy) in [(0.0, 1.0 - wy), (1.0, wy)] {
        for (dx, fx) in [(0.0, 1.0 - wx), (1.0, wx)] {
            let weight = fy * fx;
            if weight == 0.0 {
                continue;
            }
            let (yy, xx) = (y0 + dy, x0 + dx);
            if yy >= 0.0 && xx >= 0.0 && (yy as usize) < h && (xx as usize) < w {
                acc += img[[yy as usize, xx as usize]] * weight;
            }
        }
    }
    acc
}

/// Writes the `N×N` patch centred at position `(x, y)` into `out`.
pub fn extract_patch_into(
    object: &Array2<Complex32>,
    x: f64,
    y: f64,
    mut out: ArrayViewMut2<'_, Complex32>,
) {
    let n = out.nrows();
    let half = (n / 2) as f64;
    for ((r, c), v) in out.indexed_iter_mut() {
        *v = sample_bilinear(object, r as f64 + y - half, c as f64 + x - half);
    }
}

/// The `N×N` patch centred at position `(x, y)`.
pub fn extract_patch(object: &Array2<Complex32>, x: f64, y: f64, n: usize) -> Array2<Complex32> {
    let mut out = Array2::zeros((n, n));
    extract_patch_into(object, x, y, out.view_mut());
    out
}
