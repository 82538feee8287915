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
mod parity_direct {
    use super::*;

    #[test]
    fn model_config_direct_fields_n() {
        let data = DataConfig {
            N: 128,
            ..Default::default()
        };
        assert_eq!(model(&data, &PtModel::default()).N, 128);
    }

    #[test]
    fn model_config_direct_fields_n_filters_scale() {
        let pt = PtModel {
            n_filters_scale: 3,
            ..Default::default()
        };
        assert_eq!(model(&DataConfig::default(), &pt).n_filters_scale, 3);
        let pt = PtModel {
            n_filters_scale: 2,
            ..Default::default()
        };
        assert_eq!(model(&DataConfig::default(), &pt).n_filters_scale, 2);
    }

    #[test]
    fn model_config_direct_fields_object_big() {
        let pt = PtModel {
            object_big: false,
            ..Default::default()
        };
        assert!(!model(&DataConfig::default(), &pt).object_big);
    }

    #[test]
    fn model_config_direct_fields_probe_big() {
        let pt = PtModel {
            probe_big: false,
            ..Default::default()
        };
        assert!(!model(&DataConfig::default(), &pt).probe_big);
    }

    #[test]
    fn model_config_direct_fields_learned_input_channels() {
        let pt = PtModel {
            learned_input_channels: 3,
            ..Default::default()
        };
        assert_eq!(model(&DataConfig::default(), &pt).learned_input_channels, 3);
    }

    #[test]
    fn training_config_direct_fields_batch_size() {
        let t = PtTraining {
            batch_size: 32,
            ..Default::default()
        };
        assert_eq!(training(&DataConfig::default(), &t).batch_size, 32);
    }

    #[test]
    fn training_config_direct_fields_torch_mae_pred_l2_match_target() {
        let t = PtTraining {
            torch_mae_pred_l2_match_target: true,
            ..Default::default()
        };
        assert!(training(&DataConfig::default(), &t).torch_mae_pred_l2_match_target);
    }
}

/// Fields whose value or name changes on the way.
mod transform {
    use super::*;

    #[test]
    fn model_config_gridsize_tuple_to_int() {
        let data = DataConfig {
            grid_size: (3, 3),
            ..Default::default()
        };
        assert_eq!(model(&data, &PtModel::default()).gridsize, 3);
    }

    #[test]
    fn model_config_model_type_unsupervised() {
        let pt = PtModel {
            mode: "Unsupervised".into(),
            ..Default::default()
        };
        assert_eq!(
            model(&DataConfig::default(), &pt).model_type,
            ModelType::Pinn
        );
    }

    #[test]
    fn model_config_model_type_supervised() {
        let pt = PtModel {
            mode: "Supervised".into(),
            ..Default::default()
        };
        assert_eq!(
            model(&DataConfig::default(), &pt).model_type,
            ModelType::Supervised
        );
    }

    #[test]
    fn model_config_amp_activation_silu() {
        let pt = PtModel {
            amp_activation: "silu".into(),
            ..Default::default()
        };
        assert_eq!(
            model(&DataConfig::default(), &pt).amp_activation,
            AmpActivation::Swish
        );
    }

    #[test]
    fn model_config_amp_activation_silu_capitalised() {
        let pt = PtModel {
            amp_activation: "SiLU".into(),
            ..Default::default()
        };
        assert_eq!(
            model(&DataConfig::default(), &pt).amp_activation,
            AmpActivation::Swish
        );
    }

    #[test]
    fn model_config_amp_activation_passthrough() {
        for (torch, canonical) in [
            ("sigmoid", AmpActivation::Sigmoid),
            ("swish", AmpActivation::Swish),
            ("softplus", AmpActivation::Softplus),
            ("relu", AmpActivation::Relu),
        ] {
            let pt = PtModel {
                amp_activation: torch.into(),
                ..Default::default()
            };
            assert_eq!(
                model(&DataConfig::default(), &pt).amp_activation,
                canonical,
                "{torch}"
            );
        }
    }

    #[test]
    fn training_config_nepochs_rename() {
        let t = PtTraining {
            epochs: 100,
            ..Default::default()
        };
        assert_eq!(training(&DataConfig::default(), &t).nepochs, 100);
    }

    #[test]
    fn training_config_nll_weight_true() {
        let t = PtTraining {
            nll: true,
            ..Default::default()
        };
        assert_eq!(training(&DataConfig::default(), &t).nll_weight, 1.0);
    }

    #[test]
    fn training_config_nll_weight_false() {
        let t = PtTraining {
            nll: false,
            ..Default::default()
        };
        assert_eq!(training(&DataConfig::default(), &t).nll_weight, 0.0);
    }
}

/// Fields that keep a fixed or canonical default unless overridden.
mod parity_override {
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
}

/// probe_mask: a tensor beats the toggle, a bool is taken as is, unset means off.
mod probe_mask {
    use super::*;

    fn translate(mask: Option<ProbeMask>, tensor: Option<Vec<Vec<f32>>>) -> bool {
        let pt = PtModel {
            probe_mask: mask,
            probe_mask_tensor: tensor,
            ..Default::default()
        };
        model(&DataConfig::default(), &pt).probe_mask
    }

    #[test]
    fn translation_default_enabled() {
        assert!(translate(Some(ProbeMask::Flag(true)), None));
    }

    #[test]
    fn translation_disabled() {
        assert!(!translate(Some(ProbeMask::Flag(false)), None));
    }

    #[test]
    fn translation_none() {
        assert!(!translate(None, None));
    }

    #[test]
    fn translation_tensor_beats_toggle() {
        assert!(translate(
            Some(ProbeMask::Flag(false)),
            Some(vec![vec![1.0; 4]; 4])
        ));
        assert!(translate(
            Some(ProbeMask::Tensor(vec![vec![1.0; 4]; 4])),
            None
        ));
    }

    #[test]
    fn override_forces_true() {
        let pt = PtModel {
            probe_mask: Some(ProbeMask::Flag(false)),
            ..Default::default()
        };
        let m = to_model_config(
            &DataConfig::default(),
            &pt,
            &Overrides::new().with("probe_mask", true),
        )
        .unwrap();
        assert!(m.probe_mask);
    }
}

/// Default divergences between the PyTorch and canonical defaults.
mod divergence {
    use super::*;

    #[test]
    fn default_divergence_nphotons_mvp() {
        let data = DataConfig {
            nphotons: 5e8,
            ..Default::default()
        };
        let t = training_with(
            &data,
            &PtModel::default(),
            &PtTraining::default(),
            &train_overrides().with("nphotons", 5e8),
        );
        assert_eq!(t.nphotons, 5e8);
        assert_ne!(t.nphotons, 1e5);
        assert_ne!(t.nphotons, 1e9);
    }

    #[test]
    fn default_divergence_probe_scale() {
        let data = DataConfig {
            probe_scale: 2.0,
            ..Default::default()
        };
        let m = model(&data, &PtModel::default());
        assert_eq!(m.probe_scale, 2.0);
        assert_ne!(m.probe_scale, 1.0);
        assert_ne!(m.probe_scale, 4.0);
    }
}

/// Inputs the bridge rejects, with messages that name the field and the fix.
mod errors {
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
}

/// The nphotons guard: the PyTorch default 1e5 needs an explicit override.
mod nphotons {
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
        let t =
            to_training_config(&m, &data, &PtModel::default(), &PtTraining::default(), &o).unwrap();
        assert_eq!(t.value.nphotons, 2e6);
    }
}

/// n_subsample semantic collision: the PyTorch value is never propagated.
mod n_subsample {
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
}

/// subsample_seed comes from the data config unless overridden.
mod subsample_seed {
    use super::*;

    #[test]
    fn training_config_from_dataconfig() {
        let data = DataConfig {
            subsample_seed: Some(42),
            ..Default::default()
        };
        assert_eq!(
            training(&data, &PtTraining::default()).subsample_seed,
            Some(42)
        );
    }

    #[test]
    fn training_config_override() {
        let data = DataConfig {
            subsample_seed: Some(42),
            ..Default::default()
        };
        let t = training_with(
            &data,
            &PtModel::default(),
            &PtTraining::default(),
            &train_overrides().with("subsample_seed", 99),
        );
        assert_eq!(t.subsample_seed, Some(99));
    }
}

/// Required and recommended overrides.
mod override_warnings {
    use super::*;

    #[test]
    fn n_groups_missing_override_error() {
        let m = model(&DataConfig::default(), &PtModel::default());
        let o = Overrides::new()
            .with("train_data_file", "train.npz")
            .with("nphotons", 1e9);
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
            err.contains("n_groups") && err.contains("overrides") && err.contains("n_groups="),
            "{err}"
        );
    }

    #[test]
    fn test_data_file_training_missing_warning() {
        let m = model(&DataConfig::default(), &PtModel::default());
        let bridged = to_training_config(
            &m,
            &DataConfig::default(),
            &PtModel::default(),
            &PtTraining::default(),
            &train_overrides(),
        )
        .unwrap();
        assert_eq!(bridged.warnings.len(), 1, "{:?}", bridged.warnings);
        let warning = &bridged.warnings[0];
        assert!(warning.contains("test_data_file"), "{warning}");
        assert!(
            warning.contains("evaluation") || warning.contains("inference"),
            "{warning}"
        );
        let with_test = train_overrides().with("test_data_file", "test.npz");
        let bridged = to_training_config(
            &m,
            &DataConfig::default(),
            &PtModel::default(),
            &PtTraining::default(),
            &with_test,
        )
        .unwrap();
        assert!(bridged.warnings.is_empty());
    }
}

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
mod roundtrip {
    use super::*;

    #[test]
    fn training_config_gradient_clip_algorithm_roundtrip() {
        let t = PtTraining {
            gradient_clip_algorithm: "agc".into(),
            ..Default::default()
        };
        let canonical = training(&DataConfig::default(), &t);
        assert_eq!(canonical.gradient_clip_algorithm.as_str(), "agc");
        let mut params = LegacyParams::new();
        params.update_from(&canonical);
        assert_eq!(
            params.get("gradient_clip_algorithm"),
            Some(&LegacyValue::from("agc"))
        );
    }

    #[test]
    fn training_config_optimizer_roundtrip() {
        let t = PtTraining {
            optimizer: "sgd".into(),
            momentum: 0.9,
            weight_decay: 1e-4,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            ..Default::default()
        };
        let canonical = training(&DataConfig::default(), &t);
        assert_eq!(canonical.optimizer.as_str(), "sgd");
        assert_eq!((canonical.momentum, canonical.weight_decay), (0.9, 1e-4));
        assert_eq!((canonical.adam_beta1, canonical.adam_beta2), (0.9, 0.999));
        let mut params = LegacyParams::new();
        params.update_from(&canonical);
        assert_eq!(params.get("optimizer"), Some(&LegacyValue::from("sgd")));
        assert_eq!(params.get("weight_decay"), Some(&LegacyValue::Float(1e-4)));
    }
}
