//! Physics: far field against rustfft, FFT vs matmul DFT, canvas signs with an asymmetric
//! object, forward model against the simulator, finite-difference gradient checks.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ptycho_model::physics::{Complex, HostProbe, Physics, center_square_mask};
use ptycho_model::{FarFieldMethod, PhysicsSpec};

use crate::common::{ScanLayout, asymmetric_object, crop, far_field_reference, simulate_scan};

fn spec(n: usize, gridsize: usize, far_field: FarFieldMethod) -> PhysicsSpec {
    PhysicsSpec {
        n,
        gridsize,
        object_big: true,
        probe_big: false,
        far_field,
        ..PhysicsSpec::default()
    }
}

fn tensor3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * scale,
            "{what}: element {i}: {a} vs {b} (scale {scale})"
        );
    }
}

#[test]
fn fft_and_matmul_dft_agree() {
    let device = Device::flex();
    let probe = HostProbe::default_disk(64);
    let fft = Physics::new(&spec(64, 1, FarFieldMethod::Fft), &probe, true, &device).unwrap();
    let dft = Physics::new(
        &spec(64, 1, FarFieldMethod::MatmulDft),
        &probe,
        true,
        &device,
    )
    .unwrap();
    let psi = || {
        Complex::new(
            tensor3(random(3 * 4096, 1), [3, 64, 64], &device),
            tensor3(random(3 * 4096, 2), [3, 64, 64], &device),
        )
    };
    let a = values(fft.far_field(psi()));
    let b = values(dft.far_field(psi()));
    assert_close(&a, &b, 1e-4, "fft vs dft");
}

#[test]
fn far_field_of_a_known_exit_wave_matches_rustfft() {
    let device = Device::flex();
    let probe = HostProbe::default_disk(64);
    let (ore, oim) = asymmetric_object(64);
    let normalised = probe.normalised(4.0).unwrap();
    let psi_re: Vec<f32> = (0..4096)
        .map(|i| normalised.re[i] * ore[i] - normalised.im[i] * oim[i])
        .collect();
    let psi_im: Vec<f32> = (0..4096)
        .map(|i| normalised.re[i] * oim[i] + normalised.im[i] * ore[i])
        .collect();
    let want = far_field_reference(&psi_re, &psi_im, 64);
    for method in [FarFieldMethod::Fft, FarFieldMethod::MatmulDft] {
        let physics = Physics::new(&spec(64, 1, method), &probe, true, &device).unwrap();
        let patch = Complex::new(
            tensor3(ore.clone(), [1, 64, 64], &device),
            tensor3(oim.clone(), [1, 64, 64], &device),
        );
        let got = values(physics.far_field(physics.illuminate(patch)));
        assert_close(&got, &want, 1e-4, &format!("{method:?}"));
        // DC sits at (N/2, N/2) after the fftshift and equals |Σψ|²/N².
        let sum_re: f64 = psi_re.iter().map(|v| *v as f64).sum();
        let sum_im: f64 = psi_im.iter().map(|v| *v as f64).sum();
        let dc = ((sum_re.powi(2) + sum_im.powi(2)) / 4096.0) as f32;
        assert!(
            (got[32 * 64 + 32] - dc).abs() <= 1e-4 * dc,
            "DC {} vs {dc}",
            got[32 * 64 + 32]
        );
    }
}

/// gs=2 group of an asymmetric object at integer scan positions: reassembly puts every patch
/// at its true place around the group centre, extraction reads each patch back.
#[test]
fn asymmetric_object_survives_reassembly_and_extraction_at_the_right_place() {
    let device = Device::flex();
    let n = 64;
    let side = 100;
    let (ore, oim) = asymmetric_object(side);
    let probe = HostProbe::default_disk(n);
    let physics = Physics::new(&spec(n, 2, FarFieldMethod::Fft), &probe, true, &device).unwrap();
    // Patch corners (row, col); asymmetric spacing so that a sign error cannot cancel.
    let corners = [(10usize, 12usize), (10, 18), (14, 12), (16, 20)];
    let (mr, mc) = (
        corners.iter().map(|c| c.0 as f32).sum::<f32>() / 4.0,
        corners.iter().map(|c| c.1 as f32).sum::<f32>() / 4.0,
    );
    assert_eq!((mr, mc), (12.5, 15.5));
    let mut offsets = Vec::new();
    let (mut pre, mut pim) = (Vec::new(), Vec::new());
    let centre = center_square_mask(n);
    for &(t, l) in &corners {
        offsets.extend([-(l as f32 - mc), -(t as f32 - mr)]);
        pre.extend(
            crop(&ore, side, t, l, n)
                .iter()
                .zip(&centre)
                .map(|(a, m)| a * m),
        );
        pim.extend(
            crop(&oim, side, t, l, n)
                .iter()
                .zip(&centre)
                .map(|(a, m)| a * m),
        );
    }
    let geometry = physics.geometry(&offsets, 1).unwrap();
    let to4 = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 4, n, n]), &device);
    let canvas = geometry.reassemble(Complex::new(to4(pre.clone()), to4(pim.clone())));
    // The group centre is half-integer (12.5, 15.5): the canvas is the object sampled at
    // half-pixel positions, i.e. the average of the 2×2 neighbours.
    let trimmed = geometry.trim(canvas.clone());
    let (tre, tim) = (values(trimmed.re), values(trimmed.im));
    let mut checked = 0;
    for r in 26..38 {
        for c in 26..38 {
            let (orow, ocol) = (r as f32 + mr, c as f32 + mc);
            let (r0, c0) = (orow.floor() as usize, ocol.floor() as usize);
            let bil = |img: &[f32]| {
                0.25 * (img[r0 * side + c0]
                    + img[r0 * side + c0 + 1]
                    + img[(r0 + 1) * side + c0]
                    + img[(r0 + 1) * side + c0 + 1])
            };
            let want = (bil(&ore), bil(&oim));
            let got = (tre[r * n + c], tim[r * n + c]);
            assert!(
                (got.0 - want.0).abs() < 3e-3 && (got.1 - want.1).abs() < 3e-3,
                "canvas ({r},{c}): {got:?} vs {want:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 144);
    let extracted = geometry.extract(canvas);
    let (ere, eim) = (values(extracted.re), values(extracted.im));
    // Inside each patch's own centre square, extraction returns the patch (up to the 0.001
    // count guard and the half-pixel averaging where the canvas was built from shifted
    // copies: shifts by ±x.5 go there and back, which is a 3-tap smoothing; compare with it).
    for (k, &(t, l)) in corners.iter().enumerate() {
        // Object rows [32, 58) and columns [36, 60) are covered by all four supports; every tap
        // of the check lies there.
        for r in (33 - t)..=(56 - t) {
            for c in (37 - l)..=(58 - l) {
                let idx = k * n * n + r * n + c;
                // Patch k at (r, c) is object pixel (t + r, l + c) smoothed by the two half-pixel
                // shifts: weights 1/4, 1/2, 1/4 along each axis.
                let w = [0.25f32, 0.5, 0.25];
                let mut want = (0.0f32, 0.0f32);
                for (i, wi) in w.iter().enumerate() {
                    for (j, wj) in w.iter().enumerate() {
                        let (rr, cc) = (t + r + i - 1, l + c + j - 1);
                        want.0 += wi * wj * ore[rr * side + cc];
                        want.1 += wi * wj * oim[rr * side + cc];
                    }
                }
                let got = (ere[idx], eim[idx]);
                assert!(
                    (got.0 - want.0).abs() < 3e-3 && (got.1 - want.1).abs() < 3e-3,
                    "patch {k} ({r},{c}): {got:?} vs {want:?}"
                );
            }
        }
    }
}

/// Full physics chain on a simulated scan: reassembly, extraction, probe, far field reproduce
/// the simulator's noiseless diffraction (integer group centres, so no interpolation).
#[test]
fn forward_model_of_a_known_object_reproduces_the_simulated_diffraction() {
    let device = Device::flex();
    let n = 64;
    let side = 96;
    let (ore, oim) = asymmetric_object(side);
    let probe = HostProbe::default_disk(n);
    let scan = simulate_scan(
        (&ore, &oim),
        side,
        &probe,
        4.0,
        ScanLayout {
            gs: 2,
            offset: 4,
            step: 12,
            margin: 4,
        },
        1e9,
    );
    let physics = Physics::new(&spec(n, 2, FarFieldMethod::Fft), &probe, false, &device).unwrap();
    let groups = scan.batch.groups;
    assert!(groups >= 4, "{groups} groups");
    // Feed the true patches at every pattern position (full support) and run the chain.
    let mut pre = Vec::new();
    let mut pim = Vec::new();
    for g in 0..groups {
        for k in 0..4 {
            let dx = -scan.batch.offsets[(g * 4 + k) * 2];
            let dy = -scan.batch.offsets[(g * 4 + k) * 2 + 1];
            let (cr, cc) = scan.centres[g];
            let top = (cr + dy) as usize - n / 2;
            let left = (cc + dx) as usize - n / 2;
            pre.extend(crop(&ore, side, top, left, n));
            pim.extend(crop(&oim, side, top, left, n));
        }
    }
    let to4 = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [groups, 4, n, n]), &device);
    let geometry = physics.geometry(&scan.batch.offsets, groups).unwrap();
    let canvas = geometry.reassemble(Complex::new(to4(pre), to4(pim)));
    let intensity = values(physics.far_field(physics.illuminate(geometry.extract(canvas))));
    let amplitude: Vec<f32> = intensity.iter().map(|i| i.sqrt() * scan.norm).collect();
    // The canvas divides by (count + 0.001), count = 4 in the interior: a 0.025 % scale.
    assert_close(
        &amplitude,
        &scan.batch.amplitude,
        2e-3,
        "model vs simulator amplitude",
    );
}

/// Analytic gradients of the physics chain (reassembly with sub-pixel shifts, extraction, probe
/// mask, smoothing, far field) against central finite differences.
#[test]
fn physics_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let n = 8;
    let probe = HostProbe::new(n, random(n * n, 11), random(n * n, 12)).unwrap();
    for (method, smoothing, mask) in [
        (FarFieldMethod::Fft, 0.0, false),
        (FarFieldMethod::MatmulDft, 0.7, true),
    ] {
        let mut s = spec(n, 2, method);
        s.max_position_jitter = 4;
        s.gaussian_smoothing_sigma = smoothing;
        s.probe_mask = mask;
        // A small divisor makes the exit waves O(1) so that gradients are well above f32 noise.
        s.probe_scale = 0.1;
        let physics = Physics::new(&s, &probe, false, &device).unwrap();
        let offsets = [1.3f32, -0.6, -1.3, -0.4, 0.7, 1.1, -0.7, -0.1];
        let weights = Tensor::<3>::from_data(
            TensorData::new(
                random(4 * n * n, 5).iter().map(|v| v.abs()).collect(),
                [4, n, n],
            ),
            &device,
        );
        let loss = |re: &[f32], im: &[f32], track: bool| {
            let mk = |v: &[f32]| {
                let t = Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 4, n, n]), &device);
                if track { t.require_grad() } else { t }
            };
            let (tre, tim) = (mk(re), mk(im));
            let geometry = physics.geometry(&offsets, 1).unwrap();
            let canvas = geometry.reassemble(Complex::new(tre.clone(), tim.clone()));
            let intensity = physics.far_field(physics.illuminate(geometry.extract(canvas)));
            // A Poisson-like smooth scalar: Σ w·I − Σ w·ln(I + 1).
            let value = (intensity.clone() * weights.clone()).sum()
                - (intensity.add_scalar(1.0).log() * weights.clone()).sum();
            (value, tre, tim)
        };
        let re = random(4 * n * n, 21);
        let im = random(4 * n * n, 22);
        let (value, tre, tim) = loss(&re, &im, true);
        let grads = value.backward();
        let gre = values(tre.grad(&grads).unwrap());
        let gim = values(tim.grad(&grads).unwrap());
        let gmax = gre.iter().chain(&gim).fold(0.0f32, |m, g| m.max(g.abs()));
        assert!(gmax > 1e-3, "gradients vanish: {gmax}");
        let h = 1e-2f32;
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let eval = |re: &[f32], im: &[f32]| loss(re, im, false).0.into_scalar::<f32>() as f64;
        let mut checked = 0;
        while checked < 12 {
            let i = rng.random_range(0..4 * n * n);
            let imag = rng.random_bool(0.5);
            let (mut plus_re, mut plus_im) = (re.clone(), im.clone());
            let (mut minus_re, mut minus_im) = (re.clone(), im.clone());
            if imag {
                plus_im[i] += h;
                minus_im[i] -= h;
            } else {
                plus_re[i] += h;
                minus_re[i] -= h;
            }
            let fd =
                ((eval(&plus_re, &plus_im) - eval(&minus_re, &minus_im)) / (2.0 * h as f64)) as f32;
            let analytic = if imag { gim[i] } else { gre[i] };
            if analytic.abs() < 1e-2 * gmax {
                continue; // element outside the support of the chain; not informative
            }
            assert!(
                (fd - analytic).abs() <= 2e-2 * analytic.abs() + 2e-3 * gmax,
                "{method:?}: element {i} imag={imag}: fd {fd} vs analytic {analytic}"
            );
            checked += 1;
        }
    }
}
