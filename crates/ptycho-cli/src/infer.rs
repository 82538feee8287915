//! `ptycho infer`: reconstruct a scan with a saved bundle. The bundle carries the exact training
//! config, so no model flags exist; outputs are the amplitude and phase PNGs, the complex
//! object NPZ with metadata, and metrics JSON when the data has a ground-truth object.

use std::path::PathBuf;

use anyhow::{Context, bail};
use ptycho_data::ScanData;
use ptycho_workflows::{
    Accelerator, DEFAULT_INFERENCE_BATCH, InferenceModel, ReconstructOptions, RefineSpec,
    StitchWeighting, reconstruct_and_stitch, refine_scan, write_refined, write_stitch_result,
};

use crate::detector::DetectorArgs;
use crate::progress::{ProgressMode, StageProgress};
use crate::train::{check_accelerator, deprecated, npz_in};

/// `--stitch-weighting` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StitchWeightingArg {
    /// Every pixel of the central crop counts once
    Uniform,
    /// Pixels weighted by the probe intensity
    Probe,
}

impl From<StitchWeightingArg> for StitchWeighting {
    fn from(arg: StitchWeightingArg) -> Self {
        match arg {
            StitchWeightingArg::Uniform => Self::Uniform,
            StitchWeightingArg::Probe => Self::Probe,
        }
    }
}

/// `--refine-from` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RefineStart {
    /// The network's stitched object
    Network,
    /// A flat object of amplitude 1 (the refinement alone, for comparison)
    Flat,
}

/// Arguments of `ptycho infer`.
#[derive(Debug, clap::Args)]
pub struct InferArgs {
    /// The model: a directory holding wts.h5.zip, the archive itself, or <dir>/wts.h5
    #[arg(long)]
    pub model_path: Option<PathBuf>,
    /// Data to reconstruct (canonical NPZ)
    #[arg(long)]
    pub test_data_file: Option<PathBuf>,
    /// Output directory for images, object NPZ and metrics
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Groups to reconstruct (default: every scan position for gridsize 1, else the bundle's n_groups)
    #[arg(long)]
    pub n_groups: Option<usize>,
    /// Stitch crop M (default min(20, N/2) with uniform weights, N/2 with probe weights)
    #[arg(long)]
    pub stitch_crop: Option<usize>,
    /// How overlapping patches are averaged: uniform (upstream TF) or probe (|P|²-weighted,
    /// seamless)
    #[arg(long, value_enum, default_value_t = StitchWeightingArg::Uniform)]
    pub stitch_weighting: StitchWeightingArg,
    /// Epochs of whole-field refinement after the network (object and probe fitted to the
    /// measured amplitudes, starting from the network's stitched object); 0 skips it. Written
    /// to OUTPUT/refined/
    #[arg(long, default_value_t = RefineSpec::default().epochs)]
    pub refine_epochs: usize,
    /// Incoherent probe modes of the refinement (a partially coherent beam); 1: one coherent probe
    #[arg(long, default_value_t = RefineSpec::default().probe_modes)]
    pub probe_modes: usize,
    /// What refinement starts from: the network's reconstruction or a flat object
    #[arg(long, value_enum, default_value_t = RefineStart::Network)]
    pub refine_from: RefineStart,
    /// Groups per inference batch (more is faster on a GPU, costs memory)
    #[arg(long, default_value_t = DEFAULT_INFERENCE_BATCH)]
    pub batch_size: usize,
    /// No progress lines
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Compute device: auto (default: a GPU backend if one works, else cpu), cpu, gpu (any GPU
    /// backend built in), cuda or wgpu
    #[arg(long)]
    pub accelerator: Option<String>,
    /// Deprecated: use --model-path
    #[arg(long = "checkpoint", hide = true)]
    pub checkpoint: Option<PathBuf>,
    /// Deprecated: use --test-data-file
    #[arg(long = "data_dir", hide = true)]
    pub data_dir: Option<PathBuf>,
    /// Deprecated: use --output-dir
    #[arg(long = "output_dir", hide = true)]
    pub legacy_output_dir: Option<PathBuf>,
    /// Deprecated: use --accelerator
    #[arg(long = "device", hide = true)]
    pub device: Option<String>,
}

/// Runs `ptycho infer`.
pub fn run(args: InferArgs) -> anyhow::Result<()> {
    let model_path = match (&args.model_path, &args.checkpoint) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => {
            deprecated("--checkpoint", "--model-path");
            p.clone()
        }
        (None, None) => bail!("--model-path: expected a bundle or its directory, found none"),
    };
    let data_file = match (&args.test_data_file, &args.data_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(d)) => {
            deprecated("--data_dir", "--test-data-file");
            npz_in(d)?
        }
        (None, None) => bail!("--test-data-file: expected an NPZ to reconstruct, found none"),
    };
    let output_dir = match (&args.output_dir, &args.legacy_output_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => {
            deprecated("--output_dir", "--output-dir");
            d.clone()
        }
        (None, None) => PathBuf::from("inference_outputs"),
    };
    let accelerator = args.accelerator.clone().or_else(|| {
        args.device
            .clone()
            .inspect(|_| deprecated("--device", "--accelerator"))
    });
    let accelerator = match accelerator.as_deref() {
        Some(text) => text
            .parse::<Accelerator>()
            .map_err(|e| anyhow::anyhow!("--accelerator: {e}"))?,
        None => Accelerator::default(),
    };
    let device = check_accelerator(accelerator)?;

    let (model, bundle) = InferenceModel::load_on(&model_path, &device)
        .with_context(|| format!("cannot load the model {}", model_path.display()))?;
    let scan = ScanData::load(&data_file)
        .with_context(|| format!("cannot load test data {}", data_file.display()))?
        .data;
    let scan = args.detector.apply(scan, "test data")?;
    let config = model.config().clone();
    let refine_input = (args.refine_epochs > 0).then(|| scan.clone());
    let container = model
        .prepare_scan(scan, args.n_groups)
        .with_context(|| format!("cannot prepare {}", data_file.display()))?;
    if args.batch_size == 0 {
        bail!("--batch-size: expected a positive number of groups, found 0");
    }
    let options = ReconstructOptions::default()
        .with_stitch_crop(args.stitch_crop)
        .with_weighting(args.stitch_weighting.into())
        .with_batch_size(args.batch_size);
    let mode = ProgressMode::choose(args.quiet, None);
    let mut progress = StageProgress::new(mode, "reconstructing groups");
    let mut result = reconstruct_and_stitch(&model, &container, &options, &mut |done, total| {
        progress.update(done, total)
    })
    .context("reconstruction failed")?;
    write_stitch_result(
        &output_dir,
        &mut result,
        &model,
        Some(&bundle.path),
        Some(&data_file),
    )
    .context("cannot write the reconstruction")?;
    let (h, w) = result.object.object.dim();
    println!(
        "reconstructed {} group(s) (N {}, gridsize {}) into a {h}x{w} object with the model {}",
        result.reconstruction.patches.shape()[0],
        config.model.N,
        config.model.gridsize,
        bundle.path.display()
    );
    if let Some(m) = &result.metrics {
        println!(
            "amplitude: MAE {:.4}, PSNR {:.2} dB, SSIM {:.3}",
            m.metrics.mae.amplitude, m.metrics.psnr_r255_db.amplitude, m.metrics.ssim.amplitude
        );
    }
    for f in &result.files {
        println!("wrote {}", f.display());
    }
    if let Some(scan) = refine_input {
        let spec = RefineSpec {
            epochs: args.refine_epochs,
            probe_modes: args.probe_modes,
            ..RefineSpec::default()
        };
        let from_network = args.refine_from == RefineStart::Network;
        let refined = refine_scan(
            &scan,
            from_network.then_some(&result.object),
            // The scan's own probeGuess: a probe the network refined belongs to its training
            // scan, and the refinement fits this scan's probe anyway.
            None,
            &spec,
            &device,
            &mut |epoch, misfit| {
                if mode != ProgressMode::Quiet
                    && ((epoch + 1) % 10 == 0 || epoch + 1 == spec.epochs)
                {
                    eprintln!(
                        "refinement epoch {}/{}: amplitude misfit {misfit:.4e}",
                        epoch + 1,
                        spec.epochs
                    );
                }
            },
        )
        .context("refinement failed")?;
        println!(
            "refined the {} object and the probe over {} patterns for {} epochs in {:.1} s: amplitude misfit {:.4e} -> {:.4e}",
            if from_network { "network's" } else { "flat" },
            scan.n_positions(),
            spec.epochs,
            refined.seconds,
            refined.loss.first().copied().unwrap_or(f64::NAN),
            refined.loss.last().copied().unwrap_or(f64::NAN),
        );
        for f in write_refined(&output_dir, &refined, &spec, from_network)? {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}
