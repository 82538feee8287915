//! `--crop N` and `--bin F`: two ways to train and reconstruct at a quarter of the detector
//! pixels, shared by `train` and `infer` so that both apply exactly the same reduction.
//!
//! * crop keeps the central N × N pixels: the real-space pixel grows by the crop factor and
//!   positions shrink with it (half the resolution, same field of view). It suits a probe whose
//!   far field sits near the centre of the detector.
//! * bin sums F × F detector blocks: the same real-space pixel, a field of view F times smaller
//!   (the probe keeps its central window). It suits a focused probe whose far field fills the
//!   detector (a zone plate's ring), where a centre crop would throw most photons away.

use anyhow::{Context, bail};
use ptycho_data::{ScanData, bin_detector, crop_detector, tilt_to_block_centres};

/// Below this share of the probe's power inside the binned window, `--bin` warns.
const PROBE_POWER_WARNING: f64 = 0.95;

/// The detector reduction flags of `train` and `infer`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DetectorArgs {
    /// Keep only the central N x N detector pixels (coarser real-space pixel, positions scaled)
    #[arg(long, value_name = "N", conflicts_with = "bin")]
    pub crop: Option<usize>,
    /// Sum F x F detector blocks (same real-space pixel, field of view / F, probe windowed)
    #[arg(long, value_name = "F")]
    pub bin: Option<usize>,
}

impl DetectorArgs {
    /// Applies the reduction to `scan` (named `what` in messages) and says what it did.
    pub fn apply(&self, scan: ScanData, what: &str) -> anyhow::Result<ScanData> {
        let n = scan.patch_size();
        match (self.crop, self.bin) {
            (Some(_), Some(_)) => bail!("--crop and --bin: expected one of them, found both"),
            (Some(crop), None) => {
                let out = crop_detector(&scan, crop).with_context(|| format!("--crop {crop}"))?;
                println!(
                    "{what}: detector cropped to its central {crop}x{crop} of {n}x{n} pixels: real-space pixel {}x larger, positions divided by {}",
                    n / crop,
                    n / crop
                );
                Ok(out)
            }
            (None, Some(factor)) => {
                let mut binned =
                    bin_detector(&scan, factor).with_context(|| format!("--bin {factor}"))?;
                // The binned pixel averages the far field over its block, whose centre is off
                // the coarse model's sampling point by (f−1)/(2f) pixel; the tilt moves the
                // model's samples onto the block centres (1.5 % instead of 14 % misfit).
                binned.scan.probe = tilt_to_block_centres(&binned.scan.probe, factor);
                let kept = binned.probe_power_kept;
                println!(
                    "{what}: detector binned {factor}x{factor}: {n}x{n} -> {m}x{m} pixels at the same real-space pixel; the {m}x{m} probe window keeps {:.1} % of the probe's power",
                    100.0 * kept,
                    m = n / factor
                );
                if kept < PROBE_POWER_WARNING {
                    eprintln!(
                        "warning: {what}: the binned probe window loses {:.1} % of the probe's power; the model will fit the data worse (bin less)",
                        100.0 * (1.0 - kept)
                    );
                }
                Ok(binned.scan)
            }
            (None, None) => Ok(scan),
        }
    }
}
