//! Loading a bundle: strict, in memory, and without ever interpreting code.
//!
//! Order of checks: the file is a zip with nothing before it and no duplicate names; every
//! member name is safe (zip-slip); upstream pickles are recognised and refused; the manifest
//! exists and is valid (its version first); the member set is exactly the expected one; each
//! member is read under a size cap (declared and actual size); both params snapshots are
//! valid, identical, and restore the training config; the weights parse, are finite, and match
//! the caller's schema exactly.
//! Nothing is extracted to disk.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use ptycho_config::{LegacyParams, TrainingConfig};
use zip::ZipArchive;

use crate::error::{BundleError, Malformed, Result};
use crate::layout::{
    MANIFEST_MEMBER, ModelRole, expected_members, is_tolerated_directory, is_upstream_pickle,
    resolve_archive, unsafe_path_reason,
};
use crate::manifest::Manifest;
use crate::params::{self, Restored};
use crate::tensor::{ModelSchema, TensorMap};
use crate::weights;

/// Size caps of members (zip-bomb protection; checked on declared and actual size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Cap of `manifest.json` and each `params.json`.
    pub max_json_bytes: u64,
    /// Cap of each `model.safetensors`.
    pub max_weights_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_json_bytes: 1 << 20,
            max_weights_bytes: 2 << 30,
        }
    }
}

/// The tensors both models are expected to hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSchema {
    pub diffraction_to_obj: ModelSchema,
    pub autoencoder: ModelSchema,
}

impl BundleSchema {
    /// The schema of one role.
    pub fn for_role(&self, role: ModelRole) -> &ModelSchema {
        match role {
            ModelRole::DiffractionToObj => &self.diffraction_to_obj,
            ModelRole::Autoencoder => &self.autoencoder,
        }
    }
}

/// A loaded bundle: the exact training config, its params snapshot and both models' weights,
/// each checked against the expected schema.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedBundle {
    /// The archive read.
    pub path: PathBuf,
    pub manifest: Manifest,
    /// The training config restored from the snapshot (the CONFIG-001 analog: archive wins).
    pub config: TrainingConfig,
    /// The full legacy params snapshot (with `intensity_scale` and `_version`).
    pub params: LegacyParams,
    /// The trained intensity scale.
    pub intensity_scale: f64,
    pub diffraction_to_obj: TensorMap,
    pub autoencoder: TensorMap,
}

impl LoadedBundle {
    /// The weights of one role.
    pub fn weights(&self, role: ModelRole) -> &TensorMap {
        match role {
            ModelRole::DiffractionToObj => &self.diffraction_to_obj,
            ModelRole::Autoencoder => &self.autoencoder,
        }
    }
}

/// A bundle checked in every respect except the model schema (for `ptycho inspect`).
#[derive(Debug, Clone, PartialEq)]
pub struct BundleSummary {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub config: TrainingConfig,
    pub params: LegacyParams,
    pub intensity_scale: f64,
    /// Each role's tensors (name → dtype and shape).
    pub diffraction_to_obj: ModelSchema,
    pub autoencoder: ModelSchema,
}

struct Checked {
    path: PathBuf,
    manifest: Manifest,
    restored: Restored,
    weights: [TensorMap; 2],
}

/// Loads a bundle whose weights must match `schema` exactly.
pub fn load_bundle(path: &Path, schema: &BundleSchema) -> Result<LoadedBundle> {
    load_bundle_with(path, &LoadOptions::default(), |_| {
        Ok::<_, std::convert::Infallible>(schema.clone())
    })
}

/// Loads a bundle; `schema_for` receives the restored training config and returns the tensors
/// the model built from it has (so the architecture always comes from the bundle).
pub fn load_bundle_with<E: std::fmt::Display>(
    path: &Path,
    options: &LoadOptions,
    schema_for: impl FnOnce(&TrainingConfig) -> std::result::Result<BundleSchema, E>,
) -> Result<LoadedBundle> {
    finish_load(read_checked(path, options)?, schema_for)
}

/// [`load_bundle_with`] on an archive held in memory; `origin` names it in errors.
pub fn load_bundle_bytes_with<E: std::fmt::Display>(
    bytes: &[u8],
    origin: &Path,
    options: &LoadOptions,
    schema_for: impl FnOnce(&TrainingConfig) -> std::result::Result<BundleSchema, E>,
) -> Result<LoadedBundle> {
    let checked = check_archive(std::io::Cursor::new(bytes), origin.to_path_buf(), options)?;
    finish_load(checked, schema_for)
}

/// Matches the checked weights against the schema built from the restored config.
fn finish_load<E: std::fmt::Display>(
    checked: Checked,
    schema_for: impl FnOnce(&TrainingConfig) -> std::result::Result<BundleSchema, E>,
) -> Result<LoadedBundle> {
    let schema = schema_for(&checked.restored.config).map_err(|e| BundleError::Schema {
        reason: e.to_string(),
    })?;
    for (role, map) in ModelRole::ALL.iter().zip(&checked.weights) {
        let problems = schema.for_role(*role).mismatches(map);
        if !problems.is_empty() {
            return Err(BundleError::Malformed {
                path: checked.path,
                problem: Malformed::WeightsMismatch {
                    member: role.weights_member(),
                    problems,
                },
            });
        }
    }
    let [diffraction_to_obj, autoencoder] = checked.weights;
    Ok(LoadedBundle {
        path: checked.path,
        manifest: checked.manifest,
        config: checked.restored.config,
        params: checked.restored.params,
        intensity_scale: checked.restored.intensity_scale,
        diffraction_to_obj,
        autoencoder,
    })
}

/// Reads and checks a bundle without a model schema, returning what it describes.
pub fn inspect_bundle(path: &Path, options: &LoadOptions) -> Result<BundleSummary> {
    Ok(summarise(read_checked(path, options)?))
}

/// [`inspect_bundle`] on an archive held in memory; `origin` names it in errors.
pub fn inspect_bundle_bytes(
    bytes: &[u8],
    origin: &Path,
    options: &LoadOptions,
) -> Result<BundleSummary> {
    let checked = check_archive(std::io::Cursor::new(bytes), origin.to_path_buf(), options)?;
    Ok(summarise(checked))
}

fn summarise(checked: Checked) -> BundleSummary {
    BundleSummary {
        path: checked.path,
        manifest: checked.manifest,
        config: checked.restored.config,
        params: checked.restored.params,
        intensity_scale: checked.restored.intensity_scale,
        diffraction_to_obj: checked.weights[0].schema(),
        autoencoder: checked.weights[1].schema(),
    }
}

fn read_checked(path: &Path, options: &LoadOptions) -> Result<Checked> {
    let archive_path = resolve_archive(path);
    if !archive_path.is_file() {
        return Err(BundleError::NotFound {
            hint: if path.is_dir() {
                format!(
                    "the directory {} holds no wts.h5.zip; `ptycho train` writes one into its output directory",
                    path.display()
                )
            } else {
                "pass the training output directory or its wts.h5.zip".to_owned()
            },
            path: archive_path,
        });
    }
    let file = File::open(&archive_path).map_err(|source| BundleError::Read {
        path: archive_path.clone(),
        source,
    })?;
    check_archive(BufReader::new(file), archive_path, options)
}

/// Checks an archive read from `reader`; the file and the in-memory APIs both end here.
fn check_archive<R: Read + std::io::Seek>(
    reader: R,
    archive_path: PathBuf,
    options: &LoadOptions,
) -> Result<Checked> {
    let malformed = |problem: Malformed| BundleError::Malformed {
        path: archive_path.clone(),
        problem,
    };
    let mut archive = ZipArchive::new(reader).map_err(|e| {
        malformed(Malformed::NotZip {
            reason: e.to_string().to_lowercase(),
        })
    })?;
    let (manifest, restored, weights) = read_members(&mut archive, options).map_err(malformed)?;
    Ok(Checked {
        path: archive_path,
        manifest,
        restored,
        weights,
    })
}

type Members = (Manifest, Restored, [TensorMap; 2]);

fn read_members<R: Read + std::io::Seek>(
    archive: &mut ZipArchive<R>,
    options: &LoadOptions,
) -> std::result::Result<Members, Malformed> {
    if archive.offset() > 0 {
        return Err(Malformed::PrefixedData {
            bytes: archive.offset(),
        });
    }
    if archive.has_duplicate_names() {
        return Err(Malformed::DuplicateMembers);
    }
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Malformed::NotZip {
            reason: format!("member name cannot be decoded: {e}"),
        })?;
    for name in &names {
        if let Some(reason) = unsafe_path_reason(name) {
            return Err(Malformed::UnsafePath {
                member: name.clone(),
                reason,
            });
        }
    }
    if let Some(pickle) = names.iter().find(|n| is_upstream_pickle(n)) {
        return Err(Malformed::UpstreamPickle {
            member: pickle.clone(),
        });
    }
    // The manifest comes first, so that a bundle of another format version is reported as such
    // rather than as a list of members this version does not know.
    if !names.iter().any(|n| n == MANIFEST_MEMBER) {
        return Err(Malformed::MissingMember {
            member: MANIFEST_MEMBER.to_owned(),
        });
    }
    let manifest = Manifest::parse(&read_member(
        archive,
        MANIFEST_MEMBER,
        options.max_json_bytes,
    )?)?;
    let expected = expected_members();
    for name in &names {
        if !expected.contains(name) && !is_tolerated_directory(name) {
            return Err(Malformed::UnexpectedMember {
                member: name.clone(),
                expected: expected.join(", "),
            });
        }
    }
    for member in &expected {
        if !names.contains(member) {
            return Err(Malformed::MissingMember {
                member: member.clone(),
            });
        }
    }

    let mut snapshots = Vec::with_capacity(2);
    for role in ModelRole::ALL {
        let member = role.params_member();
        let bytes = read_member(archive, &member, options.max_json_bytes)?;
        snapshots.push((member.clone(), params::restore(&bytes, &member)?));
    }
    if snapshots[0].1 != snapshots[1].1 {
        return Err(Malformed::ParamsDiffer {
            first: snapshots[0].0.clone(),
            second: snapshots[1].0.clone(),
        });
    }
    let restored = snapshots.swap_remove(0).1;
    let mut maps = Vec::with_capacity(2);
    for role in ModelRole::ALL {
        let member = role.weights_member();
        let bytes = read_member(archive, &member, options.max_weights_bytes)?;
        maps.push(weights::decode(&bytes, &member)?);
    }
    let autoencoder = maps.pop().unwrap_or_default();
    let diffraction_to_obj = maps.pop().unwrap_or_default();
    Ok((manifest, restored, [diffraction_to_obj, autoencoder]))
}

/// Reads one member in full, refusing declared or actual sizes over `cap` and any difference
/// between the declared and the actual size.
fn read_member<R: Read + std::io::Seek>(
    archive: &mut ZipArchive<R>,
    member: &str,
    cap: u64,
) -> std::result::Result<Vec<u8>, Malformed> {
    let unreadable = |reason: String| Malformed::Unreadable {
        member: member.to_owned(),
        reason: reason.to_lowercase(),
    };
    let file = archive
        .by_name(member)
        .map_err(|e| unreadable(e.to_string()))?;
    let declared = file.size();
    if declared > cap {
        return Err(Malformed::TooLarge {
            member: member.to_owned(),
            size: declared,
            which: "declared",
            cap,
        });
    }
    // The declared size only bounds the first allocation: a lying header must not make the
    // loader reserve gigabytes for a few bytes of data.
    let initial = declared.min(64 << 20);
    let mut bytes = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    let read = file.take(cap.saturating_add(1)).read_to_end(&mut bytes);
    if bytes.len() as u64 > cap {
        return Err(Malformed::TooLarge {
            member: member.to_owned(),
            size: bytes.len() as u64,
            which: "actual",
            cap,
        });
    }
    read.map_err(|e| unreadable(e.to_string()))?;
    if bytes.len() as u64 != declared {
        return Err(Malformed::SizeMismatch {
            member: member.to_owned(),
            declared,
            actual: bytes.len() as u64,
        });
    }
    Ok(bytes)
}
