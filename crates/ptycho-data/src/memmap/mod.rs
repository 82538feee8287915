//! The memory-mapped grouped dataset: training streams datasets larger than RAM.
//!
//! A cache directory holds one raw little-endian, row-major file per field (see
//! [`manifest::Manifest`]) plus `manifest.json` recording the configuration, the sha256 of every
//! input NPZ and of every field. [`MemmapDataset::open`] refuses a cache whose inputs or
//! configuration changed ([`DataError::StaleCache`], fixing upstream pitfall 28);
//! [`MemmapDataset::verify`] regenerates the cache elsewhere and compares, without trusting it.
//! Building needs a seed, so the same inputs and seed give byte-identical files.
//!
//! Batches ([`crate::batch::BatchSource`]) copy only the requested rows out of the mapping;
//! [`MemmapDataset::batches`] refuses batch sizes whose copy would exceed the memory cap.

mod build;
pub mod manifest;
mod truth;

use std::path::{Path, PathBuf};

use memmap2::Mmap;
use ndarray::{Array2, Array3, Array4, ArrayView4, Axis};
use num_complex::Complex32;

pub use build::load_options;
pub use manifest::{InputRecord, Manifest, MemmapConfig};

use crate::batch::{BatchIter, BatchSource, TrainingBatch};
use crate::error::{DataError, Result};

/// A built, opened memory-mapped dataset.
#[derive(Debug)]
pub struct MemmapDataset {
    dir: PathBuf,
    manifest: Manifest,
    diffraction: Mmap,
    coords_relative: Mmap,
    coords_offsets: Mmap,
    nn_indices: Mmap,
    experiment_id: Mmap,
    /// Ground-truth patches `(M, C, N, N)` complex64, when every input had some.
    y: Option<Mmap>,
    probes: Vec<Array2<Complex32>>,
}

fn map_file(path: &Path, expected_len: usize) -> Result<Mmap> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, "cannot open", e))?;
    let len = file
        .metadata()
        .map_err(|e| DataError::io(path, "cannot stat", e))?
        .len();
    if len != expected_len as u64 {
        return Err(DataError::StaleCache {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            reason: format!(
                "{} has {len} bytes, the manifest implies {expected_len}",
                path.display()
            ),
        });
    }
    if expected_len == 0 {
        return memmap2::MmapMut::map_anon(0)
            .and_then(memmap2::MmapMut::make_read_only)
            .map_err(|e| DataError::io(path, "cannot map", e));
    }
    // SAFETY: the cache files are written once by the builder (into a temporary directory renamed
    // into place) and only read afterwards; a concurrent rebuild replaces the directory rather
    // than rewriting these files in place.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(&file) };
    map.map_err(|e| DataError::io(path, "cannot map", e))
}

fn view<T: bytemuck::Pod>(map: &Mmap) -> &[T] {
    // Mappings are page-aligned and sized from the manifest, so the cast cannot fail; an empty
    // slice is the harmless fallback.
    bytemuck::try_cast_slice(&map[..]).unwrap_or(&[])
}

impl MemmapDataset {
    /// Builds the dataset from `inputs` into `dir` (replacing any previous cache) and opens it.
    pub fn build(inputs: &[PathBuf], dir: impl AsRef<Path>, cfg: &MemmapConfig) -> Result<Self> {
        build::build_into(inputs, dir.as_ref(), cfg)?;
        Self::open_unchecked(dir)
    }

    /// Opens `dir` after checking it was built from exactly these inputs and this configuration.
    pub fn open(dir: impl AsRef<Path>, inputs: &[PathBuf], cfg: &MemmapConfig) -> Result<Self> {
        let dir = dir.as_ref();
        Self::check_fresh(dir, inputs, cfg)?;
        Self::open_unchecked(dir)
    }

    /// Opens a fresh cache, or (re)builds it when missing or stale; returns whether it built.
    pub fn open_or_build(
        dir: impl AsRef<Path>,
        inputs: &[PathBuf],
        cfg: &MemmapConfig,
    ) -> Result<(Self, bool)> {
        let dir = dir.as_ref();
        match Self::open(dir, inputs, cfg) {
            Ok(ds) => Ok((ds, false)),
            Err(DataError::StaleCache { reason, .. }) => {
                log::info!("{}: rebuilding memory map: {reason}", dir.display());
                Ok((Self::build(inputs, dir, cfg)?, true))
            }
            Err(DataError::Io { .. }) if !dir.join(manifest::MANIFEST_FILE).exists() => {
                Ok((Self::build(inputs, dir, cfg)?, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `dir` was built from these inputs (content hashes) and this configuration.
    pub fn check_fresh(dir: &Path, inputs: &[PathBuf], cfg: &MemmapConfig) -> Result<()> {
        let m = Manifest::read(dir)?;
        let stale = |reason: String| DataError::StaleCache {
            dir: dir.to_path_buf(),
            reason,
        };
        if &m.config != cfg {
            return Err(stale(format!(
                "configuration changed: built with {}, requested {}",
                serde_json::to_string(&m.config).unwrap_or_default(),
                serde_json::to_string(cfg).unwrap_or_default()
            )));
        }
        if m.inputs.len() != inputs.len() {
            return Err(stale(format!(
                "built from {} inputs, {} given",
                m.inputs.len(),
                inputs.len()
            )));
        }
        for (rec, path) in m.inputs.iter().zip(inputs) {
            let (sha, _) = manifest::sha256_file(path)?;
            if sha != rec.sha256 {
                return Err(stale(format!(
                    "input {} changed: sha256 {} recorded, {} now",
                    path.display(),
                    rec.sha256,
                    sha
                )));
            }
        }
        Ok(())
    }

    /// Opens `dir` trusting its manifest (sizes are still checked).
    pub fn open_unchecked(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        let map = |name: &str| -> Result<Mmap> {
            let f = manifest
                .fields
                .get(name)
                .ok_or_else(|| DataError::StaleCache {
                    dir: dir.clone(),
                    reason: format!("field `{name}` missing from the manifest"),
                })?;
            map_file(
                &dir.join(&f.file),
                f.shape.iter().product::<usize>() * build::itemsize(&f.dtype),
            )
        };
        let probes_map = map("probes")?;
        let n = manifest.patch_size;
        let flat: &[f32] = view(&probes_map);
        let probes = (0..manifest.inputs.len())
            .map(|fi| {
                Array2::from_shape_fn((n, n), |(r, c)| {
                    let k = (fi * n * n + r * n + c) * 2;
                    Complex32::new(flat[k], flat[k + 1])
                })
            })
            .collect();
        Ok(MemmapDataset {
            diffraction: map("diffraction")?,
            coords_relative: map("coords_relative")?,
            coords_offsets: map("coords_offsets")?,
            nn_indices: map("nn_indices")?,
            y: if manifest.fields.contains_key("y") {
                Some(map("y")?)
            } else {
                None
            },
            experiment_id: map("experiment_id")?,
            probes,
            manifest,
            dir,
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The probe of each input file.
    pub fn probes(&self) -> &[Array2<Complex32>] {
        &self.probes
    }

    /// Whether batches carry ground-truth patches.
    pub fn has_ground_truth(&self) -> bool {
        self.y.is_some()
    }

    /// All normalised diffraction rows `(M, C, N, N)`, zero-copy from the mapping.
    pub fn diffraction_view(&self) -> ArrayView4<'_, f32> {
        let (m, c, n) = (
            self.manifest.rows,
            self.manifest.channels,
            self.manifest.patch_size,
        );
        ArrayView4::from_shape((m, c, n, n), view::<f32>(&self.diffraction))
            .unwrap_or_else(|_| ArrayView4::from_shape((0, c, n, n), &[]).expect("empty view"))
    }

    /// `(M, C)` global scan indices (within each input file).
    pub fn nn_indices(&self) -> Array2<i64> {
        let (m, c) = (self.manifest.rows, self.manifest.channels);
        Array2::from_shape_vec((m, c), view::<i64>(&self.nn_indices).to_vec())
            .unwrap_or_else(|_| Array2::zeros((0, c)))
    }

    /// Input file index of each row.
    pub fn experiment_ids(&self) -> &[u32] {
        view(&self.experiment_id)
    }

    /// Heap bytes one row occupies in a batch.
    pub fn batch_row_bytes(&self) -> usize {
        let (c, n) = (self.manifest.channels, self.manifest.patch_size);
        let truth = if self.y.is_some() { c * n * n * 8 } else { 0 };
        c * n * n * 4 + truth + c * 2 * 4 + 2 * 8 + n * n * 8 + std::mem::size_of::<usize>()
    }

    /// The largest batch that fits the memory cap.
    pub fn max_batch_rows(&self) -> usize {
        self.manifest.config.memory_cap_bytes / self.batch_row_bytes()
    }

    /// Streams batches of `batch_size` rows (shuffled by `shuffle_seed`); the shuffle order costs
    /// one `usize` per row.
    pub fn batches(
        &self,
        batch_size: usize,
        shuffle_seed: Option<u64>,
    ) -> Result<BatchIter<'_, Self>> {
        if batch_size == 0 || batch_size > self.max_batch_rows() {
            return Err(DataError::parameter(
                "batch_size",
                format!(
                    "1..={} rows ({} bytes per row within memory_cap_bytes = {})",
                    self.max_batch_rows(),
                    self.batch_row_bytes(),
                    self.manifest.config.memory_cap_bytes
                ),
                batch_size,
            ));
        }
        Ok(BatchIter::new(self, batch_size, shuffle_seed))
    }

    /// The cache-free check: rebuilds from `inputs` into a temporary directory and compares every
    /// field's bytes (sha256) with this cache's manifest and with the mapped files themselves.
    pub fn verify(&self, inputs: &[PathBuf]) -> Result<()> {
        let parent = self
            .dir
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let scratch = tempfile::Builder::new()
            .prefix(".memmap-verify-")
            .tempdir_in(&parent)
            .map_err(|e| DataError::io(&parent, "cannot create a verification directory in", e))?;
        let fresh = build::build_into(
            inputs,
            &scratch.path().join("rebuilt"),
            &self.manifest.config,
        )?;
        let stale = |reason: String| DataError::StaleCache {
            dir: self.dir.clone(),
            reason,
        };
        for (name, rec) in &self.manifest.fields {
            let again = fresh
                .fields
                .get(name)
                .ok_or_else(|| stale(format!("field `{name}` not regenerated")))?;
            if again.sha256 != rec.sha256 || again.shape != rec.shape {
                return Err(stale(format!(
                    "field `{name}` differs from a fresh build: sha256 {} cached, {} regenerated",
                    rec.sha256, again.sha256
                )));
            }
            let (on_disk, _) = manifest::sha256_file(&self.dir.join(&rec.file))?;
            if on_disk != rec.sha256 {
                return Err(stale(format!(
                    "field file {} was modified: sha256 {} recorded, {on_disk} on disk",
                    rec.file, rec.sha256
                )));
            }
        }
        if fresh.inputs != self.manifest.inputs {
            return Err(stale("inputs differ from a fresh build".to_string()));
        }
        Ok(())
    }
}

impl BatchSource for MemmapDataset {
    fn len(&self) -> usize {
        self.manifest.rows
    }

    fn channels(&self) -> usize {
        self.manifest.channels
    }

    fn patch_size(&self) -> usize {
        self.manifest.patch_size
    }

    fn batch(&self, indices: &[usize]) -> Result<TrainingBatch> {
        let (m, c, n) = (
            self.manifest.rows,
            self.manifest.channels,
            self.manifest.patch_size,
        );
        if let Some(&bad) = indices.iter().find(|&&i| i >= m) {
            return Err(DataError::parameter(
                "batch index",
                format!("< {m} rows"),
                bad,
            ));
        }
        let b = indices.len();
        let diff = self.diffraction_view();
        let rel: &[f32] = view(&self.coords_relative);
        let off: &[f64] = view(&self.coords_offsets);
        let exp: &[u32] = view(&self.experiment_id);
        let diffraction = diff.select(Axis(0), indices);
        let coords_relative = Array4::from_shape_fn((b, c, 1, 2), |(k, ch, _, xy)| {
            rel[(indices[k] * c + ch) * 2 + xy]
        });
        let coords_offsets =
            Array4::from_shape_fn((b, 1, 1, 2), |(k, _, _, xy)| off[indices[k] * 2 + xy]);
        let probe = Array3::from_shape_fn((b, n, n), |(k, r, col)| {
            self.probes[exp[indices[k]] as usize][[r, col]]
        });
        let y = self.y.as_ref().map(|m| {
            let all: &[Complex32] = view(m);
            let rows = ndarray::ArrayView4::from_shape((m_rows(all.len(), c, n), c, n, n), all);
            rows.map(|r| r.select(Axis(0), indices))
                .unwrap_or_else(|_| Array4::zeros((0, c, n, n)))
        });
        Ok(TrainingBatch {
            indices: indices.to_vec(),
            diffraction,
            coords_relative,
            coords_offsets,
            probe,
            y,
        })
    }
}

/// Rows of a flat `(M, C, N, N)` buffer of `len` elements.
fn m_rows(len: usize, c: usize, n: usize) -> usize {
    len / (c * n * n).max(1)
}
