//! A model trained on the checked-in N = 64 lines fixture reconstructs its object: the group
//! objects are stitched over the scan with `|P|²` weights (ptycho-eval, the same stitcher as
//! `ptycho infer`), compared with the fixture's `objectGuess` over the well-lit square, and
//! written as PNGs (reconstruction and truth, amplitude and phase) with the metrics and the
//! loss history in the test artefact folder `$CARGO_TARGET_TMPDIR/ptycho-model-fixture`.
//!
//! Besides SSIM, which the object's large-scale structure alone can satisfy, the test checks
//! the *lines*: the high-pass part of the reconstruction (image minus its σ = 2 px Gaussian
//! blur, which keeps the fixture's sharp `gf(1)` line component) must correlate with the
//! truth's.

use std::path::Path;

use burn::tensor::Device;
use ndarray::{Array2, Array3, ArrayView2, s};
use num_complex::Complex32;
use ptycho_config::{ModelConfig, TrainingConfig};
use ptycho_data::{BatchSource, LoadOptions, prepare_training_data};
use ptycho_eval::filters::gaussian_filter;
use ptycho_eval::phase::remove_mean;
use ptycho_eval::pointwise::{data_range, scale_to_mean};
use ptycho_eval::stitch::{
    CanvasAnchor, PatchWeighting, ScanPosition, StitchGeometry, StitchedObject, Stitcher,
};
use ptycho_model::{
    DataGroups, DeviceBatch, GeneratorSpec, GroupBatch, GroupSource, Physics, PhysicsSpec, Pinn,
    train,
};
use serde_json::json;

use crate::common::mae_training;
use crate::fixture::{fixture_n64, host_probe};

/// Epochs of 16 steps (64 groups, batch 4), about 6 minutes on an idle 2-core machine (2.3 s
/// per epoch). The earlier 24-epoch version of this test recovered only the large-scale
/// structure; single lines appear in the phase from about 120 epochs (see the measurements at
/// the assertions).
const EPOCHS: usize = 160;

/// σ of the Gaussian blur whose residual is the "lines" (high-pass) part of an image.
const DETAIL_SIGMA: f64 = 2.0;

/// Stitched pixels whose accumulated `|P|²` weight is below this fraction of the maximum are
/// outside the well-lit square that is scored.
const LIT_FRACTION: f32 = 0.1;

/// Pearson correlation of two equally shaped images.
fn correlation(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    let (ma, mb) = (a.mean().unwrap(), b.mean().unwrap());
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    ab / (aa * bb).sqrt().max(1e-300)
}

/// `image − gaussian_filter(image, DETAIL_SIGMA)`.
fn high_pass(image: ArrayView2<'_, f64>) -> Array2<f64> {
    &image - &gaussian_filter(image, DETAIL_SIGMA)
}

/// Scores of one reconstruction against the truth over the scored square.
#[derive(Debug, Clone, Copy)]
struct Scores {
    amplitude_ssim: f64,
    phase_ssim: f64,
    amplitude_detail: f64,
    phase_detail: f64,
}

/// Amplitude (scaled to the truth's mean) and mean-removed phase SSIM, and the high-pass
/// correlations of both.
fn score(amp: ArrayView2<'_, f64>, phase: ArrayView2<'_, f64>, truth: &Truth) -> Scores {
    let (amp, _) = scale_to_mean(truth.amplitude.view(), amp).unwrap();
    let phase = remove_mean(phase);
    let ssim = |a: ArrayView2<'_, f64>, t: &Array2<f64>| {
        ptycho_eval::ssim(a, t.view(), data_range(t.view())).unwrap()
    };
    Scores {
        amplitude_ssim: ssim(amp.view(), &truth.amplitude),
        phase_ssim: ssim(phase.view(), &truth.phase),
        amplitude_detail: correlation(high_pass(amp.view()).view(), truth.amplitude_hp.view()),
        phase_detail: correlation(high_pass(phase.view()).view(), truth.phase_hp.view()),
    }
}

/// The truth over the scored square, with its high-pass parts.
struct Truth {
    amplitude: Array2<f64>,
    phase: Array2<f64>,
    amplitude_hp: Array2<f64>,
    phase_hp: Array2<f64>,
}

/// Where the scored square lies: rows/cols `[lo, hi)` of the canvas and the object offset
/// (object pixel = canvas pixel + offset).
#[derive(Debug, Clone, Copy)]
struct Square {
    lo: usize,
    hi: usize,
    row_offset: i64,
    col_offset: i64,
}

/// The largest square centred on the canvas whose pixels all carry at least
/// `LIT_FRACTION` of the maximum stitching weight.
fn lit_square(stitched: &StitchedObject) -> Square {
    let w = &stitched.weight;
    let max = w.iter().copied().fold(0.0f32, f32::max);
    let (rows, cols) = w.dim();
    assert_eq!(rows, cols, "the stitching canvas is square");
    let centre = rows / 2;
    let half = (4..centre)
        .rev()
        .find(|&half| {
            let (lo, hi) = (centre - half, centre + half);
            w.slice(s![lo..hi, lo..hi])
                .iter()
                .all(|v| *v >= LIT_FRACTION * max)
        })
        .expect("a lit square of at least 8 px");
    let origin = stitched.origin;
    assert_eq!(
        (origin.x.fract(), origin.y.fract()),
        (0.0, 0.0),
        "a pixel-grid canvas"
    );
    Square {
        lo: centre - half,
        hi: centre + half,
        row_offset: origin.y as i64,
        col_offset: origin.x as i64,
    }
}

#[test]
fn model_trained_on_the_fixture_reconstructs_its_object() {
    // gridsize 2, n_filters_scale 1, amplitude-MAE loss (the 2023 ablation rows), 64 groups,
    // batch 4, lr 1e-3 (3e-3 collapses to a constant amplitude on this object, and a 2e-3
    // warm-up/cosine schedule learns more slowly).
    let (n, gs, groups) = (64usize, 2usize, 64usize);
    let model_cfg = ModelConfig {
        N: n,
        gridsize: gs,
        n_filters_scale: 1,
        probe_big: false,
        ..ModelConfig::default()
    };
    let cfg = TrainingConfig {
        model: model_cfg.clone(),
        nphotons: 1e9,
        n_groups: groups,
        subsample_seed: Some(3),
        ..TrainingConfig::default()
    };
    let prepared = prepare_training_data(fixture_n64(), &cfg, &LoadOptions::default()).unwrap();
    let container = &prepared.container;
    assert_eq!((container.len(), container.patch_size()), (groups, n));
    let generator = GeneratorSpec::try_from(&model_cfg).unwrap();
    let physics_spec = PhysicsSpec::from_config(&model_cfg, container.norm_y_i, true).unwrap();
    let device = Device::flex().autodiff();
    let physics = Physics::new(
        &physics_spec,
        &host_probe(&prepared.scan),
        generator.support_is_centre(),
        &device,
    )
    .unwrap();
    let source = DataGroups::new(container);
    let all: Vec<usize> = (0..groups).collect();
    let offsets = container.batch(&all).unwrap().coords_offsets;
    let centres: Vec<ScanPosition> = (0..groups)
        .map(|g| ScanPosition::new(offsets[[g, 0, 0, 0]], offsets[[g, 0, 0, 1]]))
        .collect();
    let weighting = PatchWeighting::probe_intensity(prepared.scan.probe.view()).unwrap();
    let geometry =
        StitchGeometry::from_positions(centres.iter().copied(), n, n / 2, CanvasAnchor::PixelGrid)
            .unwrap();
    let reconstruct = |model: &Pinn| {
        let mut host = GroupBatch::empty(gs * gs, n);
        source.fill(&all, &mut host).unwrap();
        let batch = DeviceBatch::new(&host, &physics, &device).unwrap();
        let object = model.predict_object(&physics, &batch);
        let re: Vec<f32> = object.re.into_data().try_to_vec::<f32>().unwrap();
        let im: Vec<f32> = object.im.into_data().try_to_vec::<f32>().unwrap();
        let patches = Array3::from_shape_fn((groups, n, n), |(g, r, c)| {
            let k = (g * n + r) * n + c;
            Complex32::new(re[k], im[k])
        });
        let mut stitcher = Stitcher::new(geometry.clone(), weighting.clone()).unwrap();
        stitcher.push_batch(patches.view(), &centres).unwrap();
        stitcher.finish()
    };

    let model = Pinn::new(&generator, &physics_spec, 3, &device).unwrap();
    let untrained = reconstruct(&model);
    let sq = lit_square(&untrained);
    let object = prepared.scan.object.as_ref().expect("objectGuess");
    let (r0, c0) = (
        (sq.lo as i64 + sq.row_offset) as usize,
        (sq.lo as i64 + sq.col_offset) as usize,
    );
    let side = sq.hi - sq.lo;
    let truth_view = object.slice(s![r0..r0 + side, c0..c0 + side]);
    let truth_amplitude = truth_view.mapv(|z| z.norm() as f64);
    let truth_phase = remove_mean(truth_view.mapv(|z| z.arg() as f64).view());
    let truth = Truth {
        amplitude_hp: high_pass(truth_amplitude.view()),
        phase_hp: high_pass(truth_phase.view()),
        amplitude: truth_amplitude,
        phase: truth_phase,
    };
    let scored = |stitched: &StitchedObject| {
        let region = s![sq.lo..sq.hi, sq.lo..sq.hi];
        let amp = stitched.amplitude().slice(region).mapv(f64::from);
        let phase = stitched.phase().slice(region).mapv(f64::from);
        (score(amp.view(), phase.view(), &truth), amp, phase)
    };
    let (before, _, _) = scored(&untrained);

    let spec = mae_training(EPOCHS, 1e-3, 3);
    let started = std::time::Instant::now();
    let (model, history) = train(model, &physics, &source, &spec, &device).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let losses = history.losses();
    let (after, amp, phase) = scored(&reconstruct(&model));

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ptycho-model-fixture");
    std::fs::create_dir_all(&out).unwrap();
    let to_f32 = |a: &Array2<f64>| a.mapv(|v| v as f32);
    let phase_range = |p: &Array2<f64>| {
        let lo = p.iter().copied().fold(f64::MAX, f64::min) as f32;
        let hi = p.iter().copied().fold(f64::MIN, f64::max) as f32;
        Some((lo, hi))
    };
    let write = ptycho_eval::export::write_png_gray8;
    write(&out.join("amplitude.png"), to_f32(&amp).view(), None).unwrap();
    write(
        &out.join("truth_amplitude.png"),
        to_f32(&truth.amplitude).view(),
        None,
    )
    .unwrap();
    // Both phases on the truth's range, so that the two images compare by eye.
    let aligned_phase = remove_mean(phase.view());
    write(
        &out.join("phase.png"),
        to_f32(&aligned_phase).view(),
        phase_range(&truth.phase),
    )
    .unwrap();
    write(
        &out.join("truth_phase.png"),
        to_f32(&truth.phase).view(),
        phase_range(&truth.phase),
    )
    .unwrap();
    history.write_json(&out.join("history.json")).unwrap();
    let metrics = |s: &Scores| {
        json!({
            "amplitude_ssim": s.amplitude_ssim,
            "phase_ssim": s.phase_ssim,
            "amplitude_detail_correlation": s.amplitude_detail,
            "phase_detail_correlation": s.phase_detail,
        })
    };
    ptycho_eval::export::write_json(
        &out.join("metrics.json"),
        &json!({
            "epochs": EPOCHS,
            "training_seconds": seconds,
            "scored_square": {"object_row": r0, "object_col": c0, "side": side},
            "detail_sigma_px": DETAIL_SIGMA,
            "untrained": metrics(&before),
            "trained": metrics(&after),
        }),
    )
    .unwrap();
    eprintln!(
        "fixture: {seconds:.1}s training, {side} px square at object ({r0}, {c0}), \
         untrained {before:?}, trained {after:?}, loss {:.3} -> {:.3}, artefacts in {}",
        losses[0],
        losses.last().unwrap(),
        out.display()
    );
    // Measured over the 60 px square, 160 epochs, idle 2-core AVX-512 machine (363-369 s):
    //   weights and shuffle seed 3: amplitude SSIM 0.925, phase SSIM 0.863, high-pass
    //     correlation amplitude 0.893, phase 0.912; loss 18.4 -> 6.2;
    //   seed 4: 0.943, 0.750, 0.920, 0.926; loss 18.5 -> 5.4;
    //   seed 5: 0.939, 0.776, 0.916, 0.936; loss 17.2 -> 5.5;
    //   untrained: SSIM 0.24 / 0.02, high-pass correlation below 0.06.
    // The same high-pass correlation with the truth shifted by 3 px is 0.04: the detail sits
    // where the lines are. The bounds leave room for another CPU's gemm kernels, which change
    // the trajectory as much as another seed does.
    assert!(side >= 56, "the scored square is only {side} px wide");
    assert!(losses.last().unwrap() < &(0.5 * losses[0]), "{losses:?}");
    assert!(
        after.amplitude_ssim > 0.8 && after.phase_ssim > 0.6,
        "trained {after:?} (untrained {before:?})"
    );
    assert!(
        after.amplitude_detail > 0.7 && after.phase_detail > 0.7,
        "the lines are not resolved: trained {after:?} (untrained {before:?})"
    );
}
