//! Required and recommended overrides.

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
