//! subsample_seed comes from the data config unless overridden.

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
