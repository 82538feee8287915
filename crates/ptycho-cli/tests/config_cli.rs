//! `ptycho config ...` as a user runs it: exit status, stdout, and one-line errors on stderr.

use std::path::Path;
use std::process::Output;

mod support;
use support::{ptycho, workspace_root};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The single error line (the command must have failed).
fn error_line(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected failure, got {}",
        stdout(output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {stderr:?}");
    lines[0].to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn validate_accepts_canonical_and_torch_files() {
    // Upstream's baseline sets values this implementation does not run with: refused, named.
    let out = ptycho(&["config", "validate", "fixtures/configs/baseline.toml"]);
    assert_eq!(
        error_line(&out),
        "error: fixtures/configs/baseline.toml: `training.positions_provided` = false: only true is supported (patches are always placed at the scan's recorded positions)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "run.toml",
        "[model]\nN = 128\n[training]\nnepochs = 5\n[execution]\nvalidation_split = 0.1\n",
    );
    let out = ptycho(&["config", "validate", &file]);
    assert_eq!(
        stdout(&out),
        format!("ok: {file} is a valid canonical config (training)\n")
    );
    let out = ptycho(&[
        "config",
        "validate",
        "fixtures/configs/upstream_torch_demo.json",
    ]);
    assert_eq!(
        stdout(&out),
        "ok: fixtures/configs/upstream_torch_demo.json is a valid PyTorch-side config\n"
    );
}

#[test]
fn validate_reports_typo_wrong_type_and_range_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let typo = write(dir.path(), "typo.yaml", "N: 128\nbatchsize: 16\n");
    assert_eq!(
        error_line(&ptycho(&["config", "validate", &typo])),
        format!("error: {typo}: unknown key `batchsize` (did you mean `batch_size`?)")
    );
    let quoted = write(
        dir.path(),
        "quoted.toml",
        "[training]\nbatch_size = \"16\"\n",
    );
    assert_eq!(
        error_line(&ptycho(&["config", "validate", &quoted])),
        format!(
            "error: {quoted}: `training.batch_size`: invalid type: string \"16\", expected a whole number of at least 0 (write 16 without quotes)"
        )
    );
    let wrong = write(dir.path(), "wrong.toml", "[training]\nnepochs = \"ten\"\n");
    assert_eq!(
        error_line(&ptycho(&["config", "validate", &wrong])),
        format!(
            "error: {wrong}: `training.nepochs`: invalid type: string \"ten\", expected a whole number of at least 0"
        )
    );
    let range = write(
        dir.path(),
        "range.json",
        "{\"training\": {\"mae_weight\": 2}}",
    );
    assert_eq!(
        error_line(&ptycho(&["config", "validate", &range])),
        format!(
            "error: {range}: `training.mae_weight` = 2.0 is invalid: must lie between 0.0 and 1.0"
        )
    );
}

#[test]
fn validate_check_paths_reports_missing_model_archive() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    std::fs::create_dir(&model_dir).unwrap();
    let data = write(dir.path(), "test.npz", "");
    let text = format!(
        "[inference]\nmodel_path = {:?}\ntest_data_file = {data:?}\n",
        model_dir.display().to_string()
    );
    let file = write(dir.path(), "infer.toml", &text);
    let line = error_line(&ptycho(&["config", "validate", &file, "--check-paths"]));
    assert!(
        line.contains("model archive not found") && line.contains("wts.h5.zip"),
        "{line}"
    );
    std::fs::write(model_dir.join("wts.h5.zip"), b"").unwrap();
    assert!(
        ptycho(&["config", "validate", &file, "--check-paths"])
            .status
            .success()
    );
}

#[test]
fn show_legacy_reproduces_the_upstream_baseline() {
    let out = ptycho(&[
        "config",
        "show",
        "fixtures/configs/baseline.toml",
        "--legacy",
        "--keys-from",
        "fixtures/baseline_params.json",
    ]);
    assert!(out.status.success());
    let baseline =
        std::fs::read_to_string(workspace_root().join("fixtures/baseline_params.json")).unwrap();
    assert_eq!(stdout(&out).trim_end(), baseline.trim_end());
}

#[test]
fn show_prints_effective_config_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "t.yaml", "N: 128\n");
    let out = ptycho(&["config", "show", &file, "--format", "json"]);
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["model"]["N"], 128);
    assert_eq!(value["training"]["n_groups"], 512);
    assert_eq!(value["training"]["output_dir"], "training_outputs");
}

#[test]
fn bridge_converts_upstream_torch_config_into_valid_canonical_config() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("canonical.yaml");
    let out = ptycho(&[
        "config",
        "bridge",
        "fixtures/configs/upstream_torch_demo.json",
        "--set",
        "train_data_file=train.npz",
        "--set",
        "n_groups=512",
        "--set",
        "nphotons=1e9",
        "--format",
        "yaml",
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: test_data_file not provided"),
        "{stderr}"
    );
    // Upstream's demo trains on two devices: the conversion says so, and `validate` (like
    // `ptycho train`) refuses it.
    let refusal =
        "`execution.devices` = 2: only 1 is supported (training and inference run on one device)";
    assert!(
        stderr.contains(&format!(
            "warning: `ptycho train` refuses this config: {refusal}"
        )),
        "{stderr}"
    );
    let out = ptycho(&["config", "validate", output.to_str().unwrap()]);
    assert_eq!(
        error_line(&out),
        format!("error: {}: {refusal}", output.display())
    );
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(
        text.contains("probe_scale: 1.0") && text.contains("backend: pytorch"),
        "{text}"
    );
}

#[test]
fn bridge_errors_for_missing_override_and_non_square_grid() {
    let line = error_line(&ptycho(&[
        "config",
        "bridge",
        "fixtures/configs/upstream_torch_demo.json",
        "--set",
        "n_groups=512",
    ]));
    assert!(
        line.starts_with(
            "error: fixtures/configs/upstream_torch_demo.json: nphotons default divergence detected"
        ),
        "{line}"
    );
    assert!(line.contains("nphotons=1000000000.0"), "{line}");
    assert!(
        line.ends_with("(on the command line: --set KEY=VALUE)"),
        "{line}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "grid.json",
        "{\"data_config\": {\"grid_size\": [2, 3]}}",
    );
    let line = error_line(&ptycho(&["config", "bridge", &file]));
    assert_eq!(
        line,
        format!(
            "error: {file}: non-square grids not supported: data_config.grid_size = (2, 3); use a square grid such as (2, 2) or (3, 3)"
        )
    );
    let line = error_line(&ptycho(&["config", "bridge", &file, "--set", "n_groups"]));
    assert_eq!(
        line,
        "error: override \"n_groups\" is not of the form KEY=VALUE (e.g. n_groups=512)"
    );
}

#[test]
fn show_set_overrides_only_the_given_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "train.yaml",
        "nepochs: 7\nbatch_size: 8\nN: 128\n",
    );
    let out = ptycho(&[
        "config",
        "show",
        &file,
        "--set",
        "batch_size=32",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["training"]["batch_size"], 32);
    assert_eq!(
        value["training"]["nepochs"], 7,
        "file value kept, not reset to the default"
    );
    assert_eq!(value["model"]["N"], 128);
    let line = error_line(&ptycho(&[
        "config",
        "validate",
        &file,
        "--set",
        "model_path=m",
    ]));
    assert_eq!(
        line,
        format!(
            "error: {file}: `--set model_path` = \"m\" is invalid: applies to [inference], which this file does not have; add that section to the file"
        )
    );
    let line = error_line(&ptycho(&[
        "config",
        "show",
        "fixtures/configs/upstream_torch_demo.json",
        "--set",
        "N=128",
    ]));
    assert!(line.contains("use `ptycho config bridge"), "{line}");
}
