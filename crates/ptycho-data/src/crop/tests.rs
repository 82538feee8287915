use std::f64::consts::PI;

use ndarray::{Array1, Array2, Array3, s};
use num_complex::{Complex, Complex32};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::simulate::far_field_intensity;

type C64 = Complex<f64>;

fn c32(v: C64) -> Complex32 {
    Complex32::new(v.re as f32, v.im as f32)
}

fn c64(v: Complex32) -> C64 {
    C64::new(f64::from(v.re), f64::from(v.im))
}

/// A complex trigonometric polynomial on an `h × w` grid: `base + Σ c_ab e^{2πi(a r/pr + b c/pc)}`
/// with random complex `c_ab` for `|a|, |b| <= band` (not Hermitian, so not symmetric).
fn trig_object(h: usize, w: usize, period: (f64, f64), band: i32, seed: u64) -> Array2<Complex32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = C64::from_polar(0.8, 0.3);
    let mut terms = Vec::new();
    for a in -band..=band {
        for b in -band..=band {
            let c = C64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)) * 0.02;
            terms.push((f64::from(a), f64::from(b), c));
        }
    }
    Array2::from_shape_fn((h, w), |(r, c)| {
        let v = terms.iter().fold(base, |acc, &(a, b, coef)| {
            let phase = 2.0 * PI * (a * r as f64 / period.0 + b * c as f64 / period.1);
            acc + coef * C64::from_polar(1.0, phase)
        });
        c32(v)
    })
}

/// A smooth off-centre Gaussian blob with a quadratic phase, band-limited to `|k| <= radius`
/// (unshifted signed frequencies of an `n × n` grid).
fn band_limited_probe(n: usize, radius: f64) -> Array2<Complex32> {
    let (cr, cc) = (n as f64 / 2.0 + 3.0, n as f64 / 2.0 - 5.0);
    let mut buf: Vec<C64> = (0..n * n)
        .map(|i| {
            let (r, c) = ((i / n) as f64 - cr, (i % n) as f64 - cc);
            let rho2 = r * r + c * c;
            C64::from_polar((-rho2 / (2.0 * 36.0)).exp(), 0.015 * rho2 + 0.1 * c)
        })
        .collect();
    fft2(&mut buf, n, n, false);
    let signed = |k: usize| {
        if k < n / 2 {
            k as f64
        } else {
            k as f64 - n as f64
        }
    };
    for (i, v) in buf.iter_mut().enumerate() {
        let (kr, kc) = (signed(i / n), signed(i % n));
        if kr * kr + kc * kc > radius * radius {
            *v = C64::new(0.0, 0.0);
        }
    }
    fft2(&mut buf, n, n, true);
    Array2::from_shape_fn((n, n), |(r, c)| c32(buf[r * n + c] / (n * n) as f64))
}

/// Object patch of size `npix` whose centre pixel `(npix/2, npix/2)` is at `(x, y)`.
fn patch(object: &Array2<Complex32>, x: usize, y: usize, npix: usize) -> Array2<Complex32> {
    let (r0, c0) = (y - npix / 2, x - npix / 2);
    object.slice(s![r0..r0 + npix, c0..c0 + npix]).to_owned()
}

/// `sqrt(fftshift(|fft2(P · O_patch, ortho)|²))`.
fn amplitude(probe: &Array2<Complex32>, obj_patch: &Array2<Complex32>) -> Array2<f64> {
    let psi = Array2::from_shape_fn(probe.dim(), |i| c64(probe[i]) * c64(obj_patch[i]));
    far_field_intensity(&psi).mapv(f64::sqrt)
}

/// A scan with the given detector size and object; diffraction `d[p, r, c] = p·1e4 + r·100 + c`.
fn scan_with(npix: usize, positions: &[(f64, f64)], object: Option<Array2<Complex32>>) -> ScanData {
    let n_pos = positions.len();
    let xs = Array1::from_iter(positions.iter().map(|p| p.0));
    let ys = Array1::from_iter(positions.iter().map(|p| p.1));
    ScanData {
        diffraction: Array3::from_shape_fn((n_pos, npix, npix), |(p, r, c)| {
            (p * 10_000 + r * 100 + c) as f32
        }),
        xcoords_start: &xs + 0.5,
        ycoords_start: &ys - 0.25,
        xcoords: xs,
        ycoords: ys,
        probe: Array2::from_elem((npix, npix), Complex32::new(1.0, 0.0)),
        object,
        scan_index: Array1::from_iter(0..n_pos as i64),
        y_patches: None,
    }
}

fn max_abs_diff(a: &Array2<Complex32>, b: &Array2<Complex32>) -> f32 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f32::max)
}

#[test]
fn crop_reproduces_the_coarse_forward_model() {
    let (big, n, f) = (64, 32, 2);
    // Object frequencies are multiples of 1/N (so each N-patch is N-periodic), |a|, |b| <= 4;
    // probe band radius 10: the exit wave fits in |k| <= 14 < n/2 = 16.
    let object = trig_object(128, 192, (big as f64, big as f64), 4, 7);
    let probe = band_limited_probe(big, 10.0);
    let positions = [(40, 40), (64, 70), (90, 88), (120, 52), (150, 96), (32, 32)];
    let n_pos = positions.len();
    let mut diffraction = Array3::zeros((n_pos, big, big));
    let mut y = Array3::zeros((n_pos, big, big));
    for (p, &(x, yy)) in positions.iter().enumerate() {
        let op = patch(&object, x, yy, big);
        diffraction
            .slice_mut(s![p, .., ..])
            .assign(&amplitude(&probe, &op).mapv(|v| v as f32));
        y.slice_mut(s![p, .., ..]).assign(&op);
    }
    let xs = Array1::from_iter(positions.iter().map(|p| p.0 as f64));
    let ys = Array1::from_iter(positions.iter().map(|p| p.1 as f64));
    let scan = ScanData {
        diffraction,
        xcoords: xs.clone(),
        ycoords: ys.clone(),
        xcoords_start: xs,
        ycoords_start: ys,
        probe: probe.clone(),
        object: Some(object),
        scan_index: Array1::from_iter(0..n_pos as i64),
        y_patches: Some(y),
    };
    let coarse = crop_detector(&scan, n).expect("crop");
    let obj_c = coarse.object.as_ref().expect("object kept");
    assert_eq!(obj_c.dim(), (64, 96));
    assert_eq!(coarse.probe.dim(), (n, n));

    // The probe relation P'(j) = f · P(f j).
    let pmax = probe.iter().map(|v| v.norm()).fold(0.0, f32::max);
    let expected_probe = Array2::from_shape_fn((n, n), |(r, c)| probe[[f * r, f * c]] * f as f32);
    let probe_err = max_abs_diff(&coarse.probe, &expected_probe) / (f as f32 * pmax);
    assert!(probe_err < 1e-6, "probe relation error {probe_err}");

    let (mut num, mut den, mut worst_patch) = (0.0f64, 0.0f64, 0.0f32);
    for (p, &(x, yy)) in positions.iter().enumerate() {
        let (xc, yc) = (coarse.xcoords[p], coarse.ycoords[p]);
        assert_eq!((xc, yc), (x as f64 / 2.0, yy as f64 / 2.0));
        let op = patch(obj_c, xc as usize, yc as usize, n);
        let model = amplitude(&coarse.probe, &op);
        let measured = coarse.diffraction.slice(s![p, .., ..]);
        for (m, d) in model.iter().zip(measured.iter()) {
            num += (m - f64::from(*d)).powi(2);
            den += f64::from(*d).powi(2);
        }
        let yp = coarse.y_patches.as_ref().expect("y kept");
        let yp = yp.slice(s![p, .., ..]).to_owned();
        worst_patch = worst_patch.max(max_abs_diff(&yp, &op));
    }
    let rel = (num / den).sqrt();
    assert!(rel < 1e-6, "coarse forward model relative error {rel}");
    assert!(
        worst_patch < 1e-6,
        "y_patches vs coarse object {worst_patch}"
    );
}

#[test]
fn crop_divides_every_position_by_the_factor() {
    let positions = [(10.0, 33.0), (71.5, 40.25), (200.0, 3.0)];
    for (big, n, f) in [(64usize, 32usize, 2.0), (128, 32, 4.0), (128, 16, 8.0)] {
        let coarse = crop_detector(&scan_with(big, &positions, None), n).expect("crop");
        for (p, &(x, y)) in positions.iter().enumerate() {
            assert_eq!(coarse.xcoords[p], x / f);
            assert_eq!(coarse.ycoords[p], y / f);
            assert_eq!(coarse.xcoords_start[p], (x + 0.5) / f);
            assert_eq!(coarse.ycoords_start[p], (y - 0.25) / f);
        }
        assert_eq!(coarse.scan_index.to_vec(), vec![0, 1, 2]);
        assert!(coarse.object.is_none() && coarse.y_patches.is_none());
    }
}

#[test]
fn crop_keeps_the_exact_central_window() {
    let scan = scan_with(64, &[(40.0, 40.0), (50.0, 45.0)], None);
    let coarse = crop_detector(&scan, 32).expect("crop");
    assert_eq!(coarse.diffraction.dim(), (2, 32, 32));
    // d[p, r, c] = p·1e4 + r·100 + c; the window starts at 64/2 − 32/2 = 16 on both axes.
    assert_eq!(coarse.diffraction[[0, 0, 0]], 1616.0);
    assert_eq!(coarse.diffraction[[0, 16, 16]], 3232.0); // zero frequency stays centred
    assert_eq!(coarse.diffraction[[1, 3, 29]], 10_000.0 + 1900.0 + 45.0);
    assert_eq!(coarse.diffraction[[1, 31, 0]], 10_000.0 + 4700.0 + 16.0);

    let scan = scan_with(128, &[(80.0, 90.0)], None);
    let coarse = crop_detector(&scan, 16).expect("crop");
    assert_eq!(coarse.diffraction.dim(), (1, 16, 16));
    assert_eq!(coarse.diffraction[[0, 2, 11]], (58 * 100 + 67) as f32);
    assert_eq!(coarse.diffraction[[0, 8, 8]], (64 * 100 + 64) as f32);
}

#[test]
fn crop_to_the_same_size_is_a_clone() {
    let scan = scan_with(64, &[(40.0, 40.0)], None);
    assert_eq!(crop_detector(&scan, 64).expect("no-op crop"), scan);
}

#[test]
fn crop_preserves_a_constant_object() {
    let value = Complex32::from_polar(0.8, 0.3);
    for (big, n, (h, w), expected) in [
        (64, 32, (101, 90), (50, 45)),
        (128, 32, (130, 135), (32, 33)),
    ] {
        let object = Array2::from_elem((h, w), value);
        let coarse =
            crop_detector(&scan_with(big, &[(70.0, 70.0)], Some(object)), n).expect("crop");
        let obj = coarse.object.expect("object kept");
        assert_eq!(obj.dim(), expected);
        let err = obj.iter().map(|v| (v - value).norm()).fold(0.0, f32::max);
        assert!(err < 1e-6, "constant object changed by {err}");
    }
}

#[test]
fn upsample_undoes_the_crop_of_a_band_limited_object() {
    // Frequencies up to 10 bins on 96 × 80: inside the coarse band of 48 × 40 (|k| < 20).
    let object = trig_object(96, 80, (96.0, 80.0), 10, 11);
    let coarse = crop_detector(&scan_with(64, &[(40.0, 40.0)], Some(object.clone())), 32)
        .expect("crop")
        .object
        .expect("object kept");
    assert_eq!(coarse.dim(), (48, 40));
    let back = upsample_object(&coarse, 2);
    assert_eq!(back.dim(), (96, 80));
    let err = max_abs_diff(&back, &object);
    assert!(err < 1e-6, "round trip error {err}");
}

#[test]
fn upsample_puts_coarse_pixel_j_on_fine_pixel_factor_j() {
    // A delta at coarse (3, 5) → its band-limited interpolant peaks at fine (6, 10) with value 1
    // and vanishes on every other coarse sample.
    let mut coarse = Array2::zeros((12, 20));
    coarse[[3, 5]] = Complex32::new(1.0, 0.0);
    let fine = upsample_object(&coarse, 2);
    assert_eq!(fine.dim(), (24, 40));
    let (argmax, _) =
        fine.indexed_iter()
            .map(|(i, v)| (i, v.norm()))
            .fold(
                ((0, 0), 0.0),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
    assert_eq!(argmax, (6, 10));
    assert!((fine[[6, 10]] - Complex32::new(1.0, 0.0)).norm() < 1e-6);

    // A smooth bump at coarse (3, 5) with factor 4 lands at fine (12, 20).
    let bump = Array2::from_shape_fn((16, 16), |(r, c)| {
        let d2 = (r as f32 - 3.0).powi(2) + (c as f32 - 5.0).powi(2);
        Complex32::new((-d2 / 4.0).exp(), 0.0)
    });
    let fine = upsample_object(&bump, 4);
    let (argmax, _) =
        fine.indexed_iter()
            .map(|(i, v)| (i, v.norm()))
            .fold(
                ((0, 0), 0.0),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
    assert_eq!(argmax, (12, 20));
}

#[test]
fn upsample_reproduces_every_sample_including_nyquist_content() {
    // Random data have energy in the even sizes' Nyquist bins; the split keeps every sample.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let coarse = Array2::from_shape_fn((10, 7), |_| {
        Complex32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0))
    });
    for factor in [2, 3] {
        let fine = upsample_object(&coarse, factor);
        assert_eq!(fine.dim(), (10 * factor, 7 * factor));
        let sampled = fine.slice(s![..;factor, ..;factor]).to_owned();
        let err = max_abs_diff(&sampled, &coarse);
        assert!(err < 1e-5, "factor {factor}: samples changed by {err}");
    }
    // A real alternating (Nyquist) pattern stays real and keeps its samples.
    let alt = Array2::from_shape_fn((8, 8), |(r, _)| {
        Complex32::new(if r % 2 == 0 { 1.0 } else { -1.0 }, 0.0)
    });
    let fine = upsample_object(&alt, 2);
    assert!(fine.iter().all(|v| v.im.abs() < 1e-6));
    // Fine rows 4 and 2 are coarse rows 2 (+1) and 1 (−1); the odd row between is cos(π/2) = 0.
    assert!((fine[[4, 3]].re - 1.0).abs() < 1e-6, "{}", fine[[4, 3]]);
    assert!((fine[[2, 3]].re + 1.0).abs() < 1e-6, "{}", fine[[2, 3]]);
    assert!(fine[[1, 0]].norm() < 1e-6, "{}", fine[[1, 0]]);
    assert_eq!(upsample_object(&alt, 1), alt);
    assert_eq!(upsample_object(&alt, 0).dim(), (0, 0));
}

fn parameter_error(scan: &ScanData, n: usize) -> (String, String) {
    match crop_detector(scan, n) {
        Err(e @ DataError::Parameter { name, .. }) => (name.to_string(), e.to_string()),
        other => panic!("expected a parameter error for n = {n}, got {other:?}"),
    }
}

#[test]
fn crop_errors_name_the_field_and_the_values() {
    let scan = scan_with(64, &[(40.0, 40.0)], None);
    let (name, msg) = parameter_error(&scan, 20);
    assert_eq!(name, "n");
    assert!(msg.contains("`n`") && msg.contains("power of two >= 16") && msg.ends_with("found 20"));
    assert!(!msg.ends_with('.'), "{msg}");

    let (name, msg) = parameter_error(&scan, 8);
    assert_eq!(name, "n");
    assert!(
        msg.contains("power of two >= 16") && msg.ends_with("found 8"),
        "{msg}"
    );

    let (name, msg) = parameter_error(&scan, 128);
    assert_eq!(name, "n");
    assert!(
        msg.contains("n <= N = 64") && msg.ends_with("found 128"),
        "{msg}"
    );

    let scan = scan_with(96, &[(60.0, 60.0)], None);
    let (name, msg) = parameter_error(&scan, 64);
    assert_eq!(name, "crop");
    assert!(
        msg.contains("`crop`")
            && msg.contains("divisible by n = 64")
            && msg.ends_with("found N = 96"),
        "{msg}"
    );
    // 96 / 32 = 3 is fine: the factor need not be a power of two.
    let coarse = crop_detector(&scan, 32).expect("crop by 3");
    assert_eq!(coarse.xcoords[0], 20.0);
}

#[test]
fn crop_rejects_an_inconsistent_scan() {
    let mut scan = scan_with(64, &[(40.0, 40.0)], None);
    scan.probe = Array2::zeros((32, 32));
    let err = crop_detector(&scan, 32).expect_err("probe shape mismatch");
    assert!(err.to_string().contains("probeGuess"), "{err}");
}
