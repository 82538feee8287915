//! D4.B's TestPersistenceRegression: full round trip, manifest structure and version, every
//! CONFIG-001 field in the snapshot, and archives that cross backends.

use std::path::PathBuf;

use ptycho_bundle::{
    BundleContents, KNOWN_BACKENDS, Manifest, SaveOptions, encode_bundle, load_bundle, save_bundle,
};
use ptycho_config::{LegacyParams, LegacyValue, TrainingConfig};
use serde_json::Value;

use crate::common::{
    Fixture, LOG_SCALE, autoencoder_weights, fixed_time, fixture_bytes, generator_weights,
    intensity_scale, members, options, save_fixture, schema, training_config,
};

/// Save a dual-model bundle, load it, and get back the exact config, params and bit-identical
/// weights; saving what was loaded reproduces the archive byte for byte.
#[test]
fn archive_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_fixture(dir.path(), "flex");
    let original = std::fs::read(&path).unwrap();
    let loaded = load_bundle(&path, &schema()).unwrap();
    assert_eq!(loaded.path, path);
    assert_eq!(loaded.config, training_config());
    assert_eq!(loaded.intensity_scale, intensity_scale());
    assert_eq!(loaded.diffraction_to_obj, generator_weights());
    assert_eq!(loaded.autoencoder, autoencoder_weights());
    assert_eq!(
        loaded
            .autoencoder
            .get("physics.log_scale")
            .unwrap()
            .to_f32_vec()
            .unwrap(),
        [LOG_SCALE]
    );
    assert_eq!(
        loaded
            .autoencoder
            .get("train.step")
            .unwrap()
            .to_i64_vec()
            .unwrap(),
        [1234]
    );

    let again = dir.path().join("again");
    let contents = BundleContents {
        config: &loaded.config,
        intensity_scale: loaded.intensity_scale,
        diffraction_to_obj: &loaded.diffraction_to_obj,
        autoencoder: &loaded.autoencoder,
    };
    let resaved = save_bundle(&again, &contents, &options(&loaded.manifest.backend)).unwrap();
    assert_eq!(std::fs::read(resaved).unwrap(), original);
}

/// `manifest.json` holds exactly the models (inference graph first), format version "3.0",
/// the backend, an RFC 3339 UTC creation time and the crate versions.
#[test]
fn manifest_validation() {
    let bytes = fixture_bytes();
    let contents = members(&bytes);
    assert_eq!(contents[0].0, "manifest.json");
    let value: Value = serde_json::from_slice(&contents[0].1).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted_expected = [
        "models",
        "version",
        "backend",
        "created_at",
        "crate_versions",
    ];
    sorted_expected.sort();
    assert_eq!(keys, sorted_expected);
    assert_eq!(
        value["models"],
        serde_json::json!(["diffraction_to_obj", "autoencoder"])
    );
    assert_eq!(value["version"], "3.0");
    assert_eq!(value["backend"], "flex");
    assert_eq!(value["created_at"], "2026-09-21T14:13:20Z");
    assert_eq!(
        value["crate_versions"],
        serde_json::json!({"burn": "0.22.1", "ptycho-bundle": env!("CARGO_PKG_VERSION")})
    );
    let manifest = Manifest::parse(&contents[0].1).unwrap();
    assert_eq!(manifest.version, ptycho_bundle::FORMAT_VERSION);
    assert_eq!(
        manifest.to_json(),
        contents[0].1,
        "canonical JSON round trip"
    );
    // Without an explicit time the clock (or SOURCE_DATE_EPOCH) is used, still RFC 3339 UTC.
    let fixture = Fixture::new();
    let fresh = encode_bundle(&fixture.contents(), &SaveOptions::new("flex")).unwrap();
    let manifest = Manifest::parse(&members(&fresh)[0].1).unwrap();
    assert!(
        manifest.created_at.ends_with('Z'),
        "{}",
        manifest.created_at
    );
    assert_eq!(manifest.created_at.len(), "2026-09-21T14:13:20Z".len());
}

fn snapshot_of_archive(bytes: &[u8]) -> (LegacyParams, LegacyParams) {
    let contents = members(bytes);
    let parse =
        |i: usize| LegacyParams::from_json(std::str::from_utf8(&contents[i].1).unwrap()).unwrap();
    (parse(1), parse(3))
}

/// Every CONFIG-001-critical field is in the snapshot with its training value under its legacy
/// key; every field of the training config survives the round trip, including optional ones.
#[test]
fn params_snapshot_all_fields() {
    let (first, second) = snapshot_of_archive(&fixture_bytes());
    assert_eq!(first, second);
    use LegacyValue::{Bool, Float, Int, Null, Str};
    let critical: Vec<(&str, LegacyValue)> = vec![
        ("N", Int(64)),
        ("gridsize", Int(2)),
        ("n_filters_scale", Int(1)),
        ("model_type", Str("pinn".into())),
        ("architecture", Str("cnn".into())),
        ("amp_activation", Str("sigmoid".into())),
        ("object.big", Bool(true)),
        ("probe.big", Bool(true)),
        ("probe.mask", Bool(true)),
        ("probe_mask_diameter", Float(48.0)),
        ("pad_object", Bool(true)),
        ("probe_scale", Float(5.5)),
        ("gaussian_smoothing_sigma", Float(0.25)),
        ("nphotons", Float(1e9)),
        ("n_groups", Int(256)),
        ("n_images", Null),
        ("n_subsample", Int(1024)),
        ("subsample_seed", Int(17)),
        ("neighbor_count", Int(6)),
        ("batch_size", Int(32)),
        ("nepochs", Int(7)),
        ("mae_weight", Float(0.25)),
        ("nll_weight", Float(0.75)),
        ("positions.provided", Bool(true)),
        ("probe.trainable", Bool(false)),
        ("intensity_scale.trainable", Bool(true)),
        ("output_prefix", Str("runs/fly001".into())),
        (
            "train_data_file_path",
            Str("datasets/fly/fly001_train.npz".into()),
        ),
        (
            "test_data_file_path",
            Str("datasets/fly/fly001_test.npz".into()),
        ),
        ("intensity_scale", Float(intensity_scale())),
        ("_version", Str("3.0".into())),
    ];
    for (key, value) in &critical {
        assert_eq!(first.get(key), Some(value), "params key {key}");
    }
    let all = LegacyParams::snapshot_of(&TrainingConfig::default());
    assert_eq!(first.len(), all.len() + 2);
    for key in all.keys() {
        assert!(first.get(key).is_some(), "snapshot lacks {key}");
    }

    // Every optional field set, every choice away from its default: all come back.
    let mut config = training_config();
    config.n_images = Some(256);
    config.neighbor_pool_size = Some(12);
    config.gradient_clip_val = Some(0.5);
    config.enable_oversampling = true;
    config.sequential_sampling = true;
    config.model.max_hidden_channels = Some(128);
    config.model.resnet_width = Some(64);
    config.model.amp_activation = "swish".parse().unwrap();
    config.optimizer = "adamw".parse().unwrap();
    config.scheduler = "WarmupCosine".parse().unwrap();
    config.backend = "pytorch".parse().unwrap();
    config.validate().unwrap();
    let fixture = Fixture::new();
    let contents = BundleContents {
        config: &config,
        ..fixture.contents()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = save_bundle(dir.path(), &contents, &options("flex")).unwrap();
    let loaded = load_bundle(&path, &schema()).unwrap();
    assert_eq!(loaded.config, config);
    assert_eq!(loaded.params.get("n_images"), Some(&Int(256)));
    assert_eq!(loaded.params.get("gradient_clip_val"), Some(&Float(0.5)));
    assert_eq!(loaded.params.get("backend"), Some(&Str("pytorch".into())));
    assert_eq!(
        loaded.config.train_data_file,
        Some(PathBuf::from("datasets/fly/fly001_train.npz"))
    );
}

/// A bundle's weights are backend-independent: little-endian f32 safetensors, with the manifest's
/// `backend` field informational and accepted for any known backend name. Proven by saving a
/// bundle as backend "wgpu" and loading it for a "flex" model: the tensors come back bit for bit,
/// and re-saving them under "flex" changes the manifest's backend and nothing else.
#[test]
fn cross_backend_archive_compatibility() {
    let dir = tempfile::tempdir().unwrap();
    let wgpu_path = save_fixture(&dir.path().join("wgpu"), "wgpu");
    // The "flex" model's expected tensors: built from the restored config, as a flex model would.
    let flex_schema = schema();
    let loaded = load_bundle(&wgpu_path, &flex_schema).unwrap();
    assert_eq!(loaded.manifest.backend, "wgpu");
    assert_eq!(loaded.autoencoder, autoencoder_weights());
    assert_eq!(loaded.diffraction_to_obj, generator_weights());

    // Little-endian f32 on disk: the log-scale's bytes appear verbatim in the weights member.
    let wgpu_bytes = std::fs::read(&wgpu_path).unwrap();
    let wgpu_members = members(&wgpu_bytes);
    let raw = &wgpu_members[4].1;
    assert!(raw.windows(4).any(|w| w == LOG_SCALE.to_le_bytes()));
    let header_len = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&raw[8..8 + header_len]).unwrap();
    assert_eq!(header["physics.probe"]["dtype"], "F32");
    assert_eq!(header["physics.log_scale"]["dtype"], "F32");

    let contents = BundleContents {
        config: &loaded.config,
        intensity_scale: loaded.intensity_scale,
        diffraction_to_obj: &loaded.diffraction_to_obj,
        autoencoder: &loaded.autoencoder,
    };
    let flex_path = save_bundle(&dir.path().join("flex"), &contents, &options("flex")).unwrap();
    let flex_members = members(&std::fs::read(&flex_path).unwrap());
    assert_eq!(
        flex_members[1..],
        wgpu_members[1..],
        "params and weights are identical"
    );
    let flex_manifest = Manifest::parse(&flex_members[0].1).unwrap();
    let wgpu_manifest = Manifest::parse(&wgpu_members[0].1).unwrap();
    assert_eq!(flex_manifest.backend, "flex");
    assert_eq!(
        Manifest {
            backend: "flex".into(),
            ..wgpu_manifest
        },
        flex_manifest
    );

    // Every known backend name loads, with the same weights.
    for backend in KNOWN_BACKENDS {
        let fixture = Fixture::new();
        let bytes = encode_bundle(&fixture.contents(), &options(backend)).unwrap();
        let path = dir.path().join(format!("{backend}.zip"));
        std::fs::write(&path, bytes).unwrap();
        let loaded = load_bundle(&path, &flex_schema).unwrap();
        assert_eq!(loaded.manifest.backend, *backend);
        assert_eq!(loaded.autoencoder, autoencoder_weights());
    }
    let _ = fixed_time();
}
