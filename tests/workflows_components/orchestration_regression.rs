//! D4.B orchestration regression: the full train → save → load → infer run (gridsize 2),
//! every input type normalised to a container, and the automatic config bridge.

use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{LegacyParams, LegacyValue, Overrides};
use ptycho_data::{GroupingParams, ScanData, generate_grouped_data};
use ptycho_workflows::{
    ConfigInput, DataInput, InferenceModel, RunOptions, WorkflowError, ensure_container,
    resolve_config, run_cdi_example,
};

use crate::support::{fixture, tiny_config};

#[test]
fn run_cdi_example_end_to_end() {
    let out = tempfile::tempdir().unwrap();
    let mut params = LegacyParams::new();
    let config = tiny_config(2, 12, 1);
    let mut options = RunOptions::new(out.path());
    options.stitch = true;
    let outcome = run_cdi_example(
        DataInput::Npz(fixture()),
        None,
        config.clone().into(),
        &mut params,
        &options,
    )
    .unwrap();

    // The bundle restores the exact training config and real weights.
    let (loaded, bundle) = InferenceModel::load(out.path()).unwrap();
    assert_eq!(loaded.config(), &config);
    assert_eq!(bundle.config, config);
    let trained_scale = outcome.trained.trained_intensity_scale();
    assert!((bundle.intensity_scale - trained_scale).abs() <= 1e-6 * trained_scale);

    // Inference from the reloaded bundle equals inference from the in-memory model.
    let stitched = outcome.stitched.expect("stitched");
    let container = ensure_container(DataInput::Npz(fixture()), &config).unwrap();
    assert_eq!(container.x.shape(), &[12, 4, 64, 64]);
    let again = loaded.reconstruct(&container, 5).unwrap();
    assert_eq!(again.gridsize, 2);
    assert_eq!(again.patches.shape(), &[12, 64, 64]);
    assert_eq!(again.positions, stitched.reconstruction.positions);
    let max_diff = again
        .patches
        .iter()
        .zip(stitched.reconstruction.patches.iter())
        .map(|(a, b)| (a - b).norm())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-5, "reloaded model differs by {max_diff}");
    // gs > 1: one patch per group, at the group centroid.
    for (g, p) in again.positions.iter().enumerate() {
        assert_eq!(p.x, container.global_offsets[[g, 0, 0, 0]]);
        assert_eq!(p.y, container.global_offsets[[g, 0, 0, 1]]);
    }
    assert!(again.patches.iter().any(|z| z.norm() > 1e-4));
}

#[test]
fn ensure_container_all_input_types() {
    let config = tiny_config(2, 10, 1);
    let from_path = ensure_container(DataInput::Npz(fixture()), &config).unwrap();
    let scan = ScanData::load(fixture()).unwrap().data;
    let from_raw = ensure_container(DataInput::Raw(scan.clone()), &config).unwrap();
    let grouped = generate_grouped_data(
        &scan,
        &GroupingParams::from_training_config(&config).unwrap(),
    )
    .unwrap();
    let from_grouped = ensure_container(
        DataInput::Grouped {
            grouped,
            probe: scan.probe.clone(),
        },
        &config,
    )
    .unwrap();
    let from_container =
        ensure_container(DataInput::Container(from_path.clone()), &config).unwrap();

    assert_eq!(from_path.x.shape(), &[10, 4, 64, 64]);
    for (kind, c) in [
        ("raw", &from_raw),
        ("grouped", &from_grouped),
        ("container", &from_container),
    ] {
        assert_eq!(c.x, from_path.x, "{kind}");
        assert_eq!(c.nn_indices, from_path.nn_indices, "{kind}");
        assert_eq!(c.coords_nominal, from_path.coords_nominal, "{kind}");
        assert_eq!(c.norm_y_i, from_path.norm_y_i, "{kind}");
        assert!(c.has_ground_truth, "{kind}");
    }

    // A container of another layout is refused with both layouts named.
    let gs1 = tiny_config(1, 10, 1);
    let err = ensure_container(DataInput::Container(from_path), &gs1).unwrap_err();
    assert!(matches!(err, WorkflowError::Mismatch { .. }));
    let text = err.to_string();
    assert!(
        text.contains("container channels") && text.contains("found 4"),
        "{text}"
    );
    let mut n128 = gs1.clone();
    n128.model.N = 128;
    let text = ensure_container(DataInput::Raw(scan), &n128)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("N = 128") && text.contains("N = 64"),
        "{text}"
    );
}

#[test]
fn config_bridge_automatic_invocation() {
    let overrides = Overrides::new()
        .with("train_data_file", fixture().to_str().unwrap())
        .with("n_groups", 12)
        .with("nphotons", 1e6);
    let mut params = LegacyParams::new();
    let resolved = resolve_config(
        ConfigInput::PyTorch {
            set: TorchConfigSet::default(),
            overrides,
        },
        &mut params,
    )
    .unwrap();
    assert!(resolved.bridged);
    // PyTorch grid_size (2, 2) and 'silu' arrive as canonical gridsize 2 and 'swish' ...
    assert_eq!(resolved.training.model.gridsize, 2);
    assert_eq!(resolved.training.model.amp_activation.as_str(), "swish");
    assert_eq!(resolved.training.n_groups, 12);
    // ... and in the legacy params without any explicit update by the caller.
    assert_eq!(
        params.get("gridsize").and_then(LegacyValue::as_int),
        Some(2)
    );
    assert_eq!(
        params.get("n_groups").and_then(LegacyValue::as_int),
        Some(12)
    );
    assert_eq!(
        params.get("amp_activation").and_then(LegacyValue::as_str),
        Some("swish")
    );
    assert_eq!(
        params
            .get("train_data_file_path")
            .and_then(LegacyValue::as_str),
        fixture().to_str()
    );

    // A bad PyTorch-side value is refused by the bridge inside the workflow, naming the key.
    let bad = Overrides::new()
        .with("train_data_file", "train.npz")
        .with("n_groups", 12)
        .with("nphotons", -1.0);
    let err = resolve_config(
        ConfigInput::PyTorch {
            set: TorchConfigSet::default(),
            overrides: bad,
        },
        &mut LegacyParams::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("nphotons"), "{err}");
}
