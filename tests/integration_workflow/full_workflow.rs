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
        // `--workspace --tests --bins` selects what `cargo test --workspace` (and nextest, and
        // `cargo xtask`) built, so features unify the same way, dev-dependencies included, and
        // this is a no-op there. `-p ptycho-cli --bin ptycho` alone would unify features
        // without the dev-dependencies and rebuild burn inside the test's time budget.
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--tests",
            "--bins",
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

/// The checked-in N = 64 scan: 256 positions on a 16 × 16 raster (step 4 px, x and y from 32 to
/// 92) over a 128 × 128 lines object, 1e9 photons, with `objectGuess` (see its manifest).
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/datasets/sim_lines_n64.npz")
}

fn read_f32(npz: &mut NpzReader, name: &str) -> (Vec<usize>, Vec<f32>) {
    let array = npz
        .read(name)
        .unwrap()
        .unwrap_or_else(|| panic!("{name} member"));
    let ArrayData::F32(values) = array.data else {
        panic!("{name} is {}, expected float32", array.dtype)
    };
    (array.shape, values)
}

#[test]
fn train_save_load_infer_cycle() {
    let bin = ptycho_binary();
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let train_dir = work.path().join("train");
    let infer_dir = work.path().join("infer");
    let data = fixture();
    let data = data.to_str().unwrap();

    let stdout = run(
        &bin,
        &[
            "train",
            "--train-data-file",
            data,
            "--output-dir",
            train_dir.to_str().unwrap(),
            "--n-groups",
            "128",
            "--gridsize",
            "1",
            "--n-filters-scale",
            "1",
            "--max-epochs",
            "1",
            "--seed",
            "5",
            "--accelerator",
            "cpu",
            "--logger",
            "csv",
            "--quiet",
        ],
    );
    assert!(stdout.contains("trained 1 epoch(s)"), "{stdout}");
    // No --nphotons: the fixture stores normalised amplitudes, not square roots of photon
    // counts, so the photon scale is not taken from it, and the run says so.
    assert!(
        stdout.contains("not square roots of whole photon counts") && stdout.contains("1e9"),
        "{stdout}"
    );
    let bundle = train_dir.join("wts.h5.zip");
    let bundle_len = std::fs::metadata(&bundle).unwrap().len();
    assert!(bundle_len > 100_000, "bundle of {bundle_len} bytes");
    assert!(train_dir.join("checkpoints/last/wts.h5.zip").is_file());
    let csv = std::fs::read_to_string(train_dir.join("loss_history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "header and one epoch:\n{csv}");
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[0], "0");
    let loss: f64 = row[1].parse().unwrap();
    // The default loss is the Poisson negative log-likelihood (without its constant term), so it
    // can be negative; it must be a number.
    assert!(loss.is_finite() && loss != 0.0, "{csv}");

    // Inference takes no model flags: N, gridsize and the weights come from the bundle; at
    // gridsize 1 every position of the file is reconstructed.
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
        stdout.contains("reconstructed 256 group(s) (N 64, gridsize 1)"),
        "{stdout}"
    );

    // The object NPZ and the images agree in shape; values are finite, amplitudes non-negative
    // and not all zero, phases inside (-pi, pi].
    let mut npz = NpzReader::open(infer_dir.join("reconstruction.npz")).unwrap();
    let (shape, amplitude) = read_f32(&mut npz, "amplitude");
    assert_eq!(shape.len(), 2);
    let (h, w) = (shape[0], shape[1]);
    // Positions span 60 px in x and y; the canvas covers them plus the stitched central crop,
    // inside the 128-px object.
    assert!((60..=128).contains(&h) && h == w, "{shape:?}");
    assert!(amplitude.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(
        amplitude.iter().filter(|v| **v > 1e-4).count() > h * w / 2,
        "most of the canvas is covered"
    );
    let (phase_shape, phase) = read_f32(&mut npz, "phase");
    assert_eq!(phase_shape, shape);
    let pi = std::f32::consts::PI;
    assert!(
        phase
            .iter()
            .all(|v| v.is_finite() && (-pi..=pi).contains(v))
    );
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
    assert_eq!(meta["patches"], 256);

    // After one epoch the phase is nearly flat and its PNG compresses to a few hundred bytes;
    // the amplitude already varies.
    for (name, min_len) in [
        ("reconstructed_amplitude.png", 1_000),
        ("reconstructed_phase.png", 100),
    ] {
        let path = infer_dir.join(name);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > min_len, "{name} has only {len} bytes");
        assert_eq!(png_size(&path), (w as u32, h as u32), "{name}");
    }
    // The fixture carries objectGuess, so metrics against it are written.
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(infer_dir.join("metrics.json")).unwrap())
            .unwrap();
    let m = &metrics["metrics"];
    let mae = m["mae"]["amplitude"].as_f64().unwrap();
    assert!(mae.is_finite() && mae >= 0.0, "{metrics}");
    let ssim = m["ssim"]["amplitude"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&ssim), "{metrics}");
    // By default infer then refines the network's object and the probe against the measured
    // amplitudes over the whole scan, written beside it in refined/ in the same object frame.
    assert!(stdout.contains("refined the network's object"), "{stdout}");
    let refined = infer_dir.join("refined");
    let mut npz = NpzReader::open(refined.join("reconstruction.npz")).unwrap();
    let (refined_shape, refined_amp) = read_f32(&mut npz, "amplitude");
    assert_eq!(refined_shape.len(), 2);
    assert!(refined_amp.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(refined.join("probe.npz").is_file());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(refined.join("refinement.json")).unwrap())
            .unwrap();
    assert_eq!(record["started_from"], "network");
    let losses: Vec<f64> = record["loss_per_epoch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(
        losses.len(),
        record["spec"]["epochs"].as_u64().unwrap() as usize
    );
    assert!(
        losses.last().unwrap() < &(0.5 * losses[0]),
        "the refinement lowers the amplitude misfit: {losses:?}"
    );
    eprintln!(
        "train → infer cycle: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
