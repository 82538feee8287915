//! Upstream's `TestSaveTorchBundle`: what a saved archive contains, plus what this port adds:
//! byte-identical archives, atomic replacement, and refusal of placeholder or diverged models.

use ptycho_bundle::{BundleError, Manifest, TensorMap, save_bundle};
use ptycho_config::{LegacyParams, LegacyValue};

use crate::common::{Fixture, fixture_bytes, intensity_scale, members, options, save_fixture};

/// The archive holds exactly the manifest and, per model folder, a params snapshot and real
/// weights; names and order are fixed (upstream: `test_archive_structure`).
#[test]
fn archive_structure() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_fixture(dir.path(), "flex");
    assert_eq!(path, dir.path().join("wts.h5.zip"));
    let bytes = std::fs::read(&path).unwrap();
    let names: Vec<String> = members(&bytes).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "diffraction_to_obj/params.json",
            "diffraction_to_obj/model.safetensors",
            "autoencoder/params.json",
            "autoencoder/model.safetensors",
        ]
    );
    assert!(names.iter().any(|n| n.starts_with("autoencoder/")));
    let contents = members(&bytes);
    let manifest = Manifest::parse(&contents[0].1).unwrap();
    assert_eq!(manifest.models, ["diffraction_to_obj", "autoencoder"]);
    // Real weights in both folders: the safetensors decode to the tensors handed in.
    let fixture = Fixture::new();
    let inference = ptycho_bundle::decode_safetensors(&contents[2].1, "d").unwrap();
    let training = ptycho_bundle::decode_safetensors(&contents[4].1, "a").unwrap();
    assert_eq!(inference, fixture.diffraction_to_obj);
    assert_eq!(training, fixture.autoencoder);
    assert_eq!(
        training
            .get("physics.log_scale")
            .unwrap()
            .to_f32_vec()
            .unwrap(),
        [crate::common::LOG_SCALE]
    );
    assert_eq!(training.get("physics.probe").unwrap().shape(), [64, 64, 2]);
    // No temporary file is left next to the bundle.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

/// Each folder's `params.json` is the legacy-key snapshot of the training config with the
/// trained `intensity_scale` and `_version` (upstream: `test_params_snapshot`).
#[test]
fn params_snapshot() {
    let bytes = fixture_bytes();
    let contents = members(&bytes);
    let (first, second) = (&contents[1].1, &contents[3].1);
    assert_eq!(first, second, "both folders hold the same snapshot");
    let params = LegacyParams::from_json(std::str::from_utf8(first).unwrap()).unwrap();
    assert_eq!(params.get("N"), Some(&LegacyValue::Int(64)));
    assert_eq!(params.get("gridsize"), Some(&LegacyValue::Int(2)));
    assert_eq!(params.get("nphotons"), Some(&LegacyValue::Float(1e9)));
    assert_eq!(
        params.get("intensity_scale"),
        Some(&LegacyValue::Float(intensity_scale()))
    );
    assert_eq!(
        params.get("_version"),
        Some(&LegacyValue::Str("3.0".into()))
    );
    assert_eq!(params.get("object.big"), Some(&LegacyValue::Bool(true)));
    assert_eq!(params.get("probe.mask"), Some(&LegacyValue::Bool(true)));
    assert_eq!(
        params.get("train_data_file_path"),
        Some(&LegacyValue::Str("datasets/fly/fly001_train.npz".into()))
    );
    assert_eq!(
        params.get("output_prefix"),
        Some(&LegacyValue::Str("runs/fly001".into()))
    );
    // Unset values are kept as null (snapshot semantics), not dropped.
    assert_eq!(params.get("neighbor_pool_size"), Some(&LegacyValue::Null));
    assert!(params.get("object_big").is_none(), "legacy key names only");
    let expected = LegacyParams::snapshot_of(&Fixture::new().config);
    assert_eq!(params.len(), expected.len() + 2);
    for (key, value) in expected.iter() {
        assert_eq!(params.get(key), Some(value), "{key}");
    }
}

/// The same inputs and creation time give the same bytes (archive snapshots rely on it);
/// a different backend changes only the manifest.
#[test]
fn archive_bytes_are_deterministic() {
    let first = fixture_bytes();
    assert_eq!(first, fixture_bytes());
    let dir = tempfile::tempdir().unwrap();
    let saved = std::fs::read(save_fixture(dir.path(), "flex")).unwrap();
    assert_eq!(
        saved, first,
        "save_bundle writes exactly encode_bundle's bytes"
    );
    let fixture = Fixture::new();
    let other = ptycho_bundle::encode_bundle(&fixture.contents(), &options("wgpu")).unwrap();
    let (a, b) = (members(&first), members(&other));
    assert_ne!(a[0], b[0]);
    assert_eq!(a[1..], b[1..]);
}

/// Saving over an existing bundle replaces it with a complete one; a refused save leaves the
/// existing bundle untouched and no temporary file behind.
#[test]
fn save_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_fixture(dir.path(), "flex");
    let before = std::fs::read(&path).unwrap();
    let mut fixture = Fixture::new();
    fixture.intensity_scale = f64::NAN;
    let err = save_bundle(dir.path(), &fixture.contents(), &options("flex")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to save the bundle: intensity_scale: expected a finite positive number (the \
         trained exp(log_scale)), found NaN"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Upstream's base-path convention and nested output folders are created.
    let nested = dir.path().join("a/b/wts.h5");
    let written = save_bundle(&nested, &Fixture::new().contents(), &options("flex")).unwrap();
    assert_eq!(written, dir.path().join("a/b/wts.h5.zip"));
}

/// Placeholder (empty) models, diverged weights and unknown backends are refused by name.
#[test]
fn invalid_contents_are_refused() {
    let empty = TensorMap::new();
    let mut fixture = Fixture::new();
    fixture.autoencoder = empty;
    let err = ptycho_bundle::encode_bundle(&fixture.contents(), &options("flex")).unwrap_err();
    assert!(matches!(err, BundleError::InvalidContents { .. }));
    assert!(
        err.to_string()
            .contains("autoencoder weights: expected the trained model's tensors, found none")
    );

    let mut fixture = Fixture::new();
    let mut bad = TensorMap::new();
    bad.insert(
        "w",
        ptycho_bundle::Tensor::from_f32(&[2], &[1.0, f32::INFINITY]).unwrap(),
    )
    .unwrap();
    fixture.diffraction_to_obj = bad;
    let err = ptycho_bundle::encode_bundle(&fixture.contents(), &options("flex")).unwrap_err();
    assert!(
        err.to_string().contains(
            "diffraction_to_obj tensor `w`: holds 1 non-finite value(s), first at flat index 1"
        ),
        "{err}"
    );

    let err =
        ptycho_bundle::encode_bundle(&Fixture::new().contents(), &options("pytorch")).unwrap_err();
    assert!(
        err.to_string()
            .contains("backend: expected one of flex, ndarray, wgpu"),
        "{err}"
    );
    assert!(err.to_string().ends_with("found \"pytorch\""), "{err}");

    let mut fixture = Fixture::new();
    fixture.config.model.N = 65;
    let err = ptycho_bundle::encode_bundle(&fixture.contents(), &options("flex")).unwrap_err();
    assert!(
        err.to_string()
            .contains("training config: `model.N` = 65 is invalid"),
        "{err}"
    );
}
