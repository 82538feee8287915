//! What this implementation runs with: every canonical field is either honoured or, when it
//! holds a value we do not implement, refused when a document is loaded (after the structural
//! rules of `validate`), so no setting is read and silently ignored.
//!
//! The structural rules (`validate`) stay upstream's, so the bridge and the legacy params keep
//! their parity; these rules are applied by [`ConfigDocument::parse`](crate::ConfigDocument)
//! (hence every load), by `with_overrides`, and by the workflows before a run
//! ([`check_run`]). A refusal names the field, the value found and the values we support:
//! "`execution.precision` = \"16-mixed\": only \"32-true\" is supported (the backends train in
//! float32)".
//!
//! | field | status |
//! |---|---|
//! | `model.N`, `gridsize`, `n_filters_scale`, `amp_activation`, `object_big`, `probe_big`, `pad_object` | honoured: generator shape (`GeneratorSpec`) |
//! | `model.probe_mask`, `probe_scale`, `gaussian_smoothing_sigma` (and `N`, `gridsize`, `object_big`, `probe_big`) | honoured: physics (`PhysicsSpec`) |
//! | `model.model_type` | `pinn` only (supervised training is not implemented) |
//! | `model.architecture` | `cnn` only |
//! | `model.fno_modes`, `fno_width`, `fno_blocks`, `fno_cnn_blocks`, `fno_input_transform`, `learned_input_channels`, `max_hidden_channels`, `resnet_width` | default only (PyTorch generators, not built) |
//! | `model.generator_output_mode` | `real_imag` (the default) only: the CNN's output heads are fixed |
//! | `model.probe_mask_sigma`, `probe_mask_diameter` | default only: the mask is the TF model's hard disk |
//! | `training.train_data_file`, `test_data_file`, `output_dir` | honoured: `ptycho train` reads them when the flags are absent; the run plan's paths |
//! | `training.batch_size`, `nepochs`, `adam_beta1`, `adam_beta2`, `gradient_clip_val` | honoured: `TrainingSpec` |
//! | `training.mae_weight`, `nll_weight`, `realspace_mae_weight`, `realspace_weight` | honoured: loss weights; with `backend = "pytorch"` `mae_weight`/`nll_weight` must stay at their defaults; `realspace_weight` only with `realspace_mae_weight` > 0 (the real-space term is its MAE) |
//! | `training.nphotons` | honoured: container intensity scale |
//! | `training.n_groups`, `n_images`, `n_subsample`, `subsample_seed`, `neighbor_count`, `enable_oversampling`, `neighbor_pool_size`, `sequential_sampling` | honoured: subsampling and grouping (`subsample_seed` also seeds weights and shuffling; the neighbour settings shape groups from gridsize 2 on, as upstream) |
//! | `training.positions_provided` | `true` only (patches are placed at the recorded positions) |
//! | `training.probe_trainable`, `intensity_scale_trainable` | honoured: physics / trainable parameters |
//! | `training.backend` | honoured: `"pytorch"` selects the loss with `torch_loss_mode` (upstream's PyTorch semantics) |
//! | `training.torch_loss_mode` | honoured with `backend = "pytorch"` (`poisson`: NLL, `mae`: MAE); `poisson` only otherwise |
//! | `training.torch_mae_pred_l2_match_target` | `false` only |
//! | `training.gradient_clip_algorithm` | `norm`, `value` (not `agc`), and only with a `gradient_clip_val` |
//! | `training.optimizer` | `adam` only; `momentum` default only (SGD); `weight_decay` 0 only |
//! | `training.scheduler` | honoured (`execution.scheduler` when this is `Default`; both set and different: refused) |
//! | `training.lr_warmup_epochs`, `lr_min_ratio` | honoured with `WarmupCosine`, default only otherwise |
//! | `training.plateau_*` | honoured with `Default` / `ReduceLROnPlateau`, default only otherwise |
//! | `inference.*` paths and grouping fields | honoured by the inference plan (grouping as training) |
//! | `inference.debug` | `false` only; `inference.backend`: `tensorflow` only |
//! | `execution.accelerator` | honoured: device selection (`auto, cpu, gpu, cuda, wgpu`) |
//! | `execution.devices` | 1 only; `strategy`: `auto` only; `deterministic`: `true` only; `precision`: `32-true` only |
//! | `execution.gradient_clip_val`, `gradient_clip_algorithm`, `scheduler` | honoured when the training field is unset / default; both set and different: refused |
//! | `execution.accum_steps` | 1 only (structural rule) |
//! | `execution.num_workers`, `pin_memory`, `persistent_workers`, `prefetch_factor` | defaults only (no data-loader workers); a bridged PyTorch-side config has them reset with a warning ([`drop_pytorch_only_settings`]) |
//! | `execution.learning_rate`, `early_stop_patience`, `validation_split` | honoured: `TrainingSpec` |
//! | `execution.enable_progress_bar` | honoured: progress mode |
//! | `execution.enable_checkpointing`, `checkpoint_every_n_epochs` | honoured: checkpoint policy (`checkpoints/last`) |
//! | `execution.checkpoint_save_top_k` | 0 (no best checkpoint) or 1 (the best beside `last`) |
//! | `execution.checkpoint_monitor_metric` | `val_loss` or `train_loss`; `checkpoint_mode`: `min` only |
//! | `execution.logger_backend` | `csv`, `mlflow`, `none` (not `tensorboard`) |
//! | `execution.recon_log_*`, `ffno_encoder_*`, `spectral_bottleneck_*`, `middle_trim`, `pad_eval` | defaults only (`middle_trim`, `pad_eval` of a bridged PyTorch-side config: reset with a warning) |
//! | `execution.inference_batch_size` | honoured: reconstruction batch |

mod execution;
mod rules;

use serde::Serialize;

use crate::choices::{GradientClipAlgorithm, Scheduler};
use crate::document::ConfigDocument;
use crate::error::{ConfigError, Result};
use crate::execution::ExecutionConfig;
use crate::training::TrainingConfig;

use execution::check_execution;
pub use execution::{CHECKPOINT_METRICS, drop_pytorch_only_settings};
use rules::{check_inference, check_model, check_training};

/// Refuses what a document holds that this implementation does not run with.
pub fn check_document(document: &ConfigDocument) -> Result<()> {
    check_model(&document.model)?;
    if let Some(training) = &document.training {
        check_training(training, &document.execution)?;
    }
    if let Some(inference) = &document.inference {
        check_inference(inference)?;
    }
    check_execution(&document.execution)
}

/// Refuses what a training run's configuration holds that this implementation does not run with.
pub fn check_run(training: &TrainingConfig, execution: &ExecutionConfig) -> Result<()> {
    check_model(&training.model)?;
    check_training(training, execution)?;
    check_execution(execution)
}

/// The learning-rate schedule of a run: `training.scheduler`, or `execution.scheduler` when the
/// training one is `Default` ([`check_run`] refuses two different non-default choices).
pub fn scheduler(training: &TrainingConfig, execution: &ExecutionConfig) -> Scheduler {
    if training.scheduler == Scheduler::Default {
        execution.scheduler
    } else {
        training.scheduler
    }
}

/// The gradient clipping of a run: each of value and algorithm from the training config, else
/// from the execution config.
pub fn gradient_clip(
    training: &TrainingConfig,
    execution: &ExecutionConfig,
) -> (Option<f64>, GradientClipAlgorithm) {
    let algorithm = if training.gradient_clip_algorithm == GradientClipAlgorithm::Norm {
        execution.gradient_clip_algorithm
    } else {
        training.gradient_clip_algorithm
    };
    (
        training.gradient_clip_val.or(execution.gradient_clip_val),
        algorithm,
    )
}

fn show<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "?".to_owned())
}

fn refuse<T: Serialize>(field: &str, value: &T, supported: String) -> ConfigError {
    ConfigError::Unsupported {
        field: field.to_owned(),
        value: show(value),
        supported,
    }
}

/// `value` must equal `supported` (an unset default: must stay unset).
fn only<T: PartialEq + Serialize>(field: &str, value: &T, supported: &T, why: &str) -> Result<()> {
    if value == supported {
        return Ok(());
    }
    let supported = match show(supported).as_str() {
        "null" => format!("must be left unset ({why})"),
        shown => format!("only {shown} is supported ({why})"),
    };
    Err(refuse(field, value, supported))
}

/// [`only`] for each listed field of `value` against the same field of `default`; the field is
/// named `section.field`.
macro_rules! defaults_only {
    ($section:literal, $value:expr, $default:expr, $why:expr, [$($field:ident),+ $(,)?]) => {{
        $(
            $crate::support::only(
                concat!($section, ".", stringify!($field)),
                &$value.$field,
                &$default.$field,
                $why,
            )?;
        )+
    }};
}
use defaults_only;

#[cfg(test)]
mod tests;
