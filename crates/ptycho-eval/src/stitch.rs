//! Whole-field stitching of per-pattern complex object patches (reference `model.md` §3.4,
//! upstream TF `reassemble_position`), streaming and linear in the number of patterns.
//!
//! Each N×N patch is cropped to its central M×M window (`[N/2 − M/2, N/2 − M/2 + M)`, M = 20 by
//! default) and placed on the canvas at its scan position with bilinear weights; real and
//! imaginary parts are summed, the (translated) window weights are summed separately, and the
//! result is `numerator / (weights + ε)`. Amplitude and phase are taken only after this complex
//! averaging.
//!
//! ## Position convention
//! A patch at scan position `(x, y)` has object pixel `(row y, col x)` at its pixel
//! `(N/2, N/2)`; content moves by `+offset` (TF `translate`: `out(x, y) = in(x − dx, y − dy)`),
//! so a larger x puts the patch further right. Canvas pixel `(r, c)` shows object point
//! `(origin.y + r, origin.x + c)` (see [`StitchedObject::origin`]).
//!
//! ## Relation to upstream
//! Upstream pads every crop to the full canvas and warps it (O(canvas) per pattern). Because
//! the crop is zero outside its window and the warp is a pure shift, gathering bilinear taps is
//! the same as scattering each window pixel onto its four neighbours with the same weights, so
//! this module only touches the (M+1)² pixels a pattern covers: O(M²) per pattern, memory O(canvas).
//! The canvas is square with side `M + 2·pad`, `pad = ceil(max |position − anchor|)` rounded up
//! to even, exactly as upstream. The anchor is either the scan mean (upstream,
//! [`CanvasAnchor::ScanMean`]) or the scan mean rounded to whole pixels
//! ([`CanvasAnchor::PixelGrid`], the default), which keeps canvas pixels on the object's pixel
//! grid so that the stitched image can be compared with a ground truth without resampling.
//!
//! `|P|²` weighting ([`PatchWeighting::ProbeIntensity`], Torch's barycentric route) multiplies
//! both the data and the window weight of every pixel by the probe intensity (cropped like the
//! patch, scaled to a maximum of 1), giving a confidence-weighted average.

use ndarray::{Array2, ArrayView2, ArrayView3};
use num_complex::{Complex, Complex32, Complex64};
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// Default size M of the central crop of every patch.
pub const DEFAULT_STITCH_CROP: usize = 20;
/// Overlap-normalisation ε of uniform stitching (upstream `1e-9`).
pub const UNIFORM_EPSILON: f64 = 1e-9;
/// Overlap-normalisation ε of `|P|²`-weighted stitching (Torch `1e-12`).
pub const PROBE_EPSILON: f64 = 1e-12;

/// A scan position in object pixels: `x` = column, `y` = row (the probe centre).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScanPosition {
    /// Column coordinate.
    pub x: f64,
    /// Row coordinate.
    pub y: f64,
}

impl ScanPosition {
    /// A position from its column (`x`) and row (`y`) coordinates.
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

impl From<[f64; 2]> for ScanPosition {
    /// `[x, y]`, the coordinate order of every project tensor (`coords_offsets`, `xcoords`).
    fn from([x, y]: [f64; 2]) -> Self {
        Self { x, y }
    }
}

/// Where the canvas is centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CanvasAnchor {
    /// The scan mean rounded to whole pixels: canvas pixels coincide with object pixels.
    #[default]
    PixelGrid,
    /// The exact scan mean (upstream TF): canvas pixels sit at the mean's sub-pixel phase.
    ScanMean,
}

/// Canvas layout planned from all scan positions before any patch arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct StitchGeometry {
    patch_size: usize,
    crop: usize,
    anchor: ScanPosition,
    pad: usize,
}

impl StitchGeometry {
    /// Plans the canvas for patches of side `patch_size` cropped to `crop` (M), from the scan
    /// positions (one pass; only running sums and extremes are kept).
    pub fn from_positions<I>(
        positions: I,
        patch_size: usize,
        crop: usize,
        anchor: CanvasAnchor,
    ) -> Result<Self>
    where
        I: IntoIterator<Item = ScanPosition>,
    {
        if crop == 0 || crop > patch_size {
            return Err(EvalError::InvalidParameter {
                what: "stitch crop size",
                expected: format!("between 1 and the patch size {patch_size}"),
                found: crop.to_string(),
            });
        }
        let (mut n, mut sx, mut sy) = (0usize, 0.0f64, 0.0f64);
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for (i, p) in positions.into_iter().enumerate() {
            if !p.x.is_finite() || !p.y.is_finite() {
                return Err(EvalError::InvalidParameter {
                    what: "scan position",
                    expected: "finite coordinates".into(),
                    found: format!("position {i} = (x {}, y {})", p.x, p.y),
                });
            }
            n += 1;
            sx += p.x;
            sy += p.y;
            for (k, v) in [p.x, p.y].into_iter().enumerate() {
                lo[k] = lo[k].min(v);
                hi[k] = hi[k].max(v);
            }
        }
        if n == 0 {
            return Err(EvalError::InvalidParameter {
                what: "scan positions",
                expected: "at least one position".into(),
                found: "none".into(),
            });
        }
        let mean = ScanPosition::new(sx / n as f64, sy / n as f64);
        let anchor = match anchor {
            CanvasAnchor::ScanMean => mean,
            CanvasAnchor::PixelGrid => ScanPosition::new(mean.x.round(), mean.y.round()),
        };
        let reach = (hi[0] - anchor.x)
            .max(anchor.x - lo[0])
            .max(hi[1] - anchor.y)
            .max(anchor.y - lo[1]);
        let mut pad = reach.max(0.0).ceil() as usize;
        pad += pad % 2;
        Ok(Self {
            patch_size,
            crop,
            anchor,
            pad,
        })
    }

    /// `(rows, cols)` of the canvas (square, side `M + 2·pad`).
    pub fn canvas_shape(&self) -> (usize, usize) {
        let side = self.crop + 2 * self.pad;
        (side, side)
    }

    /// Object coordinates of canvas pixel `(0, 0)`.
    pub fn origin(&self) -> ScanPosition {
        let half = (self.crop / 2) as f64 + self.pad as f64;
        ScanPosition::new(self.anchor.x - half, self.anchor.y - half)
    }

    /// Side N of the incoming patches.
    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    /// Side M of the central crop.
    pub fn crop(&self) -> usize {
        self.crop
    }

    /// Canvas margin around the crop (even).
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// The canvas centre in object coordinates (scan mean, possibly rounded).
    pub fn anchor(&self) -> ScanPosition {
        self.anchor
    }

    fn crop_start(&self) -> usize {
        self.patch_size / 2 - self.crop / 2
    }
}

/// How the pixels of a patch are weighted.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PatchWeighting {
    /// Every pixel of the M×M window counts once (upstream TF).
    #[default]
    Uniform,
    /// Pixels weighted by the probe intensity `|P|²` (N×N, scaled to max 1).
    ProbeIntensity(Array2<f64>),
}

impl PatchWeighting {
    /// `|P|²` weights from an N×N complex probe, scaled so that the maximum is 1.
    pub fn probe_intensity<T: Copy + Into<f64>>(probe: ArrayView2<'_, Complex<T>>) -> Result<Self> {
        let w = probe.map(|z| {
            let (re, im): (f64, f64) = (z.re.into(), z.im.into());
            re * re + im * im
        });
        let max = w.iter().copied().fold(0.0f64, f64::max);
        if !(max.is_finite() && max > 0.0) {
            return Err(EvalError::Degenerate {
                what: "probe weighting",
                detail: format!(
                    "the probe intensity must have a positive finite maximum, found {max}"
                ),
            });
        }
        Ok(Self::ProbeIntensity(w.mapv(|v| v / max)))
    }
}

/// The stitched whole-field object.
#[derive(Debug, Clone, PartialEq)]
pub struct StitchedObject {
    /// Complex average `Σ w·patch / (Σ w + ε)` as `(re, im)` f32 pairs.
    pub object: Array2<Complex32>,
    /// Accumulated window weight per pixel (overlap count for uniform weighting).
    pub weight: Array2<f32>,
    /// Object coordinates of canvas pixel `(0, 0)`.
    pub origin: ScanPosition,
    /// Number of patches stitched.
    pub patches: usize,
}

impl StitchedObject {
    /// `|object|`.
    pub fn amplitude(&self) -> Array2<f32> {
        self.object.mapv(|z| z.norm())
    }

    /// `atan2(Im, Re)` of the averaged object.
    pub fn phase(&self) -> Array2<f32> {
        self.object.mapv(|z| z.im.atan2(z.re))
    }
}

/// Streaming stitcher: push patches one at a time (or in batches), then [`Stitcher::finish`].
#[derive(Debug, Clone)]
pub struct Stitcher {
    geometry: StitchGeometry,
    window: Array2<f64>,
    epsilon: f64,
    numerator: Array2<Complex64>,
    denominator: Array2<f64>,
    patches: usize,
}

impl Stitcher {
    /// An empty canvas for `geometry`.
    pub fn new(geometry: StitchGeometry, weighting: PatchWeighting) -> Result<Self> {
        let (m, n, start) = (geometry.crop, geometry.patch_size, geometry.crop_start());
        let (window, epsilon) = match weighting {
            PatchWeighting::Uniform => (Array2::ones((m, m)), UNIFORM_EPSILON),
            PatchWeighting::ProbeIntensity(w) => {
                if w.dim() != (n, n) {
                    return Err(EvalError::ShapeMismatch {
                        what: "probe weights",
                        expected: (n, n),
                        found: w.dim(),
                    });
                }
                let crop = w
                    .slice(ndarray::s![start..start + m, start..start + m])
                    .to_owned();
                (crop, PROBE_EPSILON)
            }
        };
        let shape = geometry.canvas_shape();
        Ok(Self {
            geometry,
            window,
            epsilon,
            numerator: Array2::zeros(shape),
            denominator: Array2::zeros(shape),
            patches: 0,
        })
    }

    /// The planned canvas.
    pub fn geometry(&self) -> &StitchGeometry {
        &self.geometry
    }

    /// Number of patches accumulated so far.
    pub fn patches_pushed(&self) -> usize {
        self.patches
    }

    /// Adds one N×N patch at its scan position.
    pub fn push<T: Copy + Into<f64>>(
        &mut self,
        patch: ArrayView2<'_, Complex<T>>,
        position: ScanPosition,
    ) -> Result<()> {
        let g = &self.geometry;
        let n = g.patch_size;
        if patch.dim() != (n, n) {
            return Err(EvalError::ShapeMismatch {
                what: "stitched patch",
                expected: (n, n),
                found: patch.dim(),
            });
        }
        let tx = position.x - g.anchor.x;
        let ty = position.y - g.anchor.y;
        let limit = g.pad as f64 + 1e-6;
        if !(tx.abs() <= limit && ty.abs() <= limit) {
            return Err(EvalError::InvalidParameter {
                what: "stitched patch position",
                expected: format!(
                    "within {} px of the canvas anchor (x {}, y {}) planned from the scan positions",
                    g.pad, g.anchor.x, g.anchor.y
                ),
                found: format!("(x {}, y {})", position.x, position.y),
            });
        }
        let (m, start) = (g.crop, g.crop_start());
        let gy = g.pad as f64 + ty;
        let gx = g.pad as f64 + tx;
        let (y0, x0) = (gy.floor(), gx.floor());
        let (fy, fx) = (gy - y0, gx - x0);
        let (y0, x0) = (y0 as i64, x0 as i64);
        let taps_y = [(0i64, 1.0 - fy), (1, fy)];
        let taps_x = [(0i64, 1.0 - fx), (1, fx)];
        let (rows, cols) = self.numerator.dim();
        for i in 0..m {
            for j in 0..m {
                let z = patch[[start + i, start + j]];
                let v = Complex64::new(z.re.into(), z.im.into());
                let w = self.window[[i, j]];
                for &(dy, wy) in &taps_y {
                    let r = y0 + i as i64 + dy;
                    if wy == 0.0 || r < 0 || r >= rows as i64 {
                        continue;
                    }
                    for &(dx, wx) in &taps_x {
                        let c = x0 + j as i64 + dx;
                        if wx == 0.0 || c < 0 || c >= cols as i64 {
                            continue;
                        }
                        let k = wy * wx * w;
                        let idx = [r as usize, c as usize];
                        self.numerator[idx] += v * k;
                        self.denominator[idx] += k;
                    }
                }
            }
        }
        self.patches += 1;
        Ok(())
    }

    /// Adds a batch `(B, N, N)` of patches with their `B` positions.
    pub fn push_batch<T: Copy + Into<f64>>(
        &mut self,
        patches: ArrayView3<'_, Complex<T>>,
        positions: &[ScanPosition],
    ) -> Result<()> {
        if patches.len_of(ndarray::Axis(0)) != positions.len() {
            return Err(EvalError::InvalidParameter {
                what: "stitched batch",
                expected: format!(
                    "one position per patch ({} patches)",
                    patches.len_of(ndarray::Axis(0))
                ),
                found: format!("{} positions", positions.len()),
            });
        }
        for (patch, &pos) in patches.outer_iter().zip(positions) {
            self.push(patch, pos)?;
        }
        Ok(())
    }

    /// Normalises by the accumulated weights and returns the stitched object.
    pub fn finish(self) -> StitchedObject {
        let eps = self.epsilon;
        let object = ndarray::Zip::from(&self.numerator)
            .and(&self.denominator)
            .map_collect(|&z, &d| {
                let v = z / (d + eps);
                Complex32::new(v.re as f32, v.im as f32)
            });
        StitchedObject {
            object,
            weight: self.denominator.mapv(|d| d as f32),
            origin: self.geometry.origin(),
            patches: self.patches,
        }
    }
}

/// Stitches an iterator of `(patch, position)` pairs onto a canvas planned by `geometry`.
pub fn stitch_patches<'a, T, I>(
    patches: I,
    geometry: StitchGeometry,
    weighting: PatchWeighting,
) -> Result<StitchedObject>
where
    T: Copy + Into<f64> + 'a,
    I: IntoIterator<Item = (ArrayView2<'a, Complex<T>>, ScanPosition)>,
{
    let mut stitcher = Stitcher::new(geometry, weighting)?;
    for (patch, pos) in patches {
        stitcher.push(patch, pos)?;
    }
    Ok(stitcher.finish())
}
