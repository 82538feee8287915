//! `ptycho simulate`: writes a synthetic canonical dataset (with ground truth) made by
//! `ptycho_data::simulate`.

use std::path::PathBuf;

use anyhow::Context;
use ptycho_data::simulate::fixture::write_dataset_with_manifest;
use ptycho_data::{
    Compression, ObjectKind, ProbeSource, ScanKind, SimulationConfig, simulate_with,
};

use crate::progress::{ProgressMode, StageProgress};

/// The synthetic object.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ObjectArg {
    /// Gaussian-blurred random lines
    Lines,
    /// Gaussian random field
    Grf,
}

/// Arguments of `ptycho simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Output NPZ file
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Synthetic object
    #[arg(long, value_enum, default_value = "lines")]
    pub object: ObjectArg,
    /// Number of scan positions
    #[arg(long, default_value_t = 500)]
    pub n_images: usize,
    /// Mean photons per diffraction pattern
    #[arg(long, default_value_t = 1e9)]
    pub nphotons: f64,
    /// Seed of the object, scan and noise
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Pattern size N (ignored with --probe, whose size is used)
    #[arg(long = "patch-size", default_value_t = 64)]
    pub patch_size: usize,
    /// Object side in pixels
    #[arg(long, default_value_t = 256)]
    pub object_size: usize,
    /// Take the probe (`probeGuess`) from this NPZ instead of the default disk probe
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// Scan a regular grid with this step in pixels instead of random positions
    #[arg(long)]
    pub grid_step: Option<f64>,
    /// Store expected amplitudes without Poisson noise
    #[arg(long)]
    pub no_noise: bool,
    /// Leave out the ground-truth patches `Y` (they follow from `objectGuess` and the
    /// coordinates); at N = 64 this makes the file about four times smaller
    #[arg(long)]
    pub without_y: bool,
    /// Write members uncompressed (np.savez) instead of compressed
    #[arg(long)]
    pub uncompressed: bool,
    /// Also write a JSON manifest (version, generator, config, sha256, shapes) next to the file
    #[arg(long)]
    pub manifest: bool,
    /// No progress lines
    #[arg(long)]
    pub quiet: bool,
}

impl SimulateArgs {
    fn config(&self) -> SimulationConfig {
        SimulationConfig {
            n: self.patch_size,
            object_size: self.object_size,
            object: match self.object {
                ObjectArg::Lines => ObjectKind::Lines,
                ObjectArg::Grf => ObjectKind::Grf,
            },
            probe: self
                .probe
                .clone()
                .map_or(ProbeSource::Default, ProbeSource::Npz),
            scan: self
                .grid_step
                .map_or(ScanKind::Random, |step| ScanKind::Grid { step }),
            n_images: self.n_images,
            nphotons: self.nphotons,
            poisson: !self.no_noise,
            seed: self.seed,
        }
    }
}

/// Runs `ptycho simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    let out = &args.output;
    let mode = ProgressMode::choose(args.quiet, None);
    let mut progress = StageProgress::new(mode, "simulating patterns");
    let mut scan = simulate_with(&cfg, &mut |done, total| progress.update(done, total))
        .with_context(|| format!("cannot simulate {}", out.display()))?;
    if args.without_y {
        scan.y_patches = None;
    }
    if args.manifest {
        let m = write_dataset_with_manifest(&scan, &cfg, out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!(
            "wrote {} ({} patterns of {:?}) and {}",
            out.display(),
            m.shapes["diffraction"][0],
            &m.shapes["diffraction"][1..],
            out.with_extension("json").display()
        );
        return Ok(());
    }
    let compression = if args.uncompressed {
        Compression::Stored
    } else {
        Compression::Deflated
    };
    scan.save(out, compression)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({} patterns of {}x{}, object {:?}, nphotons {:e}, seed {})",
        out.display(),
        scan.n_positions(),
        scan.patch_size(),
        scan.patch_size(),
        scan.object
            .as_ref()
            .map(|o| o.shape().to_vec())
            .unwrap_or_default(),
        cfg.nphotons,
        cfg.seed
    );
    Ok(())
}
