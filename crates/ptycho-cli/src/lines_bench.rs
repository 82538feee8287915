//! `ptycho lines-benchmark`: the 2023 paper's lines benchmark (simulate, train, reconstruct the
//! test object, grid-stitch, evaluate) at the paper's scale or a stated smaller one, writing
//! `metrics.json` (config, sizes, timings, metrics beside the paper's numbers), PNGs and the loss
//! history into `--output-dir`.

use std::path::PathBuf;

use anyhow::Context;
use ptycho_workflows::lines::{LinesBenchmarkConfig, LinesScale, human_duration};
use ptycho_workflows::lines_run::run_lines_benchmark;

use crate::progress::{ProgressMode, TrainProgress};

/// The scale presets of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleArg {
    /// The paper's setting: 2 x 392 px training objects at outer offset 8, 50 epochs (hours)
    Paper,
    /// The paper's objects and test scan, training windows 20 px apart, 6 epochs (~5-8 min idle)
    Reduced,
    /// A 96 px object, a few windows, one epoch (seconds; a smoke test)
    Smoke,
}

impl From<ScaleArg> for LinesScale {
    fn from(arg: ScaleArg) -> Self {
        match arg {
            ScaleArg::Paper => LinesScale::Paper,
            ScaleArg::Reduced => LinesScale::Reduced,
            ScaleArg::Smoke => LinesScale::Smoke,
        }
    }
}

/// Arguments of `ptycho lines-benchmark`.
#[derive(Debug, clap::Args)]
pub struct LinesBenchArgs {
    /// Output directory (metrics.json, PNGs, loss history, model bundle)
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Gridsize: 1 (the paper's PINN row) or 2 (full PtychoPINN)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub gridsize: u8,
    /// Scale preset; every value used is written into metrics.json
    #[arg(long, value_enum, default_value_t = ScaleArg::Reduced)]
    pub scale: ScaleArg,
    /// Maximum epochs (overrides the preset; the paper used 50)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub epochs: Option<u64>,
    /// Training windows are this / 2 pixels apart (overrides the preset; the paper used 8)
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=128))]
    pub outer_offset_train: Option<u64>,
    /// Seed of the objects, noise, weights and shuffling
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the size and the run-time estimate, then stop
    #[arg(long)]
    pub estimate_only: bool,
    /// No progress (neither the bar nor the per-epoch lines)
    #[arg(long)]
    pub quiet: bool,
}

impl LinesBenchArgs {
    /// The benchmark configuration these arguments ask for.
    pub fn config(&self) -> LinesBenchmarkConfig {
        let mut config =
            LinesBenchmarkConfig::preset(self.scale.into(), usize::from(self.gridsize));
        if let Some(epochs) = self.epochs {
            config.epochs = epochs as usize;
        }
        if let Some(outer) = self.outer_offset_train {
            config.outer_offset_train = outer as usize;
        }
        config.seed = self.seed;
        config
    }
}

/// Runs `ptycho lines-benchmark`.
pub fn run(args: LinesBenchArgs) -> anyhow::Result<()> {
    let config = args.config();
    config
        .validate()
        .context("invalid lines benchmark settings")?;
    let cost = config.cost();
    let paper = LinesBenchmarkConfig::preset(LinesScale::Paper, config.gridsize).cost();
    println!(
        "paper scale, gridsize {}: {}",
        config.gridsize,
        paper.summary()
    );
    println!(
        "this run ({} scale): {}",
        config.scale.as_str(),
        cost.summary()
    );
    if args.estimate_only {
        return Ok(());
    }
    let mut progress = TrainProgress::new(ProgressMode::choose(args.quiet, None));
    let outcome = run_lines_benchmark(&config, &args.output_dir, &mut progress, &mut |line| {
        println!("{line}")
    })
    .with_context(|| format!("lines benchmark into {} failed", args.output_dir.display()))?;
    let r = &outcome.report;
    let c = &r.comparison;
    println!(
        "amplitude (ours / paper {}): MAE {:.4} / {}, PSNR {:.1} / {} dB, FRC50 {:.1} / {}",
        c.paper.row,
        c.amplitude_mae,
        c.paper.amplitude_mae,
        c.amplitude_psnr_db,
        c.paper.amplitude_psnr_db,
        c.amplitude_frc50,
        c.paper.amplitude_frc50
    );
    println!(
        "SSIM amplitude {:.3}, phase MAE {:.4} rad; {} epochs, {} training patterns per epoch",
        r.metrics.ssim.amplitude,
        r.metrics.mae.phase,
        r.sizes.epochs_run,
        r.sizes.train_patterns_per_epoch
    );
    println!(
        "finished in {}; wrote {}",
        human_duration(r.seconds.total),
        args.output_dir.join("metrics.json").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: LinesBenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<LinesBenchArgs, clap::Error> {
        let mut full = vec!["lines-benchmark"];
        full.extend_from_slice(argv);
        Wrapper::try_parse_from(full).map(|w| w.args)
    }

    #[test]
    fn presets_and_overrides_reach_the_config() {
        let args = parse(&["--output-dir", "out", "--gridsize", "1", "--epochs", "3"]).unwrap();
        let c = args.config();
        assert_eq!((c.gridsize, c.epochs, c.scale), (1, 3, LinesScale::Reduced));
        assert_eq!(c.outer_offset_train, 40);
        let args = parse(&[
            "--output-dir",
            "out",
            "--scale",
            "paper",
            "--outer-offset-train",
            "16",
            "--seed",
            "9",
        ])
        .unwrap();
        let c = args.config();
        assert_eq!((c.gridsize, c.epochs, c.outer_offset_train), (2, 50, 16));
        assert_eq!(c.seed, 9);
    }

    #[test]
    fn bad_arguments_are_refused_clearly() {
        let e = parse(&["--output-dir", "o", "--gridsize", "3"]).unwrap_err();
        assert!(e.to_string().contains("3 is not in 1..=2"), "{e}");
        let e = parse(&["--output-dir", "o", "--scale", "huge"]).unwrap_err();
        assert!(e.to_string().contains("invalid value 'huge'"), "{e}");
        let e = parse(&["--output-dir", "o", "--epochs", "0"]).unwrap_err();
        assert!(e.to_string().contains("--epochs"), "{e}");
        assert!(parse(&["--gridsize", "2"]).is_err());
    }

    #[test]
    fn estimate_only_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bench");
        let args = parse(&[
            "--output-dir",
            out.to_str().unwrap(),
            "--scale",
            "paper",
            "--estimate-only",
        ])
        .unwrap();
        run(args).unwrap();
        assert!(!out.exists());
    }
}
