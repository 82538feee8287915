//! The real-data tools of `ptycho`: `score` against a reference, and the `--crop` / `--bin`
//! detector reductions refusing what they cannot do, by name.

mod support;

use std::path::Path;

use ptycho_data::{Compression, NpzWriter};
use support::{ptycho, text};

/// An asymmetric complex object (a ramp, an off-centre bump) and flat illumination.
fn write_reference(path: &Path, n: usize) {
    let object: Vec<num_complex::Complex32> = (0..n * n)
        .map(|k| {
            let (y, x) = ((k / n) as f32, (k % n) as f32);
            let bump = (-((y - 20.0).powi(2) + (x - 41.0).powi(2)) / 30.0).exp();
            num_complex::Complex32::from_polar(1.0 - 0.3 * bump, 0.8 * bump + 0.3 * (0.2 * x).sin())
        })
        .collect();
    let mut npz = NpzWriter::create(path, Compression::Stored).unwrap();
    npz.add("object", &[n, n], &object).unwrap();
    npz.add("illumination", &[n, n], &vec![1.0f32; n * n])
        .unwrap();
    npz.finish().unwrap();
}

#[test]
fn score_agrees_with_itself_and_names_a_missing_member() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref.npz");
    write_reference(&reference, 64);
    let json = dir.path().join("score.json");
    let out = ptycho(&[
        "score",
        "--reference",
        reference.to_str().unwrap(),
        reference.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("FRC 0-0.1 cycles/px 1.000   0.1-0.25 1.000"),
        "{}",
        text(&out)
    );
    let score: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(score["nrmse"].as_f64().unwrap() < 1e-5, "{score}");

    let out = ptycho(&[
        "score",
        "--reference",
        reference.to_str().unwrap(),
        &format!("{}:probe", reference.display()),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("expected an array `probe`, found none"),
        "{}",
        text(&out)
    );
}

#[test]
fn detector_reductions_refuse_impossible_sizes_by_name() {
    let train = |flag: &str, value: &str| {
        ptycho(&[
            "train",
            "--train-data-file",
            "fixtures/datasets/sim_lines_n64.npz",
            "--output-dir",
            "target/tmp/realdata_cli_unused",
            flag,
            value,
        ])
    };
    let out = train("--crop", "48");
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("--crop 48") && msg.contains("power of two"),
        "{msg}"
    );
    let out = train("--bin", "3");
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("--bin 3") && msg.contains("divisible"),
        "{msg}"
    );
    let out = ptycho(&[
        "train",
        "--train-data-file",
        "fixtures/datasets/sim_lines_n64.npz",
        "--crop",
        "32",
        "--bin",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot be used with"), "{}", text(&out));
}
