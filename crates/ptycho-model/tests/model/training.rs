//! Training: reproducibility, validation split and schedules, and a short run on simulated
//! lines that must lower the loss and reconstruct the object.

use burn::tensor::Device;

use ptycho_model::physics::HostProbe;
use ptycho_model::train::{GradientClip, Scheduler};
use ptycho_model::{
    AmpActivation, GeneratorSpec, InMemoryGroups, LossWeights, Physics, PhysicsSpec, Pinn,
    TrainingSpec, train,
};

use crate::common::{ScanLayout, flat_weights, lines_object, simulate_scan};

fn specs(gs: usize, nfs: usize, s: f32) -> (GeneratorSpec, PhysicsSpec) {
    let generator = GeneratorSpec {
        n: 64,
        gridsize: gs,
        n_filters_scale: nfs,
        amp_activation: AmpActivation::Sigmoid,
        object_big: true,
        probe_big: false,
        pad_object: true,
    };
    let physics = PhysicsSpec {
        n: 64,
        gridsize: gs,
        object_big: true,
        probe_big: false,
        intensity_scale: s,
        ..PhysicsSpec::default()
    };
    (generator, physics)
}

fn lines_scan(gs: usize, side: usize, step: usize) -> crate::common::SimScan {
    let amp = lines_object(side, 60, 1);
    // Upstream "lines" with phase: φ = π·tanh((A − max/2)/(3·mean)) scaled down.
    let mean = amp.iter().sum::<f32>() / amp.len() as f32;
    let (re, im): (Vec<f32>, Vec<f32>) = amp
        .iter()
        .map(|a| {
            let phi = 0.5 * (std::f32::consts::PI * ((a - 0.5) / (3.0 * mean)).tanh());
            (a * phi.cos(), a * phi.sin())
        })
        .unzip();
    let probe = HostProbe::default_disk(64);
    simulate_scan(
        (&re, &im),
        side,
        &probe,
        4.0,
        ScanLayout {
            gs,
            offset: 4,
            step,
            margin: 2,
        },
        1e9,
    )
}

fn quick_spec(epochs: usize, seed: u64) -> TrainingSpec {
    TrainingSpec {
        batch_size: 4,
        nepochs: epochs,
        early_stop_patience: None,
        seed,
        progress: false,
        ..TrainingSpec::default()
    }
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let device = Device::flex().autodiff();
    let scan = lines_scan(1, 80, 6);
    let (g, p) = specs(1, 1, scan.intensity_scale);
    let source = InMemoryGroups::new(scan.batch).unwrap();
    let physics = Physics::new(
        &p,
        &HostProbe::default_disk(64),
        g.support_is_centre(),
        &device,
    )
    .unwrap();
    let run = |weights_seed: u64, shuffle_seed: u64| {
        let model = Pinn::new(&g, &p, weights_seed, &device).unwrap();
        let mut spec = quick_spec(2, shuffle_seed);
        spec.gradient_clip = Some(GradientClip::Norm(1e6));
        let (model, history) = train(model, &physics, &source, &spec, &device).unwrap();
        (flat_weights(&model), history.losses())
    };
    let (w1, l1) = run(3, 7);
    let (w2, l2) = run(3, 7);
    assert_eq!(l1, l2, "loss histories differ");
    assert!(w1 == w2, "weights differ between identical runs");
    let (w3, _) = run(3, 8);
    assert!(w1 != w3, "another shuffle seed must change the weights");
}

#[test]
fn validation_split_is_the_tail_and_history_is_written() {
    let device = Device::flex().autodiff();
    let scan = lines_scan(1, 80, 6);
    let (g, p) = specs(1, 1, scan.intensity_scale);
    let groups = scan.batch.groups;
    let source = InMemoryGroups::new(scan.batch).unwrap();
    let physics = Physics::new(&p, &HostProbe::default_disk(64), true, &device).unwrap();
    let model = Pinn::new(&g, &p, 1, &device).unwrap();
    let mut spec = quick_spec(2, 1);
    spec.validation_split = 0.25;
    spec.scheduler = Scheduler::Exponential { gamma: 0.5 };
    let (_, history) = train(model, &physics, &source, &spec, &device).unwrap();
    let split = (groups as f64 * 0.75).floor() as usize;
    assert_eq!(
        (history.train_groups, history.val_groups),
        (split, groups - split)
    );
    assert_eq!(history.epochs.len(), 2);
    assert!(
        history
            .epochs
            .iter()
            .all(|e| e.val_loss.is_some_and(f64::is_finite))
    );
    assert_eq!(history.epochs[1].learning_rate, 5e-4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    history.write_json(&path).unwrap();
    let back: ptycho_model::TrainingHistory =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back, history);
}

#[test]
fn bad_training_settings_are_reported_by_field() {
    let device = Device::flex().autodiff();
    let scan = lines_scan(1, 72, 8);
    let (g, p) = specs(1, 1, scan.intensity_scale);
    let source = InMemoryGroups::new(scan.batch).unwrap();
    let physics = Physics::new(&p, &HostProbe::default_disk(64), true, &device).unwrap();
    let mut spec = quick_spec(1, 1);
    spec.batch_size = 0;
    let model = Pinn::new(&g, &p, 1, &device).unwrap();
    let err = train(model, &physics, &source, &spec, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`batch_size`"), "{err}");
    let mut spec = quick_spec(1, 1);
    spec.loss_weights = LossWeights {
        nll_weight: 0.0,
        ..LossWeights::default()
    };
    let model = Pinn::new(&g, &p, 1, &device).unwrap();
    let err = train(model, &physics, &source, &spec, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least one of"), "{err}");
    let model = Pinn::new(&g, &p, 1, &device).unwrap();
    let plain = Device::flex();
    let err = train(model, &physics, &source, &quick_spec(1, 1), &plain)
        .unwrap_err()
        .to_string();
    assert!(err.contains("autodiff"), "{err}");
}
