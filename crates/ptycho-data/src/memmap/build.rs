//! Building the memory-mapped dataset from one or many canonical NPZ files.
//!
//! Pass A reads only the small members of every file (positions, probe, diffraction header) and
//! groups the positions. Pass B streams each file's diffraction member element by element into a
//! memory-mapped staging file (undoing the legacy layout on the fly and validating every value),
//! then gathers, normalises and writes each group straight into the mapped output fields. Heap use
//! is the positions, the groups and the decoder buffers, never the diffraction stack, so files far
//! larger than the memory cap build. Everything lands in a temporary directory that is renamed onto
//! the target only when complete.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;
use ndarray::Array2;
use num_complex::Complex32;

use super::manifest::{
    FieldRecord, InputRecord, MANIFEST_FILE, Manifest, MemmapConfig, SCHEMA, VERSION, sha256_bytes,
    sha256_file,
};
use super::truth::{Truth, truth_source, write_truth};
use crate::contract::{LoadOptions, keys};
use crate::error::{DataError, Problem, Result};
use crate::grouped::LOCAL_OFFSET_SIGN;
use crate::grouping::group_positions;
use crate::reader::{
    Ctx, DiffLayout, INTENSITY_EXPECTED, Positions, diffraction_layout, read_positions, read_probe,
    read_required,
};

/// What pass A learned about one input.
pub(super) struct Plan {
    pub path: PathBuf,
    pub positions: Positions,
    pub layout: DiffLayout,
    pub probe: Array2<Complex32>,
    pub groups: Vec<Vec<usize>>,
    pub truth: Option<Truth>,
}

/// Creates `path` of `len` bytes and maps it writable.
pub(super) fn create_mapped(path: &Path, len: usize) -> Result<MmapMut> {
    let file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| DataError::io(path, "cannot create", e))?;
    file.set_len(len as u64)
        .map_err(|e| DataError::io(path, "cannot size", e))?;
    if len == 0 {
        return MmapMut::map_anon(0).map_err(|e| DataError::io(path, "cannot map", e));
    }
    // SAFETY: the file was just created by us inside a private temporary build directory; nothing
    // else maps, truncates or writes it while this mapping lives.
    #[allow(unsafe_code)]
    let map = unsafe { MmapMut::map_mut(&file) };
    map.map_err(|e| DataError::io(path, "cannot map", e))
}

pub(super) fn as_mut<'a, T: bytemuck::Pod>(
    map: &'a mut MmapMut,
    path: &Path,
) -> Result<&'a mut [T]> {
    bytemuck::try_cast_slice_mut(&mut map[..]).map_err(|e| {
        DataError::io(
            path,
            "cannot view mapped bytes of",
            std::io::Error::other(format!("{e:?}")),
        )
    })
}

fn plan_input(path: &Path, cfg: &MemmapConfig) -> Result<Plan> {
    let mut reader = crate::npz::NpzReader::open(path)?;
    let mut ctx = Ctx {
        file: path,
        warnings: Vec::new(),
    };
    let positions = read_positions(&mut reader, &mut ctx)?;
    let layout = diffraction_layout(&mut reader, &mut ctx, positions.n)?;
    let probe_arr = read_required(
        &mut reader,
        keys::PROBE,
        "the probe guess, complex64 (N, N)",
    )?;
    let probe = read_probe(&mut ctx, probe_arr, layout.npix)?;
    for (key, values) in [
        (keys::XCOORDS, &positions.xcoords),
        (keys::YCOORDS, &positions.ycoords),
    ] {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::invalid(
                path,
                key,
                Problem::NonFinite,
                "finite positions",
                format!("{} at index {i}", values[i]),
            ));
        }
    }
    let groups = group_positions(&positions.xcoords, &positions.ycoords, &cfg.grouping)?;
    let truth = truth_source(&mut reader, positions.n, layout.npix)?;
    Ok(Plan {
        path: path.to_path_buf(),
        positions,
        layout,
        probe,
        groups,
        truth,
    })
}

/// Streams the diffraction member into `stage` (canonical order), validating every value;
/// returns whether the values look like intensities.
fn stage_diffraction(plan: &Plan, stage: &mut [f32]) -> Result<Option<String>> {
    let layout = &plan.layout;
    let path = &plan.path;
    let npix2 = layout.npix * layout.npix;
    let mut reader = crate::npz::NpzReader::open(path)?;
    let (mut max, mut integral, mut nonzero) = (f32::NEG_INFINITY, true, false);
    reader.stream_f32(layout.key, |k, v| {
        let at = layout.canonical_index(k);
        let index = || {
            format!(
                "[{}, {}, {}]",
                at / npix2,
                (at % npix2) / layout.npix,
                at % layout.npix
            )
        };
        if !v.is_finite() {
            return Err(DataError::invalid(
                path,
                layout.key,
                Problem::NonFinite,
                "finite amplitudes",
                format!("{v} at index {}", index()),
            ));
        }
        if v < 0.0 {
            return Err(DataError::invalid(
                path,
                layout.key,
                Problem::Negative,
                "amplitudes >= 0 (sqrt of counts)",
                format!("{v} at index {}", index()),
            ));
        }
        max = max.max(v);
        integral &= v.fract() == 0.0;
        nonzero |= v != 0.0;
        stage[at] = v;
        Ok(())
    })?;
    let is_int = layout.dtype.starts_with("int") || layout.dtype.starts_with("uint");
    Ok(if is_int {
        Some(format!(
            "{}: integer detector counts (intensities)",
            layout.found
        ))
    } else if max > 1.0 && nonzero && integral {
        Some(format!(
            "{}: every value is a whole number (max {max}), i.e. photon counts (intensities)",
            layout.found
        ))
    } else {
        None
    })
}

/// Output fields, mapped writable.
struct Outputs {
    diffraction: MmapMut,
    coords_relative: MmapMut,
    coords_offsets: MmapMut,
    nn_indices: MmapMut,
    experiment_id: MmapMut,
    probes: MmapMut,
    y: Option<MmapMut>,
}

/// (name, file, dtype, shape) of every field.
pub(super) fn field_specs(
    rows: usize,
    c: usize,
    n: usize,
    files: usize,
    with_y: bool,
) -> Vec<(&'static str, &'static str, &'static str, Vec<usize>)> {
    let mut specs = vec![
        (
            "coords_offsets",
            "coords_offsets.f64",
            "<f8",
            vec![rows, 1, 1, 2],
        ),
        (
            "coords_relative",
            "coords_relative.f32",
            "<f4",
            vec![rows, c, 1, 2],
        ),
        ("diffraction", "diffraction.f32", "<f4", vec![rows, c, n, n]),
        ("experiment_id", "experiment_id.u32", "<u4", vec![rows]),
        ("nn_indices", "nn_indices.i64", "<i8", vec![rows, c]),
        ("probes", "probes.c64", "<c8", vec![files, n, n]),
    ];
    if with_y {
        specs.push(("y", "y.c64", "<c8", vec![rows, c, n, n]));
    }
    specs
}

pub(super) fn itemsize(dtype: &str) -> usize {
    match dtype {
        "<f8" | "<i8" | "<c8" => 8,
        _ => 4,
    }
}

/// Builds the dataset into `dir` (replacing it) and returns the manifest.
pub(super) fn build_into(inputs: &[PathBuf], dir: &Path, cfg: &MemmapConfig) -> Result<Manifest> {
    if inputs.is_empty() {
        return Err(DataError::parameter("inputs", "at least one NPZ file", 0));
    }
    if cfg.grouping.seed.is_none() {
        return Err(DataError::parameter(
            "grouping.seed",
            "a seed, so that rebuilding gives byte-identical files",
            "none",
        ));
    }
    if cfg.memory_cap_bytes == 0 {
        return Err(DataError::parameter(
            "memory_cap_bytes",
            "a positive number of bytes",
            0,
        ));
    }
    let plans: Vec<Plan> = inputs
        .iter()
        .map(|p| plan_input(p, cfg))
        .collect::<Result<_>>()?;
    let n = plans[0].layout.npix;
    if let Some(bad) = plans.iter().find(|p| p.layout.npix != n) {
        return Err(DataError::invalid(
            &bad.path,
            bad.layout.key,
            Problem::Shape,
            format!("patterns of N = {n} like {}", plans[0].path.display()),
            format!("N = {}", bad.layout.npix),
        ));
    }
    let c = cfg.grouping.channels();
    let rows: usize = plans.iter().map(|p| p.groups.len()).sum();

    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| DataError::io(&parent, "cannot create", e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".memmap-build-")
        .tempdir_in(&parent)
        .map_err(|e| DataError::io(&parent, "cannot create a build directory in", e))?;
    // Ground truth is stored only when every file has some; otherwise batches carry none.
    let with_y = plans.iter().all(|p| p.truth.is_some());
    let specs = field_specs(rows, c, n, plans.len(), with_y);
    let map_of = |name: &str| -> Result<MmapMut> {
        let (_, file, dtype, shape) = specs.iter().find(|s| s.0 == name).expect("known field");
        create_mapped(
            &tmp.path().join(file),
            shape.iter().product::<usize>() * itemsize(dtype),
        )
    };
    let mut out = Outputs {
        diffraction: map_of("diffraction")?,
        coords_relative: map_of("coords_relative")?,
        coords_offsets: map_of("coords_offsets")?,
        nn_indices: map_of("nn_indices")?,
        experiment_id: map_of("experiment_id")?,
        probes: map_of("probes")?,
        y: if with_y { Some(map_of("y")?) } else { None },
    };
    let tp = tmp.path().to_path_buf();
    let npix2 = n * n;
    let mut records = Vec::with_capacity(plans.len());
    let mut first_row = 0;
    for (fi, plan) in plans.iter().enumerate() {
        let stage_path = tp.join("stage.f32");
        let mut stage_map = create_mapped(&stage_path, plan.positions.n * npix2 * 4)?;
        let stage = as_mut::<f32>(&mut stage_map, &stage_path)?;
        if let Some(reason) = stage_diffraction(plan, stage)? {
            if !cfg.convert_intensity {
                return Err(DataError::invalid(
                    &plan.path,
                    plan.layout.key,
                    Problem::Intensity,
                    INTENSITY_EXPECTED,
                    reason,
                ));
            }
            log::warn!(
                "{}: `{}`: {reason}; converted to amplitude with sqrt",
                plan.path.display(),
                plan.layout.key
            );
            stage.iter_mut().for_each(|v| *v = v.sqrt());
        }
        let energy: Vec<f64> = stage
            .chunks(npix2)
            .map(|p| p.iter().map(|&v| f64::from(v) * f64::from(v)).sum())
            .collect();
        let total: f64 = plan.groups.iter().flatten().map(|&i| energy[i]).sum();
        let mean = total / (plan.groups.len() * c).max(1) as f64;
        if !(mean > 0.0 && mean.is_finite()) {
            return Err(DataError::invalid(
                &plan.path,
                plan.layout.key,
                Problem::Shape,
                "some non-zero amplitude in the grouped patterns",
                format!("mean energy {mean}"),
            ));
        }
        let half = n as f64 / 2.0;
        let norm = ((half * half) / mean).sqrt() as f32;

        let diff = as_mut::<f32>(&mut out.diffraction, &tp)?;
        let rel = as_mut::<f32>(&mut out.coords_relative, &tp)?;
        let off = as_mut::<f64>(&mut out.coords_offsets, &tp)?;
        let nn = as_mut::<i64>(&mut out.nn_indices, &tp)?;
        let exp = as_mut::<u32>(&mut out.experiment_id, &tp)?;
        let (x, y) = (&plan.positions.xcoords, &plan.positions.ycoords);
        for (g, members) in plan.groups.iter().enumerate() {
            let row = first_row + g;
            let cx = members.iter().map(|&i| x[i]).sum::<f64>() / c as f64;
            let cy = members.iter().map(|&i| y[i]).sum::<f64>() / c as f64;
            off[row * 2] = cx;
            off[row * 2 + 1] = cy;
            exp[row] = fi as u32;
            for (ch, &i) in members.iter().enumerate() {
                let dst = (row * c + ch) * npix2;
                for (d, s) in diff[dst..dst + npix2]
                    .iter_mut()
                    .zip(&stage[i * npix2..(i + 1) * npix2])
                {
                    *d = s * norm;
                }
                rel[(row * c + ch) * 2] = (LOCAL_OFFSET_SIGN * (x[i] - cx)) as f32;
                rel[(row * c + ch) * 2 + 1] = (LOCAL_OFFSET_SIGN * (y[i] - cy)) as f32;
                nn[row * c + ch] = i as i64;
            }
        }
        drop(stage_map);
        std::fs::remove_file(&stage_path)
            .map_err(|e| DataError::io(&stage_path, "cannot remove", e))?;
        let probes = as_mut::<f32>(&mut out.probes, &tp)?;
        for (k, v) in plan.probe.iter().enumerate() {
            probes[(fi * npix2 + k) * 2] = v.re;
            probes[(fi * npix2 + k) * 2 + 1] = v.im;
        }
        if let (Some(y_map), Some(truth)) = (out.y.as_mut(), plan.truth.as_ref()) {
            let y_out = as_mut::<Complex32>(y_map, &tp)?;
            write_truth(plan, truth, first_row, c, y_out, &tp)?;
        }
        let (sha256, bytes) = sha256_file(&plan.path)?;
        records.push(InputRecord {
            name: plan
                .path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256,
            bytes,
            n_positions: plan.positions.n,
            first_row,
            rows: plan.groups.len(),
            norm,
        });
        first_row += plan.groups.len();
    }
    let mut fields = std::collections::BTreeMap::new();
    for (name, file, dtype, shape) in &specs {
        let map = match *name {
            "diffraction" => &out.diffraction,
            "coords_relative" => &out.coords_relative,
            "coords_offsets" => &out.coords_offsets,
            "nn_indices" => &out.nn_indices,
            "experiment_id" => &out.experiment_id,
            "y" => match &out.y {
                Some(m) => m,
                None => continue,
            },
            _ => &out.probes,
        };
        map.flush()
            .map_err(|e| DataError::io(&tp.join(file), "cannot flush", e))?;
        fields.insert(
            name.to_string(),
            FieldRecord {
                file: file.to_string(),
                dtype: dtype.to_string(),
                shape: shape.clone(),
                sha256: sha256_bytes(&map[..]),
            },
        );
    }
    drop(out);
    let manifest = Manifest {
        schema: SCHEMA.to_string(),
        version: VERSION,
        config: cfg.clone(),
        patch_size: n,
        channels: c,
        rows,
        inputs: records,
        fields,
    };
    let mpath = tp.join(MANIFEST_FILE);
    std::fs::write(&mpath, manifest.to_json())
        .map_err(|e| DataError::io(&mpath, "cannot write", e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| DataError::io(dir, "cannot replace", e))?;
    }
    let built = tmp.keep();
    crate::npz::publish_permissions(&built, true);
    std::fs::rename(&built, dir)
        .map_err(|e| DataError::io(dir, "cannot move the finished build onto", e))?;
    Ok(manifest)
}

/// Loading options equivalent to a configuration (for the in-memory comparison path).
pub fn load_options(cfg: &MemmapConfig) -> LoadOptions {
    LoadOptions {
        intensity: if cfg.convert_intensity {
            crate::contract::IntensityPolicy::ConvertToAmplitude
        } else {
            crate::contract::IntensityPolicy::Reject
        },
    }
}
