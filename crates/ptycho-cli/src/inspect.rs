//! `ptycho inspect FILE.npz`: what a dataset holds (members, shapes, dtypes, value ranges) and,
//! when it breaks the canonical contract, exactly what is wrong. Exits non-zero for an invalid file.
//!
//! `ptycho inspect product.h5|product.npz|scan.h5` describes a ptychodus product or an HDF5
//! diffraction file (HDF5 needs the `hdf5` feature; without it the file is refused with the
//! command that builds it in).
//!
//! `ptycho inspect wts.h5.zip` (or a directory holding one, e.g. a training output directory)
//! describes a model bundle instead: manifest, models, tensors with shapes and parameter counts,
//! intensity scale and the restored training config, after the same strict checks as loading.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ptycho_bundle::inspect_bundle;
use ptycho_config::{ConfigDocument, Format};
use ptycho_data::{IntensityPolicy, LoadOptions, NpzReader, ScanData};

/// Arguments of `ptycho inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The NPZ file to describe and check, a model bundle (`wts.h5.zip` or its directory), a
    /// ptychodus product (.npz, .h5) or an HDF5 diffraction file
    pub file: PathBuf,
    /// Accept photon counts and describe them converted to amplitudes (sqrt)
    #[arg(long)]
    pub allow_intensity: bool,
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let (mut lo, mut hi, mut sum, mut k) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
        sum += v;
        k += 1;
    }
    (lo, hi, if k > 0 { sum / k as f64 } else { f64::NAN })
}

/// A directory or a `.zip` file is a model bundle; anything else is read as an NPZ dataset
/// (whose members would be refused by the bundle reader anyway).
fn is_bundle_path(path: &Path) -> bool {
    path.is_dir()
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Describes a bundle after the loader's checks; the error names what is wrong with it.
fn describe_bundle(path: &Path) -> anyhow::Result<()> {
    let summary = inspect_bundle(path, &ptycho_bundle::LoadOptions::default())
        .with_context(|| format!("cannot inspect the model bundle {}", path.display()))?;
    print!("{summary}");
    let config = ConfigDocument::from_training(summary.config.clone())
        .to_string(Format::Toml)
        .context("cannot render the restored training config")?;
    println!("restored training config (TOML, usable with `ptycho train --config`):");
    for line in config.lines() {
        println!("  {line}");
    }
    println!("valid model bundle");
    Ok(())
}

/// Runs `ptycho inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let path = &args.file;
    if is_bundle_path(path) {
        return describe_bundle(path);
    }
    if let Some(described) = crate::input::describe_non_canonical(path) {
        return described.with_context(|| format!("cannot inspect {}", path.display()));
    }
    let mut reader =
        NpzReader::open(path).with_context(|| format!("cannot inspect {}", path.display()))?;
    println!("{}", path.display());
    println!("  members:");
    for name in reader.names().to_vec() {
        match reader.header(&name) {
            Ok(Some(h)) => println!(
                "    {name:<22} {:<11} {:?}{}",
                h.dtype,
                h.shape,
                if h.fortran_order {
                    " (fortran order)"
                } else {
                    ""
                }
            ),
            Ok(None) => {}
            Err(e) => println!("    {name:<22} unreadable: {e}"),
        }
    }
    let options = LoadOptions {
        intensity: if args.allow_intensity {
            IntensityPolicy::ConvertToAmplitude
        } else {
            IntensityPolicy::Reject
        },
    };
    let loaded = ScanData::load_with(path, &options).context("not a valid canonical dataset")?;
    let d = &loaded.data;
    println!(
        "  scan positions: {}    pattern size N: {}",
        d.n_positions(),
        d.patch_size()
    );
    let (lo, hi, mean) = range(d.diffraction.iter().map(|&v| f64::from(v)));
    println!("  diffraction amplitude: min {lo:.4e}  max {hi:.4e}  mean {mean:.4e}");
    let (xl, xh, _) = range(d.xcoords.iter().copied());
    let (yl, yh, _) = range(d.ycoords.iter().copied());
    println!("  x (columns): {xl:.3} .. {xh:.3}    y (rows): {yl:.3} .. {yh:.3}");
    let (pl, ph, _) = range(d.probe.iter().map(|c| f64::from(c.norm())));
    println!("  probe |P|: {pl:.4e} .. {ph:.4e}");
    match &d.object {
        Some(o) => {
            println!("  objectGuess: {:?}", o.shape());
            let (h, w) = o.dim();
            let half = (d.patch_size() / 2) as f64;
            if xl < 0.0 || yl < 0.0 || xh > w as f64 || yh > h as f64 {
                println!(
                    "  note: some positions lie outside objectGuess ({w} x {h}); their ground-truth patches are zero-filled"
                );
            } else if xl < half || yl < half || xh > w as f64 - half || yh > h as f64 - half {
                println!("  note: some patches extend past the object's edge (zero-filled there)");
            }
        }
        None => println!("  objectGuess: absent (no ground truth unless Y is present)"),
    }
    println!(
        "  Y (ground-truth patches): {}",
        if d.y_patches.is_some() {
            "present"
        } else {
            "absent"
        }
    );
    for w in &loaded.warnings {
        println!("  warning: {w}");
    }
    println!("  valid canonical dataset");
    Ok(())
}
