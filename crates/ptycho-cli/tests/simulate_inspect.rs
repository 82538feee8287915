//! `ptycho simulate` then `ptycho inspect` describe a valid dataset; `ptycho inspect` on malformed
//! files names the key and the problem and exits non-zero.

use std::path::Path;
use std::process::Output;

mod support;
use support::{ptycho, text};

fn simulate_small(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "simulate",
        "--output",
        out.to_str().unwrap(),
        "--n-images",
        "12",
        "--patch-size",
        "16",
        "--object-size",
        "64",
        "--nphotons",
        "1e5",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    ptycho(&args)
}

#[test]
fn simulate_then_inspect_describes_a_valid_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim.npz");
    let o = simulate_small(&out, &["--object", "grf", "--manifest"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("12 patterns"), "{}", text(&o));
    assert!(dir.path().join("sim.json").exists());
    let o = ptycho(&["inspect", out.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for want in [
        "diffraction",
        "float32",
        "[12, 16, 16]",
        "probeGuess",
        "complex64",
        "scan positions: 12",
        "pattern size N: 16",
        "objectGuess: [64, 64]",
        "Y (ground-truth patches): present",
        "valid canonical dataset",
    ] {
        assert!(t.contains(want), "`{want}` missing from:\n{t}");
    }
}

/// `--without-y` (how the checked-in N = 64 fixture was made) drops only `Y`; the manifest's
/// shapes say so and the rest is the same simulation.
#[test]
fn simulate_without_y_leaves_out_only_the_ground_truth_patches() {
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("with.npz"), dir.path().join("without.npz"));
    assert!(simulate_small(&with, &["--manifest"]).status.success());
    let o = simulate_small(&without, &["--manifest", "--without-y"]);
    assert!(o.status.success(), "{}", text(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("without.json")).unwrap())
            .unwrap();
    let shapes = manifest["shapes"].as_object().unwrap();
    assert!(!shapes.contains_key("Y"), "{manifest}");
    assert_eq!(shapes["objectGuess"], serde_json::json!([64, 64]));
    assert_eq!(shapes["diffraction"], serde_json::json!([12, 16, 16]));
    let t = text(&ptycho(&["inspect", without.to_str().unwrap()]));
    assert!(t.contains("Y (ground-truth patches): absent"), "{t}");
    assert!(t.contains("valid canonical dataset"), "{t}");
    assert!(
        std::fs::metadata(&without).unwrap().len() < std::fs::metadata(&with).unwrap().len(),
        "dropping Y makes the file smaller"
    );
}

#[test]
fn simulate_is_deterministic_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
    assert!(simulate_small(&a, &["--grid-step", "8"]).status.success());
    assert!(simulate_small(&b, &["--grid-step", "8"]).status.success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn inspect_rejects_malformed_files_with_the_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.npz");
    std::fs::write(&bad, b"this is not a zip").unwrap();
    let o = ptycho(&["inspect", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("bad.npz") && text(&o).contains("npz (zip) archive"),
        "{}",
        text(&o)
    );

    // a valid file made into counts: detected as intensities
    let sim = dir.path().join("sim.npz");
    assert!(simulate_small(&sim, &[]).status.success());
    let mut scan = ptycho_data::ScanData::load(&sim).unwrap().data;
    scan.diffraction
        .mapv_inplace(|a| (a * 100.0).powi(2).round());
    let counts = dir.path().join("counts.npz");
    scan.save(&counts, ptycho_data::Compression::Deflated)
        .unwrap();
    let o = ptycho(&["inspect", counts.to_str().unwrap()]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("error: not a valid canonical dataset")
            && t.contains("`diffraction`")
            && t.contains("photon counts"),
        "{t}"
    );
    let o = ptycho(&["inspect", counts.to_str().unwrap(), "--allow-intensity"]);
    assert!(
        o.status.success() && text(&o).contains("converted to amplitude with sqrt"),
        "{}",
        text(&o)
    );

    let missing = dir.path().join("absent.npz");
    let o = ptycho(&["inspect", missing.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("absent.npz"));
}
