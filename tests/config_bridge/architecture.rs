//! TestConfigBridgeArchitecture: generator family and FNO options through the bridge.

use ptycho_config::bridge::to_model_config;
use ptycho_config::torch::{DataConfig, ModelConfig as PtModel, TrainingConfig as PtTraining};
use ptycho_config::{Architecture, FnoInputTransform, Overrides, Scheduler};

use crate::common::{model, training};

fn small_data() -> DataConfig {
    DataConfig {
        N: 64,
        grid_size: (1, 1),
        ..Default::default()
    }
}

#[test]
fn config_bridge_architecture_override() {
    let m = to_model_config(
        &small_data(),
        &PtModel::default(),
        &Overrides::new().with("architecture", "cnn"),
    )
    .unwrap();
    assert_eq!(m.architecture, Architecture::Cnn);
    let m = to_model_config(
        &small_data(),
        &PtModel::default(),
        &Overrides::new().with("architecture", "fno_vanilla"),
    )
    .unwrap();
    assert_eq!(m.architecture, Architecture::FnoVanilla);
}

#[test]
fn config_bridge_architecture_default() {
    assert_eq!(
        model(&small_data(), &PtModel::default()).architecture,
        Architecture::Cnn
    );
}

#[test]
fn config_bridge_architecture_from_pt_model() {
    let pt = PtModel {
        architecture: Architecture::Fno,
        ..Default::default()
    };
    assert_eq!(model(&small_data(), &pt).architecture, Architecture::Fno);
}

#[test]
fn config_bridge_fno_input_transform() {
    let pt = PtModel {
        fno_input_transform: FnoInputTransform::Sqrt,
        ..Default::default()
    };
    assert_eq!(
        model(&small_data(), &pt).fno_input_transform,
        FnoInputTransform::Sqrt
    );
}

#[test]
fn training_config_lr_scheduler_roundtrip() {
    let t = PtTraining {
        scheduler: "WarmupCosine".into(),
        lr_warmup_epochs: 5,
        lr_min_ratio: 0.05,
        ..Default::default()
    };
    let canonical = training(&small_data(), &t);
    assert_eq!(canonical.scheduler, Scheduler::WarmupCosine);
    assert_eq!(canonical.lr_warmup_epochs, 5);
    assert_eq!(canonical.lr_min_ratio, 0.05);
}
