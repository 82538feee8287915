//! Fields whose value or name changes on the way.

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
