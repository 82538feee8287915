//! Fields copied without transformation (no override needed).

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
