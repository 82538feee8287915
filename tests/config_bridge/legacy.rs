//! The legacy params map: defaults, flattening order, update vs snapshot semantics.

use ptycho_config::legacy::{DerivedValues, legacy_defaults};
use ptycho_config::{
    InferenceConfig, KEY_MAPPINGS, LegacyParams, LegacySource, LegacyValue, TrainingConfig,
};

#[test]
fn key_mappings_are_upstreams_nine() {
    let expected = [
        ("object_big", "object.big"),
        ("probe_big", "probe.big"),
        ("probe_mask", "probe.mask"),
        ("probe_trainable", "probe.trainable"),
        ("intensity_scale_trainable", "intensity_scale.trainable"),
        ("positions_provided", "positions.provided"),
        ("output_dir", "output_prefix"),
        ("train_data_file", "train_data_file_path"),
        ("test_data_file", "test_data_file_path"),
    ];
    assert_eq!(KEY_MAPPINGS, expected);
}

#[test]
fn default_training_config_emits_61_keys_in_upstream_order() {
    let expected = "batch_size, nepochs, mae_weight, nll_weight, realspace_mae_weight, realspace_weight, nphotons, n_groups, n_images, \
        n_subsample, subsample_seed, neighbor_count, enable_oversampling, neighbor_pool_size, sequential_sampling, backend, \
        torch_loss_mode, torch_mae_pred_l2_match_target, gradient_clip_val, gradient_clip_algorithm, optimizer, momentum, weight_decay, \
        adam_beta1, adam_beta2, scheduler, lr_warmup_epochs, lr_min_ratio, plateau_factor, plateau_patience, plateau_min_lr, \
        plateau_threshold, N, gridsize, n_filters_scale, model_type, architecture, fno_modes, fno_width, fno_blocks, fno_cnn_blocks, \
        learned_input_channels, max_hidden_channels, resnet_width, fno_input_transform, generator_output_mode, amp_activation, \
        probe_mask_sigma, probe_mask_diameter, pad_object, probe_scale, gaussian_smoothing_sigma, object.big, probe.big, probe.mask, \
        probe.trainable, intensity_scale.trainable, positions.provided, output_prefix, train_data_file_path, test_data_file_path";
    let expected: Vec<&str> = expected.split(',').map(str::trim).collect();
    let entries = TrainingConfig::default().legacy_entries();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, expected);
    let nulls: Vec<&str> = entries
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        nulls,
        [
            "n_images",
            "n_subsample",
            "subsample_seed",
            "neighbor_pool_size",
            "gradient_clip_val",
            "max_hidden_channels",
            "resnet_width",
            "probe_mask_diameter",
            "train_data_file_path",
            "test_data_file_path"
        ]
    );
    let n_groups = entries
        .iter()
        .find(|(k, _)| k == "n_groups")
        .map(|(_, v)| v.clone());
    assert_eq!(n_groups, Some(LegacyValue::Int(512)));
}

#[test]
fn default_inference_config_emits_35_keys() {
    let entries = InferenceConfig::new("model_dir", "test.npz").legacy_entries();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), 35);
    assert_eq!(
        &keys[..10],
        [
            "model_path",
            "n_groups",
            "n_images",
            "n_subsample",
            "subsample_seed",
            "neighbor_count",
            "enable_oversampling",
            "neighbor_pool_size",
            "debug",
            "backend"
        ]
    );
    assert_eq!(
        &keys[30..],
        [
            "object.big",
            "probe.big",
            "probe.mask",
            "output_prefix",
            "test_data_file_path"
        ]
    );
}

#[test]
fn legacy_defaults_are_upstreams_forty() {
    let defaults = legacy_defaults();
    assert_eq!(defaults.len(), 40);
    let params = LegacyParams::with_defaults();
    assert_eq!(params.get("N"), Some(&LegacyValue::Int(128)));
    assert_eq!(params.get("probe.mask"), Some(&LegacyValue::Bool(true)));
    assert_eq!(params.get("probe_scale"), Some(&LegacyValue::Float(10.0)));
    assert_eq!(params.get("outer_offset_train"), Some(&LegacyValue::Null));
    assert_eq!(params.keys().last(), Some("use_xla_translate"));
}

#[test]
fn derived_values_follow_formulas() {
    let mut params = LegacyParams::with_defaults();
    assert_eq!(
        params.derived().unwrap(),
        DerivedValues {
            big_n: 132,
            padding_size: 14,
            padded_size: 142
        }
    );
    params.set("N", 64usize);
    params.set("gridsize", 3usize);
    params.set("offset", 6usize);
    let derived = params.derived().unwrap();
    assert_eq!(
        derived,
        DerivedValues {
            big_n: 76,
            padding_size: 22,
            padded_size: 86
        }
    );
    let full = params.with_derived().unwrap();
    assert_eq!(full.get("bigN"), Some(&LegacyValue::Int(76)));
    params.set("N", "sixty-four");
    let err = params.derived().unwrap_err().to_string();
    assert!(err.starts_with("`params.N`"), "{err}");
}

#[test]
fn update_skips_unset_values_and_later_config_wins() {
    let training = TrainingConfig {
        n_subsample: Some(2048),
        test_data_file: Some("a/./train//test.npz".into()),
        ..Default::default()
    };
    let inference = InferenceConfig::new("model_dir/", "b.npz");
    let mut params = LegacyParams::new();
    params.update_from(&training);
    assert_eq!(
        params.get("test_data_file_path"),
        Some(&LegacyValue::from("a/train/test.npz"))
    );
    let position_before = params.keys().position(|k| k == "test_data_file_path");
    params.update_from(&inference);
    assert_eq!(
        params.get("n_subsample"),
        Some(&LegacyValue::Int(2048)),
        "unset inference value never clears"
    );
    assert_eq!(
        params.get("test_data_file_path"),
        Some(&LegacyValue::from("b.npz"))
    );
    assert_eq!(
        params.get("model_path"),
        Some(&LegacyValue::from("model_dir"))
    );
    assert_eq!(
        params.keys().position(|k| k == "test_data_file_path"),
        position_before,
        "existing keys keep their place"
    );
    assert_eq!(
        params.get("output_prefix"),
        Some(&LegacyValue::from("inference_outputs"))
    );
}

#[test]
fn snapshot_keeps_unset_values_as_null() {
    let snapshot = LegacyParams::snapshot_of(&TrainingConfig::default());
    assert_eq!(snapshot.len(), 61);
    assert_eq!(
        snapshot.get("train_data_file_path"),
        Some(&LegacyValue::Null)
    );
    let json = snapshot.to_sorted_json();
    assert!(json.contains("\"train_data_file_path\": null"), "{json}");
    assert_eq!(LegacyParams::from_json(&json).unwrap().len(), 61);
}

#[test]
fn execution_settings_never_reach_the_params() {
    let document = ptycho_config::ConfigDocument::parse(
        "[training]\nnepochs = 3\n[execution]\nlearning_rate = 0.01\nvalidation_split = 0.1\ncheckpoint_every_n_epochs = 2\n",
        ptycho_config::Format::Toml,
    )
    .unwrap()
    .value;
    let params = document.legacy_params();
    for key in [
        "learning_rate",
        "validation_split",
        "checkpoint_every_n_epochs",
        "num_workers",
        "accelerator",
        "precision",
        "devices",
    ] {
        assert!(params.get(key).is_none(), "{key} leaked into the params");
    }
    assert_eq!(params.get("nepochs"), Some(&LegacyValue::Int(3)));
}
