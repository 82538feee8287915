use std::f64::consts::PI;

use ndarray::{Array1, Array2, Array3, s};
use num_complex::{Complex, Complex32};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::simulate::far_field_intensity;

type C64 = Complex<f64>;

fn c64(v: Complex32) -> C64 {
    C64::new(f64::from(v.re), f64::from(v.im))
}

/// Integer amplitude of the test pattern: asymmetric in `r` and `c`, different per pattern, and
/// exact in `f32`/`f64` (so block sums of its squares are exact too).
fn amp(p: usize, r: usize, c: usize) -> f64 {
    (1 + 5 * p + 3 * r + 7 * c) as f64
}

/// A scan whose every array says where its values came from: diffraction `amp(p, r, c)`, probe
/// `r + i c`, `y_patches` `(1000 p + r) + i c`.
fn indexed_scan(big: usize, n_pos: usize) -> ScanData {
    let xs = Array1::from_iter((0..n_pos).map(|p| 40.0 + 7.5 * p as f64));
    let ys = Array1::from_iter((0..n_pos).map(|p| 50.25 - 3.0 * p as f64));
    ScanData {
        diffraction: Array3::from_shape_fn((n_pos, big, big), |(p, r, c)| amp(p, r, c) as f32),
        xcoords_start: &xs + 0.5,
        ycoords_start: &ys - 0.25,
        xcoords: xs,
        ycoords: ys,
        probe: Array2::from_shape_fn((big, big), |(r, c)| Complex32::new(r as f32, c as f32)),
        object: Some(Array2::from_shape_fn((150, 170), |(r, c)| {
            Complex32::new(r as f32, -(c as f32))
        })),
        scan_index: Array1::from_iter((0..n_pos as i64).map(|i| 10 * i)),
        y_patches: Some(Array3::from_shape_fn((n_pos, big, big), |(p, r, c)| {
            Complex32::new((1000 * p + r) as f32, c as f32)
        })),
    }
}

#[test]
fn bin_sums_exact_blocks_with_zero_frequency_at_the_centre() {
    for (big, f) in [(128usize, 2usize), (128, 4), (96, 3), (64, 2)] {
        let n = big / f;
        let scan = indexed_scan(big, 3);
        let binned = bin_detector(&scan, f).expect("bin");
        let d = &binned.scan.diffraction;
        assert_eq!(d.dim(), (3, n, n));
        for p in 0..3 {
            let (mut fine_total, mut coarse_total) = (0.0, 0.0);
            for r in 0..n {
                for c in 0..n {
                    // Coarse (r, c) is the block of fine rows [f r, f r + f), cols [f c, f c + f).
                    let mut sum = 0.0;
                    for dr in 0..f {
                        for dc in 0..f {
                            sum += amp(p, f * r + dr, f * c + dc).powi(2);
                        }
                    }
                    assert_eq!(
                        d[[p, r, c]],
                        sum.sqrt() as f32,
                        "N {big} f {f} ({p},{r},{c})"
                    );
                    fine_total += sum;
                    coarse_total += f64::from(d[[p, r, c]]).powi(2);
                }
            }
            // Photon count of the pattern: the same up to the f32 rounding of the amplitudes.
            let rel = (coarse_total - fine_total).abs() / fine_total;
            assert!(rel < 1e-7, "N {big} f {f}: photon total changed by {rel}");
        }
    }

    // Hand-computed blocks (N = 128, f = 2): coarse (32, 32) = fine rows/cols {64, 65}, and an
    // off-diagonal block that a transpose or a one-pixel shift of the blocks would change.
    let binned = bin_detector(&indexed_scan(128, 2), 2).expect("bin");
    let d = &binned.scan.diffraction;
    // amp(0, ·, ·): (64,64) 641, (64,65) 648, (65,64) 644, (65,65) 651.
    assert_eq!(d[[0, 32, 32]], (1_669_322f64).sqrt() as f32);
    // amp(1, ·, ·): (6,58) 430, (6,59) 437, (7,58) 433, (7,59) 440.
    assert_eq!(d[[1, 3, 29]], (756_958f64).sqrt() as f32);
    // Transposed block (58..60, 6..8) of pattern 1 for contrast: must differ.
    assert_ne!(d[[1, 29, 3]], d[[1, 3, 29]]);

    // Zero frequency: a single bright fine pixel lands in the coarse pixel n/2 exactly when it is
    // in the block containing N/2, for even and odd factors.
    for (big, f, fine, coarse) in [
        (128usize, 2usize, (64usize, 64usize), (32usize, 32usize)),
        (128, 2, (65, 65), (32, 32)),
        (128, 2, (63, 64), (31, 32)),
        (128, 2, (64, 66), (32, 33)),
        (128, 4, (67, 64), (16, 16)),
        (128, 4, (63, 68), (15, 17)),
        (96, 3, (48, 50), (16, 16)),
        (96, 3, (47, 51), (15, 17)),
    ] {
        let mut scan = indexed_scan(big, 1);
        scan.diffraction.fill(0.0);
        scan.diffraction[[0, fine.0, fine.1]] = 3.0;
        let d = bin_detector(&scan, f).expect("bin").scan.diffraction;
        let hot: Vec<_> = d.indexed_iter().filter(|(_, v)| **v != 0.0).collect();
        assert_eq!(
            hot,
            vec![((0, coarse.0, coarse.1), &3.0)],
            "N {big} f {f} {fine:?}"
        );
    }
}

#[test]
fn bin_keeps_positions_and_object_and_windows_probe_and_patches() {
    let scan = indexed_scan(128, 2);
    let binned = bin_detector(&scan, 2).expect("bin");
    let out = &binned.scan;
    assert_eq!(out.xcoords, scan.xcoords);
    assert_eq!(out.ycoords, scan.ycoords);
    assert_eq!(out.xcoords_start, scan.xcoords_start);
    assert_eq!(out.ycoords_start, scan.ycoords_start);
    assert_eq!(out.scan_index, scan.scan_index);
    assert_eq!(out.object, scan.object);

    // Probe: rows/cols [64 − 32, 64 + 32) = [32, 96), values untouched (probe[r, c] = r + i c).
    assert_eq!(out.probe.dim(), (64, 64));
    assert_eq!(out.probe[[0, 0]], Complex32::new(32.0, 32.0));
    assert_eq!(out.probe[[63, 5]], Complex32::new(95.0, 37.0));
    assert_eq!(out.probe, scan.probe.slice(s![32..96, 32..96]));
    // y_patches[p, r, c] = (1000 p + r) + i c: the same window.
    let y = out.y_patches.as_ref().expect("y kept");
    assert_eq!(y.dim(), (2, 64, 64));
    assert_eq!(y[[1, 0, 63]], Complex32::new(1032.0, 95.0));
    assert_eq!(y[[0, 31, 0]], Complex32::new(63.0, 32.0));

    // N = 96, f = 3: window [48 − 16, 48 + 16) = [32, 64).
    let binned = bin_detector(&indexed_scan(96, 1), 3).expect("bin");
    assert_eq!(binned.scan.probe.dim(), (32, 32));
    assert_eq!(binned.scan.probe[[0, 31]], Complex32::new(32.0, 63.0));

    // A constant probe keeps (n / N)² of its power.
    let mut scan = indexed_scan(128, 1);
    scan.probe.fill(Complex32::new(0.6, -0.8));
    assert!((bin_detector(&scan, 2).expect("bin").probe_power_kept - 0.25).abs() < 1e-12);
    assert!((bin_detector(&scan, 4).expect("bin").probe_power_kept - 1.0 / 16.0).abs() < 1e-12);
}

#[test]
fn probe_power_in_window_counts_exactly_the_window() {
    // Window of n = 32 in N = 64: rows/cols [16, 48).
    let one = Complex32::new(0.0, 2.0);
    let mut probe = Array2::zeros((64, 64));
    probe[[16, 47]] = one; // inside (first row, last column)
    probe[[15, 30]] = one; // outside (one row above)
    probe[[30, 48]] = one; // outside (one column right)
    probe[[47, 16]] = one * 2.0; // inside, four times the power
    assert!((probe_power_in_window(&probe, 32) - 5.0 / 7.0).abs() < 1e-12);
    assert!((probe_power_in_window(&probe, 64) - 1.0).abs() < 1e-12);
    assert!((probe_power_in_window(&probe, 200) - 1.0).abs() < 1e-12);
    assert_eq!(probe_power_in_window(&probe, 0), 0.0);
    assert_eq!(probe_power_in_window(&Array2::zeros((64, 64)), 32), 1.0);
}

/// A smooth compact bump `cos²(π ρ / 2R)` (zero for `ρ >= R`) centred at `centre`, with a
/// quadratic phase (curvature) and a linear one (tilt along columns): asymmetric, complex.
fn bump_probe(big: usize, centre: (f64, f64), radius: f64) -> Array2<Complex32> {
    Array2::from_shape_fn((big, big), |(r, c)| {
        let (dr, dc) = (r as f64 - centre.0, c as f64 - centre.1);
        let rho = (dr * dr + dc * dc).sqrt();
        if rho >= radius {
            return Complex32::new(0.0, 0.0);
        }
        let a = (PI * rho / (2.0 * radius)).cos().powi(2);
        let v = C64::from_polar(a, 0.06 * rho * rho + 0.4 * dc);
        Complex32::new(v.re as f32, v.im as f32)
    })
}

/// `|fft2(P · O_patch, ortho)|²`, fftshifted, with the patch of size `P.nrows()` at `(x, y)`.
fn model(probe: &Array2<C64>, object: &Array2<Complex32>, x: usize, y: usize) -> Array2<f64> {
    let m = probe.nrows();
    let (r0, c0) = (y - m / 2, x - m / 2);
    let psi = Array2::from_shape_fn((m, m), |(r, c)| {
        probe[[r, c]] * c64(object[[r0 + r, c0 + c]])
    });
    far_field_intensity(&psi)
}

/// Relative L2 errors of `model` against `measured` (both intensities): (intensity, amplitude).
fn rel_errors(measured: &[Array2<f64>], model: &[Array2<f64>]) -> (f64, f64) {
    let (mut ni, mut di, mut na, mut da) = (0.0, 0.0, 0.0, 0.0);
    for (b, m) in measured.iter().zip(model) {
        for (&b, &m) in b.iter().zip(m) {
            ni += (b - m).powi(2);
            di += b * b;
            na += (b.sqrt() - m.sqrt()).powi(2);
            da += b;
        }
    }
    ((ni / di).sqrt(), (na / da).sqrt())
}

#[test]
fn binned_patterns_match_the_coarse_forward_model() {
    let (big, f) = (64usize, 2usize);
    let n = big / f;
    // Probe radius n/5 around an off-centre point: fully inside the window [16, 48)².
    let probe = bump_probe(
        big,
        (big as f64 / 2.0 + 3.0, big as f64 / 2.0 - 4.0),
        n as f64 / 5.0,
    );
    // An i.i.d. random complex object (amplitude 0.6–1, phase ±1 rad): no symmetry, and the
    // roughest far field (speckle) a sample can give.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let object = Array2::from_shape_fn((128, 140), |_| {
        let v = C64::from_polar(rng.random_range(0.6..1.0), rng.random_range(-1.0..1.0));
        Complex32::new(v.re as f32, v.im as f32)
    });
    let positions = [(40usize, 44usize), (64, 70), (100, 52), (75, 90), (33, 95)];

    // The fine measurement, |fft2_N(P · O_patch, ortho)|² as amplitudes.
    let probe64 = probe.mapv(c64);
    let mut diffraction = Array3::zeros((positions.len(), big, big));
    for (p, &(x, y)) in positions.iter().enumerate() {
        let i = model(&probe64, &object, x, y);
        diffraction
            .slice_mut(s![p, .., ..])
            .assign(&i.mapv(|v| v.sqrt() as f32));
    }
    let xs = Array1::from_iter(positions.iter().map(|p| p.0 as f64));
    let ys = Array1::from_iter(positions.iter().map(|p| p.1 as f64));
    let scan = ScanData {
        diffraction,
        xcoords: xs.clone(),
        ycoords: ys.clone(),
        xcoords_start: xs,
        ycoords_start: ys,
        probe,
        object: Some(object),
        scan_index: Array1::from_iter(0..positions.len() as i64),
        y_patches: None,
    };
    let binned = bin_detector(&scan, f).expect("bin");
    assert!((binned.probe_power_kept - 1.0).abs() < 1e-12);
    let coarse = &binned.scan;
    let obj = coarse.object.as_ref().expect("object kept");
    let p_win = coarse.probe.mapv(c64);
    let tilted = tilt_to_block_centres(&coarse.probe, f).mapv(c64);

    let (mut measured, mut plain, mut tilt, mut boxed) = (vec![], vec![], vec![], vec![]);
    for (p, &(x, y)) in positions.iter().enumerate() {
        let (xc, yc) = (coarse.xcoords[p] as usize, coarse.ycoords[p] as usize);
        assert_eq!((xc, yc), (x, y));
        measured.push(
            coarse
                .diffraction
                .slice(s![p, .., ..])
                .mapv(|a| f64::from(a).powi(2)),
        );
        plain.push(model(&p_win, obj, xc, yc));
        tilt.push(model(&tilted, obj, xc, yc));
        // The exact statement: the mean of the coarse far field over the f² sub-bin samples
        // q + r/f, i.e. fft2_n of ψ · e^{−2πi r·x/N}.
        let mut mean = Array2::zeros((n, n));
        for rr in 0..f {
            for rc in 0..f {
                let ramp = Array2::from_shape_fn((n, n), |(r, c)| {
                    let phase = -2.0 * PI * (rr * r + rc * c) as f64 / big as f64;
                    p_win[[r, c]] * C64::from_polar(1.0, phase)
                });
                mean += &model(&ramp, obj, xc, yc);
            }
        }
        boxed.push(mean / (f * f) as f64);
    }
    let (exact_i, exact_a) = rel_errors(&measured, &boxed);
    let (plain_i, plain_a) = rel_errors(&measured, &plain);
    let (tilt_i, tilt_a) = rel_errors(&measured, &tilt);
    eprintln!(
        "binning N={big} f={f}: box-average identity {exact_i:.2e} (amplitude {exact_a:.2e}); \
         coarse model {plain_i:.4} (amplitude {plain_a:.4}); tilted probe {tilt_i:.4} \
         (amplitude {tilt_a:.4})"
    );
    // Exact up to the f32 storage of the amplitudes (measured 6e-8): no amplitude scaling is
    // missing, the binned pattern IS the mean of the coarse model over f² sub-bin samples.
    assert!(exact_i < 1e-6 && exact_a < 1e-6, "{exact_i} {exact_a}");
    // The coarse model samples |Φ|² at q; the binned data are its box average over one coarse
    // bin, whose centre is a quarter bin away (q + 1/4 for f = 2). The speckle of the random
    // object is about n / (wave diameter) ≈ 2.5 coarse bins wide, so a quarter-bin offset is
    // not small: measured 0.145 in intensity, 0.095 in amplitude (relative L2). The tilt puts
    // the samples on the block centres and leaves only the box blur (the second-order spread
    // of |Φ|² across the bin): measured 0.015 and 0.014.
    assert!(plain_i < 0.16 && plain_a < 0.11, "{plain_i} {plain_a}");
    assert!(plain_i > 0.05, "the offset should be visible: {plain_i}");
    assert!(tilt_i < 0.02 && tilt_a < 0.02, "{tilt_i} {tilt_a}");
    assert!(tilt_i < plain_i / 5.0, "{tilt_i} vs {plain_i}");
}

#[test]
fn tilt_to_block_centres_is_a_pure_phase_ramp() {
    let probe = Array2::from_shape_fn((32, 32), |(r, c)| {
        Complex32::from_polar(1.0 + 0.01 * (r + 2 * c) as f32, 0.1 * r as f32)
    });
    assert_eq!(tilt_to_block_centres(&probe, 1), probe);
    for (f, s) in [(2usize, 0.25f64), (3, 1.0 / 3.0), (4, 0.375)] {
        let t = tilt_to_block_centres(&probe, f);
        for ((r, c), v) in t.indexed_iter() {
            let p = probe[[r, c]];
            assert!(
                (v.norm() - p.norm()).abs() < 1e-5,
                "f {f} amplitude at ({r},{c})"
            );
            let expected = -2.0 * PI * s * ((r as f64 - 16.0) + (c as f64 - 16.0)) / 32.0;
            let got = f64::from((v / p).arg());
            let diff = (got - expected + PI).rem_euclid(2.0 * PI) - PI;
            assert!(
                diff.abs() < 1e-5,
                "f {f} ({r},{c}): phase {got} vs {expected}"
            );
        }
        // The window centre keeps its value.
        assert!((t[[16, 16]] - probe[[16, 16]]).norm() < 1e-6);
    }
    // Odd n: n = 17 with an even factor puts the block centre 1/(2f) BELOW q; odd factor: on q.
    let odd = Array2::from_elem((17, 17), Complex32::new(1.0, 0.0));
    let t = tilt_to_block_centres(&odd, 2);
    let step = f64::from((t[[8, 9]] / t[[8, 8]]).arg());
    assert!((step - 2.0 * PI * 0.25 / 17.0).abs() < 1e-6, "{step}");
    assert_eq!(
        tilt_to_block_centres(&odd, 3)[[3, 12]],
        Complex32::new(1.0, 0.0)
    );
}

fn parameter_error(scan: &ScanData, factor: usize) -> (String, String) {
    match bin_detector(scan, factor) {
        Err(e @ DataError::Parameter { name, .. }) => (name.to_string(), e.to_string()),
        other => panic!("expected a parameter error for factor {factor}, got {other:?}"),
    }
}

#[test]
fn bin_errors_name_the_field_and_the_values() {
    let scan = indexed_scan(64, 1);
    let (name, msg) = parameter_error(&scan, 0);
    assert_eq!(name, "factor");
    assert!(
        msg.contains("`factor`") && msg.contains("factor >= 1") && msg.ends_with("found 0"),
        "{msg}"
    );
    assert!(!msg.ends_with('.') && msg.starts_with("invalid"), "{msg}");

    let (name, msg) = parameter_error(&scan, 3);
    assert_eq!(name, "bin");
    assert!(
        msg.contains("`bin`")
            && msg.contains("divisible by the binning factor 3")
            && msg.ends_with("found N = 64"),
        "{msg}"
    );

    let (name, msg) = parameter_error(&scan, 8);
    assert_eq!(name, "bin");
    assert!(
        msg.contains("N / factor >= 16") && msg.ends_with("found N / factor = 64 / 8 = 8"),
        "{msg}"
    );
    assert_eq!(parameter_error(&scan, 128).0, "bin");
    // 64 / 4 = 16 is the smallest allowed; 96 / 3 = 32 (the factor need not be a power of two).
    assert_eq!(
        bin_detector(&scan, 4).expect("bin by 4").scan.patch_size(),
        16
    );
    assert_eq!(
        bin_detector(&indexed_scan(96, 1), 3)
            .expect("bin by 3")
            .scan
            .patch_size(),
        32
    );

    let mut bad = indexed_scan(64, 1);
    bad.probe = Array2::zeros((32, 32));
    let err = bin_detector(&bad, 2).expect_err("probe shape mismatch");
    assert!(err.to_string().contains("probeGuess"), "{err}");
}

#[test]
fn bin_by_one_is_a_clone() {
    let scan = indexed_scan(64, 2);
    let binned = bin_detector(&scan, 1).expect("no-op bin");
    assert_eq!(binned.scan, scan);
    assert_eq!(binned.probe_power_kept, 1.0);
}
