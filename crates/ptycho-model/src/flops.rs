//! Analytic floating-point operation counts of the model, for reporting achieved GFLOP/s.
//!
//! Convolutions count `2·c_in·c_out·9` per output pixel (multiply and add); the physics counts
//! its GEMMs and FFTs. Training is taken as 3× the forward pass (forward, input gradient,
//! weight gradient), the usual convention.

use crate::generator::{border_width, decoder_filters, encoder_filters};
use crate::spec::{FarFieldMethod, GeneratorSpec, PhysicsSpec};

fn conv(c_in: usize, c_out: usize, side: usize) -> f64 {
    2.0 * (c_in * c_out * 9 * side * side) as f64
}

/// Forward FLOPs of the generator for one group.
pub fn generator_forward(spec: &GeneratorSpec) -> f64 {
    let n = spec.n;
    let mut total = 0.0;
    let mut side = n;
    let mut channels = spec.channels_in();
    for f in encoder_filters(n, spec.n_filters_scale) {
        total += conv(channels, f, side) + conv(f, f, side);
        channels = f;
        side /= 2;
    }
    let mut decoder = 0.0;
    let mut c = channels;
    for f in decoder_filters(n, spec.n_filters_scale) {
        decoder += conv(c, f, side) + conv(f, f, side);
        c = f;
        side *= 2;
    }
    let c_out = spec.channels_out();
    let width = border_width(n, spec.n_filters_scale);
    if spec.pad_object {
        decoder += conv(c - 4, c_out, side);
        if spec.probe_big {
            decoder +=
                conv(4, width, side) + conv(width, width, side) + conv(width, c_out, 2 * side);
        }
    } else {
        decoder += conv(c, width, side) + conv(width, width, side) + conv(width, c_out, 2 * side);
    }
    total + 2.0 * decoder
}

/// Forward FLOPs of the physics for one group (reassembly, extraction, probe, far field).
pub fn physics_forward(spec: &PhysicsSpec) -> f64 {
    let (n, m, c) = (
        spec.n as f64,
        spec.padded_size() as f64,
        spec.channels() as f64,
    );
    // Per patch and part: two GEMMs for placement (M×N·N×N, M×N·N×M) and two for extraction.
    let canvas = if spec.object_big {
        2.0 * c * 2.0 * (m * n * n + m * n * m)
    } else {
        0.0
    };
    let extract = 2.0 * c * 2.0 * (n * m * m + n * m * n);
    let far = match spec.far_field {
        FarFieldMethod::MatmulDft => c * 8.0 * 2.0 * n * n * n,
        FarFieldMethod::Fft => c * 2.0 * 2.0 * 5.0 * n * n * n.log2(),
    };
    canvas + extract + c * 6.0 * n * n + far
}

/// Training FLOPs per group (forward + backward ≈ 3× forward).
pub fn train_step_per_group(g: &GeneratorSpec, p: &PhysicsSpec) -> f64 {
    3.0 * (generator_forward(g) + physics_forward(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_forward_cost_is_about_1_6_gflop_per_pattern_at_n64_gs1() {
        let g = GeneratorSpec {
            probe_big: true,
            ..GeneratorSpec::default()
        };
        let gflop = generator_forward(&g) / 1e9;
        assert!((1.5..1.8).contains(&gflop), "{gflop} GFLOP");
    }
}
