//! `ptycho infer`: reconstruct a scan with a saved bundle. The bundle carries the exact training
//! config, so no model flags exist; outputs are the amplitude and phase PNGs, the complex
//! object NPZ with metadata, and metrics JSON when the data has a ground-truth object.

use std::path::PathBuf;

use anyhow::Context;
use ptycho_workflows::{
    InferenceModel, ReconstructOptions, RefineSpec, StitchWeighting, reconstruct_and_stitch,
    refine_scan, write_refined, write_stitch_result,
};

use crate::detector::DetectorArgs;
use crate::infer_config::InferSetup;
use crate::input::load_scan;
use crate::product_out::{ProductSource, check_request, write_product};
use crate::progress::{ProgressMode, StageProgress};
use crate::train::check_accelerator;

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
    /// Data to reconstruct (canonical NPZ, or HDF5 diffraction with --positions)
    #[arg(long)]
    pub test_data_file: Option<PathBuf>,
    /// Positions and probe of an HDF5 --test-data-file: a ptychodus product (.h5 or .npz)
    #[arg(long)]
    pub positions: Option<PathBuf>,
    /// Also write the reconstruction as a ptychodus product (FILE.h5 or FILE.npz): object with
    /// its pixel size and centre, probe, positions in metres, training loss history
    #[arg(long, value_name = "FILE")]
    pub product: Option<PathBuf>,
    /// Object pixel size in metres for --product (default: the --positions product's)
    #[arg(long, value_name = "METRES")]
    pub pixel_size_m: Option<f64>,
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
    /// Groups per inference batch (default 64; more is faster on a GPU, costs memory)
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Config file whose [inference] section (model_path, test_data_file, output_dir,
    /// n_groups, subsampling, seed, neighbour search) and [execution] section
    /// (inference_batch_size, accelerator) this run follows; flags override it
    #[arg(long)]
    pub config: Option<PathBuf>,
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
    let setup = InferSetup::new(&args)?;
    let (model_path, data_file, output_dir) = (
        setup.model_path.clone(),
        setup.data_file.clone(),
        setup.output_dir.clone(),
    );
    let device = check_accelerator(setup.accelerator)?;

    let (model, bundle) = InferenceModel::load_on(&model_path, &device)
        .with_context(|| format!("cannot load the model {}", model_path.display()))?;
    let input = load_scan(
        &data_file,
        args.positions.as_deref(),
        "--test-data-file",
        "--positions",
    )
    .with_context(|| format!("cannot load test data {}", data_file.display()))?;
    input.warn(&data_file);
    if let Some(path) = &args.product {
        check_request(path, args.pixel_size_m, input.product.as_ref())?;
    }
    let full_n = input.data.patch_size();
    let scan = args.detector.apply(input.data, "test data")?;
    // `--crop` makes the real-space pixel coarser by the crop factor (`--bin` keeps it).
    let crop_factor = match args.detector.crop {
        Some(_) => full_n as f64 / scan.patch_size() as f64,
        None => 1.0,
    };
    let config = model.config().clone();
    let refine_input = (args.refine_epochs > 0).then(|| scan.clone());
    let product_scan = args.product.is_some().then(|| scan.clone());
    let prepared = match &setup.plan {
        Some(plan) => model.prepare_scan_planned(scan, plan),
        None => model.prepare_scan(scan, args.n_groups),
    };
    let container = prepared.with_context(|| format!("cannot prepare {}", data_file.display()))?;
    let options = ReconstructOptions::default()
        .with_stitch_crop(args.stitch_crop)
        .with_weighting(args.stitch_weighting.into())
        .with_batch_size(setup.batch_size);
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
    let mut refined_object = None;
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
        refined_object = Some(refined);
    }
    if let (Some(path), Some(scan)) = (&args.product, &product_scan) {
        write_product(
            path,
            &ProductSource {
                scan,
                input: input.product.as_ref(),
                pixel_size_m: args.pixel_size_m,
                crop_factor,
                network: &result.object,
                refined: refined_object.as_ref(),
                bundle: &bundle.path,
                data_file: &data_file,
            },
        )?;
    }
    Ok(())
}
