//! Inputs the bridge rejects, with messages that name the field and the fix.

use super::*;

#[test]
fn gridsize_non_square() {
    let data = DataConfig {
        grid_size: (2, 3),
        ..Default::default()
    };
    let err = to_model_config(&data, &PtModel::default(), &Overrides::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "non-square grids not supported: data_config.grid_size = (2, 3); use a square grid such as (2, 2) or (3, 3)"
    );
}

#[test]
fn model_type_invalid_enum() {
    let pt = PtModel {
        mode: "InvalidMode".into(),
        ..Default::default()
    };
    let err = to_model_config(&DataConfig::default(), &pt, &Overrides::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid mode \"InvalidMode\" in model_config.mode: must be \"Unsupervised\" or \"Supervised\""
    );
    let pt = PtModel {
        mode: "pinn".into(),
        ..Default::default()
    };
    assert!(
        to_model_config(&DataConfig::default(), &pt, &Overrides::new()).is_err(),
        "case-sensitive, canonical names rejected"
    );
}

#[test]
fn amp_activation_unknown() {
    let pt = PtModel {
        amp_activation: "unknown_activation".into(),
        ..Default::default()
    };
    let err = to_model_config(&DataConfig::default(), &pt, &Overrides::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "unknown activation \"unknown_activation\" in model_config.amp_activation: supported values are silu, SiLU, sigmoid, swish, softplus, relu"
    );
}

#[test]
fn train_data_file_required() {
    let m = model(&DataConfig::default(), &PtModel::default());
    let o = Overrides::new().with("n_groups", 512).with("nphotons", 1e9);
    let err = to_training_config(
        &m,
        &DataConfig::default(),
        &PtModel::default(),
        &PtTraining::default(),
        &o,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("train_data_file is required in overrides"),
        "{err}"
    );
    assert!(err.contains("train_data_file=train.npz"), "{err}");
}

#[test]
fn model_path_required() {
    let m = model(&DataConfig::default(), &PtModel::default());
    let o = Overrides::new()
        .with("test_data_file", "test.npz")
        .with("n_groups", 512);
    let err = to_inference_config(&m, &DataConfig::default(), &PtInference::default(), &o)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "model_path is required in overrides for the inference config; provide it, e.g. model_path=model_dir"
    );
}
