//! TestConfigBridgeMVP: the nine MVP fields reach the legacy params through the bridge.

use ptycho_config::bridge::{to_inference_config, to_model_config, to_training_config};
use ptycho_config::torch::{DataConfig, InferenceConfig, ModelConfig, TrainingConfig};
use ptycho_config::{LegacyParams, LegacyValue, Overrides};

#[test]
fn config_bridge_populates_params_cfg() {
    let data = DataConfig {
        N: 128,
        grid_size: (2, 2),
        nphotons: 1e9,
        K: 7,
        ..Default::default()
    };
    let pt_model = ModelConfig {
        mode: "Unsupervised".into(),
        ..Default::default()
    };
    let pt_training = TrainingConfig {
        epochs: 1,
        ..Default::default()
    };
    let pt_inference = InferenceConfig {
        batch_size: 1,
        ..Default::default()
    };

    let model = to_model_config(&data, &pt_model, &Overrides::new()).unwrap();
    let training = to_training_config(
        &model,
        &data,
        &pt_model,
        &pt_training,
        &Overrides::new()
            .with("train_data_file", "train.npz")
            .with("n_groups", 512)
            .with("neighbor_count", 7)
            .with("nphotons", 1e9),
    )
    .unwrap()
    .value;
    let inference = to_inference_config(
        &model,
        &data,
        &pt_inference,
        &Overrides::new()
            .with("model_path", "model_dir")
            .with("test_data_file", "test.npz")
            .with("n_groups", 512)
            .with("neighbor_count", 7),
    )
    .unwrap()
    .value;

    let mut params = LegacyParams::new();
    params.update_from(&training);
    params.update_from(&inference);
    assert_eq!(params.get("N"), Some(&LegacyValue::Int(128)));
    assert_eq!(params.get("gridsize"), Some(&LegacyValue::Int(2)));
    assert_eq!(params.get("model_type"), Some(&LegacyValue::from("pinn")));
    assert_eq!(
        params.get("train_data_file_path"),
        Some(&LegacyValue::from("train.npz"))
    );
    assert_eq!(
        params.get("test_data_file_path"),
        Some(&LegacyValue::from("test.npz"))
    );
    assert_eq!(
        params.get("model_path"),
        Some(&LegacyValue::from("model_dir"))
    );
    assert_eq!(params.get("n_groups"), Some(&LegacyValue::Int(512)));
    assert_eq!(params.get("neighbor_count"), Some(&LegacyValue::Int(7)));
    assert_eq!(params.get("nphotons"), Some(&LegacyValue::Float(1e9)));
}
