//! `ptycho demo` end to end at a tiny scale: it simulates, trains, saves and reloads the bundle,
//! and reconstructs exactly the groups it trained on (the self-supervised single-scan use).

mod support;
use support::{ptycho, text};

#[test]
fn demo_trains_then_reconstructs_the_groups_it_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A 6 × 6 raster (36 positions) at gridsize 2 gives at most 9 groups; train on 8.
    let o = ptycho(&[
        "demo",
        "--output-dir",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--raster",
        "6",
        "--groups",
        "8",
        "--quiet",
    ]);
    let text = text(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("trained 2 epochs"), "{text}");
    for file in [
        "wts.h5.zip",
        "loss_history.csv",
        "reconstructed_amplitude.png",
        "reconstructed_phase.png",
        "reconstruction.npz",
        "metrics.json",
    ] {
        assert!(out.join(file).is_file(), "missing {file}: {text}");
    }
    // No validation split: every group trains, and the history says so.
    let history: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("loss_history.json")).unwrap()).unwrap();
    assert_eq!(history["train_groups"], 8, "{history}");
    assert_eq!(history["val_groups"], 0, "{history}");
    // The stitched reconstruction is made of those same 8 groups.
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let ssim = metrics["metrics"]["ssim"]["amplitude"].as_f64().unwrap();
    assert!(
        ssim.is_finite() && (-1.0..=1.0).contains(&ssim),
        "{metrics}"
    );
    assert!(
        text.contains("reconstructed the 8 groups it trained on"),
        "{text}"
    );
}
