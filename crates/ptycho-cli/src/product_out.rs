//! `ptycho infer --product FILE.h5|FILE.npz`: the reconstruction as a ptychodus product. The
//! object is the refined one when refinement ran, else the network's stitched object; the probe
//! is the refined probe's modes, else the scan's probe guess; positions are the scan's in metres;
//! the loss history is the bundle's training history (`loss_history.json` beside the bundle),
//! empty when there is none.
//!
//! Pixel size: `--pixel-size-m`, else the product the scan came with (`--positions`); a crop of
//! the detector (`--crop`) makes it coarser by the crop factor. A scan from a product keeps that
//! product's world frame; a canonical NPZ has its pixel `(0, 0)` at 0 m (upstream's export).

use std::path::Path;

use anyhow::{Context, bail};
use ndarray::{Array3, Axis};
use num_complex::Complex32;
use ptycho_data::product::Reconstructed;
use ptycho_data::{PixelGeometry, Product, ScanData};
use ptycho_eval::StitchedObject;
use ptycho_workflows::RefinedObject;

/// Everything `infer` knows when it writes the product.
#[derive(Debug)]
pub struct ProductSource<'a> {
    /// The scan as reconstructed (after `--crop`/`--bin`).
    pub scan: &'a ScanData,
    /// The product the scan came with (`--positions`).
    pub input: Option<&'a Product>,
    /// `--pixel-size-m`.
    pub pixel_size_m: Option<f64>,
    /// Real-space pixel growth of `--crop` (1 otherwise).
    pub crop_factor: f64,
    pub network: &'a StitchedObject,
    pub refined: Option<&'a RefinedObject>,
    /// The bundle file (its directory may hold `loss_history.json`).
    pub bundle: &'a Path,
    pub data_file: &'a Path,
}

/// Checks a `--product` request before the reconstruction runs: the file type is supported by
/// this build and the pixel size is known; returns the base (uncropped) pixel.
pub fn check_request(
    path: &Path,
    pixel_size_m: Option<f64>,
    input: Option<&Product>,
) -> anyhow::Result<PixelGeometry> {
    #[cfg(not(feature = "hdf5"))]
    if ptycho_data::product::is_hdf5_path(path) {
        return Err(ptycho_data::product::hdf5_not_built_in(path, "--product output").into());
    }
    match (pixel_size_m, input) {
        (Some(size), _) if size.is_finite() && size > 0.0 => Ok(PixelGeometry::square(size)),
        (Some(size), _) => bail!("--pixel-size-m: expected a size > 0 in metres, found {size}"),
        (None, Some(p)) => Ok(p.object_pixel),
        (None, None) => bail!(
            "--product {}: the object's pixel size is unknown for a canonical NPZ: pass --pixel-size-m (metres per object pixel)",
            path.display()
        ),
    }
}

/// Builds and writes the product to `path`.
pub fn write_product(path: &Path, src: &ProductSource<'_>) -> anyhow::Result<()> {
    let base = check_request(path, src.pixel_size_m, src.input)?;
    let pixel = PixelGeometry {
        width_m: base.width_m * src.crop_factor,
        height_m: base.height_m * src.crop_factor,
    };
    let stitched = src.refined.map_or(src.network, |r| &r.object);
    let n = src.scan.patch_size();
    let probe_modes = match src.refined {
        Some(r) => {
            let mut modes = Array3::zeros((r.probe_modes.len(), n, n));
            for (mut out, p) in modes.axis_iter_mut(Axis(0)).zip(&r.probe_modes) {
                for ((v, &re), &im) in out.iter_mut().zip(&p.re).zip(&p.im) {
                    *v = Complex32::new(re, im);
                }
            }
            modes
        }
        None => src.scan.probe.clone().insert_axis(Axis(0)),
    };
    let (loss_epochs, loss_values) = training_history(src.bundle)?;
    let mut metadata = src.input.map(|p| p.metadata.clone()).unwrap_or_default();
    metadata.name = src
        .data_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    metadata.comments = format!(
        "ptychopinn-rs {}: {} of {} with the model {}",
        env!("CARGO_PKG_VERSION"),
        if src.refined.is_some() {
            "network reconstruction refined against the measured amplitudes"
        } else {
            "network reconstruction"
        },
        src.data_file.display(),
        src.bundle.display()
    );
    let product = Product::from_reconstruction(Reconstructed {
        scan: src.scan,
        object: stitched.object.clone(),
        object_origin: (stitched.origin.x, stitched.origin.y),
        probe_modes,
        pixel,
        frame_origin_m: src.input.map_or((0.0, 0.0), Product::frame_origin_m),
        loss_epochs,
        loss_values,
        metadata,
    });
    product
        .save(path)
        .with_context(|| format!("cannot write the product {}", path.display()))?;
    println!(
        "wrote {} (ptychodus product: object {:?} at {:.4e} m per pixel, probe {:?}, {} positions, {} loss values)",
        path.display(),
        product.object.shape(),
        pixel.width_m,
        product.probe.shape(),
        product.n_positions(),
        product.loss_values.len()
    );
    Ok(())
}

/// Epochs and training losses from `loss_history.json` beside the bundle; empty when absent.
fn training_history(bundle: &Path) -> anyhow::Result<(Vec<i64>, Vec<f64>)> {
    let file = bundle
        .parent()
        .unwrap_or(Path::new("."))
        .join(ptycho_workflows::outputs::HISTORY_JSON);
    if !file.is_file() {
        return Ok((Vec::new(), Vec::new()));
    }
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read the training history {}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?;
    let Some(epochs) = json["epochs"].as_array() else {
        bail!(
            "{}: key `epochs`: expected a list of epoch records, found {}",
            file.display(),
            json["epochs"]
        );
    };
    let mut out = (Vec::new(), Vec::new());
    for (i, e) in epochs.iter().enumerate() {
        match (e["epoch"].as_i64(), e["loss"].as_f64()) {
            (Some(epoch), Some(loss)) => {
                out.0.push(epoch);
                out.1.push(loss);
            }
            _ => bail!(
                "{}: epochs[{i}]: expected integer `epoch` and number `loss`, found {e}",
                file.display()
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_training_history_beside_the_bundle_becomes_the_loss() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("wts.h5.zip");
        assert_eq!(training_history(&bundle).unwrap(), (vec![], vec![]));
        std::fs::write(
            dir.path().join("loss_history.json"),
            r#"{"epochs": [{"epoch": 0, "loss": 2.5, "val_loss": null}, {"epoch": 1, "loss": -1.0}]}"#,
        )
        .unwrap();
        assert_eq!(
            training_history(&bundle).unwrap(),
            (vec![0, 1], vec![2.5, -1.0])
        );
        std::fs::write(
            dir.path().join("loss_history.json"),
            r#"{"epochs": [{"epoch": 0}]}"#,
        )
        .unwrap();
        let err = training_history(&bundle).unwrap_err().to_string();
        assert!(
            err.ends_with("loss_history.json: epochs[0]: expected integer `epoch` and number `loss`, found {\"epoch\":0}"),
            "{err}"
        );
    }
}
