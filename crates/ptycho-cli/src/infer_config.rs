//! What `ptycho infer` runs with: its flags alone, or an `--config FILE` whose `[inference]` and
//! `[execution]` sections the flags override (applied as config overrides, so a flag is checked
//! exactly like the same value in the file). The section becomes an [`InferencePlan`], which
//! decides the bundle, the scan, the output folder, the grouping, the batch size and the device.

use std::path::PathBuf;

use anyhow::{Context, bail};
use ptycho_config::{Accelerator, ConfigDocument, Overrides};
use ptycho_workflows::{DEFAULT_INFERENCE_BATCH, InferencePlan};

use crate::infer::InferArgs;
use crate::train::{deprecated, npz_in};

/// The resolved inputs of one `ptycho infer` run.
#[derive(Debug)]
pub struct InferSetup {
    /// The bundle (a directory or the archive).
    pub model_path: PathBuf,
    /// The scan to reconstruct.
    pub data_file: PathBuf,
    /// Where the outputs go.
    pub output_dir: PathBuf,
    /// The compute device asked for.
    pub accelerator: Accelerator,
    /// Groups per inference batch.
    pub batch_size: usize,
    /// The `[inference]` section's plan, when a config file was given (its grouping replaces
    /// the bundle's).
    pub plan: Option<InferencePlan>,
}

fn model_path_flag(args: &InferArgs) -> Option<PathBuf> {
    args.model_path.clone().or_else(|| {
        args.checkpoint
            .clone()
            .inspect(|_| deprecated("--checkpoint", "--model-path"))
    })
}

fn data_file_flag(args: &InferArgs) -> anyhow::Result<Option<PathBuf>> {
    match (&args.test_data_file, &args.data_dir) {
        (Some(f), _) => Ok(Some(f.clone())),
        (None, Some(d)) => {
            deprecated("--data_dir", "--test-data-file");
            Ok(Some(npz_in(d)?))
        }
        (None, None) => Ok(None),
    }
}

fn output_dir_flag(args: &InferArgs) -> Option<PathBuf> {
    args.output_dir.clone().or_else(|| {
        args.legacy_output_dir
            .clone()
            .inspect(|_| deprecated("--output_dir", "--output-dir"))
    })
}

fn accelerator_flag(args: &InferArgs) -> Option<String> {
    args.accelerator.clone().or_else(|| {
        args.device
            .clone()
            .inspect(|_| deprecated("--device", "--accelerator"))
    })
}

impl InferSetup {
    /// The inputs of `args`, through its config file when one is given.
    pub fn new(args: &InferArgs) -> anyhow::Result<Self> {
        if args.batch_size == Some(0) {
            bail!("--batch-size: expected a positive number of groups, found 0");
        }
        match &args.config {
            Some(_) => Self::from_config(args),
            None => Self::from_flags(args),
        }
    }

    fn from_flags(args: &InferArgs) -> anyhow::Result<Self> {
        let accelerator = match accelerator_flag(args) {
            Some(text) => text
                .parse::<Accelerator>()
                .map_err(|e| anyhow::anyhow!("--accelerator: {e}"))?,
            None => Accelerator::default(),
        };
        Ok(Self {
            model_path: model_path_flag(args)
                .context("--model-path: expected a bundle or its directory, found none")?,
            data_file: data_file_flag(args)?
                .context("--test-data-file: expected an NPZ to reconstruct, found none")?,
            output_dir: output_dir_flag(args).unwrap_or_else(|| PathBuf::from("inference_outputs")),
            accelerator,
            batch_size: args.batch_size.unwrap_or(DEFAULT_INFERENCE_BATCH),
            plan: None,
        })
    }

    fn from_config(args: &InferArgs) -> anyhow::Result<Self> {
        let path = args.config.as_deref().expect("from_config needs --config");
        let mut overrides = Overrides::new();
        let text = |p: PathBuf| p.display().to_string();
        if let Some(p) = model_path_flag(args) {
            overrides.insert("inference.model_path", text(p));
        }
        if let Some(p) = data_file_flag(args)? {
            overrides.insert("inference.test_data_file", text(p));
        }
        if let Some(p) = output_dir_flag(args) {
            overrides.insert("inference.output_dir", text(p));
        }
        if let Some(n) = args.n_groups {
            overrides.insert("inference.n_groups", n);
        }
        if let Some(b) = args.batch_size {
            overrides.insert("execution.inference_batch_size", b);
        }
        if let Some(a) = accelerator_flag(args) {
            overrides.insert("execution.accelerator", a);
        }
        let loaded = ConfigDocument::load(path)
            .with_context(|| format!("cannot load config {}", path.display()))?;
        let doc = loaded
            .value
            .with_overrides(&overrides)
            .with_context(|| format!("{}: the command-line flags", path.display()))?
            .value;
        let inference = doc.inference.with_context(|| {
            format!(
                "{}: expected an [inference] section, found none",
                path.display()
            )
        })?;
        let plan = InferencePlan::new(&inference, &doc.execution)?;
        Ok(Self {
            model_path: plan.model_path.clone(),
            data_file: plan.test_data_file.clone(),
            output_dir: plan.output_dir.clone(),
            accelerator: plan.accelerator,
            batch_size: plan.batch,
            plan: Some(plan),
        })
    }
}
