//! The manifest written next to a simulated dataset: version, generator, configuration, sha256 and
//! shapes, so a checked-in fixture can be checked and regenerated.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{SimulationConfig, simulate};
use crate::contract::ScanData;
use crate::error::{DataError, Result};
use crate::npz::Compression;

/// Manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// The JSON manifest of a simulated dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetManifest {
    pub version: u32,
    /// What made the file (crate and version).
    pub generator: String,
    /// The NPZ file name, next to the manifest.
    pub file: String,
    pub config: SimulationConfig,
    pub sha256: String,
    /// Shape of every member.
    pub shapes: BTreeMap<String, Vec<usize>>,
}

/// Shapes of a scan's members as written by [`ScanData::save`].
pub fn member_shapes(scan: &ScanData) -> BTreeMap<String, Vec<usize>> {
    use crate::contract::keys;
    let n = scan.n_positions();
    let mut m = BTreeMap::new();
    m.insert(
        keys::DIFFRACTION.to_string(),
        scan.diffraction.shape().to_vec(),
    );
    for k in [
        keys::XCOORDS,
        keys::YCOORDS,
        keys::XCOORDS_START,
        keys::YCOORDS_START,
        keys::SCAN_INDEX,
    ] {
        m.insert(k.to_string(), vec![n]);
    }
    m.insert(keys::PROBE.to_string(), scan.probe.shape().to_vec());
    if let Some(o) = &scan.object {
        m.insert(keys::OBJECT.to_string(), o.shape().to_vec());
    }
    if let Some(y) = &scan.y_patches {
        m.insert(keys::Y.to_string(), y.shape().to_vec());
    }
    m
}

/// Simulates, writes `npz_path` (compressed) and its manifest `<stem>.json`; returns the manifest.
pub fn write_simulated_dataset(cfg: &SimulationConfig, npz_path: &Path) -> Result<DatasetManifest> {
    write_dataset_with_manifest(&simulate(cfg)?, cfg, npz_path)
}

/// Writes a scan simulated with `cfg` to `npz_path` (compressed) and its manifest `<stem>.json`;
/// returns the manifest. The caller may have dropped members first (e.g. `Y`, which follows from
/// `objectGuess` and the coordinates); the manifest's shapes list what was written.
pub fn write_dataset_with_manifest(
    scan: &ScanData,
    cfg: &SimulationConfig,
    npz_path: &Path,
) -> Result<DatasetManifest> {
    scan.save(npz_path, Compression::Deflated)?;
    let (sha256, _) = crate::memmap::manifest::sha256_file(npz_path)?;
    let manifest = DatasetManifest {
        version: MANIFEST_VERSION,
        generator: format!("ptycho-data {} simulate", env!("CARGO_PKG_VERSION")),
        file: npz_path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        config: cfg.clone(),
        sha256,
        shapes: member_shapes(scan),
    };
    let json_path = npz_path.with_extension("json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    ptycho_fs::write_atomically(&json_path, text.as_bytes()).map_err(crate::npz::write_error)?;
    Ok(manifest)
}

/// Reads a dataset manifest.
pub fn read_manifest(path: &Path) -> Result<DatasetManifest> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, "cannot read", e))?;
    serde_json::from_str(&text).map_err(|e| {
        DataError::invalid(
            path,
            "(manifest)",
            crate::error::Problem::Format,
            "a dataset manifest JSON",
            e.to_string(),
        )
    })
}
