//! Separable bilinear sub-pixel translation (TF `translate_xla` semantics) as small matrices.
//!
//! `out[y, x] = bilinear(img, x − dx, y − dy)`: content moves by `+d`; each of the four taps
//! that falls outside the image contributes zero ("zeros" fill per tap). Because the warp is a
//! pure shift it factorises: `out = Ty · img · Txᵀ` with one 1-D interpolation matrix per axis,
//! and per-tap zeroing equals the product of the 1-D masks. Padding before and cropping after the
//! translation are folded into the matrices, so the physics never materialises padded copies.

/// Row-major `len × len` matrix of the 1-D bilinear shift by `shift` pixels on an axis of
/// `len` pixels: row `i` interpolates the input at `i − shift`.
pub fn shift_matrix(len: usize, shift: f32) -> Vec<f32> {
    let mut m = vec![0.0f32; len * len];
    for i in 0..len {
        let src = i as f32 - shift;
        let i0 = src.floor();
        let frac = src - i0;
        let i0 = i0 as i64;
        for (tap, weight) in [(i0, 1.0 - frac), (i0 + 1, frac)] {
            if weight != 0.0 && tap >= 0 && (tap as usize) < len {
                m[i * len + tap as usize] += weight;
            }
        }
    }
    m
}

/// `canvas × patch` matrix (row-major) that zero-pads a `patch`-long axis symmetrically to
/// `canvas` and then shifts it by `shift` (reassembly of one patch onto the group canvas).
pub fn pad_then_shift(canvas: usize, patch: usize, shift: f32) -> Vec<f32> {
    let full = shift_matrix(canvas, shift);
    let border = (canvas - patch) / 2;
    let mut m = vec![0.0f32; canvas * patch];
    for i in 0..canvas {
        m[i * patch..(i + 1) * patch]
            .copy_from_slice(&full[i * canvas + border..i * canvas + border + patch]);
    }
    m
}

/// `patch × canvas` matrix (row-major) that shifts a `canvas`-long axis by `shift` and then
/// keeps its central `patch` pixels (extraction of one patch from the group canvas).
pub fn shift_then_crop(canvas: usize, patch: usize, shift: f32) -> Vec<f32> {
    let full = shift_matrix(canvas, shift);
    let border = (canvas - patch) / 2;
    full[border * canvas..(border + patch) * canvas].to_vec()
}

/// Applies `rows · img · colsᵀ` on the host (the canvas overlap counts, and a reference for
/// tests), skipping the zero coefficients of the sparse shift matrices.
/// `rows` is `r × h`, `img` is `h × w`, `cols` is `c × w`; the result is `r × c`.
pub fn apply_separable(rows: &[f32], img: &[f32], cols: &[f32], h: usize, w: usize) -> Vec<f32> {
    let r = rows.len() / h;
    let c = cols.len() / w;
    let mut tmp = vec![0.0f32; r * w];
    for i in 0..r {
        for k in 0..h {
            let a = rows[i * h + k];
            if a != 0.0 {
                for j in 0..w {
                    tmp[i * w + j] += a * img[k * w + j];
                }
            }
        }
    }
    // The shift matrices have one or two taps per row: visit only those (in order, so the sums
    // are the ones a dense product gives).
    let taps: Vec<Vec<(usize, f32)>> = cols
        .chunks_exact(w)
        .map(|row| {
            row.iter()
                .copied()
                .enumerate()
                .filter(|(_, v)| *v != 0.0)
                .collect()
        })
        .collect();
    let mut out = vec![0.0f32; r * c];
    for (out, tmp) in out.chunks_exact_mut(c).zip(tmp.chunks_exact(w)) {
        for (o, taps) in out.iter_mut().zip(&taps) {
            *o = taps.iter().map(|&(k, v)| tmp[k] * v).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bilinear_reference(img: &[f32], h: usize, w: usize, dx: f32, dy: f32) -> Vec<f32> {
        let tap = |y: i64, x: i64| -> f32 {
            if y < 0 || x < 0 || y >= h as i64 || x >= w as i64 {
                0.0
            } else {
                img[y as usize * w + x as usize]
            }
        };
        let mut out = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x as f32 - dx, y as f32 - dy);
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                out[y * w + x] = (1.0 - fx) * (1.0 - fy) * tap(y0, x0)
                    + fx * (1.0 - fy) * tap(y0, x0 + 1)
                    + (1.0 - fx) * fy * tap(y0 + 1, x0)
                    + fx * fy * tap(y0 + 1, x0 + 1);
            }
        }
        out
    }

    #[test]
    fn separable_shift_equals_per_tap_zero_filled_bilinear() {
        let (h, w) = (9, 7);
        let img: Vec<f32> = (0..h * w).map(|i| ((i * 37) % 11) as f32 - 3.0).collect();
        for (dx, dy) in [
            (0.0, 0.0),
            (1.0, -2.0),
            (0.3, -1.7),
            (-2.6, 0.45),
            (6.5, -8.2),
        ] {
            let out = apply_separable(&shift_matrix(h, dy), &img, &shift_matrix(w, dx), h, w);
            let expect = bilinear_reference(&img, h, w, dx, dy);
            for (a, b) in out.iter().zip(&expect) {
                assert!((a - b).abs() < 1e-5, "shift ({dx},{dy}): {a} vs {b}");
            }
        }
    }

    #[test]
    fn positive_shift_moves_content_towards_higher_indices() {
        let mut img = vec![0.0f32; 25];
        img[2 * 5 + 1] = 1.0; // row 2, column 1
        let out = apply_separable(&shift_matrix(5, 1.0), &img, &shift_matrix(5, 2.0), 5, 5);
        assert_eq!(out[3 * 5 + 3], 1.0, "dy = +1, dx = +2 moves (2,1) to (3,3)");
        assert_eq!(out.iter().sum::<f32>(), 1.0);
    }

    #[test]
    fn padding_and_cropping_fold_into_the_matrices() {
        let (m, n) = (10, 6);
        let patch: Vec<f32> = (0..n * n).map(|i| i as f32).collect();
        let mut padded = vec![0.0f32; m * m];
        for r in 0..n {
            for c in 0..n {
                padded[(r + 2) * m + c + 2] = patch[r * n + c];
            }
        }
        let (dx, dy) = (1.25, -0.5);
        let via_full = apply_separable(&shift_matrix(m, dy), &padded, &shift_matrix(m, dx), m, m);
        let folded = apply_separable(
            &pad_then_shift(m, n, dy),
            &patch,
            &pad_then_shift(m, n, dx),
            n,
            n,
        );
        for (a, b) in via_full.iter().zip(&folded) {
            assert!((a - b).abs() < 1e-4);
        }
        let cropped = apply_separable(
            &shift_then_crop(m, n, dy),
            &via_full,
            &shift_then_crop(m, n, dx),
            m,
            m,
        );
        let full = apply_separable(&shift_matrix(m, dy), &via_full, &shift_matrix(m, dx), m, m);
        for r in 0..n {
            for c in 0..n {
                assert!((cropped[r * n + c] - full[(r + 2) * m + c + 2]).abs() < 1e-4);
            }
        }
    }
}
