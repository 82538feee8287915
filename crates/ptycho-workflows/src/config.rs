//! The workflows' configuration input and the automatic bridge (the CONFIG-001 analog).
//!
//! Upstream keeps a global `params.cfg` that every workflow must remember to update with
//! `update_legacy_dict` before building data or models, and PyTorch-side configs must be
//! bridged by hand. Here the legacy params are an explicit [`LegacyParams`] value the caller
//! passes in, and [`resolve_config`] performs both steps for every kind of input: a PyTorch-side
//! config set is bridged to the canonical config (PyTorch's data-loader settings and its
//! unimplemented inference options dropped with a warning), then the legacy params are updated
//! from the resulting training config. No global state exists.

use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{
    ConfigDocument, ExecutionConfig, LegacyParams, Overrides, TrainingConfig, bridge_document,
    support,
};

use crate::error::{Result, WorkflowError};

/// A configuration as a caller may hold it.
// Built once per run and moved straight into `resolve_config`: boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ConfigInput {
    /// A canonical training config (default execution settings).
    Canonical(TrainingConfig),
    /// A canonical training config with its execution settings.
    WithExecution(TrainingConfig, ExecutionConfig),
    /// A canonical document with a `[training]` part.
    Document(ConfigDocument),
    /// Upstream PyTorch-side configs plus the overrides the bridge requires
    /// (`train_data_file`, `n_groups`, `nphotons`, ...); bridged automatically.
    PyTorch {
        /// The PyTorch-side config set.
        set: TorchConfigSet,
        /// Values the PyTorch side does not carry.
        overrides: Overrides,
    },
}

impl From<TrainingConfig> for ConfigInput {
    fn from(config: TrainingConfig) -> Self {
        ConfigInput::Canonical(config)
    }
}

impl From<ConfigDocument> for ConfigInput {
    fn from(document: ConfigDocument) -> Self {
        ConfigInput::Document(document)
    }
}

/// The canonical configuration a workflow runs with.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// The canonical training config (model included).
    pub training: TrainingConfig,
    /// Runtime-only settings (learning rate, progress bar, early stopping, ...).
    pub execution: ExecutionConfig,
    /// True when the input was a PyTorch-side config that went through the bridge.
    pub bridged: bool,
    /// Warnings of loading or bridging (settings without a canonical field, ...).
    pub warnings: Vec<String>,
}

/// Resolves `input` to the canonical config (bridging PyTorch-side configs), validates it,
/// refuses settings this implementation does not run with ([`ptycho_config::support`]) and
/// writes it into `params` (`update_legacy_dict` semantics: unset values are skipped).
pub fn resolve_config(input: ConfigInput, params: &mut LegacyParams) -> Result<ResolvedConfig> {
    let resolved = match input {
        ConfigInput::Canonical(training) => ResolvedConfig {
            training,
            execution: ExecutionConfig::default(),
            bridged: false,
            warnings: Vec::new(),
        },
        ConfigInput::WithExecution(training, execution) => ResolvedConfig {
            training,
            execution,
            bridged: false,
            warnings: Vec::new(),
        },
        ConfigInput::Document(document) => from_document(document, false, Vec::new())?,
        ConfigInput::PyTorch { set, overrides } => {
            let bridged = bridge_document(&set, &overrides)?;
            let (mut document, mut warnings) = (bridged.value, bridged.warnings);
            warnings.extend(support::drop_pytorch_only_settings(&mut document.execution));
            from_document(document, true, warnings)?
        }
    };
    resolved.training.validate()?;
    resolved.execution.validate()?;
    support::check_run(&resolved.training, &resolved.execution)?;
    params.update_from(&resolved.training);
    Ok(resolved)
}

fn from_document(
    document: ConfigDocument,
    bridged: bool,
    warnings: Vec<String>,
) -> Result<ResolvedConfig> {
    let ConfigDocument {
        training,
        execution,
        ..
    } = document;
    let training = training.ok_or_else(|| {
        WorkflowError::mismatch(
            "configuration document",
            "a [training] section",
            "a document without one",
        )
    })?;
    Ok(ResolvedConfig {
        training,
        execution,
        bridged,
        warnings,
    })
}
