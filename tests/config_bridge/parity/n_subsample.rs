//! n_subsample semantic collision: the PyTorch value is never propagated.

use super::*;

#[test]
fn training_config_missing_override_uses_none() {
    let data = DataConfig {
        n_subsample: 7,
        ..Default::default()
    };
    let t = training(&data, &PtTraining::default());
    assert_eq!(t.n_subsample, None);
}

#[test]
fn training_config_explicit_override() {
    let data = DataConfig {
        n_subsample: 7,
        ..Default::default()
    };
    let t = training_with(
        &data,
        &PtModel::default(),
        &PtTraining::default(),
        &train_overrides().with("n_subsample", 1000),
    );
    assert_eq!(t.n_subsample, Some(1000));
}

#[test]
fn inference_config_missing_override_uses_none() {
    let data = DataConfig {
        n_subsample: 7,
        ..Default::default()
    };
    assert_eq!(inference_with(&data, &infer_overrides()).n_subsample, None);
}

#[test]
fn inference_config_explicit_override() {
    let data = DataConfig {
        n_subsample: 7,
        ..Default::default()
    };
    let i = inference_with(&data, &infer_overrides().with("n_subsample", 500));
    assert_eq!(i.n_subsample, Some(500));
}
