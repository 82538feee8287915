//! Shared fixtures: a gridsize-2 training config, realistic weights for both models, and zip
//! helpers that take a valid bundle apart and put broken ones together.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ptycho_bundle::{
    BundleContents, BundleSchema, DType, SaveOptions, Tensor, TensorMap, encode_bundle, save_bundle,
};
use ptycho_config::{ModelConfig, TrainingConfig};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Trained log-scale stored in the autoencoder; the bundle's intensity scale is its exponential.
pub const LOG_SCALE: f32 = 6.25;

/// A fixed creation time, so archives are reproducible.
pub fn fixed_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

/// Upstream's test config: N=64, gridsize=2, nphotons=1e9, with non-default values elsewhere so
/// that a field silently replaced by its default would be noticed.
pub fn training_config() -> TrainingConfig {
    TrainingConfig {
        model: ModelConfig {
            N: 64,
            gridsize: 2,
            n_filters_scale: 1,
            probe_mask: true,
            probe_mask_diameter: Some(48.0),
            probe_scale: 5.5,
            gaussian_smoothing_sigma: 0.25,
            ..ModelConfig::default()
        },
        train_data_file: Some(PathBuf::from("datasets/fly/fly001_train.npz")),
        test_data_file: Some(PathBuf::from("datasets/fly/fly001_test.npz")),
        batch_size: 32,
        nepochs: 7,
        mae_weight: 0.25,
        nll_weight: 0.75,
        nphotons: 1e9,
        n_groups: 256,
        n_subsample: Some(1024),
        subsample_seed: Some(17),
        neighbor_count: 6,
        output_dir: PathBuf::from("runs/fly001"),
        ..TrainingConfig::default()
    }
}

/// Deterministic pseudo-random values in (-0.5, 0.5).
fn values(seed: u64, count: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn tensor(seed: u64, shape: &[usize]) -> Tensor {
    Tensor::from_f32(shape, &values(seed, shape.iter().product())).unwrap()
}

/// Generator tensors of a gridsize-2 (4-channel) model.
pub fn generator_weights() -> TensorMap {
    let mut map = TensorMap::new();
    let layers: [(&str, &[usize]); 6] = [
        ("encoder.conv1.weight", &[16, 4, 3, 3]),
        ("encoder.conv1.bias", &[16]),
        ("decoder_amp.conv.weight", &[4, 16, 3, 3]),
        ("decoder_amp.conv.bias", &[4]),
        ("decoder_phase.conv.weight", &[4, 16, 3, 3]),
        ("decoder_phase.conv.bias", &[4]),
    ];
    for (i, (name, shape)) in layers.into_iter().enumerate() {
        map.insert(name, tensor(i as u64 + 1, shape)).unwrap();
    }
    map
}

/// The full training graph: the generator plus the physics state (log-scale, probe as (re, im)
/// pairs, and the optimiser step count).
pub fn autoencoder_weights() -> TensorMap {
    let mut map = generator_weights();
    map.insert(
        "physics.log_scale",
        Tensor::from_f32(&[], &[LOG_SCALE]).unwrap(),
    )
    .unwrap();
    map.insert("physics.probe", tensor(99, &[64, 64, 2]))
        .unwrap();
    map.insert("train.step", Tensor::from_i64(&[], &[1234]).unwrap())
        .unwrap();
    map
}

/// The trained intensity scale, `exp(log_scale)`.
pub fn intensity_scale() -> f64 {
    f64::from(LOG_SCALE).exp()
}

/// What the model built from [`training_config`] expects.
pub fn schema() -> BundleSchema {
    BundleSchema {
        diffraction_to_obj: generator_weights().schema(),
        autoencoder: autoencoder_weights().schema(),
    }
}

/// Owned contents; [`Fixture::contents`] borrows them.
pub struct Fixture {
    pub config: TrainingConfig,
    pub diffraction_to_obj: TensorMap,
    pub autoencoder: TensorMap,
    pub intensity_scale: f64,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            config: training_config(),
            diffraction_to_obj: generator_weights(),
            autoencoder: autoencoder_weights(),
            intensity_scale: intensity_scale(),
        }
    }

    pub fn contents(&self) -> BundleContents<'_> {
        BundleContents {
            config: &self.config,
            intensity_scale: self.intensity_scale,
            diffraction_to_obj: &self.diffraction_to_obj,
            autoencoder: &self.autoencoder,
        }
    }
}

/// Options for `backend` at the fixed time.
pub fn options(backend: &str) -> SaveOptions {
    SaveOptions::new(backend)
        .created_at(fixed_time())
        .crate_version("burn", "0.22.1")
}

/// Saves the fixture into `dir` and returns the archive path.
pub fn save_fixture(dir: &Path, backend: &str) -> PathBuf {
    save_bundle(dir, &Fixture::new().contents(), &options(backend)).unwrap()
}

/// The fixture's archive bytes.
pub fn fixture_bytes() -> Vec<u8> {
    encode_bundle(&Fixture::new().contents(), &options("flex")).unwrap()
}

/// Every member (name, content) of an archive, in stored order.
pub fn members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().unwrap().into_owned(), content)
        })
        .collect()
}

/// A zip of `members`, each stored with `method`.
pub fn zip_of(members: &[(String, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, content) in members {
        if name.ends_with('/') {
            zip.add_directory(name.trim_end_matches('/'), options)
                .unwrap();
        } else {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(content).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

/// Replaces every occurrence of `from` by `to` (same length) in raw archive bytes.
pub fn patch_bytes(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut count = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            count += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    count
}

/// Sets the declared uncompressed size of `member` in its local and central headers.
pub fn patch_declared_size(bytes: &mut [u8], member: &str, size: u32) {
    let name = member.as_bytes();
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(46) {
        let sig = &bytes[i..i + 4];
        let (name_len_at, size_at, name_at) = if sig == [0x50, 0x4b, 0x03, 0x04] {
            (26, 22, 30)
        } else if sig == [0x50, 0x4b, 0x01, 0x02] {
            (28, 24, 46)
        } else {
            continue;
        };
        let len = u16::from_le_bytes([bytes[i + name_len_at], bytes[i + name_len_at + 1]]);
        if usize::from(len) == name.len()
            && bytes.get(i + name_at..i + name_at + name.len()) == Some(name)
        {
            bytes[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local and central header of {member}");
}

/// The expected tensors of a model with a different dtype for `name`.
pub fn with_dtype(map: &TensorMap, name: &str, dtype: DType) -> TensorMap {
    let mut out = TensorMap::new();
    for (n, t) in map.iter() {
        let t = if n == name {
            assert_eq!(dtype, DType::F64);
            let v: Vec<f64> = t.to_f32_vec().unwrap().into_iter().map(f64::from).collect();
            Tensor::from_f64(t.shape(), &v).unwrap()
        } else {
            t.clone()
        };
        out.insert(n, t).unwrap();
    }
    out
}
