//! Saving a bundle: validate the contents, encode the archive in a fixed order, write it
//! atomically.
//!
//! Determinism: members are written in [`crate::layout::expected_members`] order with a fixed
//! timestamp (1980-01-01, the zip epoch) and fixed permissions, JSON has a fixed key order and
//! safetensors sorts its tensors, so the same inputs and creation time give a byte-identical
//! archive.

use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ptycho_config::TrainingConfig;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::error::{BundleError, Result};
use crate::layout::{MANIFEST_MEMBER, ModelRole, archive_target};
use crate::manifest::{Manifest, default_creation_time, rfc3339_utc};
use crate::params;
use crate::tensor::TensorMap;
use crate::weights;

/// What a bundle holds: the training config, the trained intensity scale and both models'
/// weights (real weights in both; an empty model is refused).
#[derive(Debug, Clone, Copy)]
pub struct BundleContents<'a> {
    /// The exact training config (restored on load).
    pub config: &'a TrainingConfig,
    /// The trained intensity scale, `exp(log_scale)` of the trained model (not the initial one).
    pub intensity_scale: f64,
    /// Inference graph weights.
    pub diffraction_to_obj: &'a TensorMap,
    /// Full training graph weights, physics state (`log_scale`, probe, ...) included.
    pub autoencoder: &'a TensorMap,
}

impl BundleContents<'_> {
    /// The weights of one role.
    pub fn weights(&self, role: ModelRole) -> &TensorMap {
        match role {
            ModelRole::DiffractionToObj => self.diffraction_to_obj,
            ModelRole::Autoencoder => self.autoencoder,
        }
    }
}

/// How to save: the backend name and optional creation time and crate versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOptions {
    /// burn backend the model ran on (one of [`crate::KNOWN_BACKENDS`]).
    pub backend: String,
    /// Creation time; `None`: `SOURCE_DATE_EPOCH` when set, else now.
    pub created_at: Option<SystemTime>,
    /// Extra crate versions to record (e.g. `ptycho-model`, `burn`); `ptycho-bundle` is added.
    pub crate_versions: BTreeMap<String, String>,
}

impl SaveOptions {
    /// Options for `backend`, creation time from the environment or the clock.
    pub fn new(backend: impl Into<String>) -> Self {
        SaveOptions {
            backend: backend.into(),
            created_at: None,
            crate_versions: BTreeMap::new(),
        }
    }

    /// Sets the creation time (for reproducible archives).
    pub fn created_at(mut self, time: SystemTime) -> Self {
        self.created_at = Some(time);
        self
    }

    /// Records the version of a crate.
    pub fn crate_version(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.crate_versions.insert(name.into(), version.into());
        self
    }
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> BundleError {
    BundleError::InvalidContents {
        what: what.into(),
        reason: reason.into(),
    }
}

fn check_contents(contents: &BundleContents<'_>, options: &SaveOptions) -> Result<()> {
    if let Err(expected) = Manifest::check_backend(&options.backend) {
        return Err(invalid(
            "backend",
            format!("expected {expected}, found {:?}", options.backend),
        ));
    }
    let scale = contents.intensity_scale;
    if !(scale.is_finite() && scale > 0.0) {
        return Err(invalid(
            "intensity_scale",
            format!(
                "expected a finite positive number (the trained exp(log_scale)), found {scale}"
            ),
        ));
    }
    contents
        .config
        .validate()
        .map_err(|e| invalid("training config", e.to_string()))?;
    for role in ModelRole::ALL {
        let map = contents.weights(role);
        if map.is_empty() {
            return Err(invalid(
                format!("{role} weights"),
                "expected the trained model's tensors, found none (placeholder models are not saved)",
            ));
        }
        for (name, tensor) in map.iter() {
            if let Some((count, first)) = tensor.non_finite() {
                return Err(invalid(
                    format!("{role} tensor `{name}`"),
                    format!("holds {count} non-finite value(s), first at flat index {first}"),
                ));
            }
        }
    }
    Ok(())
}

/// The archive bytes of a bundle (what [`save_bundle`] writes).
pub fn encode_bundle(contents: &BundleContents<'_>, options: &SaveOptions) -> Result<Vec<u8>> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    write_archive(&mut buffer, contents, options).map_err(|e| BundleError::Write {
        path: PathBuf::from("(memory)"),
        source: e,
    })??;
    Ok(buffer.into_inner())
}

/// Writes the archive to `sink`; the outer error is I/O, the inner one invalid contents.
fn write_archive<W: Write + Seek>(
    sink: W,
    contents: &BundleContents<'_>,
    options: &SaveOptions,
) -> std::io::Result<Result<()>> {
    if let Err(e) = check_contents(contents, options) {
        return Ok(Err(e));
    }
    let created = match options.created_at {
        Some(time) => Ok(time),
        None => default_creation_time(),
    };
    let created_at = match created.and_then(rfc3339_utc) {
        Ok(text) => text,
        Err(reason) => return Ok(Err(invalid("created_at", reason))),
    };
    let mut versions = options.crate_versions.clone();
    versions.insert(
        env!("CARGO_PKG_NAME").to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    );
    let manifest = Manifest::new(&options.backend, created_at, versions);
    let snapshot = params::to_json(&params::snapshot(contents.config, contents.intensity_scale));

    let mut members: Vec<(String, Vec<u8>)> =
        vec![(MANIFEST_MEMBER.to_owned(), manifest.to_json())];
    for role in ModelRole::ALL {
        let bytes = match weights::encode(contents.weights(role)) {
            Ok(bytes) => bytes,
            Err(reason) => return Ok(Err(invalid(format!("{role} weights"), reason))),
        };
        members.push((role.params_member(), snapshot.clone()));
        members.push((role.weights_member(), bytes));
    }

    let file_options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .large_file(
            members
                .iter()
                .any(|(_, b)| b.len() as u64 >= u32::MAX as u64),
        );
    let mut zip = ZipWriter::new(sink);
    for (name, bytes) in &members {
        zip.start_file(name.as_str(), file_options)
            .map_err(std::io::Error::other)?;
        zip.write_all(bytes)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(Ok(()))
}

/// Saves a bundle atomically and returns the archive path.
///
/// `target` is a `.zip` path, upstream's base path `<dir>/wts.h5`, or else a directory (the
/// bundle becomes `<dir>/wts.h5.zip`); missing directories are created. The archive is written
/// to a temporary file in the same directory and renamed into place, so a crash never leaves a
/// half-written bundle and an existing bundle is replaced only by a complete one.
pub fn save_bundle(
    target: &Path,
    contents: &BundleContents<'_>,
    options: &SaveOptions,
) -> Result<PathBuf> {
    check_contents(contents, options)?;
    let path = archive_target(target);
    let write_error = |source: std::io::Error| BundleError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let atomic_error = |e: ptycho_fs::AtomicWriteError| write_error(e.source);
    let mut file = ptycho_fs::AtomicFile::create(&path).map_err(atomic_error)?;
    write_archive(&mut file, contents, options).map_err(write_error)??;
    file.commit().map_err(atomic_error)?;
    Ok(path)
}
