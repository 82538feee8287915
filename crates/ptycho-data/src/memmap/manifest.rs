//! The memory-map manifest: what the cache was built from (input hashes, configuration) and what
//! it holds (fields with dtype, shape and sha256), so a stale cache is detected, never reused.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::grouping::GroupingParams;

/// Manifest schema name and version.
pub const SCHEMA: &str = "ptycho-data-memmap";
pub const VERSION: u32 = 1;
/// File name of the manifest inside the cache directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How a memory-mapped dataset is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemmapConfig {
    /// Grouping of every input file (its `seed` is required: rebuilds must be byte-identical).
    pub grouping: GroupingParams,
    /// Heap the build and each batch may use, in bytes; larger data stays in the mapped files.
    pub memory_cap_bytes: usize,
    /// Convert intensities (counts) with sqrt instead of rejecting them.
    pub convert_intensity: bool,
}

/// One input file as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    /// File name (not the full path, so a moved input set still matches).
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub n_positions: usize,
    /// Rows `[first_row, first_row + rows)` of the dataset come from this file.
    pub first_row: usize,
    pub rows: usize,
    /// `X = norm · diffraction` for this file's rows.
    pub norm: f32,
}

/// One field file as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRecord {
    pub file: String,
    /// numpy dtype string (`<f4`, `<f8`, `<i8`, `<u4`, `<c8`).
    pub dtype: String,
    pub shape: Vec<usize>,
    pub sha256: String,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub version: u32,
    pub config: MemmapConfig,
    pub patch_size: usize,
    pub channels: usize,
    pub rows: usize,
    pub inputs: Vec<InputRecord>,
    /// Fields by name, sorted.
    pub fields: std::collections::BTreeMap<String, FieldRecord>,
}

impl Manifest {
    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, "cannot read", e))?;
        Self::parse(&text, dir)
    }

    /// Parses and checks the text of a manifest; `dir` names the cache directory in errors.
    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| DataError::StaleCache {
            dir: dir.to_path_buf(),
            reason: format!("unreadable manifest: {e}"),
        })?;
        if m.schema != SCHEMA || m.version != VERSION {
            return Err(DataError::StaleCache {
                dir: dir.to_path_buf(),
                reason: format!(
                    "schema {} v{} found, {SCHEMA} v{VERSION} expected",
                    m.schema, m.version
                ),
            });
        }
        m.check_layout(dir)?;
        Ok(m)
    }

    /// Checks that the fields are exactly the ones a build of this shape writes (names, files,
    /// dtypes, shapes) and that each one's size in bytes is representable, so a corrupt or
    /// hand-edited manifest is refused before any file is mapped or indexed by it.
    fn check_layout(&self, dir: &Path) -> Result<()> {
        let stale = |reason: String| DataError::StaleCache {
            dir: dir.to_path_buf(),
            reason,
        };
        let specs = super::build::field_specs(
            self.rows,
            self.channels,
            self.patch_size,
            self.inputs.len(),
            self.fields.contains_key("y"),
        );
        let expected: Vec<&str> = specs.iter().map(|(name, ..)| *name).collect();
        let found: Vec<&str> = self.fields.keys().map(String::as_str).collect();
        if found != expected {
            return Err(stale(format!(
                "fields {found:?} found, {expected:?} expected"
            )));
        }
        for (name, file, dtype, shape) in specs {
            let rec = &self.fields[name];
            if rec.file != file || rec.dtype != dtype || rec.shape != shape {
                return Err(stale(format!(
                    "field `{name}`: {} {} {:?} found, {file} {dtype} {shape:?} expected (rows {}, channels {}, patch size {}, {} inputs)",
                    rec.file,
                    rec.dtype,
                    rec.shape,
                    self.rows,
                    self.channels,
                    self.patch_size,
                    self.inputs.len()
                )));
            }
            let bytes = shape
                .iter()
                .try_fold(super::build::itemsize(dtype), |acc, &d| acc.checked_mul(d));
            if bytes.is_none() {
                return Err(stale(format!(
                    "field `{name}` of shape {shape:?} is larger than the address space"
                )));
            }
        }
        Ok(())
    }

    /// Serialises deterministically (sorted field map, fixed struct order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, "cannot open", e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .map_err(|e| DataError::io(path, "cannot read", e))?;
        if k == 0 {
            break;
        }
        total += k as u64;
        h.update(&buf[..k]);
    }
    Ok((hex(&h.finalize()), total))
}

/// sha256 of bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
