//! `ptycho inspect` on a model bundle (and on broken ones), and `ptycho train --resume`: a run
//! continued from its checkpoint matches an uninterrupted one, and checkpoints that cannot be
//! continued are refused with the reason.
//!
//! Every run trains briefly on the checked-in N = 64 fixture (16 groups, gridsize 1,
//! n_filters_scale 1) so the file stays fast.

use std::path::{Path, PathBuf};
use std::process::Output;

use ptycho_bundle::{BundleSchema, LoadOptions, ModelRole, inspect_bundle, load_bundle};

mod support;
use support::{ptycho, text};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datasets/sim_lines_n64.npz")
}

/// `ptycho train` on 16 groups of the fixture for `epochs` epochs into `out`.
fn train(out: &Path, epochs: usize, extra: &[&str]) -> Output {
    train_with(out, epochs, ("1", "11"), extra)
}

/// [`train`] with `n_filters_scale` and seed.
fn train_with(out: &Path, epochs: usize, (nfs, seed): (&str, &str), extra: &[&str]) -> Output {
    let mut args = train_args(out, epochs, (nfs, seed));
    args.push("--quiet".to_owned());
    args.extend(extra.iter().map(|s| s.to_string()));
    ptycho(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The arguments of a `ptycho train` run on 16 groups of the fixture, with progress lines.
fn train_args(out: &Path, epochs: usize, (nfs, seed): (&str, &str)) -> Vec<String> {
    let data = fixture();
    [
        "train",
        "--train-data-file",
        data.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
        "--n-groups",
        "16",
        "--gridsize",
        "1",
        "--n-filters-scale",
        nfs,
        "--batch-size",
        "8",
        "--max-epochs",
        &epochs.to_string(),
        "--seed",
        seed,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn train_ok(out: &Path, epochs: usize, extra: &[&str]) -> String {
    let o = train(out, epochs, extra);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

/// (epoch, loss, learning rate, log_scale) rows of `loss_history.csv`.
fn history(out: &Path) -> Vec<(usize, f64, f64, f64)> {
    let csv = std::fs::read_to_string(out.join("loss_history.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("epoch,loss,val_loss,learning_rate,log_scale,seconds")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

/// Every weight tensor of a bundle's autoencoder, as (name, shape, little-endian bytes).
fn weights(bundle: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let summary = inspect_bundle(bundle, &LoadOptions::default()).unwrap();
    let schema = BundleSchema {
        diffraction_to_obj: summary.diffraction_to_obj.clone(),
        autoencoder: summary.autoencoder.clone(),
    };
    let loaded = load_bundle(bundle, &schema).unwrap();
    loaded
        .weights(ModelRole::Autoencoder)
        .iter()
        .map(|(name, t)| {
            (
                name.to_owned(),
                t.shape().to_vec(),
                t.as_le_bytes().to_vec(),
            )
        })
        .collect()
}

#[test]
fn inspect_describes_a_trained_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train_ok(&out, 1, &[]);
    // The output directory and the bundle file itself are both accepted.
    for target in [out.clone(), out.join("wts.h5.zip")] {
        let o = ptycho(&["inspect", target.to_str().unwrap()]);
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        for want in [
            "bundle      ",
            "wts.h5.zip",
            "format      3.0 (safetensors weights, JSON params)",
            "backend     flex",
            "created     20",
            "written by  ",
            "burn 0.22.1",
            "model       N=64 gridsize=1 architecture=cnn model_type=pinn n_filters_scale=1",
            "training    nepochs=1 batch_size=8 n_groups=16 nphotons=1000000000",
            "intensity   scale=",
            "diffraction_to_obj: ",
            "autoencoder: ",
            "log_scale",
            "physics.probe_re",
            "restored training config (TOML, usable with `ptycho train --config`):",
            "  N = 64",
            "  n_groups = 16",
            "valid model bundle",
        ] {
            assert!(t.contains(want), "missing {want:?} in:\n{t}");
        }
        // Tensor lines carry shape and dtype: the encoder's first convolution of a
        // n_filters_scale 1 network maps 1 channel to 32 with 3×3 kernels.
        assert!(t.contains("[32, 1, 3, 3]"), "{t}");
        // Parameter counts per model.
        let line = t.lines().find(|l| l.starts_with("autoencoder: ")).unwrap();
        let values: usize = line
            .split_whitespace()
            .nth(3)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no value count in {line:?}"));
        assert!(values > 100_000, "{line}");
    }
}

#[test]
fn inspect_refuses_broken_bundles_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    // A directory without a bundle.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = ptycho(&["inspect", empty.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("cannot inspect the model bundle"), "{t}");
    assert!(t.contains("holds no wts.h5.zip"), "{t}");

    // A truncated archive.
    let out = dir.path().join("run");
    train_ok(&out, 1, &[]);
    let bytes = std::fs::read(out.join("wts.h5.zip")).unwrap();
    let truncated = dir.path().join("truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let o = ptycho(&["inspect", truncated.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("truncated.zip"), "{t}");
    assert!(
        t.contains("not a readable zip archive (empty, truncated or corrupt)"),
        "{t}"
    );

    // A zip that is not a bundle (the fixture NPZ under a .zip name): no manifest.
    let npz = dir.path().join("dataset.zip");
    std::fs::copy(fixture(), &npz).unwrap();
    let o = ptycho(&["inspect", npz.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("dataset.zip"), "{t}");
    assert!(t.contains("manifest.json"), "{t}");
}

#[test]
fn resume_continues_a_shorter_run_to_the_weights_of_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let resumed = dir.path().join("resumed");
    // ReduceLROnPlateau with patience 1 and a 0.5 factor makes the learning rate change
    // within the run, so the schedule's state must survive the resume too.
    let config = dir.path().join("cfg.toml");
    std::fs::write(
        &config,
        "[model]\nN = 64\n\n[training]\nnphotons = 1e9\nscheduler = \"ReduceLROnPlateau\"\nplateau_patience = 1\nplateau_factor = 0.5\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    train_ok(&straight, 4, &["--config", cfg]);
    train_ok(&resumed, 2, &["--config", cfg]);
    assert!(resumed.join("checkpoints/last/train_state.json").is_file());
    assert!(resumed.join("checkpoints/last/optimizer.bpk").is_file());
    let t = train_ok(&resumed, 4, &["--config", cfg, "--resume"]);
    assert!(t.contains("resumed from"), "{t}");
    assert!(t.contains("checkpoints/last"), "{t}");

    let (a, b) = (history(&straight), history(&resumed));
    assert_eq!(a.len(), 4);
    assert_eq!(
        b.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3],
        "epoch numbering continues"
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.2, y.2, "learning rate of epoch {}", x.0);
        assert_eq!(x.1, y.1, "loss of epoch {}", x.0);
        assert_eq!(x.3, y.3, "log_scale of epoch {}", x.0);
    }
    // Same seed, same data, same steps: the continued run ends with the same weights, bit for
    // bit (Adam's moments and step counts come back from the checkpoint).
    let (wa, wb) = (
        weights(&straight.join("wts.h5.zip")),
        weights(&resumed.join("wts.h5.zip")),
    );
    assert_eq!(wa.len(), wb.len());
    for (x, y) in wa.iter().zip(&wb) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1));
        assert!(x.2 == y.2, "tensor {} differs after resuming", x.0);
    }
}

#[test]
fn a_run_killed_mid_training_resumes_to_the_weights_of_an_uninterrupted_one() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let killed = dir.path().join("killed");
    train_ok(&straight, 6, &[]);

    // Piped stderr gets one line per epoch; the checkpoint of an epoch is written right after
    // its line, so a kill on the third line lands in that write or in the next epoch.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptycho"))
        .args(train_args(&killed, 6, ("1", "11")))
        .current_dir(support::workspace_root())
        .env("MLFLOW_TRACKING_URI", "memory")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ptycho train");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.starts_with("epoch 3/6") {
            child.kill().expect("SIGKILL the training process");
            break;
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "not killed: {seen:?}");
    assert!(
        !killed.join("wts.h5.zip").exists(),
        "the run finished before the kill"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("epoch 1/6  loss") && l.contains("patterns/s")),
        "{seen:?}"
    );

    let t = train_ok(&killed, 6, &["--resume"]);
    assert!(t.contains("resumed from"), "{t}");
    let (a, b) = (history(&straight), history(&killed));
    assert_eq!(
        a, b,
        "the resumed history differs from the uninterrupted one"
    );
    let (wa, wb) = (
        weights(&straight.join("wts.h5.zip")),
        weights(&killed.join("wts.h5.zip")),
    );
    assert_eq!(wa.len(), wb.len());
    for (x, y) in wa.iter().zip(&wb) {
        assert!(
            x.2 == y.2,
            "tensor {} differs after the kill and resume",
            x.0
        );
    }
    // Nothing half-written is left behind.
    let names: Vec<String> = std::fs::read_dir(killed.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n == "last" || n == "best"),
        "{names:?}"
    );
}

#[test]
fn resume_refuses_missing_and_mismatched_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Nothing to resume from yet.
    let o = train(&out, 2, &["--resume"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("checkpoints/last"), "{t}");
    assert!(t.contains("no such checkpoint directory"), "{t}");

    train_ok(&out, 1, &[]);
    // A different model.
    let o = train_with(&out, 2, ("2", "11"), &["--resume"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("different model config"), "{t}");
    assert!(
        t.contains("n_filters_scale 1, this run N 64 gridsize 1 n_filters_scale 2"),
        "{t}"
    );
    // A different seed.
    let o = train_with(&out, 2, ("1", "12"), &["--resume"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("pass --seed 11"), "{}", text(&o));
    // An optimizer record that is not one.
    let optimizer = out.join("checkpoints/last/optimizer.bpk");
    let saved = std::fs::read(&optimizer).unwrap();
    std::fs::write(&optimizer, b"not a record").unwrap();
    let o = train(&out, 2, &["--resume"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("checkpoints/last")
            && t.contains("optimizer.bpk: the optimizer state is not a burnpack record"),
        "{t}"
    );
    std::fs::write(&optimizer, saved).unwrap();
    // Nothing left to do.
    let o = train(&out, 1, &["--resume"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already completed 1 epoch(s)"),
        "{}",
        text(&o)
    );
    // A checkpoint without its training state (e.g. copied bundle only).
    std::fs::remove_file(out.join("checkpoints/last/train_state.json")).unwrap();
    let o = train(&out, 2, &["--resume"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("train_state.json is missing"), "{t}");
}

#[test]
fn infer_follows_an_inference_section_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train_ok(&out, 1, &[]);
    let config = dir.path().join("infer.toml");
    let write = |extra: &str| {
        std::fs::write(
            &config,
            format!(
                "[inference]\nmodel_path = {:?}\ntest_data_file = {:?}\noutput_dir = {:?}\nn_groups = 5\n{extra}\n[execution]\ninference_batch_size = 2\n",
                out.to_str().unwrap(),
                fixture().to_str().unwrap(),
                dir.path().join("inferred").to_str().unwrap(),
            ),
        )
        .unwrap();
    };
    write("");
    let cfg = config.to_str().unwrap();
    let o = ptycho(&["infer", "--config", cfg, "--refine-epochs", "0", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("reconstructed 5 group(s)"),
        "{}",
        text(&o)
    );
    assert!(dir.path().join("inferred/reconstruction.npz").is_file());

    let o = ptycho(&[
        "infer",
        "--config",
        cfg,
        "--n-groups",
        "7",
        "--refine-epochs",
        "0",
        "--quiet",
    ]);
    assert!(
        text(&o).contains("reconstructed 7 group(s)"),
        "{}",
        text(&o)
    );

    write("debug = true\n");
    let o = ptycho(&["infer", "--config", cfg, "--refine-epochs", "0", "--quiet"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("inference.debug"), "{}", text(&o));
}
