//! Upstream `TestWorkflowsComponentsScaffold`: running the workflow updates the legacy params.

use ptycho_config::{LegacyParams, LegacyValue};
use ptycho_workflows::{DataInput, RunOptions, run_cdi_example};

use crate::support::{fixture, tiny_config};

#[test]
fn run_cdi_example_calls_update_legacy_dict() {
    let out = tempfile::tempdir().unwrap();
    let mut config = tiny_config(1, 16, 1);
    config.output_dir = out.path().to_path_buf();
    let mut params = LegacyParams::new();
    params.set("user_key", LegacyValue::from("kept"));
    params.set("N", LegacyValue::from(128i64));
    assert!(params.get("nepochs").is_none());

    let mut options = RunOptions::new(out.path());
    options.stitch = false;
    let outcome = run_cdi_example(
        DataInput::Npz(fixture()),
        None,
        config.into(),
        &mut params,
        &options,
    )
    .unwrap();

    // The run wrote the training config into the caller's params before training.
    assert_eq!(params.get("N").and_then(LegacyValue::as_int), Some(64));
    assert_eq!(
        params.get("gridsize").and_then(LegacyValue::as_int),
        Some(1)
    );
    assert_eq!(params.get("nepochs").and_then(LegacyValue::as_int), Some(1));
    assert_eq!(
        params.get("n_groups").and_then(LegacyValue::as_int),
        Some(16)
    );
    assert_eq!(
        params.get("n_filters_scale").and_then(LegacyValue::as_int),
        Some(1)
    );
    assert_eq!(
        params.get("probe.big").and_then(LegacyValue::as_bool),
        Some(false)
    );
    assert_eq!(
        params.get("output_prefix").and_then(LegacyValue::as_str),
        Some(out.path().to_str().unwrap())
    );
    // update_legacy_dict never deletes keys it does not know.
    assert_eq!(
        params.get("user_key").and_then(LegacyValue::as_str),
        Some("kept")
    );
    assert_eq!(outcome.config.training.model.N, 64);
    assert!(!outcome.config.bridged);
}
