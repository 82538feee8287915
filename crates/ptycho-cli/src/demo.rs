//! `ptycho demo`: the main job end to end on the built-in simulated dataset: simulate a
//! training and a test scan of a lines object, train, save the bundle, reload it, reconstruct
//! the test scan and write images and metrics.

use std::path::PathBuf;

use anyhow::Context;
use ptycho_config::{ExecutionConfig, LegacyParams, ModelConfig, TrainingConfig};
use ptycho_data::simulate::fixture::write_simulated_dataset;
use ptycho_data::{ObjectKind, ProbeSource, ScanKind, SimulationConfig};
use ptycho_workflows::{
    ConfigInput, DataInput, InferenceModel, RunOptions, TrainOptions, ensure_container,
    reconstruct_and_write, run_cdi_example,
};

/// Arguments of `ptycho demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output directory (data, bundle, history, images, metrics)
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Training epochs
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Scan positions of the training scan (the test scan has half as many)
    #[arg(long, default_value_t = 192)]
    pub n_images: usize,
    /// Pattern size N (64, 128 or 256)
    #[arg(long, default_value_t = 64)]
    pub patch_size: usize,
    /// Seed of the simulation and the training
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
}

fn simulation(args: &DemoArgs, n_images: usize, seed: u64) -> SimulationConfig {
    SimulationConfig {
        n: args.patch_size,
        object_size: 4 * args.patch_size,
        object: ObjectKind::Lines,
        probe: ProbeSource::Default,
        scan: ScanKind::Random,
        n_images,
        nphotons: 1e6,
        poisson: true,
        seed,
    }
}

/// Runs `ptycho demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let out = &args.output_dir;
    let data_dir = out.join("data");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let train_file = data_dir.join("train.npz");
    let test_file = data_dir.join("test.npz");
    let train_sim = simulation(&args, args.n_images, args.seed);
    write_simulated_dataset(&train_sim, &train_file)
        .with_context(|| format!("cannot simulate {}", train_file.display()))?;
    // Same object (same seed), fewer fresh scan positions would need a separate object seed;
    // the test scan is an independent simulation of a new lines object.
    let test_sim = simulation(&args, (args.n_images / 2).max(1), args.seed + 1);
    write_simulated_dataset(&test_sim, &test_file)
        .with_context(|| format!("cannot simulate {}", test_file.display()))?;
    println!(
        "simulated {} and {}",
        train_file.display(),
        test_file.display()
    );

    let training = TrainingConfig {
        model: ModelConfig {
            N: args.patch_size,
            probe_big: false,
            ..ModelConfig::default()
        },
        train_data_file: Some(train_file.clone()),
        test_data_file: Some(test_file.clone()),
        output_dir: out.clone(),
        nepochs: args.epochs,
        batch_size: 16,
        n_groups: args.n_images,
        nphotons: train_sim.nphotons,
        subsample_seed: Some(args.seed),
        mae_weight: 1.0,
        nll_weight: 0.0,
        ..TrainingConfig::default()
    };
    let execution = ExecutionConfig {
        learning_rate: 2e-3,
        ..ExecutionConfig::default()
    };
    let options = RunOptions {
        output_dir: out.clone(),
        stitch: false,
        stitch_crop: None,
        train: TrainOptions {
            progress: !args.quiet,
            seed: Some(args.seed),
            resume: None,
            validation_split: None,
        },
    };
    let mut params = LegacyParams::with_defaults();
    let outcome = run_cdi_example(
        DataInput::Npz(train_file),
        None,
        ConfigInput::WithExecution(training, execution),
        &mut params,
        &options,
    )
    .context("training failed")?;
    println!(
        "trained {} epochs in {:.1} s; bundle {}",
        outcome.trained.history.epochs.len(),
        started.elapsed().as_secs_f64(),
        outcome.bundle_path.display()
    );

    // Reload from disk: inference uses only what the bundle carries.
    let (model, bundle) =
        InferenceModel::load(&outcome.bundle_path).context("cannot reload the bundle")?;
    let mut config = model.config().clone();
    config.n_groups = test_sim.n_images;
    let container = ensure_container(DataInput::Npz(test_file.clone()), &config)
        .context("cannot prepare the test scan")?;
    let result = reconstruct_and_write(
        &model,
        &container,
        out,
        None,
        Some(&bundle.path),
        Some(&test_file),
    )
    .context("reconstruction failed")?;
    if let Some(m) = &result.metrics {
        println!(
            "test amplitude: MAE {:.4}, PSNR {:.2} dB, SSIM {:.3}, FRC50 {:?}",
            m.metrics.mae.amplitude,
            m.metrics.psnr_r255_db.amplitude,
            m.metrics.ssim.amplitude,
            m.metrics.frc50.amplitude
        );
    }
    for f in &result.files {
        println!("wrote {}", f.display());
    }
    println!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
