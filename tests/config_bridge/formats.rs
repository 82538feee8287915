//! Load → save → load gives the same configuration in TOML, YAML and JSON.

use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{ConfigDocument, ExecutionConfig, Format, LegacyParams};

use crate::common::root;

fn baseline_document() -> ConfigDocument {
    ConfigDocument::load_upstream(&root().join("fixtures/configs/baseline.toml"))
        .unwrap()
        .value
}

fn roundtrip(document: &ConfigDocument, extension: &str) -> ConfigDocument {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("config.{extension}"));
    document.save(&path).unwrap();
    let loaded = ConfigDocument::load_upstream(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    loaded.value
}

fn document_with_everything_set() -> ConfigDocument {
    let mut document = baseline_document();
    let training = document.training.as_mut().unwrap();
    training.gradient_clip_val = Some(2.5);
    training.neighbor_pool_size = Some(8);
    training.n_images = Some(100);
    document.model.max_hidden_channels = Some(256);
    document.model.probe_mask_diameter = Some(22.5);
    document.execution = ExecutionConfig {
        recon_log_fixed_indices: Some(vec![1, 5, 9]),
        learning_rate: 2e-4,
        ..ExecutionConfig::default()
    };
    document.training.as_mut().unwrap().model = document.model.clone();
    document.inference.as_mut().unwrap().model = document.model.clone();
    document.validate().unwrap();
    document
}

#[test]
fn roundtrip_toml() {
    for document in [baseline_document(), document_with_everything_set()] {
        assert_eq!(roundtrip(&document, "toml"), document);
    }
}

#[test]
fn roundtrip_yaml() {
    for document in [baseline_document(), document_with_everything_set()] {
        assert_eq!(roundtrip(&document, "yaml"), document);
        assert_eq!(roundtrip(&document, "yml"), document);
    }
}

#[test]
fn roundtrip_json() {
    for document in [baseline_document(), document_with_everything_set()] {
        assert_eq!(roundtrip(&document, "json"), document);
    }
}

#[test]
fn same_document_in_three_formats_gives_same_legacy_params() {
    let document = baseline_document();
    let expected: LegacyParams = document.legacy_params();
    for format in [Format::Toml, Format::Yaml, Format::Json] {
        let text = document.to_string(format).unwrap();
        let again = ConfigDocument::parse_upstream(&text, format).unwrap().value;
        assert_eq!(again.legacy_params(), expected, "{format:?}");
    }
}

#[test]
fn torch_config_set_roundtrip_in_three_formats() {
    let set = TorchConfigSet::load(&root().join("fixtures/configs/upstream_torch_demo.json"))
        .unwrap()
        .value;
    assert_eq!(set.data_config.neighbor_function, "4_quadrant");
    assert_eq!(set.training_config.gradient_clip_val, Some(5.0));
    let dir = tempfile::tempdir().unwrap();
    for extension in ["toml", "yaml", "json"] {
        let path = dir.path().join(format!("torch.{extension}"));
        set.save(&path).unwrap();
        assert_eq!(
            TorchConfigSet::load(&path).unwrap().value,
            set,
            "{extension}"
        );
    }
}

#[test]
fn upstream_flat_yaml_loads_unchanged() {
    let loaded =
        ConfigDocument::load(&root().join("fixtures/configs/upstream_comparison.yaml")).unwrap();
    let training = loaded.value.training.clone().unwrap();
    assert_eq!(training.model.N, 64);
    assert!(!training.model.probe_big);
    assert_eq!(training.nphotons, 1e6);
    assert_eq!(
        training.n_groups, 512,
        "n_images: 512 is the deprecated alias"
    );
    assert_eq!(loaded.value.execution.learning_rate, 0.001);
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("stitch_crop_size"))
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("n_images") && w.contains("deprecated"))
    );
}

#[test]
fn save_is_atomic_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.toml");
    baseline_document().save(&path).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.toml"]);
    let err = baseline_document()
        .save(&dir.path().join("missing/out.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot write config file"), "{err}");
}

#[test]
fn flat_file_with_model_path_is_an_inference_config() {
    // Upstream's layout and legacy params (`debug = true` is upstream's; `parse` would refuse it).
    let text = "model_path: runs/model\ntest_data_file: ./scan//test.npz\nN: 128\ndebug: true\nn_images: 300\n";
    let loaded = ConfigDocument::parse_upstream(text, Format::Yaml).unwrap();
    assert!(loaded.value.training.is_none());
    let inference = loaded.value.inference.unwrap();
    assert_eq!(inference.model.N, 128);
    assert_eq!(inference.n_groups, Some(300), "deprecated n_images alias");
    assert_eq!(loaded.warnings.len(), 1);
    let mut params = LegacyParams::new();
    params.update_from(&inference);
    assert_eq!(
        params.get("test_data_file_path").and_then(|v| v.as_str()),
        Some("scan/test.npz")
    );
    assert_eq!(params.get("debug").and_then(|v| v.as_bool()), Some(true));
    let err = ConfigDocument::parse(
        "model_path: m\ntest_data_file: t.npz\nnepochs: 3\n",
        Format::Yaml,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "unknown key `nepochs` (`nepochs` is not an inference setting; a flat file with `model_path` is an inference config)"
    );
}
