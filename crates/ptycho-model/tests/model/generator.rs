//! Generator shape and parameter counts against reference/model.md §2.1.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ptycho_model::generator::Generator;
use ptycho_model::{AmpActivation, GeneratorSpec};

fn spec(n: usize, gridsize: usize, object_big: bool, probe_big: bool) -> GeneratorSpec {
    GeneratorSpec {
        n,
        gridsize,
        n_filters_scale: 2,
        amp_activation: AmpActivation::Sigmoid,
        object_big,
        probe_big,
        pad_object: true,
    }
}

fn count(spec: &GeneratorSpec) -> usize {
    Generator::new(spec, 0, &Device::flex())
        .unwrap()
        .num_params()
}

#[test]
fn parameter_counts_match_the_reference_table() {
    // (N, gs, object.big, probe.big) → total from reference/model.md §2.1.
    let table = [
        (64, 1, true, false, 2_252_026),
        (64, 1, true, true, 2_331_772),
        (64, 2, true, false, 2_257_000),
        (64, 2, true, true, 2_340_208),
        (64, 2, false, false, 2_253_754),
        (128, 1, true, true, 4_661_212),
        (128, 2, true, false, 4_643_880),
    ];
    for (n, gs, big, pbig, expected) in table {
        assert_eq!(
            count(&spec(n, gs, big, pbig)),
            expected,
            "N={n} gs={gs} object.big={big} probe.big={pbig}"
        );
    }
}

#[test]
fn encoder_and_decoder_counts_match_the_reference_split() {
    let g = Generator::new(&spec(64, 1, true, true), 0, &Device::flex()).unwrap();
    assert_eq!(g.encoder.num_params(), 1_144_256);
    assert_eq!(g.decoder_amp.num_params(), 593_758);
    assert_eq!(g.decoder_phase.num_params(), 593_758);
}

#[test]
fn unpadded_head_and_n256_counts_follow_the_layer_list() {
    // pad_object=false: the head is Conv_Up_block(64 → 64) + conv 64 → 1 instead of conv 60 → 1.
    let mut s = spec(64, 1, true, false);
    s.pad_object = false;
    let decoder_blocks = 295_040 + 147_584 + 73_792 + 36_928;
    let head = 36_928 + 36_928 + 577;
    assert_eq!(count(&s), 1_144_256 + 2 * (decoder_blocks + head));
    // N=256, nfs=1 (kept small): encoder 8,16,32,64,128; decoder 256,128,64,32; L1 28 → 1.
    let s = GeneratorSpec {
        n_filters_scale: 1,
        ..spec(256, 1, true, false)
    };
    let conv = |i: usize, o: usize| i * o * 9 + o;
    let enc = [
        (1, 8),
        (8, 8),
        (8, 16),
        (16, 16),
        (16, 32),
        (32, 32),
        (32, 64),
        (64, 64),
        (64, 128),
        (128, 128),
    ];
    let dec = [
        (128, 256),
        (256, 256),
        (256, 128),
        (128, 128),
        (128, 64),
        (64, 64),
        (64, 32),
        (32, 32),
        (28, 1),
    ];
    let expected: usize = enc.iter().map(|&(i, o)| conv(i, o)).sum::<usize>()
        + 2 * dec.iter().map(|&(i, o)| conv(i, o)).sum::<usize>();
    assert_eq!(count(&s), expected);
    // N=32 extension, nfs=1: encoder 64, 128 (to 8×8), decoder 32 (to 16×16), L1 28 → 1,
    // border head 4 → 64 → 64, 64 → 1.
    let s = GeneratorSpec {
        n_filters_scale: 1,
        ..spec(32, 1, true, true)
    };
    let enc = [(1, 64), (64, 64), (64, 128), (128, 128)];
    let dec = [(128, 32), (32, 32), (28, 1), (4, 64), (64, 64), (64, 1)];
    let expected: usize = enc.iter().map(|&(i, o)| conv(i, o)).sum::<usize>()
        + 2 * dec.iter().map(|&(i, o)| conv(i, o)).sum::<usize>();
    assert_eq!(count(&s), expected);
}

#[test]
fn output_shapes_ranges_and_padding() {
    let device = Device::flex();
    for (gs, big, pbig) in [(1, true, false), (2, true, true), (2, false, false)] {
        let mut s = spec(64, gs, big, pbig);
        s.n_filters_scale = 1;
        let g = Generator::new(&s, 3, &device).unwrap();
        let c = gs * gs;
        let x: Vec<f32> = (0..2 * c * 64 * 64)
            .map(|i| ((i % 97) as f32) / 50.0)
            .collect();
        let out = g.forward(Tensor::from_data(
            TensorData::new(x, [2, c, 64, 64]),
            &device,
        ));
        let c_out = if big { c } else { 1 };
        assert_eq!(out.amplitude.dims(), [2, c_out, 64, 64]);
        assert_eq!(out.phase.dims(), [2, c_out, 64, 64]);
        let amp: Vec<f32> = out.amplitude.into_data().try_to_vec::<f32>().unwrap();
        let phase: Vec<f32> = out.phase.into_data().try_to_vec::<f32>().unwrap();
        assert!(
            phase
                .iter()
                .all(|p| p.abs() <= std::f32::consts::PI || pbig)
        );
        for (i, (a, p)) in amp.iter().zip(&phase).enumerate() {
            let (r, col) = ((i / 64) % 64, i % 64);
            let centre = (16..48).contains(&r) && (16..48).contains(&col);
            if !pbig && !centre {
                assert_eq!(
                    (*a, *p),
                    (0.0, 0.0),
                    "zero padding outside the centre at ({r},{col})"
                );
            }
            if centre {
                assert!(*a > 0.0 && *a < 1.0, "sigmoid amplitude {a}");
                assert!(p.abs() < std::f32::consts::PI);
            }
        }
    }
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let device = Device::flex();
    let s = GeneratorSpec {
        n_filters_scale: 1,
        ..spec(64, 1, true, true)
    };
    let w = |seed| -> Vec<f32> {
        let g = Generator::new(&s, seed, &device).unwrap();
        g.decoder_phase
            .conv2
            .unwrap()
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(w(5), w(5));
    assert_ne!(w(5), w(6));
}

#[test]
fn invalid_specs_name_the_field() {
    let err = Generator::new(&spec(96, 1, true, true), 0, &Device::flex()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid model setting `N`: expected 32, 64, 128 or 256, found 96"
    );
    let mut s = spec(64, 1, true, true);
    s.n_filters_scale = 0;
    let err = Generator::new(&s, 0, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`n_filters_scale`"), "{err}");
    let err = "tanh".parse::<AmpActivation>().unwrap_err().to_string();
    assert!(
        err.contains("`amp_activation`") && err.contains("\"tanh\""),
        "{err}"
    );
}
