//! The nphotons guard: the PyTorch default 1e5 needs an explicit override.

use super::*;

#[test]
fn default_divergence_error() {
    let data = DataConfig {
        nphotons: 1e5,
        ..Default::default()
    };
    let m = model(&data, &PtModel::default());
    let o = Overrides::new()
        .with("train_data_file", "train.npz")
        .with("n_groups", 512);
    let err = to_training_config(&m, &data, &PtModel::default(), &PtTraining::default(), &o)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nphotons default divergence"), "{err}");
    assert!(err.contains("overrides"), "{err}");
    assert!(err.contains("nphotons="), "{err}");
    assert!(
        err.contains("100000.0") && err.contains("1000000000.0"),
        "{err}"
    );
}

#[test]
fn override_passes_validation() {
    let data = DataConfig {
        nphotons: 1e5,
        ..Default::default()
    };
    let t = training_with(
        &data,
        &PtModel::default(),
        &PtTraining::default(),
        &train_overrides(),
    );
    assert_eq!(t.nphotons, 1e9);
}

#[test]
fn non_default_value_passes_through_without_override() {
    let data = DataConfig {
        nphotons: 2e6,
        ..Default::default()
    };
    let m = model(&data, &PtModel::default());
    let o = Overrides::new()
        .with("train_data_file", "train.npz")
        .with("n_groups", 8);
    let t = to_training_config(&m, &data, &PtModel::default(), &PtTraining::default(), &o).unwrap();
    assert_eq!(t.value.nphotons, 2e6);
}
