//! Between a product and the canonical scan: a reconstruction of a [`ScanData`] becomes a
//! [`Product`] (positions in metres), and a product plus the diffraction patterns it belongs to
//! becomes a [`ScanData`] (positions in pixels of the product's object).

use std::path::Path;

use ndarray::{Array1, Array2, Array3, Axis};
use num_complex::Complex32;

use super::{PixelGeometry, Product, ProductMetadata, keys};
use crate::contract::{DataWarning, Loaded, ScanData};
use crate::error::{DataError, Problem, Result};

/// What a reconstruction contributes to a product.
#[derive(Debug, Clone)]
pub struct Reconstructed<'a> {
    /// The reconstructed scan (its positions, in pixels of its object frame).
    pub scan: &'a ScanData,
    /// The reconstructed object.
    pub object: Array2<Complex32>,
    /// Object-frame coordinates (column `x`, row `y`) of `object[[0, 0]]`.
    pub object_origin: (f64, f64),
    /// Incoherent probe modes `(modes, N, N)`, dominant first.
    pub probe_modes: Array3<Complex32>,
    /// Object pixel size in metres (the probe is on the same grid).
    pub pixel: PixelGeometry,
    /// World coordinates (metres) of object-frame pixel coordinate `(0, 0)`: 0 for a canonical
    /// NPZ (upstream's convention), the input product's frame when the scan came from one.
    pub frame_origin_m: (f64, f64),
    pub loss_epochs: Vec<i64>,
    pub loss_values: Vec<f64>,
    pub metadata: ProductMetadata,
}

impl Product {
    /// The product of a reconstruction. Positions are `frame_origin_m + x_px · pixel` (for a
    /// canonical NPZ `x_px · pixel`, upstream's export, which its import inverts); the
    /// object's centre is `frame_origin_m + (origin + W/2) · pixel`, so ptychodus' mapping
    /// ([`Product::positions_px`]) puts every position where the reconstruction had it.
    /// Position indexes are the pattern rows `0..n` of the scan.
    pub fn from_reconstruction(r: Reconstructed<'_>) -> Product {
        let (dx, dy) = (r.pixel.width_m, r.pixel.height_m);
        let (x0, y0) = r.frame_origin_m;
        let (h, w) = r.object.dim();
        let (modes, ph, pw) = r.probe_modes.dim();
        let probe = r
            .probe_modes
            .into_shape_with_order((1, modes, ph, pw))
            .expect("same number of elements");
        Product {
            metadata: r.metadata,
            probe_position_indexes: (0..r.scan.n_positions() as i64).collect(),
            probe_position_x_m: r.scan.xcoords.iter().map(|&x| x0 + x * dx).collect(),
            probe_position_y_m: r.scan.ycoords.iter().map(|&y| y0 + y * dy).collect(),
            probe,
            probe_pixel: r.pixel,
            opr_weights: None,
            object: r.object.insert_axis(Axis(0)),
            object_pixel: r.pixel,
            object_center_x_m: x0 + (r.object_origin.0 + w as f64 / 2.0) * dx,
            object_center_y_m: y0 + (r.object_origin.1 + h as f64 / 2.0) * dy,
            object_layer_spacing_m: Vec::new(),
            loss_epochs: r.loss_epochs,
            loss_values: r.loss_values,
        }
    }

    /// World coordinates (metres) of pixel coordinate `(0, 0)` of this product's object frame,
    /// the frame [`Product::positions_px`] maps positions into.
    pub fn frame_origin_m(&self) -> (f64, f64) {
        let (_, h, w) = self.object.dim();
        (
            self.object_center_x_m - w as f64 / 2.0 * self.object_pixel.width_m,
            self.object_center_y_m - h as f64 / 2.0 * self.object_pixel.height_m,
        )
    }
}

/// The canonical scan of `product` (read from `product_file`) and the diffraction amplitudes
/// (`(patterns, N, N)`, read from `diffraction_file`) it belongs to: pattern
/// `probe_position_indexes[i]` at position `i`, positions in pixels of the product's object
/// (which becomes `objectGuess` when it is at least `N × N`), the probe's first mode as
/// `probeGuess`, `scan_index` = the pattern indexes.
pub fn product_scan(
    product: &Product,
    product_file: &Path,
    amplitudes: &Array3<f32>,
    diffraction_file: &Path,
) -> Result<Loaded> {
    product.validate(product_file)?;
    let mut warnings = Vec::new();
    let (patterns, n, n2) = amplitudes.dim();
    if n != n2 {
        return Err(DataError::invalid(
            diffraction_file,
            "diffraction",
            Problem::Shape,
            "square patterns (patterns, N, N)",
            format!("shape {:?}", amplitudes.shape()),
        ));
    }
    let (probe_px, object_px) = (product.probe_pixel, product.object_pixel);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs());
    if !close(probe_px.width_m, object_px.width_m) || !close(probe_px.height_m, object_px.height_m)
    {
        return Err(DataError::invalid(
            product_file,
            &format!("{}@{}", keys::PROBE, keys::PIXEL_WIDTH_M),
            Problem::Shape,
            format!(
                "the object's pixel size {:e} x {:e} m (the canonical scan has the probe on the object's grid)",
                object_px.width_m, object_px.height_m
            ),
            format!("{:e} x {:e} m", probe_px.width_m, probe_px.height_m),
        ));
    }
    let (coherent, incoherent, ph, pw) = product.probe.dim();
    if (ph, pw) != (n, n) {
        return Err(DataError::invalid(
            product_file,
            keys::PROBE,
            Problem::Shape,
            format!(
                "modes of {n} x {n} (the pattern size of {})",
                diffraction_file.display()
            ),
            format!("shape {:?}", product.probe.shape()),
        ));
    }
    if coherent * incoherent > 1 {
        warnings.push(DataWarning {
            key: keys::PROBE.to_string(),
            message: format!("{coherent} x {incoherent} probe modes: the first is the probe guess"),
        });
    }
    let probe: Array2<Complex32> = product.probe.slice(ndarray::s![0, 0, .., ..]).to_owned();

    let mut rows = Vec::with_capacity(product.n_positions());
    for (i, &index) in product.probe_position_indexes.iter().enumerate() {
        match usize::try_from(index) {
            Ok(row) if row < patterns => rows.push(row),
            _ => {
                return Err(DataError::invalid(
                    product_file,
                    keys::PROBE_POSITION_INDEXES,
                    Problem::Length,
                    format!(
                        "pattern indexes 0..{patterns} (the patterns in {})",
                        diffraction_file.display()
                    ),
                    format!("{index} at position {i}"),
                ));
            }
        }
    }
    if rows.len() < patterns {
        warnings.push(DataWarning {
            key: keys::PROBE_POSITION_INDEXES.to_string(),
            message: format!(
                "{} positions for {patterns} patterns: patterns without a position are left out",
                rows.len()
            ),
        });
    }

    let (layers, oh, ow) = product.object.dim();
    let object = if oh >= n && ow >= n {
        if layers > 1 {
            warnings.push(DataWarning {
                key: keys::OBJECT.to_string(),
                message: format!("{layers} object layers: the first is the object guess"),
            });
        }
        Some(product.object.index_axis(Axis(0), 0).to_owned())
    } else {
        warnings.push(DataWarning {
            key: keys::OBJECT.to_string(),
            message: format!(
                "object of {oh} x {ow} is smaller than a pattern ({n} x {n}): not used as the object guess"
            ),
        });
        None
    };

    let (x, y) = product.positions_px();
    let data = ScanData {
        diffraction: amplitudes.select(Axis(0), &rows),
        xcoords: Array1::from(x.clone()),
        ycoords: Array1::from(y.clone()),
        xcoords_start: Array1::from(x),
        ycoords_start: Array1::from(y),
        probe,
        object,
        scan_index: Array1::from(product.probe_position_indexes.clone()),
        y_patches: None,
    };
    data.validate(diffraction_file)?;
    Ok(Loaded { data, warnings })
}
