//! Alignment of a stitched reconstruction with its ground truth before metrics (upstream
//! `ptycho/image/cropping.py::align_for_evaluation`): the ground truth is cropped to the scan
//! bounding box `[min(coord) − M/2, max(coord) + M/2)` (M = stitch crop size, coordinates
//! truncated to whole pixels as Python's `int()`), then both images are brought to a common shape.
//!
//! Two variants:
//! * [`align_for_evaluation`] is upstream's: the reconstruction and the cropped ground truth are
//!   centre-cropped to their common shape. This assumes the reconstruction canvas is centred on
//!   the bounding-box centre, which holds for symmetric scans only.
//! * [`align_stitched`] uses the object coordinates a [`StitchedObject`] carries (its `origin`)
//!   to cut *the same object region* out of both, so it is exact for any scan shape. It needs a
//!   canvas on the object's pixel grid ([`crate::CanvasAnchor::PixelGrid`]).
//!
//! Optional sub-pixel registration afterwards: [`crate::registration::register_and_align`].

use ndarray::{Array2, ArrayView2, s};
use serde::{Deserialize, Serialize};

use crate::crop::center_crop;
use crate::error::{EvalError, Result};
use crate::stitch::{ScanPosition, StitchedObject};

/// A half-open pixel rectangle `rows.0..rows.1, cols.0..cols.1` in object coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelBox {
    /// First and one-past-last row.
    pub rows: (usize, usize),
    /// First and one-past-last column.
    pub cols: (usize, usize),
}

impl PixelBox {
    /// `(rows, cols)` extent.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows.1 - self.rows.0, self.cols.1 - self.cols.0)
    }
}

/// The scan bounding box on an object of `object_shape`: rows
/// `[max(0, int(min y) − M/2), min(H, int(max y) + M/2))`, columns likewise.
pub fn scan_bounding_box(
    positions: &[ScanPosition],
    stitch_crop: usize,
    object_shape: (usize, usize),
) -> Result<PixelBox> {
    if positions.is_empty() {
        return Err(EvalError::InvalidParameter {
            what: "scan positions",
            expected: "at least one position".into(),
            found: "none".into(),
        });
    }
    if let Some((i, p)) = positions
        .iter()
        .enumerate()
        .find(|(_, p)| !(p.x.is_finite() && p.y.is_finite()))
    {
        return Err(EvalError::InvalidParameter {
            what: "scan position",
            expected: "finite coordinates".into(),
            found: format!("position {i} = (x {}, y {})", p.x, p.y),
        });
    }
    let r = (stitch_crop / 2) as i64;
    let fold = |f: fn(&ScanPosition) -> f64| {
        positions
            .iter()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (min_y, max_y) = fold(|p| p.y);
    let (min_x, max_x) = fold(|p| p.x);
    let (h, w) = (object_shape.0 as i64, object_shape.1 as i64);
    // Python int() truncates towards zero
    let start_row = (min_y.trunc() as i64 - r).max(0);
    let end_row = (max_y.trunc() as i64 + r).min(h);
    let start_col = (min_x.trunc() as i64 - r).max(0);
    let end_col = (max_x.trunc() as i64 + r).min(w);
    if start_row >= end_row || start_col >= end_col {
        return Err(EvalError::Degenerate {
            what: "scan bounding box",
            detail: format!(
                "rows {start_row}..{end_row}, cols {start_col}..{end_col} do not overlap the {h}x{w} object"
            ),
        });
    }
    Ok(PixelBox {
        rows: (start_row as usize, end_row as usize),
        cols: (start_col as usize, end_col as usize),
    })
}

/// Upstream `align_for_evaluation`: crop the ground truth to the scan bounding box, then
/// centre-crop both images to their common shape.
pub fn align_for_evaluation<A: Clone, B: Clone>(
    reconstruction: ArrayView2<'_, A>,
    ground_truth: ArrayView2<'_, B>,
    positions: &[ScanPosition],
    stitch_crop: usize,
) -> Result<(Array2<A>, Array2<B>)> {
    let bbox = scan_bounding_box(positions, stitch_crop, ground_truth.dim())?;
    let gt = ground_truth.slice(s![bbox.rows.0..bbox.rows.1, bbox.cols.0..bbox.cols.1]);
    let rows = reconstruction.nrows().min(gt.nrows());
    let cols = reconstruction.ncols().min(gt.ncols());
    Ok((
        center_crop(reconstruction, rows, cols)?.to_owned(),
        center_crop(gt, rows, cols)?.to_owned(),
    ))
}

/// A reconstruction and ground truth cut to the same object region.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedPair<A, B> {
    /// The reconstruction crop.
    pub reconstruction: Array2<A>,
    /// The ground-truth crop.
    pub ground_truth: Array2<B>,
    /// The object region both show.
    pub region: PixelBox,
}

/// Exact alignment of a stitched object with its ground truth: both are cut to the
/// intersection of the scan bounding box and the canvas, in object coordinates.
pub fn align_stitched<B: Clone>(
    stitched: &StitchedObject,
    ground_truth: ArrayView2<'_, B>,
    positions: &[ScanPosition],
    stitch_crop: usize,
) -> Result<AlignedPair<num_complex::Complex32, B>> {
    let origin = stitched.origin;
    if origin.x.fract() != 0.0 || origin.y.fract() != 0.0 {
        return Err(EvalError::InvalidParameter {
            what: "stitched canvas origin",
            expected: "whole-pixel coordinates (stitch with CanvasAnchor::PixelGrid)".into(),
            found: format!("(x {}, y {})", origin.x, origin.y),
        });
    }
    let bbox = scan_bounding_box(positions, stitch_crop, ground_truth.dim())?;
    let (ch, cw) = stitched.object.dim();
    let (oy, ox) = (origin.y as i64, origin.x as i64);
    let r0 = (bbox.rows.0 as i64).max(oy);
    let r1 = (bbox.rows.1 as i64).min(oy + ch as i64);
    let c0 = (bbox.cols.0 as i64).max(ox);
    let c1 = (bbox.cols.1 as i64).min(ox + cw as i64);
    if r0 >= r1 || c0 >= c1 {
        return Err(EvalError::Degenerate {
            what: "stitched alignment",
            detail: format!(
                "the canvas (rows {oy}..{}, cols {ox}..{}) does not overlap the scan bounding box {bbox:?}",
                oy + ch as i64,
                ox + cw as i64
            ),
        });
    }
    let region = PixelBox {
        rows: (r0 as usize, r1 as usize),
        cols: (c0 as usize, c1 as usize),
    };
    let rec = stitched
        .object
        .slice(s![
            (r0 - oy) as usize..(r1 - oy) as usize,
            (c0 - ox) as usize..(c1 - ox) as usize
        ])
        .to_owned();
    let gt = ground_truth
        .slice(s![
            region.rows.0..region.rows.1,
            region.cols.0..region.cols.1
        ])
        .to_owned();
    Ok(AlignedPair {
        reconstruction: rec,
        ground_truth: gt,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stitch::{CanvasAnchor, PatchWeighting, StitchGeometry, Stitcher};
    use num_complex::Complex32;

    #[test]
    fn bounding_box_truncates_like_python_int() {
        let pos = [ScanPosition::new(30.9, 20.2), ScanPosition::new(60.5, 41.7)];
        let b = scan_bounding_box(&pos, 20, (100, 100)).unwrap();
        assert_eq!(b.rows, (10, 51));
        assert_eq!(b.cols, (20, 70));
        let clipped = scan_bounding_box(&pos, 20, (45, 65)).unwrap();
        assert_eq!(clipped.rows, (10, 45));
        assert_eq!(clipped.cols, (20, 65));
        assert!(scan_bounding_box(&[], 20, (10, 10)).is_err());
    }

    #[test]
    fn upstream_alignment_centre_crops_to_the_common_shape() {
        let gt = Array2::from_shape_fn((100, 100), |(r, c)| (r * 1000 + c) as i64);
        let rec = Array2::from_shape_fn((36, 44), |(r, c)| (r * 1000 + c) as i64);
        let pos = [ScanPosition::new(30.0, 20.0), ScanPosition::new(60.0, 40.0)];
        // bbox rows 10..50 (40), cols 20..70 (50) -> common (36, 44)
        let (a, b) = align_for_evaluation(rec.view(), gt.view(), &pos, 20).unwrap();
        assert_eq!(a.dim(), (36, 44));
        assert_eq!(b.dim(), (36, 44));
        assert_eq!(a, rec);
        // gt crop starts at row 10 + (40-36)/2 = 12, col 20 + (50-44)/2 = 23
        assert_eq!(b[[0, 0]], 12 * 1000 + 23);
    }

    #[test]
    fn stitched_alignment_cuts_the_same_object_region() {
        // an asymmetric scan: the scan mean is not the bounding-box centre
        let obj = Array2::from_shape_fn((90, 90), |(r, c)| Complex32::new(r as f32, c as f32));
        let pos: Vec<ScanPosition> = [(30.0, 30.0), (40.0, 30.0), (50.0, 30.0), (70.0, 55.0)]
            .iter()
            .map(|&(x, y)| ScanPosition::new(x, y))
            .collect();
        let n = 32;
        let g = StitchGeometry::from_positions(pos.iter().copied(), n, 20, CanvasAnchor::PixelGrid)
            .unwrap();
        let mut st = Stitcher::new(g, PatchWeighting::Uniform).unwrap();
        for p in &pos {
            let patch = Array2::from_shape_fn((n, n), |(r, c)| {
                obj[[r + p.y as usize - n / 2, c + p.x as usize - n / 2]]
            });
            st.push(patch.view(), *p).unwrap();
        }
        let stitched = st.finish();
        let al = align_stitched(&stitched, obj.view(), &pos, 20).unwrap();
        assert_eq!(al.region.rows, (20, 65));
        assert_eq!(al.region.cols, (20, 80));
        assert_eq!(al.ground_truth[[0, 0]], Complex32::new(20.0, 20.0));
        // wherever the canvas is covered, the two crops show the same object pixel
        let (oy, ox) = (stitched.origin.y as usize, stitched.origin.x as usize);
        let mut covered = 0;
        for ((r, c), v) in al.reconstruction.indexed_iter() {
            let w = stitched.weight[[r + 20 - oy, c + 20 - ox]];
            if w > 0.5 {
                covered += 1;
                assert!((v - al.ground_truth[[r, c]]).norm() < 1e-4);
            }
        }
        // three overlapping windows (40 x 20 px) plus one separate window (20 x 20 px)
        assert_eq!(covered, 40 * 20 + 20 * 20);
        // upstream's centre crop is misaligned on this asymmetric scan
        let (a, b) = align_for_evaluation(stitched.object.view(), obj.view(), &pos, 20).unwrap();
        assert_ne!(
            a[[a.nrows() / 2, a.ncols() / 2]],
            b[[b.nrows() / 2, b.ncols() / 2]]
        );
    }

    #[test]
    fn fractional_origin_is_rejected() {
        let pos = [ScanPosition::new(30.5, 30.0), ScanPosition::new(40.0, 30.0)];
        let g = StitchGeometry::from_positions(pos, 32, 20, CanvasAnchor::ScanMean).unwrap();
        let st = Stitcher::new(g, PatchWeighting::Uniform).unwrap().finish();
        let gt = Array2::<f32>::zeros((80, 80));
        let err = align_stitched(&st, gt.view(), &pos, 20)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CanvasAnchor::PixelGrid"), "{err}");
    }
}
