//! probe_mask: a tensor beats the toggle, a bool is taken as is, unset means off.

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
