//! Writes a small, fully deterministic bundle: the generator of the archive snapshots
//! (`archive_tree.txt`, `archive_manifest_snapshot.json` in `fixtures/snapshots.toml`).
//!
//! Usage: `cargo run -p ptycho-bundle --example example_bundle -- OUT_DIR`
//! writes `OUT_DIR/wts.h5.zip` and prints its `manifest.json`. Config, weights and creation
//! time are fixed, so any change of the output is a change of the bundle format (member
//! names or order, manifest or params keys, safetensors encoding, compression).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ptycho_bundle::{BundleContents, SaveOptions, Tensor, TensorMap, save_bundle};
use ptycho_config::{ModelConfig, TrainingConfig};

/// A model-shaped map: one convolution (4 channels in, gridsize 2) and its bias, with a
/// deterministic ramp of values.
fn generator() -> TensorMap {
    let ramp = |n: usize, scale: f32| {
        (0..n)
            .map(|i| (i as f32 - n as f32 / 2.0) * scale)
            .collect::<Vec<_>>()
    };
    let mut map = TensorMap::new();
    map.insert(
        "encoder.conv1.weight",
        Tensor::from_f32(&[8, 4, 3, 3], &ramp(288, 1e-3)).expect("shape"),
    )
    .expect("name");
    map.insert(
        "encoder.conv1.bias",
        Tensor::from_f32(&[8], &ramp(8, 1e-2)).expect("shape"),
    )
    .expect("name");
    map
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: example_bundle OUT_DIR")?;
    let config = TrainingConfig {
        model: ModelConfig {
            N: 64,
            gridsize: 2,
            ..ModelConfig::default()
        },
        train_data_file: Some(PathBuf::from("train.npz")),
        test_data_file: Some(PathBuf::from("test.npz")),
        nphotons: 1e9,
        n_groups: 512,
        output_dir: PathBuf::from("training_outputs"),
        ..TrainingConfig::default()
    };
    let inference = generator();
    let mut training = generator();
    let log_scale = 6.5f32;
    training.insert("physics.log_scale", Tensor::from_f32(&[], &[log_scale])?)?;
    training.insert(
        "physics.probe",
        Tensor::from_f32(&[64, 64, 2], &vec![0.125; 64 * 64 * 2])?,
    )?;
    let contents = BundleContents {
        config: &config,
        intensity_scale: f64::from(log_scale).exp(),
        diffraction_to_obj: &inference,
        autoencoder: &training,
    };
    let options = SaveOptions::new("flex")
        .created_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600));
    let path = save_bundle(&out, &contents, &options)?;
    let summary = ptycho_bundle::inspect_bundle(&path, &Default::default())?;
    print!("{}", String::from_utf8(summary.manifest.to_json())?);
    Ok(())
}
