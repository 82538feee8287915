//! Loss terms on hand-computed values.

use burn::tensor::{Device, Tensor, TensorData};

use ptycho_model::loss::{amplitude_mae, complex_mae, poisson_nll, total_variation};
use ptycho_model::physics::{Complex, HostProbe, Physics};
use ptycho_model::{FarFieldMethod, PhysicsSpec};

fn t4(v: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, shape), &Device::flex())
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

#[test]
fn poisson_nll_is_the_elementwise_mean_with_the_tied_scale() {
    // exp(2·log_scale) = 2, so λ = [2, 8]; counts k = [2, 16].
    let log_scale =
        Tensor::<1>::from_data(TensorData::new(vec![0.5 * 2f32.ln()], [1]), &Device::flex());
    let got = scalar(poisson_nll(
        t4(vec![1.0, 4.0], [1, 1, 1, 2]),
        log_scale,
        t4(vec![2.0, 16.0], [1, 1, 1, 2]),
    ));
    let want = ((2.0 - 2.0 * 2f64.ln()) + (8.0 - 16.0 * 8f64.ln())) / 2.0;
    assert!((got - want).abs() < 1e-5 * want.abs(), "{got} vs {want}");
    // The epsilon guard keeps a zero rate finite.
    let zero = Tensor::<1>::from_data(TensorData::new(vec![0.0f32], [1]), &Device::flex());
    let got = scalar(poisson_nll(
        t4(vec![0.0], [1, 1, 1, 1]),
        zero,
        t4(vec![1.0], [1, 1, 1, 1]),
    ));
    assert!(got.is_finite() && got > 27.0, "{got}");
}

#[test]
fn amplitude_mae_compares_scaled_amplitudes() {
    let log_scale =
        Tensor::<1>::from_data(TensorData::new(vec![0.5 * 2f32.ln()], [1]), &Device::flex());
    let got = scalar(amplitude_mae(
        t4(vec![1.0, 4.0], [1, 1, 1, 2]),
        log_scale,
        t4(vec![1.0, 3.0], [1, 1, 1, 2]),
    ));
    let want = ((2f64.sqrt() - 1.0).abs() + (2.0 * 2f64.sqrt() - 3.0).abs()) / 2.0;
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
}

#[test]
fn total_variation_and_complex_mae_follow_their_definitions() {
    let obj = Complex::new(
        t4(vec![0.0, 1.0, 2.0, 3.0], [1, 1, 2, 2]),
        t4(vec![0.0, 0.0, 0.0, 1.0], [1, 1, 2, 2]),
    );
    // Real: rows (2−0)² + (3−1)² = 8, columns 1 + 1 = 2; imaginary: rows 1, columns 1.
    assert!((scalar(total_variation(&obj)) - 12.0).abs() < 1e-5);
    let truth = Complex::new(
        t4(vec![0.0, -1.0, 2.0, 3.0], [1, 1, 2, 2]),
        t4(vec![0.0; 4], [1, 1, 2, 2]),
    );
    // Amplitudes [0,1,2,√10] vs [0,1,2,3]; phases [0,0,0,atan(1/3)] vs [0,π,0,0].
    let want = (10f64.sqrt() - 3.0) / 4.0 + (std::f64::consts::PI + (1.0f64 / 3.0).atan()) / 4.0;
    let got = scalar(complex_mae(&obj, &truth));
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
}

#[test]
fn gaussian_smoothing_spreads_a_point_with_the_normalised_3x3_kernel() {
    let device = Device::flex();
    let spec = PhysicsSpec {
        n: 8,
        gaussian_smoothing_sigma: 1.0,
        probe_scale: 1.0,
        far_field: FarFieldMethod::Fft,
        ..PhysicsSpec::default()
    };
    // A flat probe: its normalised value is 1 / mean(|disk·P|) over the 8×8 grid.
    let probe = HostProbe::new(8, vec![1.0; 64], vec![0.0; 64]).unwrap();
    let physics = Physics::new(&spec, &probe, false, &device).unwrap();
    let p0 = physics
        .probe()
        .re
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()[0];
    let mut point = vec![0.0f32; 64];
    point[3 * 8 + 4] = 1.0;
    let patch = Complex::new(
        Tensor::<3>::from_data(TensorData::new(point, [1, 8, 8]), &device),
        Tensor::<3>::zeros([1, 8, 8], &device),
    );
    let out = physics
        .illuminate(patch)
        .re
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let g = |d: i32| (-(d * d) as f32 / 2.0).exp();
    let norm = (g(-1) + g(0) + g(1)).powi(2);
    for dr in -1i32..=1 {
        for dc in -1i32..=1 {
            let got = out[((3 + dr) * 8 + 4 + dc) as usize];
            let want = p0 * g(dr) * g(dc) / norm;
            assert!((got - want).abs() < 1e-6, "({dr},{dc}): {got} vs {want}");
        }
    }
    let total: f32 = out.iter().sum();
    assert!(
        (total - p0).abs() < 1e-5,
        "smoothing conserves the sum inside the image"
    );
}
