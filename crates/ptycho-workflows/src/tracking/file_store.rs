//! A local `mlruns/` store in MLflow's FileStore layout (`mlflow/store/tracking/file_store.py`),
//! so that `mlflow ui --backend-store-uri file:<root>` and `mlflow.search_runs` read our runs:
//!
//! ```text
//! <root>/.trash/
//! <root>/<experiment id>/meta.yaml                     experiment "Default" has id 0
//! <root>/<experiment id>/<run id>/meta.yaml            status as MLflow's integer enum
//! <root>/<experiment id>/<run id>/params/<key>         the value, no newline
//! <root>/<experiment id>/<run id>/metrics/<key>        lines "<timestamp ms> <value> <step>"
//! <root>/<experiment id>/<run id>/tags/<key>           mlflow.runName and the caller's tags
//! <root>/<experiment id>/<run id>/artifacts/...        copies of the logged files
//! ```
//!
//! The YAML keys are written in sorted order, as MLflow's `write_yaml` does.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::naming::{artifact_files, validate_key};
use super::{NewRun, RunStatus, TrackingError};

const META: &str = "meta.yaml";
const DEFAULT_EXPERIMENT: &str = "Default";
/// MLflow's `SourceType.LOCAL`.
const SOURCE_TYPE_LOCAL: i32 = 4;

/// `<experiment id>/meta.yaml`.
#[derive(Debug, Serialize)]
struct ExperimentMeta {
    artifact_location: String,
    creation_time: i64,
    experiment_id: String,
    last_update_time: i64,
    lifecycle_stage: &'static str,
    name: String,
}

/// `<experiment id>/<run id>/meta.yaml`. `run_uuid`, `tags` and the `source_*` fields are no
/// longer read by MLflow 3 but MLflow still writes them, for older readers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunMeta {
    pub artifact_uri: String,
    pub deleted_time: Option<i64>,
    pub end_time: Option<i64>,
    pub entry_point_name: String,
    pub experiment_id: String,
    pub lifecycle_stage: String,
    pub run_id: String,
    pub run_name: String,
    pub run_uuid: String,
    pub source_name: String,
    pub source_type: i32,
    pub source_version: String,
    pub start_time: i64,
    pub status: i32,
    pub tags: Vec<String>,
    pub user_id: String,
}

/// One run being written into a store.
#[derive(Debug)]
pub(crate) struct FileRun {
    run_dir: PathBuf,
    meta: RunMeta,
}

impl FileRun {
    /// Creates the store if needed (with experiment "Default", id 0, as MLflow does), finds or
    /// creates the experiment by name and creates the run.
    pub fn start(root: &Path, new: &NewRun<'_>) -> Result<Self, TrackingError> {
        let root = std::path::absolute(root).map_err(TrackingError::io(root, "resolving"))?;
        if !root.exists() {
            fs::create_dir_all(&root).map_err(TrackingError::io(&root, "creating the store"))?;
            create_experiment(&root, "0", DEFAULT_EXPERIMENT, new.start_ms)?;
        }
        let trash = root.join(".trash");
        fs::create_dir_all(&trash).map_err(TrackingError::io(&trash, "creating"))?;
        let experiment_id = match find_experiment(&root, new.experiment)? {
            Some(id) => id,
            None => {
                let id = if new.experiment == DEFAULT_EXPERIMENT && !root.join("0").exists() {
                    "0".to_owned()
                } else {
                    random_experiment_id()
                };
                create_experiment(&root, &id, new.experiment, new.start_ms)?;
                id
            }
        };
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let run_dir = root.join(&experiment_id).join(&run_id);
        for sub in ["metrics", "params", "artifacts", "tags"] {
            let dir = run_dir.join(sub);
            fs::create_dir_all(&dir)
                .map_err(TrackingError::io(&dir, "creating the run directory"))?;
        }
        let meta = RunMeta {
            artifact_uri: file_uri(&run_dir.join("artifacts")),
            deleted_time: None,
            end_time: None,
            entry_point_name: String::new(),
            experiment_id,
            lifecycle_stage: "active".into(),
            run_id: run_id.clone(),
            run_name: new.run_name.to_owned(),
            run_uuid: run_id,
            source_name: String::new(),
            source_type: SOURCE_TYPE_LOCAL,
            source_version: String::new(),
            start_time: new.start_ms,
            status: RunStatus::Running.code(),
            tags: Vec::new(),
            user_id: new.user.to_owned(),
        };
        let run = Self { run_dir, meta };
        run.write_meta()?;
        run.write_value("tags", "mlflow.runName", new.run_name)?;
        for (key, value) in new.tags {
            validate_key("tag", key)?;
            run.write_value("tags", key, value)?;
        }
        Ok(run)
    }

    pub fn run_id(&self) -> &str {
        &self.meta.run_id
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Writes each param; one already logged with another value is refused, as MLflow does.
    pub fn log_params(&mut self, params: &[(String, String)]) -> Result<(), TrackingError> {
        for (key, value) in params {
            let path = self.run_dir.join("params").join(key);
            if let Ok(logged) = fs::read_to_string(&path) {
                if &logged != value {
                    return Err(TrackingError::ParamChanged {
                        key: key.clone(),
                        path,
                        logged,
                        new: value.clone(),
                    });
                }
                continue;
            }
            self.write_value("params", key, value)?;
        }
        Ok(())
    }

    /// Appends one line per metric. Values use Rust's shortest round-trip form, which Python's
    /// `float()` reads back exactly (`NaN` and `inf` included).
    pub fn log_metrics(
        &mut self,
        timestamp_ms: i64,
        step: u64,
        metrics: &[(&str, f64)],
    ) -> Result<(), TrackingError> {
        for &(key, value) in metrics {
            let path = self.run_dir.join("metrics").join(key);
            create_parent(&path)?;
            let mut file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(TrackingError::io(&path, "opening the metric file"))?;
            writeln!(file, "{timestamp_ms} {value:?} {step}")
                .map_err(TrackingError::io(&path, "appending to the metric file"))?;
        }
        Ok(())
    }

    /// Copies a file or directory under `artifacts/[<artifact_dir>/]`.
    pub fn log_artifact(
        &mut self,
        local: &Path,
        artifact_dir: Option<&str>,
    ) -> Result<(), TrackingError> {
        for (source, relative) in artifact_files(local, artifact_dir)? {
            let dest = self.run_dir.join("artifacts").join(&relative);
            create_parent(&dest)?;
            // A bundle copied half-way must not look like a logged one.
            let mut input = fs::File::open(&source)
                .map_err(TrackingError::io(&source, "opening the artifact"))?;
            ptycho_fs::write_atomically_with(&dest, |out| std::io::copy(&mut input, out).map(drop))
                .map_err(atomic_error)?;
        }
        Ok(())
    }

    pub fn finish(&mut self, status: RunStatus, end_ms: i64) -> Result<(), TrackingError> {
        self.meta.status = status.code();
        self.meta.end_time = Some(end_ms);
        self.write_meta()
    }

    fn write_meta(&self) -> Result<(), TrackingError> {
        let path = self.run_dir.join(META);
        let yaml = serde_norway::to_string(&self.meta).map_err(|e| TrackingError::Yaml {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &yaml)
    }

    fn write_value(&self, folder: &str, key: &str, value: &str) -> Result<(), TrackingError> {
        let path = self.run_dir.join(folder).join(key);
        create_parent(&path)?;
        fs::write(&path, value).map_err(TrackingError::io(&path, "writing"))
    }
}

fn create_experiment(root: &Path, id: &str, name: &str, now_ms: i64) -> Result<(), TrackingError> {
    let dir = root.join(id);
    fs::create_dir(&dir).map_err(TrackingError::io(&dir, "creating the experiment directory"))?;
    let meta = ExperimentMeta {
        artifact_location: file_uri(&dir),
        creation_time: now_ms,
        experiment_id: id.to_owned(),
        last_update_time: now_ms,
        lifecycle_stage: "active",
        name: name.to_owned(),
    };
    let path = dir.join(META);
    let yaml = serde_norway::to_string(&meta).map_err(|e| TrackingError::Yaml {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    write_atomically(&path, &yaml)
}

/// The id of the active experiment called `name`; a deleted one (in `.trash`) is an error, as
/// in MLflow, since a new experiment of the same name would hide it.
fn find_experiment(root: &Path, name: &str) -> Result<Option<String>, TrackingError> {
    for (parent, deleted) in [(root.to_owned(), false), (root.join(".trash"), true)] {
        let entries =
            fs::read_dir(&parent).map_err(TrackingError::io(&parent, "listing the store"))?;
        for entry in entries.flatten() {
            let meta_path = entry.path().join(META);
            let Ok(text) = fs::read_to_string(&meta_path) else {
                continue;
            };
            let meta: serde_norway::Value =
                serde_norway::from_str(&text).map_err(|e| TrackingError::Yaml {
                    path: meta_path.clone(),
                    reason: e.to_string(),
                })?;
            if meta.get("name").and_then(|n| n.as_str()) != Some(name) {
                continue;
            }
            let stage = meta.get("lifecycle_stage").and_then(|s| s.as_str());
            if deleted || stage == Some("deleted") {
                return Err(TrackingError::DeletedExperiment {
                    name: name.to_owned(),
                    path: meta_path,
                });
            }
            return Ok(Some(entry.file_name().to_string_lossy().into_owned()));
        }
    }
    Ok(None)
}

/// An 18-digit id without leading zero, the shape of MLflow's `_generate_unique_integer_id`.
fn random_experiment_id() -> String {
    let random = uuid::Uuid::new_v4().as_u128();
    let low = 100_000_000_000_000_000_u128;
    (low + random % (9 * low)).to_string()
}

/// `file://` and the percent-encoded absolute path, as Python's `Path.as_uri()` writes it.
fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

fn create_parent(path: &Path) -> Result<(), TrackingError> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent).map_err(TrackingError::io(parent, "creating")),
        None => Ok(()),
    }
}

/// Writes through a temporary file and a rename, so that MLflow never reads half a meta.yaml.
fn write_atomically(path: &Path, text: &str) -> Result<(), TrackingError> {
    ptycho_fs::write_atomically(path, text.as_bytes()).map_err(atomic_error)
}

fn atomic_error(error: ptycho_fs::AtomicWriteError) -> TrackingError {
    TrackingError::Io {
        path: error.path,
        action: "writing",
        source: error.source,
    }
}
