//! Upstream `TestWorkflowsComponentsTraining`: `train_cdi_model` runs the training loop on the
//! container built from the config and returns a trained model.

use burn::tensor::Device;
use ptycho_config::LegacyParams;
use ptycho_workflows::weights::{model_specs, module_tensors};
use ptycho_workflows::{ConfigInput, DataInput, TrainOptions, resolve_config, train_cdi_model};

use crate::support::{fixture, tiny_config};

#[test]
fn train_cdi_model_invokes_training() {
    let mut params = LegacyParams::new();
    let resolved =
        resolve_config(ConfigInput::Canonical(tiny_config(1, 24, 2)), &mut params).unwrap();
    // 24 groups: the automatic validation split holds none out.
    let options = TrainOptions::default().with_seed(5);
    let results = train_cdi_model(
        DataInput::Npz(fixture()),
        Some(DataInput::Npz(fixture())),
        &resolved,
        &options,
    )
    .unwrap();

    // The container follows the config: 24 groups of one 64x64 pattern.
    assert_eq!(results.train_container.len(), 24);
    assert_eq!(results.train_container.x.shape(), &[24, 1, 64, 64]);
    assert_eq!(results.test_container.as_ref().map(|c| c.len()), Some(24));

    let trained = &results.trained;
    assert_eq!(trained.config, resolved.training);
    assert_eq!(trained.history.epochs.len(), 2, "{:?}", trained.history);
    assert_eq!(trained.history.train_groups, 24);
    assert!(
        trained
            .history
            .losses()
            .iter()
            .all(|l| l.is_finite() && *l > 0.0)
    );
    // The physics photon scale is the container's sqrt(nphotons / mean sum X^2) = 1e3 / 32.
    let scale = trained.physics.intensity_scale;
    assert_eq!(scale, results.train_container.norm_y_i);
    assert!((scale - 31.25).abs() < 0.01, "{scale}");

    // Training changed the weights: compare with a fresh model of the same seed.
    let (g, p) = model_specs(&trained.config, scale).unwrap();
    let fresh = ptycho_model::Pinn::new(&g, &p, 5, &Device::flex()).unwrap();
    let before = module_tensors(&fresh).unwrap();
    let after = module_tensors(&trained.model).unwrap();
    assert_eq!(
        before.names().collect::<Vec<_>>(),
        after.names().collect::<Vec<_>>()
    );
    let changed = before
        .iter()
        .filter(|(name, t)| after.get(name) != Some(*t))
        .count();
    assert!(
        changed * 2 > before.len(),
        "only {changed} of {} tensors changed",
        before.len()
    );
}
