//! The configuration of `ptycho train`: command-line flags > `--config FILE` > defaults.
//!
//! Flags are not copied into the config field by field: they become config-crate overrides
//! (`training.n_groups=…`, `model.gridsize=…`, `execution.accelerator=…`, ...) laid over the
//! loaded document (or the default one) by [`ConfigDocument::with_overrides`], so a flag value is
//! parsed, validated and checked against what this implementation supports exactly like the same
//! value in a file. This happens before any data is read; [`TrainSetup::finish`] then takes what
//! only the data can say: `N` when no config file is given, and `nphotons` when neither a flag nor
//! the file sets it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ptycho_config::{ConfigDocument, ExecutionConfig, Format, Overrides, TrainingConfig};
use ptycho_data::ScanData;
use serde_json::Value;

use crate::train::{TrainArgs, deprecated, npz_in};

/// The validated configuration of a `ptycho train` run before its data is read.
#[derive(Debug, Clone)]
pub struct TrainSetup {
    /// The document with every flag applied; it has a training section.
    pub document: ConfigDocument,
    /// The training data (`--train-data-file`, else the config's `train_data_file`).
    pub train_file: PathBuf,
    /// Whether a config file was given (else `N` comes from the data).
    from_file: bool,
    /// Whether a flag or the config file sets `nphotons` (else it is measured from the data).
    nphotons_given: bool,
}

impl TrainSetup {
    /// Loads `--config` (or the defaults) and applies the flags.
    pub fn new(args: &TrainArgs) -> anyhow::Result<Self> {
        let base = match &args.config {
            Some(path) => load(path)?,
            None => ConfigDocument::from_training(TrainingConfig::default()),
        };
        let nphotons_given = args.nphotons.is_some()
            || match &args.config {
                Some(path) => config_sets_nphotons(path)?,
                None => false,
            };
        let overrides = flag_overrides(args)?;
        // The file was validated by `load`: what fails here is a flag (or its combination
        // with the file), named by its config key.
        let document = base.with_overrides(&overrides)?.value;
        let train_file = match document
            .training
            .as_ref()
            .and_then(|t| t.train_data_file.clone())
        {
            Some(file) => file,
            None => bail!(
                "--train-data-file: expected a training NPZ (or train_data_file in the config), found none"
            ),
        };
        Ok(TrainSetup {
            document,
            train_file,
            from_file: args.config.is_some(),
            nphotons_given,
        })
    }

    /// The execution settings (device, logger, ...), known before the data is read.
    pub fn execution(&self) -> &ExecutionConfig {
        &self.document.execution
    }

    /// The final training and execution config for the loaded training `scan`: its pattern
    /// size when no config file is given, its photon count when nothing sets `nphotons`.
    pub fn finish(self, scan: &ScanData) -> anyhow::Result<(TrainingConfig, ExecutionConfig)> {
        let mut overrides = Overrides::new();
        if !self.from_file {
            overrides.insert("model.N", scan.patch_size());
        }
        let default_nphotons = TrainingConfig::default().nphotons;
        if !self.nphotons_given {
            if scan.amplitudes_are_photon_counts() {
                let nphotons = scan.mean_photons_per_pattern();
                println!(
                    "photon scale from the data: {nphotons:.4e} photons per pattern on average (--nphotons overrides)"
                );
                overrides.insert("training.nphotons", nphotons);
            } else {
                println!(
                    "the diffraction amplitudes are not square roots of whole photon counts (normalised data?): nphotons stays {default_nphotons:e} (--nphotons sets it)"
                );
            }
        }
        let document = if overrides.is_empty() {
            self.document
        } else {
            self.document
                .with_overrides(&overrides)
                .context("the training data does not fit the configuration")?
                .value
        };
        let training = document
            .training
            .context("the training configuration lost its [training] section")?;
        Ok((training, document.execution))
    }
}

/// Loads a config file with a training section, printing its warnings.
fn load(path: &Path) -> anyhow::Result<ConfigDocument> {
    let loaded = ConfigDocument::load(path)
        .with_context(|| format!("cannot load config {}", path.display()))?;
    for w in &loaded.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    if loaded.value.training.is_none() {
        bail!(
            "{}: expected a [training] section, found none",
            path.display()
        );
    }
    Ok(loaded.value)
}

/// Whether the config file sets `nphotons` itself (in `[training]` or at the top level).
fn config_sets_nphotons(path: &Path) -> anyhow::Result<bool> {
    let format = Format::from_path(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let value = format
        .parse(&text)
        .with_context(|| format!("cannot parse config {}", path.display()))?;
    let names_it = |v: Option<&Value>| v.and_then(|t| t.get("nphotons")).is_some();
    Ok(names_it(Some(&value)) || names_it(value.get("training")))
}

fn path_value(path: &Path) -> Value {
    Value::from(path.to_string_lossy().into_owned())
}

/// The overrides the flags (and the deprecated spellings) ask for.
pub fn flag_overrides(args: &TrainArgs) -> anyhow::Result<Overrides> {
    let legacy = &args.legacy;
    let mut o = Overrides::new();
    let train_file = match (&args.train_data_file, &legacy.ptycho_dir) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(dir)) => {
            deprecated("--ptycho_dir", "--train-data-file");
            Some(npz_in(dir)?)
        }
        (None, None) => None,
    };
    if let Some(file) = &train_file {
        o.insert("training.train_data_file", path_value(file));
    }
    if legacy.probe_dir.is_some() {
        deprecated(
            "--probe_dir",
            "the data file's probeGuess (the flag is ignored)",
        );
    }
    if let Some(file) = &args.test_data_file {
        o.insert("training.test_data_file", path_value(file));
    }
    let output_dir = args.output_dir.clone().or_else(|| {
        legacy
            .legacy_output_dir
            .clone()
            .inspect(|_| deprecated("--output_dir", "--output-dir"))
    });
    if let Some(dir) = &output_dir {
        o.insert("training.output_dir", path_value(dir));
    }
    if let Some(v) = args.n_groups {
        o.insert("training.n_groups", v);
    }
    if let Some(v) = args.gridsize {
        o.insert("model.gridsize", v);
    }
    let max_epochs = args.max_epochs.or_else(|| {
        legacy
            .legacy_max_epochs
            .inspect(|_| deprecated("--max_epochs", "--max-epochs"))
    });
    if let Some(v) = max_epochs {
        o.insert("training.nepochs", v);
    }
    if let Some(v) = args.batch_size {
        o.insert("training.batch_size", v);
    }
    if let Some(v) = args.n_filters_scale {
        o.insert("model.n_filters_scale", v);
    }
    if let Some(v) = args.nphotons {
        o.insert("training.nphotons", v);
    }
    if let Some(v) = args.seed {
        o.insert("training.subsample_seed", v);
    }
    if let Some(v) = args.learning_rate {
        o.insert("execution.learning_rate", v);
    }
    if let Some(v) = args.validation_split {
        o.insert("execution.validation_split", v);
    }
    let accelerator = args.accelerator.clone().or_else(|| {
        legacy
            .device
            .clone()
            .inspect(|_| deprecated("--device", "--accelerator"))
    });
    if let Some(v) = accelerator {
        o.insert("execution.accelerator", v);
    }
    let logger = if legacy.disable_mlflow {
        deprecated("--disable_mlflow", "--logger none");
        Some("none".to_owned())
    } else {
        args.logger.as_deref().map(str::to_ascii_lowercase)
    };
    if let Some(v) = logger {
        o.insert("execution.logger_backend", v);
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use ptycho_config::{Accelerator, LoggerBackend};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn setup(flags: &[&str]) -> anyhow::Result<TrainSetup> {
        let cli = Cli::try_parse_from(std::iter::once("train").chain(flags.iter().copied()))?;
        TrainSetup::new(&cli.args)
    }

    #[test]
    fn flags_become_config_values() {
        let setup = setup(&[
            "--train-data-file",
            "scan.npz",
            "--n-groups",
            "64",
            "--gridsize",
            "2",
            "--max_epochs",
            "3",
            "--learning-rate",
            "0.002",
            "--validation-split",
            "0.1",
            "--logger",
            "MLflow",
            "--accelerator",
            "flex",
            "--output-dir",
            "out",
        ])
        .unwrap();
        let training = setup.document.training.as_ref().unwrap();
        assert_eq!(setup.train_file, PathBuf::from("scan.npz"));
        assert_eq!(
            (training.n_groups, training.model.gridsize, training.nepochs),
            (64, 2, 3)
        );
        assert_eq!(training.output_dir, PathBuf::from("out"));
        let execution = setup.execution();
        assert_eq!(execution.learning_rate, 0.002);
        assert_eq!(execution.validation_split, Some(0.1));
        assert_eq!(execution.logger_backend, LoggerBackend::Mlflow);
        assert_eq!(execution.accelerator, Accelerator::Cpu);
    }

    #[test]
    fn flag_values_are_refused_like_file_values() {
        let err = setup(&["--train-data-file", "scan.npz", "--batch-size", "12"])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "`training.batch_size` = 12 is invalid: must be a positive power of two"
            ),
            "{err}"
        );
        let logger = setup(&[
            "--train-data-file",
            "scan.npz",
            "--disable_mlflow",
            "--logger",
            "x",
        ])
        .map(|s| s.execution().logger_backend);
        assert_eq!(
            logger.unwrap(),
            LoggerBackend::None,
            "--disable_mlflow wins"
        );
        let err = setup(&[]).unwrap_err().to_string();
        assert_eq!(
            err,
            "--train-data-file: expected a training NPZ (or train_data_file in the config), found none"
        );
    }
}
