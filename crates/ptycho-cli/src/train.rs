//! `ptycho train`: train on a canonical NPZ, save the bundle (`wts.h5.zip`), the
//! `checkpoints/last` checkpoint and the loss history, and reconstruct the test data when given.
//!
//! Configuration precedence: command-line flags > `--config FILE` > defaults; flags are config
//! overrides validated like file values (see [`crate::train_config`]); without a config file the
//! pattern size `N` is taken from the training data. The seed's legacy flags
//! (`--ptycho_dir`, `--probe_dir`, `--max_epochs`, `--device`, `--disable_mlflow`) are accepted
//! with a deprecation note.

use std::path::{Path, PathBuf};

use crate::detector::DetectorArgs;
use crate::train_config::TrainSetup;
use anyhow::Context;
use ptycho_config::LegacyParams;
use ptycho_workflows::{
    Accelerator, ComputeDevice, ConfigInput, DataInput, RunOptions, RunOutcome, TrainOptions,
    run_cdi_example_observed,
};

use crate::input::load_scan;
use crate::progress::{ProgressMode, TrainProgress};

/// Arguments of `ptycho train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Training data (canonical NPZ, or HDF5 diffraction with --positions)
    #[arg(long)]
    pub train_data_file: Option<PathBuf>,
    /// Positions and probe of an HDF5 --train-data-file: a ptychodus product (.h5 or .npz)
    #[arg(long)]
    pub positions: Option<PathBuf>,
    /// Test data (canonical NPZ, or HDF5 diffraction with --test-positions): reconstructed and
    /// stitched after training
    #[arg(long)]
    pub test_data_file: Option<PathBuf>,
    /// Positions and probe of an HDF5 --test-data-file: a ptychodus product (.h5 or .npz)
    #[arg(long)]
    pub test_positions: Option<PathBuf>,
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
    /// Compute device (execution.accelerator): auto (default: a GPU backend if one works, else
    /// cpu), cpu, gpu (any GPU backend built in), cuda or wgpu
    #[arg(long)]
    pub accelerator: Option<String>,
    /// Logger (execution.logger_backend): csv (local files), none, or mlflow (local files unless MLFLOW_TRACKING_URI names a server)
    #[arg(long)]
    pub logger: Option<String>,
    /// Fraction of groups held out at the end for validation (execution.validation_split);
    /// default: 5 % when that holds out at least 16 groups, else none
    #[arg(long)]
    pub validation_split: Option<f64>,
    /// Canonical config file (TOML, YAML or JSON) with a [training] section
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue an earlier run up to --max-epochs from its checkpoint (weights, optimizer state,
    /// learning rate, history): OUTPUT/checkpoints/last, or the checkpoint directory given
    #[arg(long, value_name = "CHECKPOINT_DIR", num_args = 0..=1)]
    pub resume: Option<Option<PathBuf>>,
    /// No progress (neither the bar nor the per-epoch lines on stderr)
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

/// The compute device of `accelerator` (the config's `execution.accelerator`, which
/// `--accelerator` sets); refuses backends this build or this machine cannot run.
pub fn check_accelerator(accelerator: Accelerator) -> anyhow::Result<ComputeDevice> {
    let device = ComputeDevice::select(accelerator)?;
    if accelerator != Accelerator::Cpu {
        eprintln!("running on the {} backend", device.backend());
    }
    Ok(device)
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
    let setup = TrainSetup::new(&args)?;
    let device = check_accelerator(setup.execution().accelerator)?;
    let train_file = setup.train_file.clone();
    let scan = load_scan(
        &train_file,
        args.positions.as_deref(),
        "--train-data-file",
        "--positions",
    )
    .with_context(|| format!("cannot load training data {}", train_file.display()))?;
    scan.warn(&train_file);
    let scan = args.detector.apply(scan.data, "training data")?;
    let (training, execution) = setup.finish(&scan)?;
    let output_dir = training.output_dir.clone();
    let test = match &training.test_data_file {
        Some(f) => {
            let test = load_scan(
                f,
                args.test_positions.as_deref(),
                "--test-data-file",
                "--test-positions",
            )
            .with_context(|| format!("cannot load test data {}", f.display()))?;
            test.warn(f);
            let test = test.data;
            Some(DataInput::Raw(args.detector.apply(test, "test data")?))
        }
        None => None,
    };
    let resume = resume_dir(args.resume.as_ref(), &output_dir);
    let checkpoints = output_dir.join("checkpoints");
    let mut train = TrainOptions::default()
        .with_device(device)
        .with_checkpoints(&checkpoints);
    if let Some(seed) = args.seed {
        train = train.with_seed(seed);
    }
    if let Some(dir) = &resume {
        train = train.with_resume(dir);
    }
    let options = RunOptions::new(&output_dir)
        .with_stitch(test.is_some())
        .with_train(train);
    let mode = ProgressMode::choose(args.quiet, execution.enable_progress_bar);
    let mut progress = TrainProgress::new(mode);
    let mut params = LegacyParams::with_defaults();
    let outcome = run_cdi_example_observed(
        DataInput::Raw(scan),
        test,
        ConfigInput::WithExecution(training, execution),
        &mut params,
        &options,
        &mut progress,
    )
    .context("training failed")?;
    report(&outcome, resume.as_deref(), &checkpoints);
    Ok(())
}

/// The summary a finished run prints on stdout.
fn report(outcome: &RunOutcome, resumed: Option<&Path>, checkpoints: &Path) {
    let history = &outcome.trained.history;
    if let Some(dir) = resumed {
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
    if outcome.config.execution.enable_checkpointing {
        println!("checkpoints: {}", checkpoints.display());
    }
    if let Some((csv, _)) = &outcome.history_files {
        println!("history: {}", csv.display());
    }
    if let Some(s) = &outcome.stitched {
        for f in &s.files {
            println!("wrote {}", f.display());
        }
    }
}
