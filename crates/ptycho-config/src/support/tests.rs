//! Tests of the support rules.

use super::*;
use crate::Format;

fn load(text: &str) -> Result<ConfigDocument> {
    ConfigDocument::parse(text, Format::Toml).map(|loaded| loaded.value)
}

fn refusal(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn defaults_are_supported() {
    load("[training]\n[execution]\n").unwrap();
    check_run(&TrainingConfig::default(), &ExecutionConfig::default()).unwrap();
}

#[test]
fn refusals_name_the_field_the_value_and_what_is_supported() {
    assert_eq!(
        refusal("[execution]\nprecision = \"16-mixed\"\n"),
        "`execution.precision` = \"16-mixed\": only \"32-true\" is supported (the backends train in float32)"
    );
    assert_eq!(
        refusal("[execution]\naccelerator = \"mps\"\n"),
        "`execution.accelerator`: \"mps\" is not one of auto, cpu, gpu, cuda, wgpu (Apple's MPS is not a backend of this build; wgpu runs on Metal)"
    );
    assert_eq!(
        refusal("[execution]\ndevices = 2\n"),
        "`execution.devices` = 2: only 1 is supported (training and inference run on one device)"
    );
    assert_eq!(
        refusal("[execution]\nlogger_backend = \"tensorboard\"\n"),
        "`execution.logger_backend` = \"tensorboard\": only \"csv\", \"mlflow\" and \"none\" are supported (there is no TensorBoard writer)"
    );
    assert_eq!(
        refusal("[execution]\ncheckpoint_save_top_k = 3\n"),
        "`execution.checkpoint_save_top_k` = 3: only 0 (no best checkpoint) and 1 (the best checkpoint beside `last`) are supported"
    );
    assert_eq!(
        refusal("[model]\narchitecture = \"fno\"\n[training]\n"),
        "`model.architecture` = \"fno\": only \"cnn\" is supported (the generator of this implementation is upstream's TF CNN)"
    );
    assert_eq!(
        refusal("[training]\noptimizer = \"sgd\"\n"),
        "`training.optimizer` = \"sgd\": only \"adam\" is supported (the training loop's optimiser is Adam)"
    );
    assert_eq!(
        refusal("[model]\nprobe_mask_diameter = 30.0\n[training]\n"),
        "`model.probe_mask_diameter` = 30.0: must be left unset (the probe mask is the TF model's hard disk; a soft edge or another diameter is not implemented)"
    );
}

#[test]
fn schedules_come_from_either_section_and_conflicts_are_refused() {
    let doc = load("[training]\n[execution]\nscheduler = \"WarmupCosine\"\n").unwrap();
    let training = doc.training.as_ref().unwrap();
    assert_eq!(scheduler(training, &doc.execution), Scheduler::WarmupCosine);
    assert_eq!(
        refusal(
            "[training]\nscheduler = \"Exponential\"\n[execution]\nscheduler = \"WarmupCosine\"\n"
        ),
        "`training.scheduler` = \"Exponential\": differs from execution.scheduler = \"WarmupCosine\" (set one of them, or the same value in both)"
    );
    load("[training]\nscheduler = \"Exponential\"\n[execution]\nscheduler = \"Exponential\"\n")
        .unwrap();
}

#[test]
fn schedule_parameters_of_another_schedule_are_refused() {
    assert_eq!(
        refusal("[training]\nlr_warmup_epochs = 5\n"),
        "`training.lr_warmup_epochs` = 5: only 0 is supported (only read by scheduler = \"WarmupCosine\"; the scheduler is \"Default\")"
    );
    load("[training]\nlr_warmup_epochs = 5\nscheduler = \"WarmupCosine\"\n").unwrap();
    load("[training]\nlr_warmup_epochs = 5\n[execution]\nscheduler = \"WarmupCosine\"\n").unwrap();
    let err = refusal("[training]\nplateau_patience = 9\nscheduler = \"Exponential\"\n");
    assert!(err.starts_with("`training.plateau_patience` = 9: only 10 is supported (only read by scheduler = \"ReduceLROnPlateau\" or \"Default\""), "{err}");
}

#[test]
fn loss_semantics_follow_the_backend() {
    let err = refusal("[training]\ntorch_loss_mode = \"mae\"\n");
    assert!(err.starts_with("`training.torch_loss_mode` = \"mae\": only \"poisson\" is supported (with backend = \"tensorflow\""), "{err}");
    load("[training]\nbackend = \"pytorch\"\ntorch_loss_mode = \"mae\"\n").unwrap();
    assert_eq!(
        refusal("[training]\nbackend = \"pytorch\"\nmae_weight = 0.5\n"),
        "`training.mae_weight` = 0.5: only 0.0 is supported (with backend = \"pytorch\" the loss is chosen by torch_loss_mode)"
    );
}

#[test]
fn seeds_must_fit_numpy() {
    assert_eq!(
        refusal("[training]\nsubsample_seed = 4294967296\n"),
        "`training.subsample_seed` = 4294967296: only seeds below 2^32 are supported (numpy's seed range; it seeds the subsampling and grouping)"
    );
    load("[training]\nsubsample_seed = 4294967295\n").unwrap();
}

#[test]
fn a_real_space_weight_needs_its_term() {
    assert_eq!(
        refusal("[training]\nrealspace_weight = 0.5\n"),
        "`training.realspace_weight` = 0.5: only 0.0 is supported while realspace_mae_weight is 0.0 (the real-space term is realspace_mae_weight × the complex MAE against the known object; its TV part has no canonical weight)"
    );
    load("[training]\nrealspace_weight = 0.5\nrealspace_mae_weight = 0.1\n").unwrap();
}

#[test]
fn clipping_comes_from_either_section() {
    let doc = load(
        "[training]\n[execution]\ngradient_clip_val = 2.0\ngradient_clip_algorithm = \"value\"\n",
    )
    .unwrap();
    assert_eq!(
        gradient_clip(doc.training.as_ref().unwrap(), &doc.execution),
        (Some(2.0), GradientClipAlgorithm::Value)
    );
    assert_eq!(
        refusal("[training]\ngradient_clip_val = 1.0\n[execution]\ngradient_clip_val = 2.0\n"),
        "`training.gradient_clip_val` = 1.0: differs from execution.gradient_clip_val = 2.0 (set one of them, or the same value in both)"
    );
    assert_eq!(
        refusal("[training]\ngradient_clip_algorithm = \"value\"\n"),
        "`training.gradient_clip_algorithm` = \"value\": only \"norm\" (the default) is supported without a gradient_clip_val, as nothing is clipped"
    );
}

#[test]
fn checkpoint_settings_need_checkpointing() {
    assert_eq!(
        refusal("[execution]\nenable_checkpointing = false\ncheckpoint_every_n_epochs = 5\n"),
        "`execution.checkpoint_every_n_epochs` = 5: only 1 is supported (there are no checkpoints with enable_checkpointing = false)"
    );
    load("[execution]\ncheckpoint_monitor_metric = \"train_loss\"\ncheckpoint_save_top_k = 0\n")
        .unwrap();
    let err = refusal("[execution]\ncheckpoint_monitor_metric = \"val_ssim\"\n");
    assert!(err.starts_with("`execution.checkpoint_monitor_metric` = \"val_ssim\": only \"val_loss\" and \"train_loss\""), "{err}");
}

#[test]
fn overrides_are_checked_like_files() {
    let base = load("[training]\n").unwrap();
    let err = base
        .with_overrides(&crate::Overrides::new().with("execution.precision", "bf16-mixed"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("`execution.precision` = \"bf16-mixed\": only \"32-true\""),
        "{err}"
    );
}

#[test]
fn bridged_pytorch_only_settings_are_dropped_with_a_warning() {
    let mut execution = ExecutionConfig {
        num_workers: 4,
        prefetch_factor: Some(2),
        middle_trim: 32,
        ..ExecutionConfig::default()
    };
    assert_eq!(
        drop_pytorch_only_settings(&mut execution).unwrap(),
        "PyTorch-side settings ignored: num_workers = 4, prefetch_factor = 2 (batches are assembled by the training loop; there are no data-loader workers); middle_trim = 32 (upstream does not implement it either)"
    );
    assert_eq!(execution, ExecutionConfig::default());
    assert_eq!(drop_pytorch_only_settings(&mut execution), None);
}
