//! The scan `train` and `infer` read: a canonical NPZ, or diffraction patterns in an HDF5 file
//! (`/entry/data/data`, `/exchange/data` or `/dp`) joined with a ptychodus product (`.h5` or
//! `.npz`, given with `--positions`) that holds the positions in metres and the probe. The
//! product's positions become pixels of its object (ptychodus' own mapping), pattern
//! `probe_position_indexes[i]` goes with position `i`, counts become amplitudes `sqrt(counts)`.
//!
//! HDF5 needs the cargo feature `hdf5`; without it an HDF5 file is refused with the command
//! that builds it in.

use std::path::Path;

use anyhow::{Context, bail};
use ptycho_data::product::{self, is_hdf5_path, keys};
use ptycho_data::{DataWarning, NpzReader, Product, ScanData};

/// A loaded scan, the conversions applied to it, and the product it came with (if any).
#[derive(Debug, Clone)]
pub struct ScanInput {
    pub data: ScanData,
    pub warnings: Vec<DataWarning>,
    /// The product given with `--positions` (its pixel size and world frame).
    pub product: Option<Product>,
}

impl ScanInput {
    /// Prints the loader's warnings on stderr, naming `file`.
    pub fn warn(&self, file: &Path) {
        for w in &self.warnings {
            eprintln!("warning: {}: {w}", file.display());
        }
    }
}

/// Whether an NPZ is a ptychodus product (positions in metres) rather than a canonical scan.
fn is_product_npz(path: &Path) -> bool {
    NpzReader::open(path).is_ok_and(|r| {
        r.contains(keys::PROBE_POSITION_X_M) && !r.contains("diffraction") && !r.contains("diff3d")
    })
}

/// Loads the scan in `path`; `positions` is the product given with `positions_flag` (needed
/// for an HDF5 diffraction file, refused for a canonical NPZ); `data_flag` names `path`'s flag
/// in messages.
pub fn load_scan(
    path: &Path,
    positions: Option<&Path>,
    data_flag: &str,
    positions_flag: &str,
) -> anyhow::Result<ScanInput> {
    if is_hdf5_path(path) {
        let Some(positions) = positions else {
            bail!(
                "{data_flag} {}: an HDF5 diffraction file holds no positions or probe: pass a ptychodus product (.h5 or .npz) with {positions_flag}",
                path.display()
            );
        };
        return load_h5_scan(path, positions);
    }
    if is_product_npz(path) {
        bail!(
            "{data_flag} {}: a ptychodus product holds no diffraction patterns: pass the diffraction file (HDF5) as {data_flag} and this product as {positions_flag}",
            path.display()
        );
    }
    if let Some(p) = positions {
        bail!(
            "{positions_flag} {}: expected only with an HDF5 diffraction file, found the canonical NPZ {} (which has its own positions)",
            p.display(),
            path.display()
        );
    }
    let loaded = ScanData::load(path)?;
    Ok(ScanInput {
        data: loaded.data,
        warnings: loaded.warnings,
        product: None,
    })
}

#[cfg(feature = "hdf5")]
fn load_h5_scan(path: &Path, positions: &Path) -> anyhow::Result<ScanInput> {
    let product = Product::load(positions)?;
    let stack = ptycho_data::diffraction_h5::read_h5_diffraction(path)?;
    let loaded = product::product_scan(&product, positions, &stack.amplitudes, path)?;
    println!(
        "{}: {} patterns of {n}x{n} from {} (amplitudes = sqrt(counts)); positions and probe from {}",
        path.display(),
        stack.amplitudes.shape()[0],
        stack.dataset,
        positions.display(),
        n = stack.amplitudes.shape()[1],
    );
    Ok(ScanInput {
        data: loaded.data,
        warnings: loaded.warnings,
        product: Some(product),
    })
}

#[cfg(not(feature = "hdf5"))]
fn load_h5_scan(path: &Path, _positions: &Path) -> anyhow::Result<ScanInput> {
    Err(product::hdf5_not_built_in(path, "diffraction patterns").into())
}

/// `ptycho inspect` of a ptychodus product (NPZ or HDF5) or an HDF5 diffraction file; `None`
/// when `path` is neither (an NPZ that is not a product: a canonical scan).
pub fn describe_non_canonical(path: &Path) -> Option<anyhow::Result<()>> {
    if !is_hdf5_path(path) {
        return is_product_npz(path).then(|| describe_product(path));
    }
    #[cfg(feature = "hdf5")]
    {
        let product_error = match describe_product(path) {
            Ok(()) => return Some(Ok(())),
            Err(e) => e,
        };
        Some(
            match ptycho_data::diffraction_h5::read_h5_diffraction(path) {
                Ok(stack) => {
                    let s = stack.amplitudes.shape();
                    println!("{}", path.display());
                    println!(
                        "  diffraction: {} ({} patterns of {}x{}), amplitudes sqrt(counts)",
                        stack.dataset, s[0], s[1], s[2]
                    );
                    println!(
                        "  positions and probe: none (give a ptychodus product with --positions)"
                    );
                    println!("  valid HDF5 diffraction file");
                    Ok(())
                }
                Err(e) => Err(anyhow::anyhow!(
                    "not a ptychodus product ({product_error:#}) nor a diffraction file ({e})"
                )),
            },
        )
    }
    #[cfg(not(feature = "hdf5"))]
    Some(Err(product::hdf5_not_built_in(
        path,
        "a ptychodus product or diffraction file",
    )
    .into()))
}

fn describe_product(path: &Path) -> anyhow::Result<()> {
    let p = Product::load(path).context("not a valid ptychodus product")?;
    let m = &p.metadata;
    println!("{}", path.display());
    println!("  ptychodus product {:?} ({:?})", m.name, m.comments);
    println!(
        "  positions: {} (x {:.4e} .. {:.4e} m)",
        p.n_positions(),
        p.probe_position_x_m
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min),
        p.probe_position_x_m
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    );
    println!(
        "  probe: {:?}, pixel {:.4e} x {:.4e} m",
        p.probe.shape(),
        p.probe_pixel.width_m,
        p.probe_pixel.height_m
    );
    println!(
        "  object: {:?}, pixel {:.4e} x {:.4e} m, centre ({:.4e}, {:.4e}) m",
        p.object.shape(),
        p.object_pixel.width_m,
        p.object_pixel.height_m,
        p.object_center_x_m,
        p.object_center_y_m
    );
    println!(
        "  detector distance {} m, energy {} eV, exposure {} s; {} loss value(s)",
        m.detector_object_distance_m,
        m.probe_energy_ev,
        m.exposure_time_s,
        p.loss_values.len()
    );
    println!("  valid ptychodus product");
    Ok(())
}
