//! One test per upstream bug listed in reference/config.md §7: each shows the intended
//! behaviour here (and would fail on upstream's).

use ptycho_config::bridge::{to_inference_config, to_model_config, to_training_config};
use ptycho_config::torch::{
    DataConfig, InferenceConfig as PtInference, ModelConfig as PtModel, TorchConfigSet,
    TrainingConfig as PtTraining,
};
use ptycho_config::{ConfigDocument, Format, GeneratorOutputMode, Overrides, bridge_document};

use crate::common::{model, train_overrides, training, training_with};

fn parse_err(text: &str) -> String {
    ConfigDocument::parse(text, Format::Toml)
        .unwrap_err()
        .to_string()
}

/// §7.2: `Literal` annotations are decorative upstream (`ModelConfig(N=100)` constructs fine).
#[test]
fn literal_types_are_enforced_on_load() {
    assert_eq!(
        parse_err("[model]\nN = 100\n[training]\n"),
        "`model.N` = 100 is invalid: must be one of 64, 128, 256 (the patch sizes the generator supports)"
    );
    let err = parse_err("[model]\narchitecture = \"hybrid\"\n[training]\n");
    assert!(err.starts_with("`model.architecture`: \"hybrid\" is not one of cnn, ffno, fno, fno_vanilla, neuralop_uno"), "{err}");
}

/// §7.2: validation is opt-in upstream (`validate_training_config` has no caller); here every
/// load validates.
#[test]
fn validation_runs_on_every_load() {
    assert_eq!(
        parse_err("[training]\nbatch_size = 12\n"),
        "`training.batch_size` = 12 is invalid: must be a positive power of two (nearest: 8)"
    );
    let err = parse_err("[training]\nrealspace_mae_weight = 0.2\n");
    assert!(
        err.starts_with("`training.realspace_weight` = 0.0 is invalid"),
        "{err}"
    );
}

/// §4.2: a PyTorch-only scheduler name is copied verbatim upstream into an out-of-set
/// canonical value; here it is reported.
#[test]
fn torch_only_scheduler_is_reported_not_copied() {
    let t = PtTraining {
        scheduler: "MultiStage".into(),
        ..Default::default()
    };
    let m = model(&DataConfig::default(), &PtModel::default());
    let err = to_training_config(
        &m,
        &DataConfig::default(),
        &PtModel::default(),
        &t,
        &train_overrides(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("`training.scheduler`: \"MultiStage\" is not one of Default, Exponential, WarmupCosine, ReduceLROnPlateau"), "{err}");
    let fixed = train_overrides().with("scheduler", "Exponential");
    assert_eq!(
        training_with(&DataConfig::default(), &PtModel::default(), &t, &fixed)
            .scheduler
            .as_str(),
        "Exponential"
    );
}

/// §7.6: upstream drops generator_output_mode, probe_mask_sigma and probe_mask_diameter.
#[test]
fn bridge_carries_generator_output_mode_and_mask_shape() {
    let pt = PtModel {
        generator_output_mode: GeneratorOutputMode::AmpPhase,
        probe_mask_sigma: 2.5,
        probe_mask_diameter: Some(22.0),
        ..Default::default()
    };
    let m = model(&DataConfig::default(), &pt);
    assert_eq!(m.generator_output_mode, GeneratorOutputMode::AmpPhase);
    assert_eq!(m.probe_mask_sigma, 2.5);
    assert_eq!(m.probe_mask_diameter, Some(22.0));
}

/// §7.6: upstream drops gradient_clip_val and the plateau scheduler settings.
#[test]
fn bridge_carries_gradient_clip_and_plateau_settings() {
    let t = PtTraining {
        gradient_clip_val: Some(1.5),
        plateau_factor: 0.25,
        plateau_patience: 7,
        plateau_min_lr: 1e-6,
        plateau_threshold: 0.01,
        ..Default::default()
    };
    let canonical = training(&DataConfig::default(), &t);
    assert_eq!(canonical.gradient_clip_val, Some(1.5));
    assert_eq!(
        (canonical.plateau_factor, canonical.plateau_patience),
        (0.25, 7)
    );
    assert_eq!(
        (canonical.plateau_min_lr, canonical.plateau_threshold),
        (1e-6, 0.01)
    );
}

/// §7.6: upstream takes subsample_seed from the data config for training but not inference.
#[test]
fn inference_takes_subsample_seed_from_data_config() {
    let data = DataConfig {
        subsample_seed: Some(42),
        ..Default::default()
    };
    let m = model(&data, &PtModel::default());
    let o = Overrides::new()
        .with("model_path", "m")
        .with("test_data_file", "t.npz");
    let i = to_inference_config(&m, &data, &PtInference::default(), &o)
        .unwrap()
        .value;
    assert_eq!(i.subsample_seed, Some(42));
}

/// §7.6: upstream ignores the PyTorch InferenceConfig entirely; its runtime settings are
/// carried into the execution config here.
#[test]
fn torch_inference_settings_reach_the_execution_config() {
    let mut set = TorchConfigSet::default();
    set.inference_config.batch_size = 64;
    set.training_config.learning_rate = 5e-4;
    let o = train_overrides();
    let doc = bridge_document(&set, &o).unwrap().value;
    assert_eq!(doc.execution.inference_batch_size, Some(64));
    assert_eq!(doc.execution.learning_rate, 5e-4);
}

/// §7.8: upstream raises before construction, so a deprecated n_images override can never
/// satisfy the n_groups requirement.
#[test]
fn n_images_override_satisfies_n_groups_with_a_warning() {
    let m = model(&DataConfig::default(), &PtModel::default());
    let o = Overrides::new()
        .with("train_data_file", "train.npz")
        .with("nphotons", 1e9)
        .with("test_data_file", "test.npz")
        .with("n_images", 256);
    let bridged = to_training_config(
        &m,
        &DataConfig::default(),
        &PtModel::default(),
        &PtTraining::default(),
        &o,
    )
    .unwrap();
    assert_eq!(bridged.value.n_groups, 256);
    assert_eq!(bridged.warnings.len(), 1);
    assert!(
        bridged.warnings[0].contains("'n_images' is deprecated"),
        "{:?}",
        bridged.warnings
    );
}

/// §7.1: upstream's global params keep values from an earlier run in the same process; here
/// each document builds its params from an empty map.
#[test]
fn no_values_leak_between_runs() {
    let first = ConfigDocument::parse(
        "[training]\nn_subsample = 2048\ntest_data_file = \"old.npz\"\n",
        Format::Toml,
    )
    .unwrap()
    .value;
    let second = ConfigDocument::parse("[training]\nnepochs = 3\n", Format::Toml)
        .unwrap()
        .value;
    assert!(first.legacy_params().get("n_subsample").is_some());
    let params = second.legacy_params();
    assert!(params.get("n_subsample").is_none());
    assert!(params.get("test_data_file_path").is_none());
}

/// §7.14: upstream's CLI turns `--object_big False` into True and rejects `--N 128`; the
/// `--set` parser here reads both as typed values.
#[test]
fn set_assignments_keep_booleans_and_numbers() {
    let mut o = Overrides::new();
    for text in [
        "object_big=false",
        "N=128",
        "train_data_file=train.npz",
        "n_groups=16",
        "nphotons=1e9",
    ] {
        o.insert_assignment(text).unwrap();
    }
    let doc = bridge_document(&TorchConfigSet::default(), &o)
        .unwrap()
        .value;
    assert!(!doc.model.object_big);
    assert_eq!(doc.model.N, 128);
}

/// §7.9: the bridge no longer carries a stale 1.0 vs 4.0 probe_scale divergence: the PyTorch
/// default bridges to the canonical default.
#[test]
fn default_probe_scale_bridges_to_canonical_default() {
    let m = to_model_config(
        &DataConfig::default(),
        &PtModel::default(),
        &Overrides::new(),
    )
    .unwrap();
    assert_eq!(
        m.probe_scale,
        ptycho_config::ModelConfig::default().probe_scale
    );
}

/// §7.10: the PyTorch TrainingConfig declares output_dir twice; the effective default is
/// training_outputs, which is what reaches the canonical config.
#[test]
fn duplicate_output_dir_resolves_to_training_outputs() {
    let t = training(&DataConfig::default(), &PtTraining::default());
    assert_eq!(t.output_dir, std::path::PathBuf::from("training_outputs"));
    let empty = PtTraining {
        output_dir: String::new(),
        ..Default::default()
    };
    assert_eq!(
        training(&DataConfig::default(), &empty).output_dir,
        std::path::PathBuf::from("training_outputs")
    );
}

/// §7.17: the spec lists logger backends and rejects TPU, but only TPU is checked upstream.
#[test]
fn execution_accelerator_and_logger_backend_are_checked() {
    let err = parse_err("[execution]\naccelerator = \"tpu\"\n");
    assert!(
        err.starts_with(
            "`execution.accelerator`: \"tpu\" is not one of auto, cpu, gpu, cuda, wgpu"
        ),
        "{err}"
    );
    let err = parse_err("[execution]\nlogger_backend = \"wandb\"\n");
    assert!(
        err.starts_with(
            "`execution.logger_backend`: \"wandb\" is not one of csv, tensorboard, mlflow, none"
        ),
        "{err}"
    );
}

/// §7.6: PyTorch-side values without a canonical field vanish silently upstream; here they are
/// named in one warning (upstream's demo config sets several).
#[test]
fn settings_without_canonical_field_are_named_not_dropped_silently() {
    let set = TorchConfigSet::load(
        &crate::common::root().join("fixtures/configs/upstream_torch_demo.json"),
    )
    .unwrap()
    .value;
    let o = train_overrides().with("test_data_file", "test.npz");
    let bridged = bridge_document(&set, &o).unwrap();
    assert_eq!(bridged.warnings.len(), 1, "{:?}", bridged.warnings);
    let warning = &bridged.warnings[0];
    assert!(
        warning.starts_with("not carried into the canonical config (no canonical field): "),
        "{warning}"
    );
    for field in [
        "data_config.n_subsample=1",
        "model_config.decoder_last_amp_channels=4",
        "training_config.stage_1_epochs=40",
    ] {
        assert!(warning.contains(field), "{field} missing from {warning}");
    }
    assert!(
        !warning.contains("learning_rate") && !warning.contains("n_devices"),
        "carried values are not listed: {warning}"
    );
    assert_eq!(
        bridged.value.execution.devices,
        ptycho_config::execution::Devices::Count(2)
    );
}

/// §7.14a: upstream's TF command line gives every flag its dataclass default and lets it
/// overwrite the YAML, so file values were replaced by defaults; here only the given keys change.
#[test]
fn command_line_overrides_keep_file_values() {
    let file = ConfigDocument::parse(
        "nepochs: 7\nbatch_size: 8\nprobe_big: false\n",
        Format::Yaml,
    )
    .unwrap()
    .value;
    let mut o = Overrides::new();
    o.insert_assignment("batch_size=32").unwrap();
    let merged = file.with_overrides(&o).unwrap().value;
    let training = merged.training.unwrap();
    assert_eq!(training.batch_size, 32, "command line wins over the file");
    assert_eq!(training.nepochs, 7, "file wins over the default 50");
    assert!(!training.model.probe_big, "file wins over the default true");
}
