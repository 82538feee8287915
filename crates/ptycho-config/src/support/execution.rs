//! The support rules of the execution section (see the table in [`crate::support`]), and the
//! PyTorch-only settings a bridged configuration drops.

use super::{defaults_only, only, refuse};
use crate::choices::{CheckpointMode, LoggerBackend, Precision};
use crate::error::Result;
use crate::execution::{Deterministic, Devices, ExecutionConfig};

/// The metrics a checkpoint can monitor.
pub const CHECKPOINT_METRICS: [&str; 2] = ["val_loss", "train_loss"];

const NO_WORKERS: &str =
    "batches are assembled by the training loop; there are no data-loader workers";
const NOT_BUILT: &str = "it configures PyTorch generator blocks this implementation does not build";
const NO_RECON_LOG: &str = "per-epoch reconstruction logging is not implemented";
const UNIMPLEMENTED: &str = "upstream does not implement it either";
const LOADER_FIELDS: [&str; 4] = [
    "num_workers",
    "pin_memory",
    "persistent_workers",
    "prefetch_factor",
];
const UNIMPLEMENTED_FIELDS: [&str; 2] = ["middle_trim", "pad_eval"];

/// Resets what every PyTorch-side config carries but nothing here (or upstream) implements:
/// the data-loader settings (`num_workers`, `pin_memory`, `persistent_workers`,
/// `prefetch_factor`; upstream's default is 4 workers) and the inference options `middle_trim`
/// and `pad_eval`. Returns the warning naming what was reset, if anything was. Only the bridge
/// of a PyTorch-side config uses it: in a canonical file these values are refused like any
/// other.
pub fn drop_pytorch_only_settings(execution: &mut ExecutionConfig) -> Option<String> {
    let d = ExecutionConfig::default();
    let json = |e: &ExecutionConfig| serde_json::to_value(e).unwrap_or_default();
    let (now, default) = (json(execution), json(&d));
    let changed = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter_map(|name| {
                let value = now.get(*name)?;
                (default.get(*name) != Some(value)).then(|| format!("{name} = {value}"))
            })
            .collect()
    };
    let parts: Vec<String> = [
        (changed(&LOADER_FIELDS), NO_WORKERS),
        (changed(&UNIMPLEMENTED_FIELDS), UNIMPLEMENTED),
    ]
    .into_iter()
    .filter(|(names, _)| !names.is_empty())
    .map(|(names, why)| format!("{} ({why})", names.join(", ")))
    .collect();
    execution.num_workers = d.num_workers;
    execution.pin_memory = d.pin_memory;
    execution.persistent_workers = d.persistent_workers;
    execution.prefetch_factor = d.prefetch_factor;
    execution.middle_trim = d.middle_trim;
    execution.pad_eval = d.pad_eval;
    (!parts.is_empty()).then(|| format!("PyTorch-side settings ignored: {}", parts.join("; ")))
}

pub(super) fn check_execution(e: &ExecutionConfig) -> Result<()> {
    let d = ExecutionConfig::default();
    only(
        "execution.devices",
        &e.devices,
        &Devices::Count(1),
        "training and inference run on one device",
    )?;
    defaults_only!(
        "execution",
        e,
        d,
        "one device needs no distribution strategy",
        [strategy]
    );
    only(
        "execution.deterministic",
        &e.deterministic,
        &Deterministic::Flag(true),
        "runs are always deterministic: seeded initialisation and shuffling",
    )?;
    only(
        "execution.precision",
        &e.precision,
        &Precision::Full32,
        "the backends train in float32",
    )?;
    defaults_only!(
        "execution",
        e,
        d,
        NO_WORKERS,
        [num_workers, pin_memory, persistent_workers, prefetch_factor]
    );
    check_checkpointing(e, &d)?;
    if e.logger_backend == LoggerBackend::Tensorboard {
        return Err(refuse(
            "execution.logger_backend",
            &e.logger_backend,
            "only \"csv\", \"mlflow\" and \"none\" are supported (there is no TensorBoard writer)"
                .to_owned(),
        ));
    }
    defaults_only!(
        "execution",
        e,
        d,
        NO_RECON_LOG,
        [
            recon_log_every_n_epochs,
            recon_log_num_patches,
            recon_log_fixed_indices,
            recon_log_stitch,
            recon_log_max_stitch_samples,
        ]
    );
    defaults_only!(
        "execution",
        e,
        d,
        NOT_BUILT,
        [
            ffno_encoder_blocks,
            ffno_encoder_modes,
            ffno_encoder_share_weights,
            ffno_encoder_gate_init,
            ffno_encoder_norm,
            ffno_encoder_mlp_ratio,
            spectral_bottleneck_blocks,
            spectral_bottleneck_modes,
            spectral_bottleneck_share_weights,
            spectral_bottleneck_gate_init,
            spectral_bottleneck_gate_mode,
        ]
    );
    defaults_only!("execution", e, d, UNIMPLEMENTED, [middle_trim, pad_eval]);
    Ok(())
}

fn check_checkpointing(e: &ExecutionConfig, d: &ExecutionConfig) -> Result<()> {
    if e.checkpoint_save_top_k > 1 {
        return Err(refuse(
            "execution.checkpoint_save_top_k",
            &e.checkpoint_save_top_k,
            "only 0 (no best checkpoint) and 1 (the best checkpoint beside `last`) are supported"
                .to_owned(),
        ));
    }
    if !CHECKPOINT_METRICS.contains(&e.checkpoint_monitor_metric.as_str()) {
        return Err(refuse(
            "execution.checkpoint_monitor_metric",
            &e.checkpoint_monitor_metric,
            "only \"val_loss\" and \"train_loss\" are supported (the losses the training loop records; val_loss falls back to train_loss without validation groups)".to_owned(),
        ));
    }
    only(
        "execution.checkpoint_mode",
        &e.checkpoint_mode,
        &CheckpointMode::Min,
        "the monitored metrics are losses, lower is better",
    )?;
    if !e.enable_checkpointing {
        defaults_only!(
            "execution",
            e,
            d,
            "there are no checkpoints with enable_checkpointing = false",
            [
                checkpoint_save_top_k,
                checkpoint_monitor_metric,
                checkpoint_every_n_epochs
            ]
        );
    }
    Ok(())
}
