//! Upstream `TestPyTorchFullWorkflow`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ptycho_data::NpzReader;
use ptycho_data::npz::ArrayData;

/// Builds (if needed) and locates `ptycho` in this test's target directory and profile.
fn ptycho_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/<test-binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary inside <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => "dev".to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "ptycho-cli",
            "--bin",
            "ptycho",
            "--profile",
        ])
        .arg(&profile)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p ptycho-cli failed");
    let bin = profile_dir.join(format!("ptycho{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} missing", bin.display());
    bin
}

fn run(bin: &Path, args: &[&str]) -> String {
    let output = Command::new(bin)
        .args(args)
        .env("MLFLOW_TRACKING_URI", "memory")
        .output()
        .expect("ptycho runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "ptycho {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn train_save_load_infer_cycle() {
    let bin = ptycho_binary();
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let train_dir = work.path().join("train");
    let infer_dir = work.path().join("infer");
    // The checked-in fixture has N = 32, which the canonical config refuses (model.N is 64, 128
    // or 256), so the cycle starts by simulating a small N = 64 scan with the binary itself.
    let data = work.path().join("scan.npz");
    let data = data.to_str().unwrap();
    run(
        &bin,
        &[
            "simulate",
            "--output",
            data,
            "--patch-size",
            "64",
            "--object-size",
            "160",
            "--n-images",
            "64",
            "--nphotons",
            "1e6",
            "--seed",
            "7",
        ],
    );

    let stdout = run(
        &bin,
        &[
            "train",
            "--train-data-file",
            data,
            "--output-dir",
            train_dir.to_str().unwrap(),
            "--n-groups",
            "64",
            "--gridsize",
            "1",
            "--max-epochs",
            "1",
            "--accelerator",
            "cpu",
            "--logger",
            "csv",
            "--quiet",
        ],
    );
    assert!(stdout.contains("trained 1 epoch(s)"), "{stdout}");
    let bundle = train_dir.join("wts.h5.zip");
    let bundle_len = std::fs::metadata(&bundle).unwrap().len();
    assert!(bundle_len > 100_000, "bundle of {bundle_len} bytes");
    assert!(train_dir.join("checkpoints/last/wts.h5.zip").is_file());
    let csv = std::fs::read_to_string(train_dir.join("loss_history.csv")).unwrap();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[0], "0");
    let loss: f64 = row[1].parse().unwrap();
    // The default loss is the Poisson negative log-likelihood (without its constant term), so it
    // can be negative; it must be a number.
    assert!(loss.is_finite() && loss != 0.0, "{csv}");

    // Inference takes no model flags: N, gridsize and the weights come from the bundle.
    let stdout = run(
        &bin,
        &[
            "infer",
            "--model-path",
            train_dir.to_str().unwrap(),
            "--test-data-file",
            data,
            "--output-dir",
            infer_dir.to_str().unwrap(),
        ],
    );
    assert!(
        stdout.contains("reconstructed 64 group(s) (N 64, gridsize 1)"),
        "{stdout}"
    );

    // The object NPZ and the images agree in shape; values are finite and not all zero.
    let mut npz = NpzReader::open(infer_dir.join("reconstruction.npz")).unwrap();
    let amplitude = npz.read("amplitude").unwrap().expect("amplitude member");
    let shape = amplitude.shape.clone();
    assert_eq!(shape.len(), 2);
    let (h, w) = (shape[0], shape[1]);
    // 64 positions inside a 160-pixel object: the canvas covers the scan plus the 20-pixel crop.
    assert!((40..=200).contains(&h) && h == w, "{shape:?}");
    let ArrayData::F32(values) = &amplitude.data else {
        panic!("amplitude is {}, expected float32", amplitude.dtype)
    };
    assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(values.iter().filter(|v| **v > 1e-4).count() > 256);
    let object = npz.read("object").unwrap().expect("object member");
    assert_eq!(object.shape, shape);
    let meta = npz.read("metadata_json").unwrap().expect("metadata member");
    let ArrayData::Int(bytes) = &meta.data else {
        panic!("metadata is {}, expected uint8", meta.dtype)
    };
    let bytes: Vec<u8> = bytes.iter().map(|b| u8::try_from(*b).unwrap()).collect();
    let meta: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(meta["N"], 64);
    assert_eq!(meta["gridsize"], 1);
    assert_eq!(meta["patches"], 64);

    for name in ["reconstructed_amplitude.png", "reconstructed_phase.png"] {
        let path = infer_dir.join(name);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 1_000,
            "{name} too small"
        );
        assert_eq!(png_size(&path), (w as u32, h as u32), "{name}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(infer_dir.join("metrics.json")).unwrap())
            .unwrap();
    let mae = metrics["metrics"]["mae"]["amplitude"].as_f64().unwrap();
    assert!(mae.is_finite() && mae >= 0.0, "{metrics}");
    eprintln!(
        "train → infer cycle: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
