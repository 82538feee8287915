//! Whole-field stitching: sign convention with an asymmetric object, exact recovery from the
//! object's own patches, equality with a brute-force transcription of upstream TF
//! `reassemble_position` (full-canvas bilinear warp per patch, per-tap zero fill), probe
//! weighting and streaming.

use ndarray::{Array2, Array3, ArrayView2, s};
use num_complex::{Complex32, Complex64};
use ptycho_eval::{
    CanvasAnchor, PatchWeighting, ScanPosition, StitchGeometry, Stitcher, stitch_patches,
};

const N: usize = 32;

/// An asymmetric complex test object: amplitude ramps differently along x and y, an "L" mark
/// near the top-left, and a phase that varies with both axes.
fn asymmetric_object(h: usize, w: usize) -> Array2<Complex32> {
    Array2::from_shape_fn((h, w), |(r, c)| {
        let mut amp = 0.5 + 0.004 * c as f32 + 0.011 * r as f32;
        if (20..34).contains(&r) && (25..28).contains(&c)
            || (31..34).contains(&r) && (25..36).contains(&c)
        {
            amp += 1.0;
        }
        let ph = 0.3 * ((r as f32) * 0.13).sin() + 0.02 * c as f32;
        Complex32::from_polar(amp, ph)
    })
}

/// The reference patch extraction (`data.md` §3.6) at integer positions:
/// `patch[r, c] = obj[r + y − N/2, c + x − N/2]`, zero outside the object.
fn extract(obj: &Array2<Complex32>, p: ScanPosition) -> Array2<Complex32> {
    let (h, w) = obj.dim();
    Array2::from_shape_fn((N, N), |(r, c)| {
        let (y, x) = (
            r as i64 + p.y as i64 - N as i64 / 2,
            c as i64 + p.x as i64 - N as i64 / 2,
        );
        if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
            obj[[y as usize, x as usize]]
        } else {
            Complex32::new(0.0, 0.0)
        }
    })
}

fn grid_positions(x0: f64, y0: f64, nx: usize, ny: usize, step: f64) -> Vec<ScanPosition> {
    let mut v = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            v.push(ScanPosition::new(
                x0 + step * i as f64,
                y0 + step * j as f64,
            ));
        }
    }
    v
}

fn stitch_uniform(
    patches: &[Array2<Complex32>],
    positions: &[ScanPosition],
    crop: usize,
    anchor: CanvasAnchor,
) -> ptycho_eval::StitchedObject {
    let geometry =
        StitchGeometry::from_positions(positions.iter().copied(), N, crop, anchor).unwrap();
    stitch_patches(
        patches
            .iter()
            .map(|p| p.view())
            .zip(positions.iter().copied()),
        geometry,
        PatchWeighting::Uniform,
    )
    .unwrap()
}

#[test]
fn stitching_own_patches_recovers_the_asymmetric_object() {
    let obj = asymmetric_object(80, 96);
    // 7 x 5 scan, step 9 px (< M = 20, so windows overlap), asymmetric extent in x and y
    let positions = grid_positions(22.0, 24.0, 7, 5, 9.0);
    let patches: Vec<_> = positions.iter().map(|&p| extract(&obj, p)).collect();
    let st = stitch_uniform(&patches, &positions, 20, CanvasAnchor::PixelGrid);
    // mean (49, 42) -> reach max(|22-49|, |76-49|, |24-42|, |60-42|) = 27 -> pad 28, side 76
    assert_eq!(st.object.dim(), (76, 76));
    assert_eq!(st.origin, ScanPosition::new(49.0 - 38.0, 42.0 - 38.0));
    let (ox, oy) = (st.origin.x as i64, st.origin.y as i64);
    let mut covered = 0;
    for ((r, c), &v) in st.object.indexed_iter() {
        let w = st.weight[[r, c]];
        let (y, x) = (r as i64 + oy, c as i64 + ox);
        if w > 0.5 {
            covered += 1;
            let truth = obj[[y as usize, x as usize]];
            assert!(
                (v - truth).norm() < 1e-5,
                "canvas ({r}, {c}) = object ({y}, {x})"
            );
            // 9 px grid, 20 px windows: 1 (scan edge) to 3 windows per axis cover a pixel
            assert!([1.0, 2.0, 3.0, 4.0, 6.0, 9.0].contains(&w), "weight {w}");
        } else {
            assert_eq!(w, 0.0);
            assert_eq!(v, Complex32::new(0.0, 0.0));
        }
    }
    // covered region = [22-10, 76+10) x [24-10, 60+10) = 74 x 56 pixels
    assert_eq!(covered, 74 * 56);
    // the "L" mark sits where the object has it: rows 20..34, cols 25..28 -> canvas rows
    // 20-4 .., cols 25-11 ..; a sign error in x or y would move it
    let amp = st.amplitude();
    assert!(amp[[(25 - oy) as usize, (26 - ox) as usize]] > 1.4);
    assert!(amp[[(25 - oy) as usize, (30 - ox) as usize]] < 1.4);
}

#[test]
fn positions_from_coordinate_pairs_are_x_then_y() {
    let p = ScanPosition::from([3.5, -2.0]);
    assert_eq!((p.x, p.y), (3.5, -2.0));
}

#[test]
fn mirrored_positions_do_not_recover_the_object() {
    // guards the test above: feeding positions with the wrong x sign must fail to recover
    let obj = asymmetric_object(80, 96);
    let positions = grid_positions(22.0, 24.0, 7, 5, 9.0);
    let patches: Vec<_> = positions.iter().map(|&p| extract(&obj, p)).collect();
    let mirrored: Vec<_> = positions
        .iter()
        .map(|p| ScanPosition::new(98.0 - p.x, p.y))
        .collect();
    let st = stitch_uniform(&patches, &mirrored, 20, CanvasAnchor::PixelGrid);
    let (ox, oy) = (st.origin.x as i64, st.origin.y as i64);
    let worst = st
        .object
        .indexed_iter()
        .filter(|((r, c), _)| st.weight[[*r, *c]] > 0.5)
        .map(|((r, c), v)| (v - obj[[(r as i64 + oy) as usize, (c as i64 + ox) as usize]]).norm())
        .fold(0.0f32, f32::max);
    assert!(worst > 0.5, "{worst}");
}

/// Upstream TF `reassemble_position`, transcribed literally: crop, pad to the full canvas,
/// translate every padded crop by `+(position − mean)` with a gather-based bilinear warp whose
/// out-of-range taps contribute zero, sum, and divide by the warped ones plus 1e-9.
fn tf_reassemble_position(
    patches: &[Array2<Complex32>],
    positions: &[ScanPosition],
    m: usize,
) -> Array2<Complex64> {
    let k = positions.len() as f64;
    let mean = (
        positions.iter().map(|p| p.x).sum::<f64>() / k,
        positions.iter().map(|p| p.y).sum::<f64>() / k,
    );
    let max = positions
        .iter()
        .flat_map(|p| [(p.x - mean.0).abs(), (p.y - mean.1).abs()])
        .fold(0.0f64, f64::max);
    let mut pad = max.ceil() as usize;
    pad += pad % 2;
    let side = m + 2 * pad;
    let warp = |img: &Array2<Complex64>, dx: f64, dy: f64| {
        let tap = |y: i64, x: i64| {
            if y < 0 || x < 0 || y >= side as i64 || x >= side as i64 {
                Complex64::new(0.0, 0.0)
            } else {
                img[[y as usize, x as usize]]
            }
        };
        Array2::from_shape_fn((side, side), |(r, c)| {
            let (sy, sx) = (r as f64 - dy, c as f64 - dx);
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = (sy - y0, sx - x0);
            let (y0, x0) = (y0 as i64, x0 as i64);
            tap(y0, x0) * ((1.0 - fx) * (1.0 - fy))
                + tap(y0, x0 + 1) * (fx * (1.0 - fy))
                + tap(y0 + 1, x0) * ((1.0 - fx) * fy)
                + tap(y0 + 1, x0 + 1) * (fx * fy)
        })
    };
    let mut numer = Array2::<Complex64>::zeros((side, side));
    let mut denom = Array2::<Complex64>::zeros((side, side));
    let start = N / 2 - m / 2;
    for (patch, p) in patches.iter().zip(positions) {
        let mut padded = Array2::<Complex64>::zeros((side, side));
        let mut ones = Array2::<Complex64>::zeros((side, side));
        for i in 0..m {
            for j in 0..m {
                let z = patch[[start + i, start + j]];
                padded[[pad + i, pad + j]] = Complex64::new(z.re as f64, z.im as f64);
                ones[[pad + i, pad + j]] = Complex64::new(1.0, 0.0);
            }
        }
        numer += &warp(&padded, p.x - mean.0, p.y - mean.1);
        denom += &warp(&ones, p.x - mean.0, p.y - mean.1);
    }
    Array2::from_shape_fn((side, side), |idx| numer[idx] / (denom[idx].re + 1e-9))
}

#[test]
fn subpixel_positions_match_upstream_reassemble_position() {
    let obj = asymmetric_object(70, 70);
    let positions: Vec<ScanPosition> = [
        (20.3, 25.7),
        (31.9, 22.15),
        (44.5, 30.05),
        (27.25, 41.6),
        (40.8, 46.35),
        (35.0, 35.0),
    ]
    .iter()
    .map(|&(x, y)| ScanPosition::new(x, y))
    .collect();
    // arbitrary patch content is fine: the comparison is between two stitchers
    let patches: Vec<_> = positions
        .iter()
        .map(|p| extract(&obj, ScanPosition::new(p.x.round(), p.y.round())))
        .collect();
    for m in [20usize, 15] {
        let reference = tf_reassemble_position(&patches, &positions, m);
        let st = stitch_uniform(&patches, &positions, m, CanvasAnchor::ScanMean);
        assert_eq!(st.object.dim(), reference.dim(), "M = {m}");
        for (idx, v) in st.object.indexed_iter() {
            let want = reference[idx];
            let got = Complex64::new(v.re as f64, v.im as f64);
            assert!(
                (got - want).norm() < 1e-5,
                "M = {m} pixel {idx:?}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn subpixel_stitching_of_a_linear_object_is_exact_inside_each_window() {
    // bilinear placement reproduces linear functions exactly away from window edges
    let f = |y: f64, x: f64| Complex64::new(0.2 + 0.01 * x - 0.02 * y, 0.03 * y + 0.005 * x);
    let p = ScanPosition::new(40.37, 33.81);
    let patch = Array2::from_shape_fn((N, N), |(r, c)| {
        let z = f(
            p.y + r as f64 - (N / 2) as f64,
            p.x + c as f64 - (N / 2) as f64,
        );
        Complex32::new(z.re as f32, z.im as f32)
    });
    let geometry = StitchGeometry::from_positions(
        [ScanPosition::new(38.0, 35.0), p],
        N,
        20,
        CanvasAnchor::PixelGrid,
    )
    .unwrap();
    let mut stitcher = Stitcher::new(geometry, PatchWeighting::Uniform).unwrap();
    stitcher.push(patch.view(), p).unwrap();
    let st = stitcher.finish();
    let mut checked = 0;
    for ((r, c), v) in st.object.indexed_iter() {
        if (st.weight[[r, c]] - 1.0).abs() < 1e-6 {
            let want = f(st.origin.y + r as f64, st.origin.x + c as f64);
            assert!((v.re as f64 - want.re).abs() < 1e-5 && (v.im as f64 - want.im).abs() < 1e-5);
            checked += 1;
        }
    }
    assert_eq!(checked, 19 * 19);
}

#[test]
fn probe_weighting_is_a_weighted_average() {
    let obj = asymmetric_object(64, 64);
    let positions = grid_positions(24.0, 24.0, 3, 3, 8.0);
    let patches: Vec<_> = positions.iter().map(|&p| extract(&obj, p)).collect();
    let probe = Array2::from_shape_fn((N, N), |(r, c)| {
        let d2 = (r as f32 - 16.0).powi(2) + (c as f32 - 16.0).powi(2);
        Complex32::from_polar((-d2 / 60.0).exp(), 0.1 * r as f32)
    });
    let weighting = PatchWeighting::probe_intensity(probe.view()).unwrap();
    let geometry =
        StitchGeometry::from_positions(positions.iter().copied(), N, 20, CanvasAnchor::PixelGrid)
            .unwrap();
    // identical underlying object: any weighted average recovers it where weights are not tiny
    let st = stitch_patches(
        patches
            .iter()
            .map(|p| p.view())
            .zip(positions.iter().copied()),
        geometry.clone(),
        weighting.clone(),
    )
    .unwrap();
    let (ox, oy) = (st.origin.x as i64, st.origin.y as i64);
    for ((r, c), v) in st.object.indexed_iter() {
        if st.weight[[r, c]] > 1e-3 {
            let truth = obj[[(r as i64 + oy) as usize, (c as i64 + ox) as usize]];
            assert!((v - truth).norm() < 1e-4);
        }
    }
    // centre pixel of the middle scan point: the weight is the sum of |P|^2 (max-normalised)
    // of the windows that cover it, hand-computed here
    let centre = ((32 - oy) as usize, (32 - ox) as usize);
    let intensity = |r: i64, c: i64| (-(((r - 16).pow(2) + (c - 16).pow(2)) as f32) / 30.0).exp();
    let mut expected = 0.0f32;
    for p in &positions {
        let (pr, pc) = (32 - p.y as i64 + 16, 32 - p.x as i64 + 16);
        if (6..26).contains(&pr) && (6..26).contains(&pc) {
            expected += intensity(pr, pc);
        }
    }
    assert!(
        (st.weight[centre] - expected).abs() < 1e-5,
        "{} vs {expected}",
        st.weight[centre]
    );
    // with different patch contents the result leans towards the patch whose probe is brighter
    let mut a = Stitcher::new(geometry.clone(), weighting).unwrap();
    let bright = Array2::from_elem((N, N), Complex32::new(1.0, 0.0));
    let dark = Array2::from_elem((N, N), Complex32::new(0.0, 0.0));
    a.push(bright.view(), ScanPosition::new(32.0, 32.0))
        .unwrap();
    a.push(dark.view(), ScanPosition::new(24.0, 32.0)).unwrap();
    let res = a.finish();
    // at object column 32 the first window's probe is at its centre, the second 8 px off
    let w1 = intensity(16, 16);
    let w2 = intensity(16, 24);
    let got = res.object[[(32 - oy) as usize, (32 - ox) as usize]].re;
    assert!((got - w1 / (w1 + w2)).abs() < 1e-5, "{got}");
}

#[test]
fn batch_push_equals_single_pushes_and_errors_name_the_problem() {
    let obj = asymmetric_object(64, 64);
    let positions = grid_positions(20.0, 26.0, 4, 2, 7.0);
    let mut batch = Array3::<Complex32>::zeros((positions.len(), N, N));
    for (i, &p) in positions.iter().enumerate() {
        batch.slice_mut(s![i, .., ..]).assign(&extract(&obj, p));
    }
    let geometry =
        StitchGeometry::from_positions(positions.iter().copied(), N, 20, CanvasAnchor::PixelGrid)
            .unwrap();
    let mut one = Stitcher::new(geometry.clone(), PatchWeighting::Uniform).unwrap();
    one.push_batch(batch.view(), &positions).unwrap();
    assert_eq!(one.patches_pushed(), positions.len());
    let mut two = Stitcher::new(geometry.clone(), PatchWeighting::Uniform).unwrap();
    for (i, &p) in positions.iter().enumerate() {
        let patch: ArrayView2<'_, Complex32> = batch.slice(s![i, .., ..]);
        two.push(patch, p).unwrap();
    }
    assert_eq!(one.finish(), two.finish());

    let mut st = Stitcher::new(geometry.clone(), PatchWeighting::Uniform).unwrap();
    let small = Array2::<Complex32>::zeros((16, 16));
    let err = st.push(small.view(), positions[0]).unwrap_err().to_string();
    assert_eq!(
        err,
        "stitched patch: shapes differ, expected (32, 32) (rows, cols), found (16, 16)"
    );
    let patch = Array2::<Complex32>::zeros((N, N));
    let err = st
        .push(patch.view(), ScanPosition::new(200.0, 30.0))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("stitched patch position: expected within"),
        "{err}"
    );
    let err = st
        .push_batch(batch.view(), &positions[..3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 positions"), "{err}");
    let err =
        StitchGeometry::from_positions(positions.iter().copied(), N, 40, CanvasAnchor::PixelGrid)
            .unwrap_err()
            .to_string();
    assert_eq!(
        err,
        "stitch crop size: expected between 1 and the patch size 32, found 40"
    );
    let err = StitchGeometry::from_positions(std::iter::empty(), N, 20, CanvasAnchor::PixelGrid)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least one position"), "{err}");
    let nan = [ScanPosition::new(f64::NAN, 1.0)];
    assert!(StitchGeometry::from_positions(nan, N, 20, CanvasAnchor::PixelGrid).is_err());
    let zero_probe = Array2::<Complex32>::zeros((N, N));
    assert!(PatchWeighting::probe_intensity(zero_probe.view()).is_err());
}
