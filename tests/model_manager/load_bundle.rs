//! Upstream's `TestLoadTorchBundle`: the loader restores the training config, and refuses
//! malformed archives. Here the refusal is tested on a corpus of broken bundles, each of which
//! must be refused with a message naming what is wrong; plus the upstream bug of silently
//! keeping random weights when weights are missing.

use ptycho_bundle::{
    BundleError, BundleSchema, DType, LoadOptions, Malformed, Tensor, TensorMap,
    encode_safetensors, inspect_bundle, load_bundle, load_bundle_with,
};
use ptycho_config::{LegacyParams, LegacyValue, ModelConfig, TrainingConfig};
use serde_json::Value;
use zip::CompressionMethod;

use crate::common::{
    Fixture, autoencoder_weights, fixture_bytes, generator_weights, intensity_scale, members,
    patch_bytes, patch_declared_size, save_fixture, schema, training_config, with_dtype, zip_of,
};

/// Loading needs no config from the caller: N, gridsize, nphotons and the trained intensity
/// scale come back from the archive, and the archive wins over whatever the caller had
/// (upstream: `test_load_bundle_restores_params_cfg`, which clears `params.cfg` first).
#[test]
fn load_bundle_restores_params_cfg() {
    let dir = tempfile::tempdir().unwrap();
    save_fixture(dir.path(), "flex");
    let loaded = load_bundle(dir.path(), &schema()).unwrap();
    assert_eq!(
        loaded.config,
        training_config(),
        "the exact training config"
    );
    assert_eq!(loaded.config.model.N, 64);
    assert_eq!(loaded.config.model.gridsize, 2);
    assert_eq!(loaded.config.nphotons, 1e9);
    assert_eq!(loaded.intensity_scale, intensity_scale());

    // The CONFIG-001 analog: a caller whose params say N=128, gridsize=1 ends up with the
    // training-time values after restoring from the bundle.
    let mut params = LegacyParams::new();
    params.update_from(&TrainingConfig {
        model: ModelConfig {
            N: 128,
            gridsize: 1,
            ..ModelConfig::default()
        },
        nphotons: 1e5,
        ..TrainingConfig::default()
    });
    params.update_from(&loaded.config);
    assert_eq!(params.get("N"), Some(&LegacyValue::Int(64)));
    assert_eq!(params.get("gridsize"), Some(&LegacyValue::Int(2)));
    assert_eq!(params.get("nphotons"), Some(&LegacyValue::Float(1e9)));
    assert_eq!(
        loaded.params.get("intensity_scale"),
        Some(&LegacyValue::Float(intensity_scale()))
    );
    assert_eq!(loaded.diffraction_to_obj, generator_weights());
    assert_eq!(loaded.autoencoder, autoencoder_weights());
}

/// Upstream's loader keeps a randomly initialised model when `model.pth` is missing or does not
/// match (`strict=False`, errors swallowed). Here a missing weights member, an empty weights
/// file or a partial one is an error naming what is missing: never a silently random model.
#[test]
fn missing_weights_never_yield_a_random_model() {
    let valid = members(&fixture_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wts.h5.zip");

    let without: Vec<_> = valid
        .iter()
        .filter(|(n, _)| n != "autoencoder/model.safetensors")
        .cloned()
        .collect();
    std::fs::write(&path, zip_of(&without, CompressionMethod::Deflated)).unwrap();
    let err = load_bundle(&path, &schema()).unwrap_err();
    assert_eq!(
        err.malformed(),
        Some(&Malformed::MissingMember {
            member: "autoencoder/model.safetensors".into()
        })
    );

    let empty = encode_safetensors(&TensorMap::new()).unwrap();
    let mut hollow = valid.clone();
    hollow[2].1 = empty;
    std::fs::write(&path, zip_of(&hollow, CompressionMethod::Deflated)).unwrap();
    let err = load_bundle(&path, &schema()).unwrap_err().to_string();
    assert!(
        err.contains("member \"diffraction_to_obj/model.safetensors\" does not match the model"),
        "{err}"
    );
    assert!(
        err.contains("missing tensor `decoder_amp.conv.bias` (expected f32 [4])"),
        "{err}"
    );
    for name in generator_weights().names() {
        assert!(
            err.contains(&format!("missing tensor `{name}`")),
            "{err} lacks {name}"
        );
    }
}

/// A directory without a bundle is named, with where a bundle comes from.
#[test]
fn missing_archive_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_bundle(dir.path(), &schema()).unwrap_err();
    assert!(matches!(err, BundleError::NotFound { .. }));
    let text = err.to_string();
    assert!(text.starts_with("model archive not found: "), "{text}");
    assert!(
        text.contains(&dir.path().join("wts.h5.zip").display().to_string()),
        "{text}"
    );
    assert!(text.contains("`ptycho train` writes one"), "{text}");
}

/// The schema is built from the restored config (the architecture always comes from the
/// bundle), and a schema function's failure is reported as such.
#[test]
fn schema_is_built_from_the_restored_config() {
    let dir = tempfile::tempdir().unwrap();
    save_fixture(dir.path(), "flex");
    let loaded = load_bundle_with(dir.path(), &LoadOptions::default(), |config| {
        assert_eq!(config.model.channels(), 4);
        Ok::<_, String>(schema())
    })
    .unwrap();
    assert_eq!(loaded.config.model.gridsize, 2);
    let err = load_bundle_with(dir.path(), &LoadOptions::default(), |_| {
        Err::<BundleSchema, _>("architecture fno is not built in")
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot build the expected weight schema from the bundle's config: \
         architecture fno is not built in"
    );
}

/// An archive re-packed by another tool (`zip -r` adds folder entries, and may store members
/// uncompressed) still loads: the folder entries of the two models are tolerated.
#[test]
fn repacked_bundle_with_folder_entries_loads() {
    let valid = members(&fixture_bytes());
    let mut repacked = vec![
        valid[0].clone(),
        ("diffraction_to_obj/".to_owned(), Vec::new()),
    ];
    repacked.extend(valid[1..3].iter().cloned());
    repacked.push(("autoencoder/".to_owned(), Vec::new()));
    repacked.extend(valid[3..].iter().cloned());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wts.h5.zip");
    std::fs::write(&path, zip_of(&repacked, CompressionMethod::Stored)).unwrap();
    let loaded = load_bundle(&path, &schema()).unwrap();
    assert_eq!(loaded.config, training_config());
    assert_eq!(loaded.autoencoder, autoencoder_weights());
}

/// `inspect_bundle` checks everything but the schema and lists each model's tensors.
#[test]
fn inspect_describes_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    save_fixture(dir.path(), "wgpu");
    let summary = inspect_bundle(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(summary.manifest.backend, "wgpu");
    assert_eq!(summary.config, training_config());
    assert_eq!(summary.autoencoder, autoencoder_weights().schema());
    assert_eq!(
        summary.autoencoder.get("physics.probe").unwrap().shape,
        [64, 64, 2]
    );
    assert_eq!(summary.diffraction_to_obj.len(), 6);
    let text = summary.to_string();
    for line in [
        "format      3.0 (safetensors weights, JSON params)",
        "backend     wgpu",
        "created     2026-09-21T14:13:20Z",
        "written by  burn 0.22.1, ptycho-bundle ",
        "model       N=64 gridsize=2 architecture=cnn model_type=pinn n_filters_scale=1",
        "training    nepochs=7 batch_size=32 n_groups=256 nphotons=1000000000",
        "diffraction_to_obj: 6 tensors, 1752 values",
        "autoencoder: 9 tensors, 9946 values",
        "  physics.probe                            f32 [64, 64, 2]",
    ] {
        assert!(text.contains(line), "{text}\nlacks {line:?}");
    }
}

/// Weight members over the cap are refused before they are decompressed.
#[test]
fn weights_over_the_size_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    save_fixture(dir.path(), "flex");
    let options = LoadOptions {
        max_weights_bytes: 4096,
        ..LoadOptions::default()
    };
    let err = load_bundle_with(dir.path(), &options, |_| Ok::<_, String>(schema())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("member \"diffraction_to_obj/model.safetensors\" is "),
        "{text}"
    );
    assert!(
        text.contains("bytes (declared size), over the cap of 4096 bytes"),
        "{text}"
    );
}

type Members = Vec<(String, Vec<u8>)>;

fn without(valid: &Members, name: &str) -> Members {
    valid.iter().filter(|(n, _)| n != name).cloned().collect()
}

fn with_member(valid: &Members, name: &str, content: &[u8]) -> Members {
    let mut out = valid.clone();
    out.push((name.to_owned(), content.to_vec()));
    out
}

fn replaced(valid: &Members, name: &str, content: Vec<u8>) -> Members {
    let mut out = valid.clone();
    let slot = out.iter_mut().find(|(n, _)| n == name).unwrap();
    slot.1 = content;
    out
}

fn json_edit(
    valid: &Members,
    names: &[&str],
    edit: impl Fn(&mut serde_json::Map<String, Value>),
) -> Members {
    let mut out = valid.clone();
    for (name, content) in out.iter_mut() {
        if names.contains(&name.as_str()) {
            let mut value: Value = serde_json::from_slice(content).unwrap();
            edit(value.as_object_mut().unwrap());
            *content = serde_json::to_vec_pretty(&value).unwrap();
        }
    }
    out
}

fn weights_edit(valid: &Members, role: &str, edit: impl Fn(&mut TensorMap)) -> Members {
    let mut map = if role == "autoencoder" {
        autoencoder_weights()
    } else {
        generator_weights()
    };
    edit(&mut map);
    replaced(
        valid,
        &format!("{role}/model.safetensors"),
        encode_safetensors(&map).unwrap(),
    )
}

const BOTH_PARAMS: [&str; 2] = ["diffraction_to_obj/params.json", "autoencoder/params.json"];

/// The corpus: (what is broken, archive bytes, substrings the refusal must contain).
fn corpus() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let bytes = fixture_bytes();
    let valid = members(&bytes);
    let zip = |m: &Members| zip_of(m, CompressionMethod::Deflated);
    let mut cases: Vec<(&'static str, Vec<u8>, Vec<&'static str>)> = Vec::new();
    let not_zip = vec!["not a readable zip archive (empty, truncated or corrupt)"];

    cases.push(("empty file", Vec::new(), not_zip.clone()));
    cases.push((
        "text file",
        b"PK this is not a zip archive".to_vec(),
        not_zip.clone(),
    ));
    cases.push((
        "truncated to half",
        bytes[..bytes.len() / 2].to_vec(),
        not_zip.clone(),
    ));
    cases.push((
        "end record cut",
        bytes[..bytes.len() - 10].to_vec(),
        not_zip.clone(),
    ));
    let mut prefixed = b"#!/bin/sh\necho owned\n".to_vec();
    prefixed.extend_from_slice(&bytes);
    cases.push((
        "script prepended",
        prefixed,
        vec!["21 unexpected bytes precede the zip archive"],
    ));

    cases.push((
        "no manifest",
        zip(&without(&valid, "manifest.json")),
        vec!["missing required member \"manifest.json\""],
    ));
    let pickled = with_member(
        &without(&valid, "manifest.json"),
        "manifest.dill",
        b"\x80\x04\x95\x10\x00",
    );
    cases.push((
        "upstream manifest.dill",
        zip(&pickled),
        vec![
            "member \"manifest.dill\" is an upstream python pickle",
            "never loaded",
        ],
    ));
    cases.push((
        "upstream model.pth",
        zip(&with_member(&valid, "diffraction_to_obj/model.pth", b"PK")),
        vec!["\"diffraction_to_obj/model.pth\" is an upstream python pickle"],
    ));
    cases.push((
        "no inference weights",
        zip(&without(&valid, "diffraction_to_obj/model.safetensors")),
        vec!["missing required member \"diffraction_to_obj/model.safetensors\""],
    ));
    cases.push((
        "no training params",
        zip(&without(&valid, "autoencoder/params.json")),
        vec!["missing required member \"autoencoder/params.json\""],
    ));
    cases.push((
        "extra member",
        zip(&with_member(&valid, "notes.txt", b"hi")),
        vec![
            "unexpected member \"notes.txt\"",
            "expected exactly: manifest.json, diffraction_to_obj/params.json",
        ],
    ));
    cases.push((
        "extra folder",
        zip(&with_member(&valid, "extra/", b"")),
        vec!["unexpected member \"extra/\""],
    ));
    cases.push((
        "zip-slip",
        zip(&with_member(&valid, "../evil.sh", b"rm -rf ~")),
        vec!["member \"../evil.sh\" escapes the bundle folder (`..` component)"],
    ));
    cases.push((
        "nested zip-slip",
        zip(&with_member(&valid, "autoencoder/../../x", b"x")),
        vec!["member \"autoencoder/../../x\" escapes the bundle folder"],
    ));
    cases.push((
        "absolute path",
        zip(&with_member(&valid, "/etc/cron.d/job", b"x")),
        vec!["member \"/etc/cron.d/job\" escapes the bundle folder (absolute path)"],
    ));
    let mut duplicate = zip(&with_member(&valid, "manifest.jsoX", b"{}"));
    assert_eq!(
        patch_bytes(&mut duplicate, b"manifest.jsoX", b"manifest.json"),
        2
    );
    cases.push((
        "duplicate manifest",
        duplicate,
        vec!["two or more members share one name"],
    ));

    cases.push((
        "manifest not json",
        zip(&replaced(&valid, "manifest.json", b"models: [a]".to_vec())),
        vec!["member \"manifest.json\" is not valid JSON"],
    ));
    cases.push((
        "future version",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.insert("version".into(), "9.9".into());
        })),
        vec![
            "member \"manifest.json\", field `version`: expected \"3.0\"",
            "found \"9.9\"",
        ],
    ));
    let future = json_edit(&valid, &["manifest.json"], |m| {
        m.insert("version".into(), "4.0".into());
    });
    cases.push((
        "future format with a new member",
        zip(&with_member(&future, "optimizer/state.safetensors", b"x")),
        vec!["field `version`: expected \"3.0\"", "found \"4.0\""],
    ));
    cases.push((
        "upstream torch version",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.insert("version".into(), "2.0-pytorch".into());
        })),
        vec![
            "field `version`",
            "\"2.0-pytorch\", upstream's python format",
        ],
    ));
    cases.push((
        "no version",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.remove("version");
        })),
        vec!["field `version`", "found nothing"],
    ));
    cases.push((
        "unknown backend",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.insert("backend".into(), "tensorflow".into());
        })),
        vec![
            "field `backend`: expected one of flex, ndarray, wgpu",
            "found \"tensorflow\"",
        ],
    ));
    cases.push((
        "one model listed",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.insert("models".into(), serde_json::json!(["diffraction_to_obj"]));
        })),
        vec![
            "field `models`: expected [\"diffraction_to_obj\", \"autoencoder\"]",
            "found [\"diffraction_to_obj\"]",
        ],
    ));
    cases.push((
        "bad creation time",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.insert("created_at".into(), "last tuesday".into());
        })),
        vec![
            "field `created_at`: expected an RFC 3339 UTC time",
            "found \"last tuesday\"",
        ],
    ));
    cases.push((
        "unknown manifest field",
        zip(&json_edit(&valid, &["manifest.json"], |m| {
            m.insert("custom_objects".into(), "x".into());
        })),
        vec!["member \"manifest.json\" is not valid JSON: unknown field `custom_objects`"],
    ));

    cases.push((
        "params without N and gridsize",
        zip(&json_edit(&valid, &BOTH_PARAMS, |m| {
            m.remove("N");
            m.remove("gridsize");
        })),
        vec!["member \"diffraction_to_obj/params.json\": params lack required keys: N, gridsize"],
    ));
    cases.push((
        "params with unknown key",
        zip(&json_edit(&valid, &BOTH_PARAMS, |m| {
            m.insert("probe".into(), "tensor".into());
        })),
        vec!["params hold unknown keys: probe"],
    ));
    cases.push((
        "params of upstream version",
        zip(&json_edit(&valid, &BOTH_PARAMS, |m| {
            m.insert("_version".into(), "1.0".into());
        })),
        vec![
            "\"diffraction_to_obj/params.json\", field `_version`: expected \"3.0\"",
            "found \"1.0\"",
        ],
    ));
    cases.push((
        "params without scale",
        zip(&json_edit(&valid, &BOTH_PARAMS, |m| {
            m.insert("intensity_scale".into(), Value::Null);
        })),
        vec![
            "field `intensity_scale`: expected a finite positive number",
            "found null",
        ],
    ));
    cases.push((
        "params with bad N",
        zip(&json_edit(&valid, &BOTH_PARAMS, |m| {
            m.insert("N".into(), 65.into());
        })),
        vec!["params do not form a valid training config: `model.N` = 65 is invalid"],
    ));
    cases.push((
        "params with wrong type",
        zip(&json_edit(&valid, &BOTH_PARAMS, |m| {
            m.insert("nepochs".into(), "seven".into());
        })),
        vec!["params do not form a valid training config", "nepochs"],
    ));
    let mut doubled = valid.clone();
    for (name, content) in doubled.iter_mut() {
        if BOTH_PARAMS.contains(&name.as_str()) {
            content.splice(1..1, b"\"nphotons\": 100000.0,".iter().copied());
        }
    }
    cases.push((
        "params with a key twice",
        zip(&doubled),
        vec!["member \"diffraction_to_obj/params.json\" holds the key `nphotons` twice"],
    ));
    let mut doubled = valid.clone();
    doubled[0]
        .1
        .splice(1..1, b"\"backend\": \"wgpu\",".iter().copied());
    cases.push((
        "manifest with a key twice",
        zip(&doubled),
        vec!["member \"manifest.json\" holds the key `backend` twice"],
    ));
    cases.push((
        "params that differ",
        zip(&json_edit(&valid, &["autoencoder/params.json"], |m| {
            m.insert("nepochs".into(), 8.into());
        })),
        vec![
            "members \"diffraction_to_obj/params.json\" and \"autoencoder/params.json\"",
            "hold different params snapshots",
        ],
    ));
    cases.push((
        "params not json",
        zip(&replaced(
            &valid,
            "autoencoder/params.json",
            vec![0xff, 0xfe],
        )),
        vec!["member \"autoencoder/params.json\" is not valid JSON"],
    ));

    cases.push((
        "weights garbage",
        zip(&replaced(
            &valid,
            "autoencoder/model.safetensors",
            b"\x80\x02pickle".to_vec(),
        )),
        vec!["member \"autoencoder/model.safetensors\" is not a valid safetensors file"],
    ));
    let weights = &valid[4].1;
    cases.push((
        "weights truncated",
        zip(&replaced(
            &valid,
            "autoencoder/model.safetensors",
            weights[..weights.len() - 100].to_vec(),
        )),
        vec!["member \"autoencoder/model.safetensors\" is not a valid safetensors file"],
    ));
    cases.push((
        "weights without tensors",
        zip(&replaced(
            &valid,
            "diffraction_to_obj/model.safetensors",
            encode_safetensors(&TensorMap::new()).unwrap(),
        )),
        vec![
            "member \"diffraction_to_obj/model.safetensors\" does not match the model",
            "missing tensor `decoder_amp.conv.bias` (expected f32 [4])",
        ],
    ));
    cases.push((
        "tensor missing",
        zip(&weights_edit(&valid, "autoencoder", |m| {
            m.remove("physics.log_scale");
        })),
        vec![
            "member \"autoencoder/model.safetensors\" does not match the model",
            "missing tensor `physics.log_scale` (expected f32 [])",
        ],
    ));
    cases.push((
        "tensor extra",
        zip(&weights_edit(&valid, "diffraction_to_obj", |m| {
            m.insert("physics.probe", Tensor::from_f32(&[1], &[0.0]).unwrap())
                .unwrap();
        })),
        vec!["unexpected tensor `physics.probe` (f32 [1]) that the model does not have"],
    ));
    cases.push((
        "tensor of wrong shape",
        zip(&weights_edit(&valid, "autoencoder", |m| {
            m.remove("physics.probe");
            m.insert(
                "physics.probe",
                Tensor::from_f32(&[32, 32, 2], &vec![0.1; 2048]).unwrap(),
            )
            .unwrap();
        })),
        vec!["tensor `physics.probe` has shape [32, 32, 2] but the model expects [64, 64, 2]"],
    ));
    cases.push((
        "tensor of wrong dtype",
        zip(&replaced(
            &valid,
            "autoencoder/model.safetensors",
            encode_safetensors(&with_dtype(
                &autoencoder_weights(),
                "physics.log_scale",
                DType::F64,
            ))
            .unwrap(),
        )),
        vec!["tensor `physics.log_scale` has dtype f64 but the model expects f32"],
    ));
    cases.push((
        "nan weights",
        zip(&weights_edit(&valid, "diffraction_to_obj", |m| {
            let mut v = vec![0.5f32; 16];
            v[3] = f32::NAN;
            m.remove("encoder.conv1.bias");
            m.insert("encoder.conv1.bias", Tensor::from_f32(&[16], &v).unwrap())
                .unwrap();
        })),
        vec![
            "member \"diffraction_to_obj/model.safetensors\", tensor `encoder.conv1.bias`",
            "holds 1 non-finite value(s)",
            "first at flat index 3",
        ],
    ));

    let mut corrupt = zip_of(&valid, CompressionMethod::Stored);
    let probe = &valid[4].1[valid[4].1.len() - 4000..valid[4].1.len() - 3990];
    let at = corrupt
        .windows(probe.len())
        .position(|w| w == probe)
        .unwrap();
    corrupt[at + 5] ^= 0x55;
    cases.push((
        "flipped byte",
        corrupt,
        vec![
            "member \"autoencoder/model.safetensors\" cannot be read",
            "(corrupt, encrypted or unsupported): invalid checksum",
        ],
    ));

    let mut bomb = serde_json::to_vec(&serde_json::json!({})).unwrap();
    bomb.splice(1..1, std::iter::repeat_n(b' ', 3 << 20));
    let bomb_zip = zip(&replaced(&valid, "autoencoder/params.json", bomb));
    assert!(
        bomb_zip.len() < bytes.len() + 64 * 1024,
        "the bomb compresses to almost nothing"
    );
    cases.push((
        "zip bomb",
        bomb_zip,
        vec![
            "member \"autoencoder/params.json\" is 3145730 bytes (declared size)",
            "over the cap of 1048576 bytes",
        ],
    ));

    let mut lying = zip(&valid);
    patch_declared_size(&mut lying, "manifest.json", 40);
    cases.push(("declared size lie", lying, vec!["member \"manifest.json\""]));
    cases
}

/// Every broken bundle of the corpus is refused with a message that names the archive and what
/// is wrong; none panics and none loads (upstream: `test_malformed_archive_raises_error`).
#[test]
fn malformed_archive_raises_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wts.h5.zip");
    let cases = corpus();
    assert!(cases.len() >= 40, "{}", cases.len());
    let mut failures = Vec::new();
    for (label, bytes, expected) in cases {
        std::fs::write(&path, &bytes).unwrap();
        match load_bundle(dir.path(), &schema()) {
            Ok(_) => failures.push(format!("{label}: loaded")),
            Err(err) => {
                let text = err.to_string();
                eprintln!("{label}: {text}");
                let missing: Vec<_> = std::iter::once(path.display().to_string().as_str())
                    .chain(expected.iter().copied())
                    .filter(|part| !text.contains(part))
                    .map(str::to_owned)
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!("{label}: {text:?} lacks {missing:?}"));
                }
                if !matches!(err, BundleError::Malformed { .. }) {
                    failures.push(format!("{label}: not a malformed-archive error: {err:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The valid bundle itself loads (the corpus is broken, not the fixture).
    std::fs::write(&path, fixture_bytes()).unwrap();
    assert_eq!(
        load_bundle(&path, &schema()).unwrap().config,
        Fixture::new().config
    );
}
