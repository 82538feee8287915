//! Upstream `TestWorkflowsComponentsRun`: `run_cdi_example` trains, saves the bundle and then
//! (optionally) stitches.

use ptycho_config::LegacyParams;
use ptycho_workflows::outputs::{AMPLITUDE_PNG, HISTORY_CSV, OBJECT_NPZ, PHASE_PNG};
use ptycho_workflows::{DataInput, RunOptions, run_cdi_example};

use crate::support::{fixture, tiny_config};

#[test]
fn run_cdi_example_invokes_training() {
    let out = tempfile::tempdir().unwrap();
    let mut params = LegacyParams::new();
    let options = RunOptions::new(out.path());
    let outcome = run_cdi_example(
        DataInput::Npz(fixture()),
        Some(DataInput::Npz(fixture())),
        tiny_config(1, 32, 2).into(),
        &mut params,
        &options,
    )
    .unwrap();

    assert_eq!(outcome.trained.history.epochs.len(), 2);
    assert_eq!(outcome.bundle_path, out.path().join("wts.h5.zip"));
    assert!(std::fs::metadata(&outcome.bundle_path).unwrap().len() > 10_000);
    let csv = std::fs::read_to_string(out.path().join(HISTORY_CSV)).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("epoch,loss,val_loss"));

    let stitched = outcome.stitched.expect("stitching was requested");
    assert_eq!(stitched.reconstruction.patches.shape(), &[32, 64, 64]);
    assert_eq!(stitched.object.patches, 32);
    assert_eq!(stitched.crop, 20);
    let (h, w) = stitched.object.object.dim();
    assert!(h > 20 && w > 20, "{h}x{w}");
    assert!(
        stitched
            .object
            .object
            .iter()
            .all(|z| z.re.is_finite() && z.im.is_finite())
    );
    // Covered canvas pixels hold a non-trivial amplitude.
    let covered: Vec<f32> = stitched
        .object
        .object
        .iter()
        .zip(stitched.object.weight.iter())
        .filter(|(_, w)| **w > 0.5)
        .map(|(z, _)| z.norm())
        .collect();
    assert!(covered.len() > 256);
    assert!(covered.iter().any(|a| *a > 1e-3));
    for name in [AMPLITUDE_PNG, PHASE_PNG, OBJECT_NPZ] {
        assert!(out.path().join(name).is_file(), "{name}");
    }
    // The fixture has a ground-truth object, so metrics were computed.
    let metrics = stitched.metrics.expect("fixture has objectGuess");
    assert!(metrics.metrics.mae.amplitude.is_finite());
    assert!(out.path().join("metrics.json").is_file());
}
