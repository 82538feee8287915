//! No silent settings: every field of the canonical config, set to a non-default value, is
//! either refused when the document is loaded (the error names the field) or changes the plan
//! the run is built from ([`RunPlan`], which `train_cdi_model` builds its specs from, and
//! [`InferencePlan`]). A field without an entry in [`alternative`] fails the test, so a new
//! field cannot be forgotten.

use ptycho_config::execution::EXECUTION_FIELDS;
use ptycho_config::inference::INFERENCE_FIELDS;
use ptycho_config::model::MODEL_FIELDS;
use ptycho_config::training::TRAINING_FIELDS;
use ptycho_config::{ConfigDocument, Format, LegacyParams, Overrides};
use ptycho_workflows::{ConfigInput, InferencePlan, RunPlan, resolve_config};
use serde_json::Value;

/// Every section has a value, so every field can be overridden.
const BASE: &str = "[model]\n[training]\ntrain_data_file = \"train.npz\"\n\
    [inference]\nmodel_path = \"model_dir\"\ntest_data_file = \"scan.npz\"\n[execution]\n";

/// A non-default value of `section.field` (JSON), and other settings it needs to take effect
/// (then the plan is compared with the plan of those settings alone).
fn alternative(key: &str) -> Option<(&'static str, &'static [(&'static str, &'static str)])> {
    const NONE: &[(&str, &str)] = &[];
    Some(match key {
        "model.N" => ("128", NONE),
        "model.gridsize" => ("2", NONE),
        "model.n_filters_scale" => ("1", NONE),
        "model.model_type" => ("\"supervised\"", NONE),
        "model.architecture" => ("\"fno\"", NONE),
        "model.fno_modes" => ("16", NONE),
        "model.fno_width" => ("64", NONE),
        "model.fno_blocks" => ("2", NONE),
        "model.fno_cnn_blocks" => ("1", NONE),
        "model.learned_input_channels" => ("2", NONE),
        "model.max_hidden_channels" => ("64", NONE),
        "model.resnet_width" => ("32", NONE),
        "model.fno_input_transform" => ("\"sqrt\"", NONE),
        "model.generator_output_mode" => ("\"amp_phase\"", NONE),
        "model.amp_activation" => ("\"swish\"", NONE),
        "model.object_big" => ("false", NONE),
        "model.probe_big" => ("false", NONE),
        "model.probe_mask" => ("true", NONE),
        "model.probe_mask_sigma" => ("2.0", NONE),
        "model.probe_mask_diameter" => ("30.0", NONE),
        "model.pad_object" => ("false", NONE),
        "model.probe_scale" => ("2.0", NONE),
        "model.gaussian_smoothing_sigma" => ("0.5", NONE),
        "training.train_data_file" => ("\"other.npz\"", NONE),
        "training.test_data_file" => ("\"test.npz\"", NONE),
        "training.batch_size" => ("32", NONE),
        "training.nepochs" => ("7", NONE),
        "training.mae_weight" => ("0.5", NONE),
        "training.nll_weight" => ("0.5", NONE),
        "training.realspace_mae_weight" => ("0.5", &[("training.realspace_weight", "0.1")]),
        "training.realspace_weight" => ("0.5", NONE),
        "training.nphotons" => ("1e6", NONE),
        "training.n_groups" => ("64", NONE),
        "training.n_images" => ("100", NONE),
        "training.n_subsample" => ("100", NONE),
        "training.subsample_seed" => ("7", NONE),
        "training.neighbor_count" => ("6", NONE),
        "training.enable_oversampling" => ("true", NONE),
        "training.neighbor_pool_size" => ("8", NONE),
        "training.positions_provided" => ("false", NONE),
        "training.probe_trainable" => ("true", NONE),
        "training.intensity_scale_trainable" => ("false", NONE),
        "training.output_dir" => ("\"elsewhere\"", NONE),
        "training.sequential_sampling" => ("true", NONE),
        "training.backend" => ("\"pytorch\"", &[("training.torch_loss_mode", "\"mae\"")]),
        "training.torch_loss_mode" => ("\"mae\"", NONE),
        "training.torch_mae_pred_l2_match_target" => ("true", NONE),
        "training.gradient_clip_val" => ("1.0", NONE),
        "training.gradient_clip_algorithm" => {
            ("\"value\"", &[("training.gradient_clip_val", "1.0")])
        }
        "training.optimizer" => ("\"sgd\"", NONE),
        "training.momentum" => ("0.5", NONE),
        "training.weight_decay" => ("0.01", NONE),
        "training.adam_beta1" => ("0.8", NONE),
        "training.adam_beta2" => ("0.99", NONE),
        "training.scheduler" => ("\"Exponential\"", NONE),
        "training.lr_warmup_epochs" => ("3", &[("training.scheduler", "\"WarmupCosine\"")]),
        "training.lr_min_ratio" => ("0.2", &[("training.scheduler", "\"WarmupCosine\"")]),
        "training.plateau_factor" => ("0.3", NONE),
        "training.plateau_patience" => ("5", NONE),
        "training.plateau_min_lr" => ("1e-5", NONE),
        "training.plateau_threshold" => ("0.01", NONE),
        "inference.model_path" => ("\"other_model\"", NONE),
        "inference.test_data_file" => ("\"other.npz\"", NONE),
        "inference.n_groups" => ("10", NONE),
        "inference.n_images" => ("10", NONE),
        "inference.n_subsample" => ("50", NONE),
        "inference.subsample_seed" => ("3", NONE),
        "inference.neighbor_count" => ("6", NONE),
        "inference.enable_oversampling" => ("true", NONE),
        "inference.neighbor_pool_size" => ("8", NONE),
        "inference.debug" => ("true", NONE),
        "inference.output_dir" => ("\"elsewhere\"", NONE),
        "inference.backend" => ("\"pytorch\"", NONE),
        "execution.accelerator" => ("\"cpu\"", NONE),
        "execution.devices" => ("2", NONE),
        "execution.strategy" => ("\"ddp\"", NONE),
        "execution.deterministic" => ("false", NONE),
        "execution.precision" => ("\"16-mixed\"", NONE),
        "execution.gradient_clip_val" => ("1.0", NONE),
        "execution.gradient_clip_algorithm" => {
            ("\"value\"", &[("execution.gradient_clip_val", "1.0")])
        }
        "execution.accum_steps" => ("2", NONE),
        "execution.num_workers" => ("2", NONE),
        "execution.pin_memory" => ("true", NONE),
        "execution.persistent_workers" => ("true", NONE),
        "execution.prefetch_factor" => ("2", NONE),
        "execution.learning_rate" => ("0.01", NONE),
        "execution.scheduler" => ("\"WarmupCosine\"", NONE),
        "execution.enable_progress_bar" => ("false", NONE),
        "execution.enable_checkpointing" => ("false", NONE),
        "execution.checkpoint_save_top_k" => ("0", NONE),
        "execution.checkpoint_monitor_metric" => ("\"train_loss\"", NONE),
        "execution.checkpoint_mode" => ("\"max\"", NONE),
        "execution.early_stop_patience" => ("5", NONE),
        "execution.logger_backend" => ("\"mlflow\"", NONE),
        "execution.recon_log_every_n_epochs" => ("5", NONE),
        "execution.recon_log_num_patches" => ("8", NONE),
        "execution.recon_log_fixed_indices" => ("[1, 2]", NONE),
        "execution.recon_log_stitch" => ("true", NONE),
        "execution.recon_log_max_stitch_samples" => ("4", NONE),
        "execution.ffno_encoder_blocks" => ("12", NONE),
        "execution.ffno_encoder_modes" => ("8", NONE),
        "execution.ffno_encoder_share_weights" => ("false", NONE),
        "execution.ffno_encoder_gate_init" => ("0.5", NONE),
        "execution.ffno_encoder_norm" => ("\"layer\"", NONE),
        "execution.ffno_encoder_mlp_ratio" => ("4.0", NONE),
        "execution.spectral_bottleneck_blocks" => ("3", NONE),
        "execution.spectral_bottleneck_modes" => ("8", NONE),
        "execution.spectral_bottleneck_share_weights" => ("false", NONE),
        "execution.spectral_bottleneck_gate_init" => ("0.5", NONE),
        "execution.spectral_bottleneck_gate_mode" => ("\"per_block\"", NONE),
        "execution.inference_batch_size" => ("8", NONE),
        "execution.middle_trim" => ("2", NONE),
        "execution.pad_eval" => ("true", NONE),
        "execution.validation_split" => ("0.1", NONE),
        "execution.checkpoint_every_n_epochs" => ("5", NONE),
        _ => return None,
    })
}

/// What a document leads to: the refusal, or the rendering of the plans it runs with.
fn outcome(settings: &[(&str, &str)]) -> Result<String, String> {
    let base = ConfigDocument::parse(BASE, Format::Toml).unwrap().value;
    let mut overrides = Overrides::new();
    for (key, json) in settings {
        let value: Value = serde_json::from_str(json).unwrap();
        overrides.insert(key, value);
    }
    let document = base
        .with_overrides(&overrides)
        .map_err(|e| e.to_string())?
        .value;
    let inference = document.inference.clone().unwrap();
    let execution = document.execution.clone();
    // The same steps as a run: resolve (validation, support rules, legacy params), then plan.
    let resolved = resolve_config(ConfigInput::Document(document), &mut LegacyParams::new())
        .unwrap_or_else(|e| panic!("{settings:?}: loaded but refused by the run: {e}"));
    let run = RunPlan::new(&resolved)
        .unwrap_or_else(|e| panic!("{settings:?}: loaded but no run plan: {e}"));
    let inference = InferencePlan::new(&inference, &execution)
        .unwrap_or_else(|e| panic!("{settings:?}: loaded but no inference plan: {e}"));
    Ok(format!("{run:#?}\n{inference:#?}"))
}

#[test]
fn every_field_is_honoured_or_refused() {
    let default = outcome(&[]).expect("the base document loads");
    let sections = [
        ("model", MODEL_FIELDS),
        ("training", TRAINING_FIELDS),
        ("inference", INFERENCE_FIELDS),
        ("execution", EXECUTION_FIELDS),
    ];
    let (mut honoured, mut refused) = (0, 0);
    for (section, fields) in sections {
        for field in fields {
            let key = format!("{section}.{field}");
            let (value, companions) = alternative(&key).unwrap_or_else(|| {
                panic!("no alternative value for `{key}`: add one to `alternative`")
            });
            let baseline = if companions.is_empty() {
                Ok(default.clone())
            } else {
                outcome(companions)
            };
            let mut settings = vec![(key.as_str(), value)];
            settings.extend_from_slice(companions);
            match outcome(&settings) {
                Err(message) => {
                    assert!(
                        message.contains(&format!("`{key}`")),
                        "{key} = {value}: the refusal does not name the field: {message}"
                    );
                    assert_ne!(
                        baseline,
                        Err(message.clone()),
                        "{key}: refused for its companions"
                    );
                    refused += 1;
                }
                Ok(plan) => {
                    assert_ne!(
                        Ok(plan),
                        baseline,
                        "{key} = {value} is accepted but changes nothing the run is built from"
                    );
                    honoured += 1;
                }
            }
        }
    }
    assert_eq!(
        honoured + refused,
        MODEL_FIELDS.len()
            + TRAINING_FIELDS.len()
            + INFERENCE_FIELDS.len()
            + EXECUTION_FIELDS.len()
    );
}

#[test]
fn run_plan_reflects_execution_settings() {
    let plan = outcome(&[
        ("execution.inference_batch_size", "8"),
        ("execution.enable_progress_bar", "false"),
        ("execution.accelerator", "\"wgpu\""),
    ])
    .unwrap();
    assert!(plan.contains("inference_batch: 8"), "{plan}");
    assert!(
        plan.contains("enable_progress_bar: Some(\n        false,\n    )"),
        "{plan}"
    );
    assert!(plan.contains("accelerator: Wgpu"), "{plan}");
    let err = outcome(&[("execution.accelerator", "\"mps\"")]).unwrap_err();
    assert_eq!(
        err,
        "`execution.accelerator`: \"mps\" is not one of auto, cpu, gpu, cuda, wgpu (Apple's MPS is not a backend of this build; wgpu runs on Metal)"
    );
}

#[test]
fn a_bridged_default_pytorch_config_is_runnable() {
    let overrides = Overrides::new()
        .with("train_data_file", "train.npz")
        .with("n_groups", 12)
        .with("nphotons", 1e6);
    let resolved = resolve_config(
        ConfigInput::PyTorch {
            set: ptycho_config::torch::TorchConfigSet::default(),
            overrides,
        },
        &mut LegacyParams::new(),
    )
    .unwrap();
    let plan = RunPlan::new(&resolved).unwrap();
    assert_eq!(resolved.training.backend.as_str(), "pytorch");
    assert_eq!(plan.generator.gridsize, 2);
}
