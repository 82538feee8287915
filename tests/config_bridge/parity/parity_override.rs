//! Fields that keep a fixed or canonical default unless overridden.

use super::*;

fn model_with(overrides: Overrides) -> ptycho_config::ModelConfig {
    to_model_config(&DataConfig::default(), &PtModel::default(), &overrides).unwrap()
}

fn training_overridden(key: &str, value: f64) -> ptycho_config::TrainingConfig {
    training_with(
        &DataConfig::default(),
        &PtModel::default(),
        &PtTraining::default(),
        &train_overrides().with(key, value),
    )
}

#[test]
fn model_config_pad_object_default() {
    assert!(model_with(Overrides::new()).pad_object);
}

#[test]
fn model_config_pad_object_override() {
    assert!(!model_with(Overrides::new().with("pad_object", false)).pad_object);
}

#[test]
fn model_config_gaussian_smoothing_sigma_default() {
    assert_eq!(model_with(Overrides::new()).gaussian_smoothing_sigma, 0.0);
}

#[test]
fn model_config_gaussian_smoothing_sigma_override() {
    let m = model_with(Overrides::new().with("gaussian_smoothing_sigma", 0.5));
    assert_eq!(m.gaussian_smoothing_sigma, 0.5);
}

#[test]
fn training_config_mae_weight_default() {
    assert_eq!(
        training(&DataConfig::default(), &PtTraining::default()).mae_weight,
        0.0
    );
}

#[test]
fn training_config_mae_weight_override() {
    assert_eq!(training_overridden("mae_weight", 0.3).mae_weight, 0.3);
}

#[test]
fn training_config_realspace_mae_weight_default() {
    assert_eq!(
        training(&DataConfig::default(), &PtTraining::default()).realspace_mae_weight,
        0.0
    );
}

#[test]
fn training_config_realspace_weight_default() {
    assert_eq!(
        training(&DataConfig::default(), &PtTraining::default()).realspace_weight,
        0.0
    );
}

#[test]
fn training_config_positions_provided_default() {
    assert!(training(&DataConfig::default(), &PtTraining::default()).positions_provided);
}

#[test]
fn training_config_probe_trainable_default() {
    assert!(!training(&DataConfig::default(), &PtTraining::default()).probe_trainable);
}

#[test]
fn training_config_sequential_sampling_default() {
    assert!(!training(&DataConfig::default(), &PtTraining::default()).sequential_sampling);
}

#[test]
fn inference_config_debug_default() {
    assert!(!inference_with(&DataConfig::default(), &infer_overrides()).debug);
}

#[test]
fn inference_config_debug_override() {
    assert!(
        inference_with(
            &DataConfig::default(),
            &infer_overrides().with("debug", true)
        )
        .debug
    );
}
