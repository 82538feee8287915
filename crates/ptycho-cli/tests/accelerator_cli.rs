//! `--accelerator` of `ptycho train` and `ptycho infer`: unknown names and backends this build
//! lacks are refused with one line naming the choice, before any data is read.

use std::process::Output;

mod support;
use support::ptycho;

/// The `error:` line of a failed run.
fn error(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {stderr:?}");
    lines[0].to_owned()
}

fn train(accelerator: &str) -> Output {
    // The data file does not exist: the accelerator is checked first.
    ptycho(&[
        "train",
        "--train-data-file",
        "no/such/scan.npz",
        "--accelerator",
        accelerator,
    ])
}

#[test]
fn unknown_accelerators_are_refused_with_the_choices() {
    // `--accelerator` of `train` is the config's `execution.accelerator`, checked as in a file.
    assert_eq!(
        error(&train("tpu")),
        "error: `execution.accelerator`: \"tpu\" is not one of auto, cpu, gpu, cuda, wgpu (TPU execution is not supported)"
    );
    assert_eq!(
        error(&train("mps")),
        "error: `execution.accelerator`: \"mps\" is not one of auto, cpu, gpu, cuda, wgpu (Apple's MPS is not a backend of this build; wgpu runs on Metal)"
    );
    let infer = ptycho(&[
        "infer",
        "--model-path",
        "no/such/bundle",
        "--test-data-file",
        "no/such/scan.npz",
        "--accelerator",
        "mps",
    ]);
    assert_eq!(
        error(&infer),
        "error: --accelerator: \"mps\" is not one of auto, cpu, gpu, cuda, wgpu (Apple's MPS is not a backend of this build; wgpu runs on Metal)"
    );
}

#[test]
fn backends_missing_from_the_build_are_named() {
    for (backend, compiled) in [
        ("wgpu", cfg!(feature = "wgpu")),
        ("cuda", cfg!(feature = "cuda")),
    ] {
        if compiled {
            continue;
        }
        assert_eq!(
            error(&train(backend)),
            format!(
                "error: accelerator {backend}: this build has no {backend} backend (rebuild with \
                 `--features {backend}`; the cpu backend is always available)"
            )
        );
    }
    if !cfg!(feature = "wgpu") && !cfg!(feature = "cuda") {
        let line = error(&train("gpu"));
        assert!(
            line.starts_with("error: accelerator gpu: no GPU backend works in this build"),
            "{line}"
        );
    }
}

#[test]
fn cpu_and_auto_pass_the_check_and_reach_the_data() {
    for accelerator in ["cpu", "CPU", "flex", "auto"] {
        let line = error(&train(accelerator));
        assert!(
            line.contains("no/such/scan.npz") && !line.contains("accelerator"),
            "{accelerator}: {line}"
        );
    }
}

#[test]
fn a_config_file_accelerator_is_checked_like_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("train.toml");
    std::fs::write(&config, "[training]\n[execution]\naccelerator = \"mps\"\n").unwrap();
    let output = ptycho(&[
        "train",
        "--train-data-file",
        "no/such/scan.npz",
        "--config",
        config.to_str().unwrap(),
    ]);
    let line = error(&output);
    assert!(
        line.contains("`execution.accelerator`: \"mps\" is not one of auto, cpu, gpu, cuda, wgpu"),
        "{line}"
    );
}

#[test]
fn flags_are_checked_like_config_values() {
    let output = ptycho(&[
        "train",
        "--train-data-file",
        "no/such/scan.npz",
        "--validation-split",
        "1.5",
    ]);
    assert_eq!(
        error(&output),
        "error: `execution.validation_split` = 1.5 is invalid: must be at least 0.0 and below 1.0"
    );
    let output = ptycho(&[
        "train",
        "--train-data-file",
        "no/such/scan.npz",
        "--logger",
        "tensorboard",
    ]);
    assert_eq!(
        error(&output),
        "error: `execution.logger_backend` = \"tensorboard\": only \"csv\", \"mlflow\" and \"none\" are supported (there is no TensorBoard writer)"
    );
}
