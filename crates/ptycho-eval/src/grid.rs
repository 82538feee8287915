//! Grid stitching for the regular-grid simulated benchmark (reference `model.md` §3.5,
//! upstream `data_preprocessing.stitch_data` / `get_clipped_object`); this is how the 2023
//! paper's tables were produced.
//!
//! The simulated test object is scanned with "outer" windows of side `bigN = N + (gs−1)·offset`
//! on a regular grid of stride `outer_offset/2`. Each group's N×N output (centred on its window)
//! is clipped to its central `outer_offset/2` square and the clips are tiled row-major into an
//! `n_seg × n_seg` mosaic. The ground truth is clipped consistently by [`clip_ground_truth`].
//!
//! Upstream slices `[left:-right]`, which is empty when `right == 0`; here a zero border means
//! "keep everything" (the intended behaviour).

use ndarray::{Array2, ArrayView2, ArrayView3, s};
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// Border and clip sizes of `get_clip_sizes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridClip {
    /// Pixels removed from the left/top of every group output (`ceil((N − outer/2)/2)`).
    pub border_left: usize,
    /// Pixels removed from the right/bottom of every group output (`floor(...)`).
    pub border_right: usize,
    /// Pixels removed from the left/top of the ground truth.
    pub clip_left: usize,
    /// Pixels removed from the right/bottom of the ground truth.
    pub clip_right: usize,
}

/// Geometry of a grid scan: patch size `n`, `gridsize`, inner stride `offset`, outer stride
/// parameter `outer_offset` (the window stride is `outer_offset / 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridScan {
    /// Patch side N.
    pub n: usize,
    /// Group side gs.
    pub gridsize: usize,
    /// Inner stride between the gs×gs patches of a group.
    pub offset: usize,
    /// Twice the stride between outer windows.
    pub outer_offset: usize,
}

impl GridScan {
    /// Side of an outer window, `N + (gs−1)·offset`.
    pub fn big_n(&self) -> usize {
        self.n + (self.gridsize.max(1) - 1) * self.offset
    }

    /// Stride between outer windows, `outer_offset / 2`.
    pub fn stride(&self) -> usize {
        self.outer_offset / 2
    }

    /// Upstream `get_clip_sizes`.
    pub fn clip_sizes(&self) -> Result<GridClip> {
        let stride = self.stride();
        if stride == 0 || stride > self.n {
            return Err(EvalError::InvalidParameter {
                what: "grid outer_offset",
                expected: format!("between 2 and {} (2·N)", 2 * self.n),
                found: self.outer_offset.to_string(),
            });
        }
        let border = (self.n as f64 - self.outer_offset as f64 / 2.0) / 2.0;
        let clip = border + (((self.gridsize.max(1) - 1) * self.offset) / 2) as f64;
        Ok(GridClip {
            border_left: border.ceil() as usize,
            border_right: border.floor() as usize,
            clip_left: clip.ceil() as usize,
            clip_right: clip.floor() as usize,
        })
    }

    /// Number of outer windows along an object side (`extract_patches`, VALID padding).
    pub fn windows_along(&self, object_side: usize) -> usize {
        if object_side < self.big_n() || self.stride() == 0 {
            0
        } else {
            (object_side - self.big_n()) / self.stride() + 1
        }
    }
}

/// Tiles the group outputs of one image, `(n_seg², N, N)` in row-major window order, into the
/// `n_seg·(N − border_left − border_right)` square mosaic.
pub fn stitch_grid<T: Clone>(outputs: ArrayView3<'_, T>, scan: &GridScan) -> Result<Array2<T>> {
    let (count, h, w) = outputs.dim();
    if h != scan.n || w != scan.n {
        return Err(EvalError::ShapeMismatch {
            what: "grid group output",
            expected: (scan.n, scan.n),
            found: (h, w),
        });
    }
    let n_seg = (count as f64).sqrt().round() as usize;
    if n_seg == 0 || n_seg * n_seg != count {
        return Err(EvalError::InvalidParameter {
            what: "grid group outputs",
            expected: "a square number of outputs (n_seg × n_seg windows)".into(),
            found: count.to_string(),
        });
    }
    let clip = scan.clip_sizes()?;
    let tile = scan.n - clip.border_left - clip.border_right;
    let side = n_seg * tile;
    let first = outputs[[0, 0, 0]].clone();
    let mut out = Array2::from_elem((side, side), first);
    for (k, patch) in outputs.outer_iter().enumerate() {
        let (gr, gc) = (k / n_seg, k % n_seg);
        let src = patch.slice(s![
            clip.border_left..scan.n - clip.border_right,
            clip.border_left..scan.n - clip.border_right
        ]);
        out.slice_mut(s![gr * tile..(gr + 1) * tile, gc * tile..(gc + 1) * tile])
            .assign(&src);
    }
    Ok(out)
}

/// Upstream `get_clipped_object`: drops the trailing `extra = (side − bigN) mod (outer/2)`
/// rows and columns, then `clip_left` / `clip_right` from the edges, so that the result lines up
/// pixel for pixel with [`stitch_grid`]'s mosaic.
pub fn clip_ground_truth<T: Clone>(full: ArrayView2<'_, T>, scan: &GridScan) -> Result<Array2<T>> {
    let (h, w) = full.dim();
    if h != w {
        return Err(EvalError::ShapeMismatch {
            what: "grid ground truth (must be square)",
            expected: (h, h),
            found: (h, w),
        });
    }
    let clip = scan.clip_sizes()?;
    if h < scan.big_n() {
        return Err(EvalError::TooSmall {
            what: "grid ground truth",
            need: format!("the outer window side {}", scan.big_n()),
            found: (h, w),
        });
    }
    let extra = (h - scan.big_n()) % scan.stride();
    let kept = h - extra;
    if clip.clip_left + clip.clip_right >= kept {
        return Err(EvalError::TooSmall {
            what: "grid ground truth",
            need: format!(
                "more than {} pixels per side",
                clip.clip_left + clip.clip_right
            ),
            found: (h, w),
        });
    }
    Ok(full
        .slice(s![
            clip.clip_left..kept - clip.clip_right,
            clip.clip_left..kept - clip.clip_right
        ])
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    const LINES_GS2: GridScan = GridScan {
        n: 64,
        gridsize: 2,
        offset: 4,
        outer_offset: 20,
    };

    #[test]
    fn clip_sizes_of_the_paper_geometry() {
        let c = LINES_GS2.clip_sizes().unwrap();
        // border (64 - 10) / 2 = 27; clip 27 + (1*4)//2 = 29
        assert_eq!(
            (c.border_left, c.border_right, c.clip_left, c.clip_right),
            (27, 27, 29, 29)
        );
        let gs1 = GridScan {
            gridsize: 1,
            ..LINES_GS2
        };
        let c1 = gs1.clip_sizes().unwrap();
        assert_eq!((c1.clip_left, c1.clip_right), (27, 27));
        let odd = GridScan {
            outer_offset: 18,
            ..LINES_GS2
        };
        let co = odd.clip_sizes().unwrap();
        // (64 - 9) / 2 = 27.5 -> 28 left, 27 right
        assert_eq!((co.border_left, co.border_right), (28, 27));
    }

    #[test]
    fn mosaic_and_ground_truth_line_up_for_the_392_px_test_object() {
        for gs in [1usize, 2] {
            let scan = GridScan {
                gridsize: gs,
                ..LINES_GS2
            };
            let n_seg = scan.windows_along(392);
            assert_eq!(n_seg, 33);
            let gt = Array2::<f32>::zeros((392, 392));
            let clipped = clip_ground_truth(gt.view(), &scan).unwrap();
            assert_eq!(clipped.dim(), (330, 330), "gridsize {gs}");
            assert_eq!(n_seg * scan.stride(), 330);
        }
    }

    #[test]
    fn gridsize_two_outputs_centred_on_their_windows_line_up_with_the_clip() {
        // bigN = 20 windows at stride 4; a group output is the N = 16 square centred on its
        // window, i.e. offset by (bigN - N) / 2 = 2 from the window corner
        let scan = GridScan {
            n: 16,
            gridsize: 2,
            offset: 4,
            outer_offset: 8,
        };
        let obj = Array2::from_shape_fn((40, 40), |(r, c)| (1000 * r + c) as i64);
        let n_seg = scan.windows_along(40);
        assert_eq!(n_seg, 6);
        let mut outs = Array3::<i64>::zeros((n_seg * n_seg, 16, 16));
        for k in 0..n_seg * n_seg {
            let (y0, x0) = ((k / n_seg) * 4 + 2, (k % n_seg) * 4 + 2);
            outs.slice_mut(s![k, .., ..])
                .assign(&obj.slice(s![y0..y0 + 16, x0..x0 + 16]));
        }
        let mosaic = stitch_grid(outs.view(), &scan).unwrap();
        let gt = clip_ground_truth(obj.view(), &scan).unwrap();
        assert_eq!(mosaic.dim(), (24, 24));
        assert_eq!(mosaic, gt);
    }

    #[test]
    fn tiles_are_placed_row_major_from_each_centre() {
        // 2 x 2 windows of an object where value = 1000 * row + col: window (i, j) starts at
        // (i * stride, j * stride); its output pixel (r, c) shows object (i*s + r, j*s + c)
        let scan = GridScan {
            n: 8,
            gridsize: 1,
            offset: 4,
            outer_offset: 8,
        };
        let s = scan.stride();
        let obj = Array2::from_shape_fn((12, 12), |(r, c)| (1000 * r + c) as i64);
        let mut outs = Array3::<i64>::zeros((4, 8, 8));
        for k in 0..4 {
            let (i, j) = (k / 2, k % 2);
            outs.slice_mut(s![k, .., ..])
                .assign(&obj.slice(s![i * s..i * s + 8, j * s..j * s + 8]));
        }
        let mosaic = stitch_grid(outs.view(), &scan).unwrap();
        let gt = clip_ground_truth(obj.view(), &scan).unwrap();
        assert_eq!(mosaic.dim(), (8, 8));
        assert_eq!(mosaic, gt);
        assert_eq!(mosaic[[0, 0]], 2 * 1000 + 2);
        let bad = Array3::<i64>::zeros((3, 8, 8));
        assert!(
            stitch_grid(bad.view(), &scan)
                .unwrap_err()
                .to_string()
                .contains("square number")
        );
    }
}
