//! Training options carried through the bridge into the params.

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
