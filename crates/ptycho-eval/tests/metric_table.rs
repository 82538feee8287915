//! Checks every metric against the reference table `fixtures/eval/metric_table.json`, produced
//! independently with numpy / scipy / scikit-image by `fixtures/eval/make_metric_table.py`.
//! The images are rebuilt here from the small specs stored in the table (see the script's docs).

use std::path::PathBuf;

use ndarray::Array2;
use num_complex::Complex64;
use ptycho_eval::{
    CorrelationNormalization, EvalOptions, PhaseAlignment, evaluate_reconstruction, frc_cutoffs,
    mae, ms_ssim, mse, psnr_physical_db, psnr_r255_db, ssim,
};
use ptycho_eval::{filters::gaussian_filter, phase::fit_plane, registration};
use serde_json::Value;

fn table() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/eval/metric_table.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("metric table is valid json")
}

fn splitmix_unit(seed: u64, r: u64, c: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(r.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(c.wrapping_mul(0x94D0_49BB_1331_11EB));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn build(spec: &Value) -> Array2<f64> {
    let rows = spec["rows"].as_u64().unwrap() as usize;
    let cols = spec["cols"].as_u64().unwrap() as usize;
    let offset = spec["offset"].as_f64().unwrap();
    let waves: Vec<[f64; 4]> = spec["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let v: Vec<f64> = w
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect();
    let noise_amp = spec["noise_amp"].as_f64().unwrap();
    let seed = spec["seed"].as_u64().unwrap();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let (rf, cf) = (r as f64, c as f64);
        let mut v = offset;
        for [amp, fr, fc, ph] in &waves {
            v += amp * (fr * rf + fc * cf + ph).sin();
        }
        if noise_amp != 0.0 {
            v += noise_amp * (splitmix_unit(seed, r as u64, c as u64) - 0.5);
        }
        v
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[track_caller]
fn close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.15e}, want {want:.15e} (tolerance {tol:e})"
    );
}

#[track_caller]
fn close_curve(got: &[f64], want: &Value, rel: f64, what: &str) {
    let want: Vec<f64> = want.as_array().unwrap().iter().map(f).collect();
    assert_eq!(got.len(), want.len(), "{what}: curve length");
    for (k, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        close(*g, *w, rel, &format!("{what}[{k}]"));
    }
}

#[test]
fn real_pairs_match_numpy_scipy_skimage() {
    let t = table();
    let pairs = t["real_pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 4);
    for (i, e) in pairs.iter().enumerate() {
        let (a, b) = (build(&e["a"]), build(&e["b"]));
        let (av, bv) = (a.view(), b.view());
        let tag = |m: &str| format!("pair {i} {m}");
        close(mae(av, bv).unwrap(), f(&e["mae"]), 1e-12, &tag("mae"));
        close(mse(av, bv).unwrap(), f(&e["mse"]), 1e-12, &tag("mse"));
        close(
            psnr_r255_db(av, bv).unwrap(),
            f(&e["psnr_r255"]),
            1e-12,
            &tag("psnr"),
        );
        if let Some(cv) = e["psnr_r255_cv2"].as_f64() {
            close(
                psnr_r255_db(av, bv).unwrap(),
                cv,
                1e-12,
                &tag("psnr vs cv2"),
            );
        }
        let (phys, _) = psnr_physical_db(av, bv).unwrap();
        close(phys, f(&e["psnr_physical"]), 1e-12, &tag("psnr physical"));
        let range = a.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - a.iter().copied().fold(f64::INFINITY, f64::min);
        close(
            ssim(av, bv, range).unwrap(),
            f(&e["ssim_range_a"]),
            1e-10,
            &tag("ssim"),
        );
        close(
            ssim(av, bv, 1.0).unwrap(),
            f(&e["ssim_range_1"]),
            1e-10,
            &tag("ssim r=1"),
        );
        close(
            ms_ssim(av, bv, 0.0).unwrap(),
            f(&e["ms_ssim_sigma0"]),
            1e-10,
            &tag("ms-ssim"),
        );
        close(
            ms_ssim(av, bv, 1.0).unwrap(),
            f(&e["ms_ssim_sigma1"]),
            1e-10,
            &tag("ms-ssim s1"),
        );
        let frc = frc_cutoffs(av, bv, 0.0).unwrap();
        close_curve(&frc.curve, &e["frc_curve"], 1e-9, &tag("frc curve"));
        close(frc.frc50, f(&e["frc50"]), 1e-9, &tag("frc50"));
        close(frc.frc1over7, f(&e["frc1over7"]), 1e-9, &tag("frc1/7"));
        let p = fit_plane(bv);
        let want: Vec<f64> = e["plane_coeffs_b"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        close(p.a, want[0], 1e-10, &tag("plane a"));
        close(p.b, want[1], 1e-10, &tag("plane b"));
        close(p.c, want[2], 1e-10, &tag("plane c"));
        let g = gaussian_filter(av, 1.0);
        let (rows, cols) = a.dim();
        close(
            g[[0, 0]],
            f(&e["gaussian1_a_00"]),
            1e-12,
            &tag("gaussian corner"),
        );
        close(
            g[[rows / 2, cols / 2]],
            f(&e["gaussian1_a_center"]),
            1e-12,
            &tag("gaussian centre"),
        );
        close(
            g.sum(),
            f(&e["gaussian1_a_sum"]),
            1e-12,
            &tag("gaussian sum"),
        );
    }
}

#[test]
fn eval_reconstruction_matches_the_upstream_pipeline() {
    let t = table();
    let cases = t["evaluations"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for (i, e) in cases.iter().enumerate() {
        let (ga, gp) = (build(&e["gt_amp"]), build(&e["gt_phase"]));
        let (ra, rp) = (build(&e["recon_amp"]), build(&e["recon_phase"]));
        let ramp: Vec<f64> = e["recon_phase_ramp"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        let gt = Array2::from_shape_fn(ga.dim(), |(r, c)| {
            Complex64::from_polar(ga[[r, c]], gp[[r, c]])
        });
        let rec = Array2::from_shape_fn(ra.dim(), |(r, c)| {
            let ph = rp[[r, c]] + (ramp[0] * c as f64 + ramp[1] * r as f64);
            Complex64::from_polar(ra[[r, c]], ph)
        });
        let method = match e["phase_align"].as_str().unwrap() {
            "plane" => PhaseAlignment::Plane,
            _ => PhaseAlignment::Mean,
        };
        let opts = EvalOptions {
            phase_alignment: method,
            ..EvalOptions::default()
        };
        let rep = evaluate_reconstruction(rec.view(), gt.view(), &opts).unwrap();
        let x = &e["expected"];
        let tag = |m: &str| format!("evaluation {i} {m}");
        close(
            rep.amplitude_scale_factor,
            f(&x["scale_factor"]),
            1e-12,
            &tag("scale"),
        );
        for (name, got, rel) in [
            ("mae", rep.mae, 1e-10),
            ("mse", rep.mse, 1e-10),
            ("psnr", rep.psnr_r255_db, 1e-10),
            ("ssim", rep.ssim, 1e-9),
            ("ms_ssim", rep.ms_ssim, 1e-9),
            ("frc50", rep.frc50, 1e-8),
            ("frc1over7", rep.frc1over7, 1e-8),
        ] {
            close(
                got.amplitude,
                f(&x[name][0]),
                rel,
                &tag(&format!("{name} amplitude")),
            );
            close(
                got.phase,
                f(&x[name][1]),
                rel,
                &tag(&format!("{name} phase")),
            );
        }
        close_curve(
            &rep.frc_curve_amplitude,
            &x["frc_curve_amplitude"],
            1e-8,
            &tag("frc amp"),
        );
        close_curve(
            &rep.frc_curve_phase,
            &x["frc_curve_phase"],
            1e-8,
            &tag("frc phase"),
        );
    }
}

#[test]
fn registration_matches_skimage_phase_cross_correlation() {
    let t = table();
    let cases = t["registrations"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for (i, e) in cases.iter().enumerate() {
        let reference = build(&e["reference"]);
        let applied: Vec<f64> = e["applied_shift_yx"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        let moving = registration::fourier_shift_real(reference.view(), applied[0], applied[1]);
        let (rows, cols) = reference.dim();
        close(
            moving[[0, 0]],
            f(&e["moving_00"]),
            1e-10,
            &format!("registration {i} moving"),
        );
        close(
            moving[[rows / 2, cols / 2]],
            f(&e["moving_center"]),
            1e-10,
            "moving centre",
        );
        let norm = match e["normalization"].as_str().unwrap() {
            "phase" => CorrelationNormalization::Phase,
            _ => CorrelationNormalization::None,
        };
        let found =
            registration::cross_correlation_shift(reference.view(), moving.view(), 50, norm)
                .unwrap();
        if norm == CorrelationNormalization::Phase {
            let default =
                registration::phase_cross_correlation(reference.view(), moving.view(), 50).unwrap();
            assert_eq!(default, found);
        }
        let want: Vec<f64> = e["expected_shift_yx"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        close(found[0], want[0], 1e-9, &format!("registration {i} dy"));
        close(found[1], want[1], 1e-9, &format!("registration {i} dx"));
    }
}
