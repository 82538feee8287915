//! Default divergences between the PyTorch and canonical defaults.

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
