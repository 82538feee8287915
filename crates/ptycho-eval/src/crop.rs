//! Cropping helpers of the evaluation pipeline: the fixed border trim of `eval_reconstruction`
//! (`trim`, legacy `offset/2` = 2 px per edge) and centre crops to a common shape.

use ndarray::{ArrayView2, s};

use crate::error::{EvalError, Result};

/// Border removed from every edge before metrics: `offset / 2` with the legacy `offset = 4`.
pub const DEFAULT_TRIM_BORDER: usize = 2;

/// Removes `border` pixels from every edge (upstream `trim`, `arr[b:-b, b:-b]`).
///
/// `border = 0` returns the image unchanged (upstream would return an empty array for
/// `offset = 0` because of the `-0` slice; that is not the intended behaviour).
pub fn trim_border<'a, A>(image: ArrayView2<'a, A>, border: usize) -> Result<ArrayView2<'a, A>> {
    let (h, w) = image.dim();
    if 2 * border >= h || 2 * border >= w {
        return Err(EvalError::TooSmall {
            what: "trim border",
            need: format!("more than {} pixels per side", 2 * border),
            found: (h, w),
        });
    }
    Ok(image.slice_move(s![border..h - border, border..w - border]))
}

/// Centre-crops to `(rows, cols)`: start index `(size - target) / 2` on each axis, as
/// upstream `center_crop_spatial`.
pub fn center_crop<'a, A>(
    image: ArrayView2<'a, A>,
    rows: usize,
    cols: usize,
) -> Result<ArrayView2<'a, A>> {
    let (h, w) = image.dim();
    if rows == 0 || cols == 0 || rows > h || cols > w {
        return Err(EvalError::InvalidParameter {
            what: "centre crop target",
            expected: format!("between (1, 1) and the image shape ({h}, {w})"),
            found: format!("({rows}, {cols})"),
        });
    }
    let r0 = (h - rows) / 2;
    let c0 = (w - cols) / 2;
    Ok(image.slice_move(s![r0..r0 + rows, c0..c0 + cols]))
}

/// Centre-crops the largest square (FRC needs square images): upstream `frc_cutoffs`.
pub fn center_crop_square<'a, A>(image: ArrayView2<'a, A>) -> Result<ArrayView2<'a, A>> {
    let (h, w) = image.dim();
    let side = h.min(w);
    center_crop(image, side, side)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn numbered(h: usize, w: usize) -> Array2<f64> {
        Array2::from_shape_fn((h, w), |(r, c)| (r * 100 + c) as f64)
    }

    #[test]
    fn trim_removes_two_pixels_per_edge() {
        let a = numbered(8, 10);
        let t = trim_border(a.view(), DEFAULT_TRIM_BORDER).unwrap();
        assert_eq!(t.dim(), (4, 6));
        assert_eq!(t[[0, 0]], 202.0);
        assert_eq!(t[[3, 5]], 507.0);
    }

    #[test]
    fn trim_zero_is_identity_and_too_large_is_an_error() {
        let a = numbered(5, 5);
        assert_eq!(trim_border(a.view(), 0).unwrap(), a.view());
        let err = trim_border(a.view(), 3).unwrap_err();
        assert!(err.to_string().contains("trim border"), "{err}");
    }

    #[test]
    fn center_crop_uses_floor_start() {
        let a = numbered(7, 9);
        let c = center_crop(a.view(), 4, 4).unwrap();
        // start row (7-4)/2 = 1, start col (9-4)/2 = 2
        assert_eq!(c[[0, 0]], 102.0);
        assert_eq!(c[[3, 3]], 405.0);
        let sq = center_crop_square(a.view()).unwrap();
        assert_eq!(sq.dim(), (7, 7));
        assert_eq!(sq[[0, 0]], 1.0);
        assert!(center_crop(a.view(), 8, 2).is_err());
    }
}
