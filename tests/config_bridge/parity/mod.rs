//! TestConfigBridgeParity: every spec field, grouped the way the seed's selectors address them.

use ptycho_config::bridge::{to_inference_config, to_model_config, to_training_config};
use ptycho_config::torch::{
    DataConfig, InferenceConfig as PtInference, ModelConfig as PtModel, ProbeMask,
    TrainingConfig as PtTraining,
};
use ptycho_config::{AmpActivation, LegacyParams, LegacyValue, ModelType, Overrides};

use crate::common::{
    infer_overrides, inference_with, model, train_overrides, training, training_with,
};

/// Fields copied without transformation (no override needed).
mod parity_direct;

/// Fields whose value or name changes on the way.
mod transform;

/// Fields that keep a fixed or canonical default unless overridden.
mod parity_override;

/// probe_mask: a tensor beats the toggle, a bool is taken as is, unset means off.
mod probe_mask;

/// Default divergences between the PyTorch and canonical defaults.
mod divergence;

/// Inputs the bridge rejects, with messages that name the field and the fix.
mod errors;

/// The nphotons guard: the PyTorch default 1e5 needs an explicit override.
mod nphotons;

/// n_subsample semantic collision: the PyTorch value is never propagated.
mod n_subsample;

/// subsample_seed comes from the data config unless overridden.
mod subsample_seed;

/// Required and recommended overrides.
mod override_warnings;

/// The upstream baseline: clear, update with the training config, then with the inference
/// config; every baseline key must match (extra keys are allowed, as upstream).
#[test]
fn params_cfg_matches_baseline() {
    let data = DataConfig {
        N: 128,
        grid_size: (3, 3),
        K: 6,
        nphotons: 5e8,
        probe_scale: 2.0,
        ..Default::default()
    };
    let pt_model = PtModel {
        mode: "Unsupervised".into(),
        n_filters_scale: 2,
        amp_activation: "silu".into(),
        object_big: false,
        probe_big: false,
        intensity_scale_trainable: true,
        ..Default::default()
    };
    let pt_training = PtTraining {
        epochs: 100,
        batch_size: 32,
        nll: true,
        ..Default::default()
    };
    let model_overrides = Overrides::new()
        .with("probe_mask", true)
        .with("pad_object", false)
        .with("gaussian_smoothing_sigma", 0.5);
    let canonical = to_model_config(&data, &pt_model, &model_overrides).unwrap();
    let training_overrides = Overrides::new()
        .with("train_data_file", "/canonical/baseline/train_data.npz")
        .with("test_data_file", "/canonical/baseline/test_data.npz")
        .with("n_groups", 1024)
        .with("n_subsample", 2048)
        .with("subsample_seed", 42)
        .with("output_dir", "/canonical/baseline/training_outputs")
        .with("mae_weight", 0.3)
        .with("nll_weight", 0.7)
        .with("realspace_mae_weight", 0.05)
        .with("realspace_weight", 0.1)
        .with("positions_provided", false)
        .with("probe_trainable", true)
        .with("sequential_sampling", true)
        .with("nphotons", 5e8);
    let training = to_training_config(
        &canonical,
        &data,
        &pt_model,
        &pt_training,
        &training_overrides,
    )
    .unwrap()
    .value;
    let inference_overrides = Overrides::new()
        .with("model_path", "/canonical/baseline/model_directory")
        .with("test_data_file", "/canonical/baseline/inference_data.npz")
        .with("n_groups", 512)
        .with("n_subsample", 1024)
        .with("subsample_seed", 99)
        .with("output_dir", "/canonical/baseline/inference_outputs")
        .with("debug", true);
    let inference = to_inference_config(
        &canonical,
        &data,
        &PtInference::default(),
        &inference_overrides,
    )
    .unwrap()
    .value;

    let mut params = LegacyParams::new();
    params.update_from(&training);
    params.update_from(&inference);

    let baseline_text =
        std::fs::read_to_string(crate::common::root().join("fixtures/baseline_params.json"))
            .unwrap();
    let baseline = LegacyParams::from_json(&baseline_text).unwrap();
    assert_eq!(baseline.len(), 31);
    let mismatches: Vec<String> = baseline
        .iter()
        .filter(|(key, expected)| params.get(key) != Some(*expected))
        .map(|(key, expected)| format!("{key}: expected {expected:?}, got {:?}", params.get(key)))
        .collect();
    assert!(
        mismatches.is_empty(),
        "params differ from the baseline:\n{}",
        mismatches.join("\n")
    );
    // Later wins: inference values replaced the training ones for the shared keys.
    assert_eq!(params.get("n_groups"), Some(&LegacyValue::Int(512)));
    assert_eq!(params.get("subsample_seed"), Some(&LegacyValue::Int(99)));
    // Same 57 keys as upstream's run (31 baseline keys + 26 extras).
    assert_eq!(params.len(), 57);
    assert_eq!(params.get("backend"), Some(&LegacyValue::from("pytorch")));
}

/// Training options carried through the bridge into the params.
mod roundtrip;
