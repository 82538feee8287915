//! Whole-field refinement of a reconstruction against the measured scan (see
//! [`ptycho_model::refine`]): the network's stitched object (or a flat one) and the probe are
//! fitted to the measured amplitudes, and the result is written beside the network's output in
//! `refined/` with the same file names.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array2;
use num_complex::Complex32;
use ptycho_data::ScanData;
use ptycho_eval::{ScanPosition, StitchedObject};
use ptycho_model::{FieldScan, HostField, HostProbe, RefineSpec, refine_observed};
use serde::Serialize;

use crate::device::ComputeDevice;
use crate::error::Result;
use crate::outputs::{write_json_file, write_probe, write_reconstruction};

/// Subdirectory of the output directory that holds the refined reconstruction.
pub const REFINED_DIR: &str = "refined";

/// A refined reconstruction.
#[derive(Debug, Clone)]
pub struct RefinedObject {
    /// The object in the data's object frame (its `origin` is `(0, 0)` unless the scan reaches
    /// past the frame's top or left edge); `weight` is the illumination of the refined probe.
    pub object: StitchedObject,
    /// The refined probe modes, dominant first (photon-matched units, see
    /// [`ptycho_model::RefineResult::probe`]).
    pub probe_modes: Vec<HostProbe>,
    /// The probe it started from.
    pub initial_probe: HostProbe,
    /// Mean amplitude misfit per epoch.
    pub loss: Vec<f64>,
    /// Wall time of the refinement.
    pub seconds: f64,
}

/// What `refined/refinement.json` records.
#[derive(Debug, Clone, Serialize)]
struct RefinementRecord<'a> {
    spec: &'a RefineSpec,
    started_from: &'a str,
    seconds: f64,
    loss_per_epoch: &'a [f64],
}

/// Refines `initial` (the network's stitched object; `None` starts from a flat object of
/// amplitude 1) and `probe` (`None`: the scan's own `probeGuess`) against every pattern of
/// `scan` at its positions, on `device`; `on_epoch(epoch, misfit)` is called after every epoch
/// (progress).
pub fn refine_scan(
    scan: &ScanData,
    initial: Option<&StitchedObject>,
    probe: Option<&HostProbe>,
    spec: &RefineSpec,
    device: &ComputeDevice,
    on_epoch: &mut dyn FnMut(usize, f64),
) -> Result<RefinedObject> {
    let started = Instant::now();
    let n = scan.patch_size();
    let probe = match probe {
        Some(p) => p.clone(),
        None => HostProbe::new(
            n,
            scan.probe.iter().map(|z| z.re).collect(),
            scan.probe.iter().map(|z| z.im).collect(),
        )?,
    };
    let xy: Vec<(f64, f64)> = scan
        .xcoords
        .iter()
        .zip(scan.ycoords.iter())
        .map(|(&x, &y)| (x, y))
        .collect();
    let amplitude: Vec<f32> = scan.diffraction.iter().copied().collect();
    let field = FieldScan::new(n, amplitude, &xy)?;
    let start = match initial {
        Some(stitched) => embed(stitched, field.canvas, field.origin),
        None => HostField::constant(field.canvas, 1.0, 0.0),
    };
    let probe_field = HostField {
        shape: (n, n),
        re: probe.re.clone(),
        im: probe.im.clone(),
    };
    let device = device.device().clone().autodiff();
    let result = refine_observed(&field, &start, &probe_field, spec, &device, &mut |report| {
        on_epoch(report.epoch, report.loss)
    })?;
    let per = n * n;
    let probe_modes = result
        .probe
        .re
        .chunks(per)
        .zip(result.probe.im.chunks(per))
        .map(|(re, im)| HostProbe::new(n, re.to_vec(), im.to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut object = to_stitched(&result.object, &field, &probe_modes);
    let rotation = remove_global_phase(&mut object);
    let probe_modes = probe_modes
        .iter()
        .map(|p| rotate(p, rotation.conj()))
        .collect::<Result<Vec<_>>>()?;
    Ok(RefinedObject {
        object,
        probe_modes,
        initial_probe: probe,
        loss: result.loss,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `stitched` on a canvas of `shape` whose pixel (0, 0) is object pixel `origin` (`(x, y)`);
/// pixels it does not cover (weight below 1 % of its largest) take its mean covered value, so
/// refinement starts flat there.
fn embed(stitched: &StitchedObject, shape: (usize, usize), origin: (f64, f64)) -> HostField {
    let max_w = stitched.weight.iter().copied().fold(0.0f32, f32::max);
    let covered = |w: f32| max_w > 0.0 && w >= 0.01 * max_w;
    let (sum, count) = stitched
        .object
        .iter()
        .zip(stitched.weight.iter())
        .filter(|(_, w)| covered(**w))
        .fold((Complex32::new(0.0, 0.0), 0usize), |(s, c), (z, _)| {
            (s + z, c + 1)
        });
    let fill = if count > 0 {
        sum / count as f32
    } else {
        Complex32::new(1.0, 0.0)
    };
    let mut out = HostField::constant(shape, fill.re, fill.im);
    let r0 = (stitched.origin.y - origin.1).round() as i64;
    let c0 = (stitched.origin.x - origin.0).round() as i64;
    for ((r, c), z) in stitched.object.indexed_iter() {
        let (rr, cc) = (r as i64 + r0, c as i64 + c0);
        if rr < 0 || cc < 0 || rr >= shape.0 as i64 || cc >= shape.1 as i64 {
            continue;
        }
        if covered(stitched.weight[(r, c)]) {
            let k = rr as usize * shape.1 + cc as usize;
            out.re[k] = z.re;
            out.im[k] = z.im;
        }
    }
    out
}

/// The refined canvas as a [`StitchedObject`] whose weight is the illumination
/// `Σ_k Σ_m |P_m|²` at every window.
fn to_stitched(object: &HostField, scan: &FieldScan, modes: &[HostProbe]) -> StitchedObject {
    let (h, w) = object.shape;
    let n = scan.n;
    let mut power = vec![0.0f32; n * n];
    for mode in modes {
        for (k, p) in power.iter_mut().enumerate() {
            *p += mode.re[k].powi(2) + mode.im[k].powi(2);
        }
    }
    let all: Vec<usize> = (0..scan.len()).collect();
    let weight = Array2::from_shape_vec((h, w), scan.illumination_of(&all, &power))
        .expect("the illumination covers the canvas");
    let values = object
        .re
        .iter()
        .zip(&object.im)
        .map(|(&re, &im)| Complex32::new(re, im))
        .collect();
    StitchedObject {
        object: Array2::from_shape_vec((h, w), values).expect("canvas holds h*w values"),
        weight,
        origin: ScanPosition::new(scan.origin.0, scan.origin.1),
        patches: scan.len(),
    }
}

/// Turns the object's global phase (which the data cannot see) so that its
/// illumination-weighted mean is real and positive: the phase image is then centred on 0 and
/// does not wrap at ±π. Returns the unit factor applied; the probe takes its conjugate, so
/// every exit wave `P·O` is unchanged.
fn remove_global_phase(object: &mut StitchedObject) -> Complex32 {
    let mean: Complex32 = object
        .object
        .iter()
        .zip(object.weight.iter())
        .map(|(z, w)| z * *w)
        .sum();
    let rotation = if mean.norm() > 0.0 {
        (mean / mean.norm()).conj()
    } else {
        Complex32::new(1.0, 0.0)
    };
    object.object.mapv_inplace(|z| z * rotation);
    rotation
}

fn rotate(probe: &HostProbe, factor: Complex32) -> Result<HostProbe> {
    let (re, im) = probe
        .re
        .iter()
        .zip(&probe.im)
        .map(|(&re, &im)| {
            let z = Complex32::new(re, im) * factor;
            (z.re, z.im)
        })
        .unzip();
    Ok(HostProbe::new(probe.n, re, im)?)
}

/// Writes `refined` into `dir/refined/`: the reconstruction files (same names as the network's),
/// `probe.npz` with its PNGs and `refinement.json` (spec, time, loss per epoch).
pub fn write_refined(
    dir: &Path,
    refined: &RefinedObject,
    spec: &RefineSpec,
    started_from_network: bool,
) -> Result<Vec<PathBuf>> {
    let out = dir.join(REFINED_DIR);
    let record = RefinementRecord {
        spec,
        started_from: if started_from_network {
            "network"
        } else {
            "flat"
        },
        seconds: refined.seconds,
        loss_per_epoch: &refined.loss,
    };
    let mut files = write_reconstruction(&out, &refined.object, &record)?;
    files.extend(write_probe(
        &out,
        &refined.probe_modes,
        &refined.initial_probe,
    )?);
    files.push(write_json_file(&out.join("refinement.json"), &record)?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_probe_the_scan_s_own_probe_guess_is_refined() {
        use ndarray::{Array1, Array3};
        let n = 16;
        let probe = Array2::from_shape_fn((n, n), |(r, c)| {
            Complex32::new(
                (-(((r as f32 - 7.0).powi(2) + (c as f32 - 9.0).powi(2)) / 20.0)).exp(),
                0.1,
            )
        });
        let xs = Array1::from(vec![8.0, 11.5, 9.25]);
        let scan = ScanData {
            diffraction: Array3::from_elem((3, n, n), 2.0),
            xcoords: xs.clone(),
            ycoords: xs.clone(),
            xcoords_start: xs.clone(),
            ycoords_start: xs,
            probe: probe.clone(),
            object: None,
            scan_index: Array1::from(vec![0, 1, 2]),
            y_patches: None,
        };
        let spec = RefineSpec {
            epochs: 1,
            ..RefineSpec::default()
        };
        let refined = refine_scan(
            &scan,
            None,
            None,
            &spec,
            &ComputeDevice::cpu(),
            &mut |_, _| {},
        )
        .unwrap();
        let initial: Vec<Complex32> = refined
            .initial_probe
            .re
            .iter()
            .zip(&refined.initial_probe.im)
            .map(|(&re, &im)| Complex32::new(re, im))
            .collect();
        assert_eq!(initial, probe.iter().copied().collect::<Vec<_>>());
        assert_eq!(refined.probe_modes.len(), 1);
        assert_eq!(refined.loss.len(), 1);
        // The last window starts at row and column floor(11.5 − 8) = 3; one spare pixel.
        assert_eq!(refined.object.object.dim(), (3 + n + 1, 3 + n + 1));
    }

    #[test]
    fn the_global_phase_is_removed_and_the_exit_wave_kept() {
        let phase = Complex32::from_polar(1.0, 2.9);
        let values = [0.8f32, 1.0, 1.2, 0.9].map(|a| phase * a);
        let mut object = StitchedObject {
            object: Array2::from_shape_vec((2, 2), values.to_vec()).unwrap(),
            weight: Array2::from_elem((2, 2), 1.0),
            origin: ScanPosition::new(0.0, 0.0),
            patches: 1,
        };
        let probe = HostProbe::new(1, vec![0.3], vec![-0.4]).unwrap();
        let psi_before = Complex32::new(0.3, -0.4) * object.object[(0, 1)];
        let rotation = remove_global_phase(&mut object);
        // 2.9 rad sits next to the ±π wrap; afterwards every pixel's phase is 0.
        assert!(
            object
                .object
                .iter()
                .all(|z| z.arg().abs() < 1e-5 && z.re > 0.0)
        );
        let rotated = rotate(&probe, rotation.conj()).unwrap();
        let psi_after = Complex32::new(rotated.re[0], rotated.im[0]) * object.object[(0, 1)];
        assert!(
            (psi_after - psi_before).norm() < 1e-6,
            "{psi_before} {psi_after}"
        );
    }
}
