//! What a new user sees for common mistakes: one line naming the key, the value and the fix.

use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{ConfigDocument, Format, Overrides, bridge_document};

fn one_line(err: &impl std::fmt::Display) -> String {
    let text = err.to_string();
    assert!(!text.contains('\n'), "multi-line error: {text}");
    text
}

#[test]
fn typo_in_key_names_the_nearest_valid_key() {
    let err = ConfigDocument::parse("gridsise: 2\n", Format::Yaml).unwrap_err();
    assert_eq!(
        one_line(&err),
        "unknown key `gridsise` (did you mean `gridsize`?)"
    );
    let err = ConfigDocument::parse("{\"training\": {\"n_epochs\": 3}}", Format::Json).unwrap_err();
    assert_eq!(
        one_line(&err),
        "unknown key `n_epochs` in [training] (did you mean `nepochs`?)"
    );
}

#[test]
fn wrong_type_names_the_key_and_expected_type() {
    let err = ConfigDocument::parse("[model]\nobject_big = \"yes\"\n[training]\n", Format::Toml)
        .unwrap_err();
    assert_eq!(
        one_line(&err),
        "`model.object_big`: invalid type: string \"yes\", expected true or false"
    );
    let err = ConfigDocument::parse("nphotons: lots\n", Format::Yaml).unwrap_err();
    assert_eq!(
        one_line(&err),
        "`training.nphotons`: invalid type: string \"lots\", expected a number"
    );
}

#[test]
fn non_square_grid_says_what_to_use() {
    let set = TorchConfigSet::parse("{\"data_config\": {\"grid_size\": [2, 3]}}", Format::Json)
        .unwrap()
        .value;
    let err = bridge_document(&set, &Overrides::new()).unwrap_err();
    assert_eq!(
        one_line(&err),
        "non-square grids not supported: data_config.grid_size = (2, 3); use a square grid such as (2, 2) or (3, 3)"
    );
}

#[test]
fn missing_required_override_says_how_to_provide_it() {
    let o = Overrides::new().with("nphotons", 1e9).with("n_groups", 64);
    let err = bridge_document(&TorchConfigSet::default(), &o).unwrap_err();
    assert_eq!(
        one_line(&err),
        "train_data_file is required in overrides for the training config (training_config.train_data_file is unset); provide it, e.g. train_data_file=train.npz"
    );
    let o = o
        .with("train_data_file", "train.npz")
        .with("model_path", "model_dir");
    let err = bridge_document(&TorchConfigSet::default(), &o).unwrap_err();
    assert_eq!(
        one_line(&err),
        "test_data_file is required in overrides for the inference config; provide it, e.g. test_data_file=test.npz"
    );
}

#[test]
fn out_of_range_weight_gives_the_range() {
    let err = ConfigDocument::parse("mae_weight: 1.3\n", Format::Yaml).unwrap_err();
    assert_eq!(
        one_line(&err),
        "`training.mae_weight` = 1.3 is invalid: must lie between 0.0 and 1.0"
    );
    let err = ConfigDocument::parse("[training]\nnll_weight = -0.1\n", Format::Toml).unwrap_err();
    assert_eq!(
        one_line(&err),
        "`training.nll_weight` = -0.1 is invalid: must lie between 0.0 and 1.0"
    );
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[training]\nbatch_size = 0\n").unwrap();
    let err = ConfigDocument::load(&path).unwrap_err();
    assert_eq!(
        one_line(&err),
        format!(
            "{}: `training.batch_size` = 0 is invalid: must be a positive power of two (nearest: 1)",
            path.display()
        )
    );
    let missing = dir.path().join("missing.yaml");
    let err = ConfigDocument::load(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("cannot read config file {}", missing.display())),
        "{err}"
    );
    let err = ConfigDocument::load(&dir.path().join("config.ini"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("unsupported config format \"ini\" (use .toml, .yaml, .yml or .json)"),
        "{err}"
    );
}

#[test]
fn inference_key_in_flat_training_file_explains_the_layout() {
    let err = ConfigDocument::parse("nepochs: 3\ndebug: true\n", Format::Yaml).unwrap_err();
    assert_eq!(
        one_line(&err),
        "unknown key `debug` (`debug` is not a training setting; a flat file without `model_path` is a training config)"
    );
}
