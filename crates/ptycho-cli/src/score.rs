//! `ptycho score`: scores a reconstruction against an iterative reference reconstruction of
//! the same scan (ptycho-eval's port of `compare_to_reference.py`: sub-pixel registration,
//! complex scale, global phase and linear phase ramp removed, FRC and NRMSE inside the
//! reference's illuminated area).
//!
//! The candidate is placed in the reference's object frame: a reconstruction NPZ written by
//! `ptycho infer` carries `origin_xy` (the object coordinates of its pixel (0, 0)) and is
//! embedded there; any other array is taken to start at object pixel (0, 0), as the script does.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ndarray::{Array2, s};
use num_complex::Complex32;
use ptycho_data::npz::ArrayData;
use ptycho_data::{NpzReader, upsample_object};
use ptycho_eval::{ReferenceScore, score_against_reference};

/// Arguments of `ptycho score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// Reference reconstruction NPZ with `object` (complex64) and `illumination` (float32)
    #[arg(long)]
    pub reference: PathBuf,
    /// Candidate NPZ, optionally `FILE.npz:KEY` (default key `object`)
    pub candidate: String,
    /// The candidate was reconstructed on a detector cropped by this factor (`--crop`): it is
    /// Fourier-upsampled back to the reference's pixel first
    #[arg(long, default_value_t = 1)]
    pub upsample: usize,
    /// Also write the score (with the FRC curve) as JSON here
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `ptycho score`.
pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let (path, key) = match args.candidate.rsplit_once(':') {
        Some((p, k)) if p.ends_with(".npz") => (PathBuf::from(p), k.to_owned()),
        _ => (PathBuf::from(&args.candidate), "object".to_owned()),
    };
    let mut reference = open(&args.reference)?;
    let ref_object = complex_2d(&mut reference, &args.reference, "object")?;
    let illumination = real_2d(&mut reference, &args.reference, "illumination")?;
    let mut candidate = open(&path)?;
    let object = complex_2d(&mut candidate, &path, &key)?;
    let origin = origin_xy(&mut candidate, &path)?;
    let placed = place(&object, origin, args.upsample, ref_object.dim());
    let score =
        score_against_reference(&ref_object, &illumination, &placed).with_context(|| {
            format!(
                "cannot score {} against {}",
                path.display(),
                args.reference.display()
            )
        })?;
    print_score(&path, &score);
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(&score)?;
        ptycho_fs::write_atomically(json, text.as_bytes())?;
    }
    Ok(())
}

fn print_score(path: &Path, s: &ReferenceScore) {
    println!("{}", path.display());
    println!(
        "  FRC 0-0.1 cycles/px {:.3}   0.1-0.25 {:.3}   half-bit cut-off {:.3}",
        s.frc_low, s.frc_mid, s.frc_cutoff
    );
    println!(
        "  NRMSE {:.3}   registration shift (dy, dx) ({:.2}, {:.2}) px   FRC of amplitude {:.3}, of phase {:.3}",
        s.nrmse, s.shift.0, s.shift.1, s.frc_amp_mean, s.frc_phase_mean
    );
}

fn open(path: &Path) -> anyhow::Result<NpzReader> {
    NpzReader::open(path).with_context(|| format!("cannot open {}", path.display()))
}

fn member(
    reader: &mut NpzReader,
    path: &Path,
    key: &str,
) -> anyhow::Result<(Vec<usize>, ArrayData)> {
    let array = reader
        .read(key)
        .with_context(|| format!("{}: cannot read `{key}`", path.display()))?
        .with_context(|| format!("{}: expected an array `{key}`, found none", path.display()))?;
    if array.shape.len() != 2 {
        bail!(
            "{}: `{key}`: expected a 2-D array, found shape {:?}",
            path.display(),
            array.shape
        );
    }
    Ok((array.shape, array.data))
}

fn complex_2d(reader: &mut NpzReader, path: &Path, key: &str) -> anyhow::Result<Array2<Complex32>> {
    let (shape, data) = member(reader, path, key)?;
    let values = match data {
        ArrayData::C64(v) => v,
        ArrayData::C128(v) => v
            .into_iter()
            .map(|z| Complex32::new(z.re as f32, z.im as f32))
            .collect(),
        _ => bail!(
            "{}: `{key}`: expected complex64 or complex128 values",
            path.display()
        ),
    };
    Ok(Array2::from_shape_vec((shape[0], shape[1]), values)?)
}

fn real_2d(reader: &mut NpzReader, path: &Path, key: &str) -> anyhow::Result<Array2<f32>> {
    let (shape, data) = member(reader, path, key)?;
    let values = match data {
        ArrayData::F32(v) => v,
        ArrayData::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        _ => bail!(
            "{}: `{key}`: expected float32 or float64 values",
            path.display()
        ),
    };
    Ok(Array2::from_shape_vec((shape[0], shape[1]), values)?)
}

/// `origin_xy` (object coordinates of pixel (0, 0)) when the NPZ records one, else (0, 0).
fn origin_xy(reader: &mut NpzReader, path: &Path) -> anyhow::Result<(f64, f64)> {
    if !reader.contains("origin_xy") {
        return Ok((0.0, 0.0));
    }
    match reader.read("origin_xy")?.map(|a| a.data) {
        Some(ArrayData::F64(v)) if v.len() == 2 => Ok((v[0], v[1])),
        _ => bail!(
            "{}: `origin_xy`: expected two float64 values",
            path.display()
        ),
    }
}

/// The candidate on the reference's frame: upsampled by `factor` (coarse pixel j at fine
/// pixel factor·j), its pixel (0, 0) at `origin` (scaled likewise), pixels outside set to 1.
fn place(
    object: &Array2<Complex32>,
    origin: (f64, f64),
    factor: usize,
    shape: (usize, usize),
) -> Array2<Complex32> {
    let fine = if factor > 1 {
        upsample_object(object, factor)
    } else {
        object.clone()
    };
    let f = factor.max(1) as f64;
    let (ox, oy) = ((origin.0 * f).round() as i64, (origin.1 * f).round() as i64);
    let mut out = Array2::from_elem(shape, Complex32::new(1.0, 0.0));
    // Rows and columns of the candidate that land inside the reference frame.
    let span = |o: i64, len: usize, max: usize| {
        let start = (-o).max(0) as usize;
        let end = (max as i64 - o).clamp(0, len as i64) as usize;
        (start, end.max(start))
    };
    let (r0, r1) = span(oy, fine.nrows(), shape.0);
    let (c0, c1) = span(ox, fine.ncols(), shape.1);
    let (dr, dc) = ((r0 as i64 + oy) as usize, (c0 as i64 + ox) as usize);
    out.slice_mut(s![dr..dr + (r1 - r0), dc..dc + (c1 - c0)])
        .assign(&fine.slice(s![r0..r1, c0..c1]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_lands_at_its_origin_in_the_reference_frame() {
        let mut object = Array2::from_elem((3, 4), Complex32::new(2.0, 0.0));
        object[(0, 1)] = Complex32::new(5.0, 1.0);
        let placed = place(&object, (2.0, 1.0), 1, (6, 6));
        assert_eq!(placed[(1, 3)], Complex32::new(5.0, 1.0));
        assert_eq!(placed[(0, 3)], Complex32::new(1.0, 0.0));
        assert_eq!(placed[(3, 5)], Complex32::new(2.0, 0.0));
        // Partly outside on the left/top: cut, not wrapped.
        let placed = place(&object, (-1.0, -1.0), 1, (4, 4));
        assert_eq!(placed[(0, 0)], Complex32::new(2.0, 0.0));
        assert_eq!(placed[(2, 3)], Complex32::new(1.0, 0.0));
    }
}
