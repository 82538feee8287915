//! `ptycho train`: train on a canonical NPZ, save the bundle (`wts.h5.zip`), the
//! `checkpoints/last` checkpoint and the loss history, and reconstruct the test data when given.
//!
//! Configuration precedence: command-line flags > `--config FILE` > defaults; without a config
//! file the pattern size `N` is taken from the training data. The seed's legacy flags
//! (`--ptycho_dir`, `--probe_dir`, `--max_epochs`, `--device`, `--disable_mlflow`) are accepted
//! with a deprecation note.

use std::path::{Path, PathBuf};

use crate::detector::DetectorArgs;
use anyhow::{Context, bail};
use ptycho_config::{ConfigDocument, ExecutionConfig, Format, LegacyParams, TrainingConfig};
use ptycho_data::ScanData;
use ptycho_workflows::{
    Accelerator, ComputeDevice, ConfigInput, DataInput, RunOptions, TrainOptions, run_cdi_example,
};

/// Arguments of `ptycho train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Training data (canonical NPZ)
    #[arg(long)]
    pub train_data_file: Option<PathBuf>,
    /// Test data (canonical NPZ): reconstructed and stitched after training
    #[arg(long)]
    pub test_data_file: Option<PathBuf>,
    /// Output directory (bundle, checkpoints, history, images)
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Number of groups to train on
    #[arg(long)]
    pub n_groups: Option<usize>,
    /// Group side (patterns per group = gridsize²)
    #[arg(long)]
    pub gridsize: Option<usize>,
    /// Maximum number of epochs
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Groups per training step
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Width multiplier of the generator's convolutions
    #[arg(long)]
    pub n_filters_scale: Option<usize>,
    /// Learning rate
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Mean photons per pattern (sets the intensity scale); default: measured from the training
    /// data when its amplitudes are square roots of photon counts, else 1e9
    #[arg(long)]
    pub nphotons: Option<f64>,
    /// Seed of grouping, weights and shuffling
    #[arg(long)]
    pub seed: Option<u64>,
    /// Compute device: cpu (default), wgpu, cuda, gpu (any GPU backend built in) or auto (a GPU if one works, else cpu)
    #[arg(long)]
    pub accelerator: Option<String>,
    /// Logger: csv (local files), none, or mlflow (local files unless MLFLOW_TRACKING_URI names a server)
    #[arg(long)]
    pub logger: Option<String>,
    /// Canonical config file (TOML, YAML or JSON) with a [training] section
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue an earlier run up to --max-epochs from its checkpoint (weights, optimizer state,
    /// learning rate, history): OUTPUT/checkpoints/last, or the checkpoint directory given
    #[arg(long, value_name = "CHECKPOINT_DIR", num_args = 0..=1)]
    pub resume: Option<Option<PathBuf>>,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub legacy: LegacyTrainFlags,
}

/// The seed's legacy flags (hidden from help, accepted with a deprecation note).
#[derive(Debug, clap::Args)]
pub struct LegacyTrainFlags {
    /// Deprecated: directory (or file) of training NPZ data; use --train-data-file
    #[arg(long = "ptycho_dir", hide = true)]
    pub ptycho_dir: Option<PathBuf>,
    /// Deprecated: the probe comes from the data's probeGuess
    #[arg(long = "probe_dir", hide = true)]
    pub probe_dir: Option<PathBuf>,
    /// Deprecated: use --max-epochs
    #[arg(long = "max_epochs", hide = true)]
    pub legacy_max_epochs: Option<usize>,
    /// Deprecated: use --accelerator
    #[arg(long = "device", hide = true)]
    pub device: Option<String>,
    /// Deprecated: use --logger none
    #[arg(long = "disable_mlflow", hide = true)]
    pub disable_mlflow: bool,
    /// Deprecated: use --output-dir
    #[arg(long = "output_dir", hide = true)]
    pub legacy_output_dir: Option<PathBuf>,
}

pub fn deprecated(old: &str, new: &str) {
    eprintln!("warning: {old} is deprecated; use {new}");
}

/// First `.npz` file of a directory (sorted by name), or the path itself when it is a file.
pub fn npz_in(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npz"))
        .collect();
    files.sort();
    files.into_iter().next().with_context(|| {
        format!(
            "{}: expected a directory with an .npz file, found none",
            path.display()
        )
    })
}

/// The compute device of `--accelerator` (the CPU when absent); refuses backends this build or
/// this machine cannot run.
pub fn check_accelerator(value: Option<&str>) -> anyhow::Result<ComputeDevice> {
    let accelerator = match value {
        Some(text) => text.parse::<Accelerator>()?,
        None => Accelerator::Cpu,
    };
    let device = accelerator.select()?;
    if accelerator != Accelerator::Cpu {
        eprintln!("running on the {} backend", device.backend());
    }
    Ok(device)
}

/// Checks the logger choice and says where logs go.
pub fn check_logger(value: Option<&str>) -> anyhow::Result<()> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("csv") | Some("none") => Ok(()),
        Some("mlflow") => {
            match std::env::var("MLFLOW_TRACKING_URI").ok().as_deref() {
                None | Some("") | Some("memory") => {}
                Some(uri) => eprintln!(
                    "warning: MLFLOW_TRACKING_URI={uri}: remote tracking is not supported; logging to local files"
                ),
            }
            Ok(())
        }
        Some(other) => bail!("--logger: expected csv, none or mlflow, found {other:?}"),
    }
}

fn base_config(path: Option<&Path>) -> anyhow::Result<(TrainingConfig, ExecutionConfig, bool)> {
    let Some(path) = path else {
        return Ok((TrainingConfig::default(), ExecutionConfig::default(), false));
    };
    let loaded = ConfigDocument::load(path)
        .with_context(|| format!("cannot load config {}", path.display()))?;
    for w in &loaded.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    let doc = loaded.value;
    let training = doc.training.with_context(|| {
        format!(
            "{}: expected a [training] section, found none",
            path.display()
        )
    })?;
    Ok((training, doc.execution, true))
}

/// Whether the config file sets `nphotons` itself (in `[training]` or at the top level);
/// otherwise the photon scale is measured from the data.
fn config_sets_nphotons(path: &Path) -> anyhow::Result<bool> {
    let format = Format::from_path(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let value = format
        .parse(&text)
        .with_context(|| format!("cannot parse config {}", path.display()))?;
    let names_it = |v: Option<&serde_json::Value>| v.and_then(|t| t.get("nphotons")).is_some();
    Ok(names_it(Some(&value)) || names_it(value.get("training")))
}

/// The checkpoint directory of `--resume` (`OUTPUT/checkpoints/last` when given no value).
fn resume_dir(flag: Option<&Option<PathBuf>>, output_dir: &Path) -> Option<PathBuf> {
    flag.map(|dir| {
        dir.clone()
            .unwrap_or_else(|| output_dir.join("checkpoints").join("last"))
    })
}

/// Runs `ptycho train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let legacy = &args.legacy;
    let train_file = match (&args.train_data_file, &legacy.ptycho_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(dir)) => {
            deprecated("--ptycho_dir", "--train-data-file");
            npz_in(dir)?
        }
        (None, None) => bail!("--train-data-file: expected a training NPZ, found none"),
    };
    if legacy.probe_dir.is_some() {
        deprecated(
            "--probe_dir",
            "the data file's probeGuess (the flag is ignored)",
        );
    }
    let max_epochs = args.max_epochs.or_else(|| {
        legacy
            .legacy_max_epochs
            .inspect(|_| deprecated("--max_epochs", "--max-epochs"))
    });
    let accelerator = args.accelerator.clone().or_else(|| {
        legacy
            .device
            .clone()
            .inspect(|_| deprecated("--device", "--accelerator"))
    });
    let device = check_accelerator(accelerator.as_deref())?;
    let logger = if legacy.disable_mlflow {
        deprecated("--disable_mlflow", "--logger none");
        Some("none".to_owned())
    } else {
        args.logger.clone()
    };
    check_logger(logger.as_deref())?;
    let output_dir = match (&args.output_dir, &legacy.legacy_output_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => {
            deprecated("--output_dir", "--output-dir");
            d.clone()
        }
        (None, None) => PathBuf::from("training_outputs"),
    };

    let (mut training, mut execution, from_file) = base_config(args.config.as_deref())?;
    let nphotons_in_file = match &args.config {
        Some(path) => config_sets_nphotons(path)?,
        None => false,
    };
    let scan = ScanData::load(&train_file)
        .with_context(|| format!("cannot load training data {}", train_file.display()))?;
    for w in &scan.warnings {
        eprintln!("warning: {}: {w:?}", train_file.display());
    }
    let scan = args.detector.apply(scan.data, "training data")?;
    if !from_file {
        training.model.N = scan.patch_size();
    }
    training.train_data_file = Some(train_file.clone());
    training.test_data_file = args.test_data_file.clone();
    training.output_dir = output_dir.clone();
    if let Some(v) = args.n_groups {
        training.n_groups = v;
    }
    if let Some(v) = args.gridsize {
        training.model.gridsize = v;
    }
    if let Some(v) = max_epochs {
        training.nepochs = v;
    }
    if let Some(v) = args.batch_size {
        training.batch_size = v;
    }
    if let Some(v) = args.n_filters_scale {
        training.model.n_filters_scale = v;
    }
    match args.nphotons {
        Some(v) => training.nphotons = v,
        None if nphotons_in_file => {}
        None if scan.amplitudes_are_photon_counts() => {
            training.nphotons = scan.mean_photons_per_pattern();
            println!(
                "photon scale from the data: {:.4e} photons per pattern on average (--nphotons overrides)",
                training.nphotons
            );
        }
        None => println!(
            "the diffraction amplitudes are not square roots of whole photon counts (normalised data?): nphotons stays {:e} (--nphotons sets it)",
            training.nphotons
        ),
    }
    if let Some(v) = args.seed {
        training.subsample_seed = Some(v);
    }
    if let Some(v) = args.learning_rate {
        execution.learning_rate = v;
    }
    let test = match &args.test_data_file {
        Some(f) => {
            let test = ScanData::load(f)
                .with_context(|| format!("cannot load test data {}", f.display()))?
                .data;
            Some(DataInput::Raw(args.detector.apply(test, "test data")?))
        }
        None => None,
    };
    let resume = resume_dir(args.resume.as_ref(), &output_dir);
    let options = RunOptions {
        output_dir: output_dir.clone(),
        stitch: test.is_some(),
        stitch_crop: None,
        stitch_weighting: ptycho_workflows::StitchWeighting::Uniform,
        train: TrainOptions {
            progress: !args.quiet,
            seed: args.seed,
            resume: resume.clone(),
            validation_split: None,
            device,
        },
    };
    let mut params = LegacyParams::with_defaults();
    let outcome = run_cdi_example(
        DataInput::Raw(scan),
        test,
        ConfigInput::WithExecution(training, execution),
        &mut params,
        &options,
    )
    .context("training failed")?;
    let checkpoint = outcome
        .trained
        .save_checkpoint(&output_dir.join("checkpoints").join("last"))
        .context("cannot write the checkpoint")?;
    let history = &outcome.trained.history;
    if let Some(dir) = &resume {
        println!(
            "resumed from {}; the history holds epochs 1..{}",
            dir.display(),
            history.epochs.len()
        );
    }
    println!(
        "trained {} epoch(s) on {} groups: loss {:.6e} -> {:.6e}",
        history.epochs.len(),
        history.train_groups,
        history.epochs.first().map(|e| e.loss).unwrap_or(f64::NAN),
        history.epochs.last().map(|e| e.loss).unwrap_or(f64::NAN),
    );
    println!("bundle: {}", outcome.bundle_path.display());
    println!("checkpoint: {}", checkpoint.display());
    println!("history: {}", outcome.history_files.0.display());
    if let Some(s) = &outcome.stitched {
        for f in &s.files {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}
