//! Whole-field refinement: its forward model against an independent DFT (sub-pixel probe
//! shift, window placement, fftshift, sign conventions), and recovery of an asymmetric object
//! from a flat start.

use std::f64::consts::PI;

use burn::tensor::Device;
use ptycho_model::{FieldScan, HostField, RefineSpec, modelled_amplitudes, refine};

const N: usize = 16;

/// A band-limited, asymmetric probe: a few plane waves with integer frequencies below N/2, so
/// `P(y − dy, x − dx)` is known exactly at any sub-pixel shift.
fn probe_at(y: f64, x: f64) -> (f64, f64) {
    let waves = [
        (0, 0, 1.0, 0.0),
        (1, 0, 0.5, 0.2),
        (0, -2, 0.3, -0.4),
        (3, 1, 0.2, 0.1),
    ];
    waves.iter().fold((0.0, 0.0), |(re, im), &(u, v, a, b)| {
        let angle = 2.0 * PI * (u as f64 * y + v as f64 * x) / N as f64;
        let (c, s) = (angle.cos(), angle.sin());
        (re + a * c - b * s, im + a * s + b * c)
    })
}

fn probe_field() -> HostField {
    let (re, im) = (0..N * N)
        .map(|k| {
            let (re, im) = probe_at((k / N) as f64, (k % N) as f64);
            (re as f32, im as f32)
        })
        .unzip();
    HostField {
        shape: (N, N),
        re,
        im,
    }
}

/// An asymmetric object: an off-centre phase bump, a tilted phase wave and an absorbing blob.
fn object_field(shape: (usize, usize)) -> HostField {
    let (re, im) = (0..shape.0 * shape.1)
        .map(|k| {
            let (y, x) = ((k / shape.1) as f64, (k % shape.1) as f64);
            let bump = (-((y - 12.0).powi(2) + (x - 21.0).powi(2)) / 18.0).exp();
            let phase = 1.2 * bump + 0.5 * (0.45 * x + 0.2 * y).sin();
            let amp = 1.0 - 0.35 * (-((y - 22.0).powi(2) + (x - 10.0).powi(2)) / 12.0).exp();
            ((amp * phase.cos()) as f32, (amp * phase.sin()) as f32)
        })
        .unzip();
    HostField { shape, re, im }
}

/// `|fftshift(DFT_ortho(ψ))|` by the definition, for the window of centre `(x, y)`.
fn dft_amplitudes(object: &HostField, x: f64, y: f64) -> Vec<f32> {
    let (top, left) = (y - (N / 2) as f64, x - (N / 2) as f64);
    let (r0, c0) = (top.floor(), left.floor());
    let (fy, fx) = (top - r0, left - c0);
    let cols = object.shape.1;
    let psi: Vec<(f64, f64)> = (0..N * N)
        .map(|k| {
            let (i, j) = (k / N, k % N);
            let idx = (r0 as usize + i) * cols + c0 as usize + j;
            let (or, oi) = (object.re[idx] as f64, object.im[idx] as f64);
            let (pr, pi) = probe_at(i as f64 - fy, j as f64 - fx);
            (or * pr - oi * pi, or * pi + oi * pr)
        })
        .collect();
    let mut out = vec![0.0f32; N * N];
    for ky in 0..N {
        for kx in 0..N {
            let (mut re, mut im) = (0.0, 0.0);
            for (k, &(a, b)) in psi.iter().enumerate() {
                let angle = -2.0 * PI * ((ky * (k / N) + kx * (k % N)) as f64) / N as f64;
                re += a * angle.cos() - b * angle.sin();
                im += a * angle.sin() + b * angle.cos();
            }
            let shifted = ((ky + N / 2) % N) * N + (kx + N / 2) % N;
            out[shifted] = (re.hypot(im) / N as f64) as f32;
        }
    }
    out
}

#[test]
fn the_forward_model_matches_a_direct_dft_at_sub_pixel_positions() {
    let positions = [(9.25, 8.5), (14.75, 12.1), (11.0, 17.6)];
    let scan = FieldScan::new(N, vec![0.0; positions.len() * N * N], &positions).unwrap();
    let object = object_field(scan.canvas);
    let modelled =
        modelled_amplitudes(&scan, &object, &probe_field(), &[0, 1, 2], &Device::flex()).unwrap();
    for (p, &(x, y)) in positions.iter().enumerate() {
        let expected = dft_amplitudes(&object, x, y);
        let got = &modelled[p * N * N..(p + 1) * N * N];
        let worst = expected
            .iter()
            .zip(got)
            .map(|(e, g)| (e - g).abs())
            .fold(0.0f32, f32::max);
        let peak = expected.iter().copied().fold(0.0f32, f32::max);
        assert!(
            worst < 2e-3 * peak,
            "position {p}: worst {worst}, peak {peak}"
        );
    }
}

/// `|Σ conj(a)·b| / √(Σ|a|² Σ|b|²)` over pixels where `lit` holds: 1 for equal objects up to
/// a global complex factor.
fn correlation(a: &HostField, b: &HostField, lit: &[bool]) -> f64 {
    let (mut re, mut im, mut na, mut nb) = (0.0, 0.0, 0.0, 0.0);
    for k in (0..lit.len()).filter(|&k| lit[k]) {
        let (ar, ai, br, bi) = (
            a.re[k] as f64,
            a.im[k] as f64,
            b.re[k] as f64,
            b.im[k] as f64,
        );
        re += ar * br + ai * bi;
        im += ar * bi - ai * br;
        na += ar * ar + ai * ai;
        nb += br * br + bi * bi;
    }
    re.hypot(im) / (na * nb).sqrt()
}

#[test]
fn refinement_recovers_an_asymmetric_object_from_a_flat_start() {
    let positions: Vec<(f64, f64)> = (0..5)
        .flat_map(|i| (0..5).map(move |j| (8.3 + 3.1 * j as f64, 8.1 + 3.3 * i as f64)))
        .collect();
    let idx: Vec<usize> = (0..positions.len()).collect();
    let empty = FieldScan::new(N, vec![0.0; positions.len() * N * N], &positions).unwrap();
    let truth = object_field(empty.canvas);
    let probe = probe_field();
    let device = Device::flex();
    let data = modelled_amplitudes(&empty, &truth, &probe, &idx, &device).unwrap();
    let scan = FieldScan::new(N, data, &positions).unwrap();
    let flat = HostField::constant(scan.canvas, 1.0, 0.0);
    let spec = RefineSpec {
        epochs: 60,
        batch_size: 5,
        probe_start: None,
        probe_modes: 1,
        ..RefineSpec::default()
    };
    let result = refine(&scan, &flat, &probe, &spec, &device.clone().autodiff()).unwrap();
    // Score where every pixel is seen by at least three windows.
    let seen = scan.illumination_of(&idx, &vec![1.0; N * N]);
    let lit: Vec<bool> = seen.iter().map(|&c| c >= 3.0).collect();
    let before = correlation(&truth, &flat, &lit);
    let after = correlation(&truth, &result.object, &lit);
    assert!(after > 0.97, "correlation {before:.3} -> {after:.3}");
    assert!(
        result.loss.last().unwrap() < &(0.05 * result.loss[0]),
        "{:?}",
        result.loss
    );
    // The object is not mirrored: the truth rotated by 180° about the lit region does not fit.
    let mirrored = HostField {
        shape: truth.shape,
        re: truth.re.iter().rev().copied().collect(),
        im: truth.im.iter().rev().copied().collect(),
    };
    assert!(correlation(&mirrored, &result.object, &lit) < after - 0.1);
}

#[test]
fn refinement_settings_are_checked_by_name() {
    let scan = FieldScan::new(N, vec![1.0; N * N], &[(8.0, 8.0)]).unwrap();
    let object = HostField::constant(scan.canvas, 1.0, 0.0);
    let device = Device::flex().autodiff();
    let bad = RefineSpec {
        probe_modes: 0,
        ..RefineSpec::default()
    };
    let err = refine(&scan, &object, &probe_field(), &bad, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("probe_modes"), "{err}");
    let wrong = HostField::constant((3, 3), 1.0, 0.0);
    let err = refine(
        &scan,
        &wrong,
        &probe_field(),
        &RefineSpec::default(),
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("initial object") && err.contains("3x3"),
        "{err}"
    );
}
