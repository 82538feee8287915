//! Shared helpers: the simulated dataset, a tiny training config, the two devices, training on
//! one of them, and the comparison of two reconstructions.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ptycho_config::{LegacyParams, ModelConfig, TrainingConfig};
use ptycho_data::PtychoDataContainer;
use ptycho_data::simulate::fixture::write_simulated_dataset;
use ptycho_data::{ObjectKind, ProbeSource, ScanKind, SimulationConfig};
use ptycho_workflows::{
    Accelerator, Backend, ComputeDevice, ConfigInput, DataInput, Reconstruction, TrainOptions,
    TrainedModel, ensure_container, resolve_config, train_cdi_model,
};

/// Largest amplitude difference accepted between backends for the same weights (amplitudes
/// lie in [0, 1]). Measured on lavapipe: 3.0e-7 (gridsize 1 and 2), i.e. a few f32 ulp.
pub const AMPLITUDE_TOLERANCE: f32 = 1e-5;
/// Largest phase difference (radians) accepted where the object is not dark. Measured on
/// lavapipe: 6.4e-7.
pub const PHASE_TOLERANCE: f32 = 1e-5;
/// Phase is compared only where both amplitudes exceed this (elsewhere it is ill-defined).
pub const PHASE_AMPLITUDE_FLOOR: f32 = 1e-2;
/// Largest relative difference of an epoch's mean loss in a short training run (measured on
/// lavapipe: 7.0e-7 after four Adam steps).
pub const LOSS_RELATIVE_TOLERANCE: f64 = 1e-5;
/// After training on each backend separately the weights differ: Adam's first steps divide the
/// gradient by its own magnitude, so a component near zero moves by up to ±lr whatever its
/// sign noise. The trained objects then agree to these (measured: amplitude 4.0e-5, phase
/// 7.5e-4 rad after four steps), still far below what a wrong gradient would give.
pub const TRAINED_AMPLITUDE_TOLERANCE: f32 = 1e-3;
/// See [`TRAINED_AMPLITUDE_TOLERANCE`].
pub const TRAINED_PHASE_TOLERANCE: f32 = 1e-2;

/// A simulated lines dataset (32 positions, N = 64), written once per test process.
pub fn dataset() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cross_backend_parity");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("sim_lines_n64_{}.npz", std::process::id()));
        let cfg = SimulationConfig {
            n: 64,
            object_size: 128,
            object: ObjectKind::Lines,
            probe: ProbeSource::Default,
            scan: ScanKind::Random,
            n_images: 32,
            nphotons: 1e6,
            poisson: true,
            seed: 11,
        };
        write_simulated_dataset(&cfg, &path).unwrap();
        path
    })
    .clone()
}

/// The smallest real model: N = 64, n_filters_scale 1, `n_groups` groups of `gridsize`².
pub fn tiny_config(gridsize: usize, n_groups: usize) -> TrainingConfig {
    TrainingConfig {
        model: ModelConfig {
            N: 64,
            gridsize,
            n_filters_scale: 1,
            probe_big: false,
            ..ModelConfig::default()
        },
        train_data_file: Some(dataset()),
        nepochs: 1,
        batch_size: 8,
        n_groups,
        nphotons: 1e6,
        subsample_seed: Some(3),
        mae_weight: 1.0,
        nll_weight: 1.0,
        ..TrainingConfig::default()
    }
}

/// The wgpu device; a clear failure when the machine has no Vulkan adapter.
pub fn wgpu() -> ComputeDevice {
    let device = ComputeDevice::select(Accelerator::Wgpu)
        .unwrap_or_else(|e| panic!("{e} (run .ci/setup-vulkan)"));
    assert_eq!(device.backend(), Backend::Wgpu);
    device
}

/// The CPU device.
pub fn flex() -> ComputeDevice {
    let device = ComputeDevice::select(Accelerator::Cpu).unwrap();
    assert_eq!(device.backend(), Backend::Flex);
    device
}

/// Trains `config` for its epochs on `device` with a fixed seed and no validation split.
pub fn train_on(config: &TrainingConfig, device: &ComputeDevice) -> TrainedModel {
    let mut params = LegacyParams::new();
    let resolved = resolve_config(ConfigInput::Canonical(config.clone()), &mut params).unwrap();
    let options = TrainOptions {
        seed: Some(17),
        validation_split: Some(0.0),
        device: device.clone(),
        ..TrainOptions::default()
    };
    train_cdi_model(DataInput::Npz(dataset()), None, &resolved, &options)
        .unwrap()
        .trained
}

/// The inference container of `config` (its groups of the dataset).
pub fn container(config: &TrainingConfig) -> PtychoDataContainer {
    ensure_container(DataInput::Npz(dataset()), config).unwrap()
}

/// Saves `model` into a fresh folder under `dir` and returns the archive.
pub fn save(model: &TrainedModel, dir: &Path, name: &str) -> PathBuf {
    model.save(&dir.join(name)).unwrap()
}

/// Largest differences between two reconstructions of the same groups.
#[derive(Debug, Clone, Copy)]
pub struct Differences {
    /// Max |amplitude a − amplitude b|.
    pub amplitude: f32,
    /// Max wrapped |phase a − phase b| where both amplitudes exceed the floor.
    pub phase: f32,
    /// Largest amplitude seen (to show the comparison is not of empty patches).
    pub peak_amplitude: f32,
    /// Pixels whose phase was compared.
    pub phase_pixels: usize,
}

/// Compares two reconstructions pixel by pixel (same groups, positions and gridsize).
pub fn compare(a: &Reconstruction, b: &Reconstruction) -> Differences {
    assert_eq!(a.patches.shape(), b.patches.shape());
    assert_eq!(a.positions, b.positions);
    assert_eq!(a.gridsize, b.gridsize);
    let mut d = Differences {
        amplitude: 0.0,
        phase: 0.0,
        peak_amplitude: 0.0,
        phase_pixels: 0,
    };
    for (za, zb) in a.patches.iter().zip(b.patches.iter()) {
        let (aa, ab) = (za.norm(), zb.norm());
        assert!(aa.is_finite() && ab.is_finite(), "{za} vs {zb}");
        d.amplitude = d.amplitude.max((aa - ab).abs());
        d.peak_amplitude = d.peak_amplitude.max(aa.max(ab));
        if aa > PHASE_AMPLITUDE_FLOOR && ab > PHASE_AMPLITUDE_FLOOR {
            let mut dp = (za.arg() - zb.arg()).abs();
            if dp > std::f32::consts::PI {
                dp = 2.0 * std::f32::consts::PI - dp;
            }
            d.phase = d.phase.max(dp);
            d.phase_pixels += 1;
        }
    }
    d
}

/// Asserts that two reconstructions agree within the stated tolerances (and are not trivial).
pub fn assert_close(what: &str, a: &Reconstruction, b: &Reconstruction) -> Differences {
    let d = compare(a, b);
    eprintln!("{what}: {d:?}");
    assert!(
        d.peak_amplitude > 0.05,
        "{what}: empty reconstruction {d:?}"
    );
    assert!(d.phase_pixels > 1000, "{what}: too few lit pixels {d:?}");
    assert!(
        d.amplitude <= AMPLITUDE_TOLERANCE,
        "{what}: amplitude differs by {} > {AMPLITUDE_TOLERANCE}",
        d.amplitude
    );
    assert!(
        d.phase <= PHASE_TOLERANCE,
        "{what}: phase differs by {} rad > {PHASE_TOLERANCE}",
        d.phase
    );
    d
}
