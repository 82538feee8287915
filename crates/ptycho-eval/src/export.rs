//! Writing evaluation outputs: amplitude / phase images as 8-bit grayscale PNG and reports as
//! pretty JSON. Every file is written to a temporary file in the destination directory and
//! renamed into place ([`ptycho_fs`]), so a failure never leaves a half-written output.

use std::path::Path;

use ndarray::ArrayView2;
use serde::Serialize;

use crate::error::{EvalError, Result};

/// The display range used for phase images, `[−π, π]`.
pub const PHASE_RANGE: (f32, f32) = (-std::f32::consts::PI, std::f32::consts::PI);

/// Maps an image linearly onto 0..=255: `range` (or the finite min/max when `None`) becomes
/// 0 and 255, values outside are clamped, NaN becomes 0, a constant image is all 0.
/// Returns the pixels (row-major) and the range used.
pub fn to_gray8(image: ArrayView2<'_, f32>, range: Option<(f32, f32)>) -> (Vec<u8>, (f32, f32)) {
    let (lo, hi) = range.unwrap_or_else(|| {
        image
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    });
    let span = hi - lo;
    let pixels = image
        .iter()
        .map(|&v| {
            // a NaN or non-positive span (constant or empty image) maps everything to 0
            if !v.is_finite() || span.is_nan() || span <= 0.0 {
                0
            } else {
                (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8
            }
        })
        .collect();
    (pixels, (lo, hi))
}

/// Writes `image` as an 8-bit grayscale PNG (see [`to_gray8`]); returns the range used.
pub fn write_png_gray8(
    path: &Path,
    image: ArrayView2<'_, f32>,
    range: Option<(f32, f32)>,
) -> Result<(f32, f32)> {
    let (h, w) = image.dim();
    if h == 0 || w == 0 || u32::try_from(h).is_err() || u32::try_from(w).is_err() {
        return Err(EvalError::Write {
            path: path.display().to_string(),
            detail: format!("cannot encode an image of {h}x{w} pixels"),
        });
    }
    let (pixels, used) = to_gray8(image, range);
    write_atomically(path, |file| {
        let mut encoder = png::Encoder::new(file, w as u32, h as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)
    })?;
    Ok(used)
}

/// Writes any serialisable value (e.g. an [`crate::EvalReport`]) as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomically(path, |file| {
        serde_json::to_writer_pretty(&mut *file, value)?;
        file.write_all(b"\n")
    })
}

fn png_error(error: png::EncodingError) -> std::io::Error {
    match error {
        png::EncodingError::IoError(e) => e,
        other => std::io::Error::other(other),
    }
}

/// Writes `path` atomically with `fill`; errors name the file.
fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    ptycho_fs::write_atomically_with(path, fill).map_err(|e| EvalError::Write {
        path: e.path.display().to_string(),
        detail: e.source.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gray8_maps_the_range_and_clamps() {
        let img = array![[0.0f32, 0.5, 1.0], [2.0, -1.0, f32::NAN]];
        let (px, used) = to_gray8(img.view(), Some((0.0, 1.0)));
        assert_eq!(used, (0.0, 1.0));
        assert_eq!(px, vec![0, 128, 255, 255, 0, 0]);
        let (px, used) = to_gray8(img.view(), None);
        assert_eq!(used, (-1.0, 2.0));
        assert_eq!(px[3], 255);
        assert_eq!(px[4], 0);
        let flat = array![[3.0f32, 3.0]];
        assert_eq!(to_gray8(flat.view(), None).0, vec![0, 0]);
    }

    #[test]
    fn png_and_json_are_written_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let img = ndarray::Array2::from_shape_fn((5, 7), |(r, c)| (r * 7 + c) as f32);
        let path = dir.path().join("amp.png");
        let used = write_png_gray8(&path, img.view(), None).unwrap();
        assert_eq!(used, (0.0, 34.0));
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (7, 5));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(buf[0], 0);
        assert_eq!(buf[34], 255);
        assert_eq!(buf[7], (7.0f32 / 34.0 * 255.0).round() as u8);

        let jpath = dir.path().join("metrics.json");
        write_json(&jpath, &serde_json::json!({"mae": 0.5})).unwrap();
        let text = std::fs::read_to_string(&jpath).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["mae"],
            0.5
        );
        // nothing else (no stray temporary files) is left in the directory
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn unwritable_destination_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("x.json");
        let err = write_json(&path, &1).unwrap_err().to_string();
        assert!(
            err.starts_with("writing ") && err.contains("missing-dir"),
            "{err}"
        );
        assert!(!path.exists());
    }
}
