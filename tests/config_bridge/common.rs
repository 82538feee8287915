//! Shared helpers: upstream's common overrides and one-call bridge wrappers.

use std::path::PathBuf;

use ptycho_config::bridge::{to_inference_config, to_model_config, to_training_config};
use ptycho_config::torch::{
    DataConfig, InferenceConfig as PtInference, ModelConfig as PtModel,
    TrainingConfig as PtTraining,
};
use ptycho_config::{InferenceConfig, ModelConfig, Overrides, TrainingConfig};

/// Upstream's common training overrides: train_data_file, n_groups=512, nphotons=1e9.
pub fn train_overrides() -> Overrides {
    Overrides::new()
        .with("train_data_file", "train.npz")
        .with("n_groups", 512)
        .with("nphotons", 1e9)
}

/// Upstream's common inference overrides: model_path, test_data_file, n_groups=512.
pub fn infer_overrides() -> Overrides {
    Overrides::new()
        .with("model_path", "model_dir")
        .with("test_data_file", "test.npz")
        .with("n_groups", 512)
}

pub fn model(data: &DataConfig, pt_model: &PtModel) -> ModelConfig {
    to_model_config(data, pt_model, &Overrides::new()).expect("model bridge")
}

pub fn training_with(
    data: &DataConfig,
    pt_model: &PtModel,
    pt_training: &PtTraining,
    overrides: &Overrides,
) -> TrainingConfig {
    let canonical = model(data, pt_model);
    to_training_config(&canonical, data, pt_model, pt_training, overrides)
        .expect("training bridge")
        .value
}

pub fn training(data: &DataConfig, pt_training: &PtTraining) -> TrainingConfig {
    training_with(data, &PtModel::default(), pt_training, &train_overrides())
}

pub fn inference_with(data: &DataConfig, overrides: &Overrides) -> InferenceConfig {
    let canonical = model(data, &PtModel::default());
    to_inference_config(&canonical, data, &PtInference::default(), overrides)
        .expect("inference bridge")
        .value
}

/// The workspace root (fixtures live under it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
