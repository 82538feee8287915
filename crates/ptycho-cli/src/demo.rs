//! `ptycho demo`: the main job end to end on the built-in simulated dataset: simulate a dense
//! raster scan of a lines object (like the checked-in `sim_lines_n64` fixture: 1e9 photons,
//! default probe), train the physics-informed network on it (gridsize 2, n_filters_scale 1,
//! amplitude-MAE loss as in the 2023 paper's ablation), save the bundle, reload it from disk,
//! reconstruct the scan and write images and metrics against the known object.
//!
//! PtychoPINN is self-supervised: the diffraction alone trains it, so reconstructing the scan
//! it was trained on is the single-scan use (the object is never seen in training).

use std::path::PathBuf;

use anyhow::Context;
use ptycho_config::{ExecutionConfig, LegacyParams, ModelConfig, TrainingConfig};
use ptycho_data::simulate::fixture::write_simulated_dataset;
use ptycho_data::{ObjectKind, ProbeSource, ScanKind, SimulationConfig};
use ptycho_workflows::{
    ConfigInput, DataInput, InferenceModel, ReconstructOptions, RunOptions, StitchWeighting,
    TrainOptions, ensure_container, reconstruct_and_write, run_cdi_example_observed,
};

use crate::progress::{ProgressMode, TrainProgress};

/// Arguments of `ptycho demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output directory (data, bundle, history, images, metrics)
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Training epochs
    #[arg(long, default_value_t = 160)]
    pub epochs: usize,
    /// Groups trained on and then reconstructed (drawn from the scan with the seed)
    #[arg(long, default_value_t = 64)]
    pub groups: usize,
    /// Side of the square raster of scan positions (step 4 px)
    #[arg(long, default_value_t = 16)]
    pub raster: usize,
    /// Group side (patterns per group = gridsize²)
    #[arg(long, default_value_t = 2)]
    pub gridsize: usize,
    /// Width multiplier of the generator's convolutions
    #[arg(long, default_value_t = 1)]
    pub n_filters_scale: usize,
    /// Pattern size N (64, 128 or 256)
    #[arg(long, default_value_t = 64)]
    pub patch_size: usize,
    /// Seed of the simulation and the training (1: the object and scan of the checked-in
    /// `fixtures/datasets/sim_lines_n64.npz`)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress (neither the bar nor the per-epoch lines)
    #[arg(long)]
    pub quiet: bool,
}

/// Raster step in pixels (the probe disk is about 22 px wide at N = 64: dense overlap).
const STEP: usize = 4;

fn simulation(args: &DemoArgs) -> SimulationConfig {
    // The raster spans (raster - 1)·STEP px; the object adds N/2 on each side, as
    // `ScanKind::Grid` keeps every position N/2 inside the object.
    let span = (args.raster.max(1) - 1) * STEP;
    SimulationConfig {
        n: args.patch_size,
        object_size: span + args.patch_size + 4,
        object: ObjectKind::Lines,
        probe: ProbeSource::Default,
        scan: ScanKind::Grid { step: STEP as f64 },
        n_images: args.raster.max(1).pow(2),
        nphotons: 1e9,
        poisson: true,
        seed: args.seed,
    }
}

/// Runs `ptycho demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let out = &args.output_dir;
    let data_dir = out.join("data");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let train_file = data_dir.join("scan.npz");
    let test_file = train_file.clone();
    let train_sim = simulation(&args);
    write_simulated_dataset(&train_sim, &train_file)
        .with_context(|| format!("cannot simulate {}", train_file.display()))?;
    println!(
        "simulated {} ({} positions on a {}-px lines object, {:e} photons per pattern)",
        train_file.display(),
        train_sim.n_images,
        train_sim.object_size,
        train_sim.nphotons
    );

    let training = TrainingConfig {
        model: ModelConfig {
            N: args.patch_size,
            gridsize: args.gridsize,
            n_filters_scale: args.n_filters_scale,
            probe_big: false,
            ..ModelConfig::default()
        },
        train_data_file: Some(train_file.clone()),
        test_data_file: Some(test_file.clone()),
        output_dir: out.clone(),
        nepochs: args.epochs,
        batch_size: 4,
        n_groups: args.groups.min(train_sim.n_images),
        // A patient plateau schedule: the loss stays flat for the first ~10 epochs before the
        // object's structure appears, which an impatient schedule would mistake for a plateau.
        plateau_patience: 10,
        nphotons: train_sim.nphotons,
        subsample_seed: Some(args.seed),
        mae_weight: 1.0,
        nll_weight: 0.0,
        ..TrainingConfig::default()
    };
    let execution = ExecutionConfig {
        learning_rate: 1e-3,
        // Every group trains (the reconstruction uses them all), so the plateau schedule
        // watches the training loss.
        validation_split: Some(0.0),
        ..ExecutionConfig::default()
    };
    let options = RunOptions::new(out.clone())
        .with_stitch(false)
        .with_train(TrainOptions::default().with_seed(args.seed));
    let mut params = LegacyParams::with_defaults();
    let mut progress = TrainProgress::new(ProgressMode::choose(args.quiet, None));
    let outcome = run_cdi_example_observed(
        DataInput::Npz(train_file),
        None,
        ConfigInput::WithExecution(training, execution),
        &mut params,
        &options,
        &mut progress,
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
    // The groups it trained on (same n_groups and seed): the self-supervised single-scan use.
    // Groups the model never saw (other neighbour combinations) come out blurrier: with 64
    // training groups the validation loss stops falling long before the training loss.
    let config = model.config().clone();
    let container = ensure_container(DataInput::Npz(test_file.clone()), &config)
        .context("cannot prepare the test scan")?;
    let result = reconstruct_and_write(
        &model,
        &container,
        out,
        // |P|² weights over the whole support: with one group per four positions, the
        // upstream 20 px uniform crop leaves gaps between groups.
        &ReconstructOptions::default().with_weighting(StitchWeighting::Probe),
        Some(&bundle.path),
        Some(&test_file),
    )
    .context("reconstruction failed")?;
    println!(
        "reconstructed the {} groups it trained on (stitch crop {} px)",
        result.object.patches, result.crop
    );
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
