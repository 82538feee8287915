//! Train on the checked-in simulated fixture (`fixtures/datasets/sim_lines_n32.npz`, read by
//! ptycho-data), stitch the reconstruction, write amplitude and phase PNGs to the test artefact
//! folder and check that the amplitude resembles the known object.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use ptycho_config::{ModelConfig, TrainingConfig};
use ptycho_data::{BatchSource, LoadOptions, prepare_training_data};

use ptycho_model::physics::HostProbe;
use ptycho_model::train::Scheduler;
use ptycho_model::{
    DataGroups, DeviceBatch, GeneratorSpec, GroupBatch, GroupSource, LossWeights, Physics,
    PhysicsSpec, Pinn, TrainingSpec, train,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datasets/sim_lines_n32.npz")
}

fn write_png(path: &Path, img: &[f32], w: usize, h: usize) {
    let (lo, hi) = img
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let bytes: Vec<u8> = img
        .iter()
        .map(|v| (255.0 * (v - lo) / (hi - lo).max(1e-12)).round() as u8)
        .collect();
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .unwrap()
        .write_image_data(&bytes)
        .unwrap();
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|v| *v as f64).sum::<f64>() / n,
        b.iter().map(|v| *v as f64).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (*x as f64 - ma, *y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn model_trained_on_the_fixture_reconstructs_its_object() {
    let model_cfg = ModelConfig {
        N: 32,
        gridsize: 1,
        n_filters_scale: 1,
        probe_big: false,
        ..ModelConfig::default()
    };
    let cfg = TrainingConfig {
        model: model_cfg.clone(),
        nphotons: 1e6,
        n_groups: 64,
        ..TrainingConfig::default()
    };
    let prepared = prepare_training_data(fixture(), &cfg, &LoadOptions::default()).unwrap();
    let container = &prepared.container;
    assert_eq!((container.len(), container.patch_size()), (64, 32));
    let s = ptycho_data::intensity_scale(cfg.nphotons, 32) as f32;
    let generator = GeneratorSpec::try_from(&model_cfg).unwrap();
    let physics_spec = PhysicsSpec::from_config(&model_cfg, s, true).unwrap();
    let probe = &prepared.scan.probe;
    let probe = HostProbe::new(
        32,
        probe.iter().map(|z| z.re).collect(),
        probe.iter().map(|z| z.im).collect(),
    )
    .unwrap();
    let device = Device::flex().autodiff();
    let physics = Physics::new(
        &physics_spec,
        &probe,
        generator.support_is_centre(),
        &device,
    )
    .unwrap();
    let model = Pinn::new(&generator, &physics_spec, 2, &device).unwrap();
    let source = DataGroups::new(container);
    let spec = TrainingSpec {
        batch_size: 8,
        nepochs: 25,
        learning_rate: 3e-3,
        validation_split: 0.0,
        early_stop_patience: None,
        scheduler: Scheduler::Constant,
        loss_weights: LossWeights {
            nll_weight: 0.0,
            mae_weight: 1.0,
            ..LossWeights::default()
        },
        seed: 3,
        progress: false,
        ..TrainingSpec::default()
    };
    let started = std::time::Instant::now();
    let (model, history) = train(model, &physics, &source, &spec, &device).unwrap();
    let losses = history.losses();

    // Reconstruct every group and stitch the central 16×16 at the scan positions.
    let all: Vec<usize> = (0..source.len()).collect();
    let mut host = GroupBatch::empty(1, 32);
    source.fill(&all, &mut host).unwrap();
    let batch = DeviceBatch::new(&host, &physics, &device).unwrap();
    let object = model.predict_object(&physics, &batch);
    let re: Vec<f32> = object.re.into_data().try_to_vec::<f32>().unwrap();
    let im: Vec<f32> = object.im.into_data().try_to_vec::<f32>().unwrap();
    let truth = prepared
        .scan
        .object
        .as_ref()
        .expect("fixture has objectGuess");
    let (h, w) = truth.dim();
    let data_batch = container.batch(&all).unwrap();
    let (mut sre, mut sim, mut count) = (
        vec![0.0f32; h * w],
        vec![0.0f32; h * w],
        vec![0.0f32; h * w],
    );
    let crop = 16usize;
    for g in 0..all.len() {
        let (x, y) = (
            data_batch.coords_offsets[[g, 0, 0, 0]].round() as i64,
            data_batch.coords_offsets[[g, 0, 0, 1]].round() as i64,
        );
        for r in 0..crop {
            for c in 0..crop {
                let (or, oc) = (y - 8 + r as i64, x - 8 + c as i64);
                if or < 0 || oc < 0 || or >= h as i64 || oc >= w as i64 {
                    continue;
                }
                let k = or as usize * w + oc as usize;
                let p = g * 32 * 32 + (8 + r) * 32 + 8 + c;
                sre[k] += re[p];
                sim[k] += im[p];
                count[k] += 1.0;
            }
        }
    }
    let covered: Vec<usize> = (0..h * w).filter(|k| count[*k] > 0.0).collect();
    let amp: Vec<f32> = (0..h * w)
        .map(|k| {
            if count[k] > 0.0 {
                sre[k].hypot(sim[k]) / count[k]
            } else {
                0.0
            }
        })
        .collect();
    let phase: Vec<f32> = (0..h * w)
        .map(|k| {
            if count[k] > 0.0 {
                sim[k].atan2(sre[k])
            } else {
                0.0
            }
        })
        .collect();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ptycho-model-fixture");
    std::fs::create_dir_all(&out).unwrap();
    write_png(&out.join("amplitude.png"), &amp, w, h);
    write_png(&out.join("phase.png"), &phase, w, h);
    let truth_amp: Vec<f32> = truth.iter().map(|z| z.norm()).collect();
    write_png(&out.join("truth_amplitude.png"), &truth_amp, w, h);
    history.write_json(&out.join("history.json")).unwrap();

    let pa: Vec<f32> = covered.iter().map(|k| amp[*k]).collect();
    let ta: Vec<f32> = covered.iter().map(|k| truth_amp[*k]).collect();
    let r = pearson(&pa, &ta);
    eprintln!(
        "fixture: {:.1}s, {} covered px, amplitude correlation {r:.3}, losses {losses:?}, artefacts in {}",
        started.elapsed().as_secs_f64(),
        covered.len(),
        out.display()
    );
    assert!(
        covered.len() > h * w / 4,
        "stitched coverage {}",
        covered.len()
    );
    assert!(losses.last().unwrap() < &(0.8 * losses[0]), "{losses:?}");
    assert!(r > 0.5, "amplitude correlation with the known object {r}");
}

/// The training loop streams from ptycho-data's memory-mapped dataset through [`DataGroups`].
#[test]
fn training_streams_from_the_memory_mapped_dataset() {
    use ptycho_data::{GroupingParams, MemmapConfig, MemmapDataset};

    let dir = tempfile::tempdir().unwrap();
    let cfg = MemmapConfig {
        grouping: GroupingParams {
            n_groups: 24,
            gridsize: 2,
            seed: Some(1),
            ..GroupingParams::default()
        },
        memory_cap_bytes: 64 << 20,
        convert_intensity: false,
    };
    let data = MemmapDataset::build(&[fixture()], dir.path().join("cache"), &cfg).unwrap();
    let source = DataGroups::new(&data);
    assert_eq!((source.len(), source.channels(), source.n()), (24, 4, 32));
    let mut host = GroupBatch::empty(4, 32);
    source.fill(&[5, 2], &mut host).unwrap();
    let view = data.diffraction_view();
    let row5: Vec<f32> = view
        .index_axis(ndarray::Axis(0), 5)
        .iter()
        .copied()
        .collect();
    assert_eq!(
        &host.amplitude[..4 * 32 * 32],
        &row5[..],
        "rows come back in request order"
    );
    assert_eq!(host.offsets.len(), 2 * 4 * 2);

    let model_cfg = ModelConfig {
        N: 32,
        gridsize: 2,
        n_filters_scale: 1,
        probe_big: false,
        ..ModelConfig::default()
    };
    let s = ptycho_data::intensity_scale(1e6, 32) as f32;
    let generator = GeneratorSpec::try_from(&model_cfg).unwrap();
    let physics_spec = PhysicsSpec::from_config(&model_cfg, s, true).unwrap();
    let probe = &data.probes()[0];
    let probe = HostProbe::new(
        32,
        probe.iter().map(|z| z.re).collect(),
        probe.iter().map(|z| z.im).collect(),
    )
    .unwrap();
    let device = Device::flex().autodiff();
    let physics = Physics::new(
        &physics_spec,
        &probe,
        generator.support_is_centre(),
        &device,
    )
    .unwrap();
    let model = Pinn::new(&generator, &physics_spec, 2, &device).unwrap();
    let spec = TrainingSpec {
        batch_size: 8,
        nepochs: 2,
        progress: false,
        ..TrainingSpec::default()
    };
    let (_, history) = train(model, &physics, &source, &spec, &device).unwrap();
    assert_eq!((history.train_groups, history.val_groups), (22, 2));
    assert_eq!(history.epochs.len(), 2);
    assert!(
        history
            .epochs
            .iter()
            .all(|e| e.loss.is_finite() && e.val_loss.is_some())
    );
}
