//! Shared helpers: the fixture path and a tiny training config.

use std::path::PathBuf;
use std::sync::OnceLock;

use ptycho_config::{ModelConfig, TrainingConfig};
use ptycho_data::simulate::fixture::write_simulated_dataset;
use ptycho_data::{ObjectKind, ProbeSource, ScanKind, SimulationConfig};

/// A simulated lines dataset with ground truth (48 positions, N = 64), written once per test
/// run. The checked-in fixture has N = 32, which the canonical config does not accept
/// (`model.N` must be 64, 128 or 256).
pub fn fixture() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("workflows_components");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("sim_lines_n64_{}.npz", std::process::id()));
        let cfg = SimulationConfig {
            n: 64,
            object_size: 160,
            object: ObjectKind::Lines,
            probe: ProbeSource::Default,
            scan: ScanKind::Random,
            n_images: 48,
            nphotons: 1e6,
            poisson: true,
            seed: 7,
        };
        write_simulated_dataset(&cfg, &path).unwrap();
        path
    })
    .clone()
}

/// A config small enough to train in a second or two.
pub fn tiny_config(gridsize: usize, n_groups: usize, nepochs: usize) -> TrainingConfig {
    TrainingConfig {
        model: ModelConfig {
            N: 64,
            gridsize,
            n_filters_scale: 1,
            probe_big: false,
            ..ModelConfig::default()
        },
        train_data_file: Some(fixture()),
        nepochs,
        batch_size: 8,
        n_groups,
        nphotons: 1e6,
        subsample_seed: Some(3),
        mae_weight: 1.0,
        nll_weight: 0.0,
        ..TrainingConfig::default()
    }
}
