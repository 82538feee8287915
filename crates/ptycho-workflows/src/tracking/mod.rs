//! Experiment tracking in MLflow (`--logger mlflow`): params, per-epoch metrics and the bundle
//! as an artifact of one MLflow run, sent where `MLFLOW_TRACKING_URI` says (see
//! [`TrackingTarget`]): an MLflow server's REST API, a local `mlruns/` store in MLflow's own file
//! layout, or memory only.
//!
//! Tracking must never cost a training run. [`Tracker`] therefore has no fallible method: the
//! first failure is printed once on stderr, later ones are only counted ([`Tracker::warnings`]),
//! and once a server is out of reach the tracker stops contacting it, so that a dead server
//! costs one connection timeout rather than one per epoch.
//!
//! ```no_run
//! use ptycho_workflows::tracking::{RunStatus, Tracker, TrackingTarget};
//! # fn main() -> Result<(), ptycho_workflows::tracking::TrackingError> {
//! # let output_dir = std::path::Path::new("out");
//! // An unsupported MLFLOW_TRACKING_URI is a configuration error, refused before training.
//! let target = TrackingTarget::from_env(output_dir)?;
//! let mut tracker = Tracker::start(target, "ptychopinn", "run-1", &[("backend", "cpu")]);
//! tracker.log_params(&[("nepochs".into(), "2".into())]);
//! tracker.log_metrics(0, &[("loss", 0.5), ("val_loss", 0.6)]);
//! tracker.log_artifact(&output_dir.join("wts.h5.zip"), Some("bundle"));
//! tracker.finish(RunStatus::Finished);
//! # Ok(())
//! # }
//! ```

mod error;
mod file_store;
mod memory;
mod naming;
mod observer;
mod rest;
mod target;

use std::path::Path;

pub use error::TrackingError;
pub use memory::{MemoryRun, MetricPoint};
pub use naming::flatten_params;
pub use observer::{DEFAULT_EXPERIMENT, TrackedRun, TrackingObserver};
pub use target::{EXPERIMENT_NAME_VAR, TRACKING_URI_VAR, TrackingTarget, experiment_name_from_env};

use file_store::FileRun;
use rest::RestRun;

/// How a run ended, MLflow's `RunStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    /// The name MLflow's REST API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
            Self::Killed => "KILLED",
        }
    }

    /// The integer a file store's `meta.yaml` holds (MLflow's protobuf enum values).
    pub(crate) fn code(self) -> i32 {
        match self {
            Self::Running => 1,
            Self::Finished => 3,
            Self::Failed => 4,
            Self::Killed => 5,
        }
    }
}

/// What a new run is started with, shared by the stores.
#[derive(Debug)]
pub(crate) struct NewRun<'a> {
    pub experiment: &'a str,
    pub run_name: &'a str,
    pub tags: &'a [(String, String)],
    pub user: &'a str,
    pub start_ms: i64,
}

/// The tracking failures of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingWarnings {
    /// The first failure, as printed on stderr.
    pub first: Option<String>,
    /// Operations that were not recorded, the first included.
    pub failures: usize,
}

#[derive(Debug)]
enum Backend {
    Rest(RestRun),
    File(FileRun),
    Memory(MemoryRun),
    /// Nothing to log to: tracking is off, or the run could not be created.
    Inert,
}

/// One MLflow run. Every method succeeds; see the module documentation.
#[derive(Debug)]
pub struct Tracker {
    backend: Backend,
    target: String,
    warnings: TrackingWarnings,
    /// The server could not be reached; further requests are counted, not sent.
    unreachable: bool,
    finished: bool,
}

impl Tracker {
    /// Starts a run of `experiment` (created when missing). MLflow's usual source tags
    /// (`mlflow.user`, `mlflow.source.name`, `mlflow.source.type`) are added to `tags`.
    pub fn start(
        target: TrackingTarget,
        experiment: &str,
        run_name: &str,
        tags: &[(&str, &str)],
    ) -> Self {
        // MLflow refuses an empty experiment name; its own default is "Default".
        let experiment = if experiment.trim().is_empty() {
            "Default"
        } else {
            experiment
        };
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let source = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let mut all_tags: Vec<(String, String)> = vec![
            ("mlflow.user".into(), user.clone()),
            ("mlflow.source.name".into(), source),
            ("mlflow.source.type".into(), "LOCAL".into()),
        ];
        let mut tracker = Self {
            backend: Backend::Inert,
            target: target.to_string(),
            warnings: TrackingWarnings::default(),
            unreachable: false,
            finished: false,
        };
        // A tag MLflow would refuse is dropped alone rather than costing the whole run.
        for &(key, value) in tags {
            match naming::validate_key("tag", key) {
                Ok(()) => all_tags.push((key.to_owned(), value.to_owned())),
                Err(error) => tracker.fail(error),
            }
        }
        let new = NewRun {
            experiment,
            run_name,
            tags: &all_tags,
            user: &user,
            start_ms: naming::now_ms(),
        };
        let backend = match target {
            TrackingTarget::Rest { base_url } => RestRun::start(&base_url, &new).map(Backend::Rest),
            TrackingTarget::FileStore { root } => FileRun::start(&root, &new).map(Backend::File),
            TrackingTarget::Memory => Ok(Backend::Memory(MemoryRun::new(
                experiment,
                run_name,
                all_tags.clone(),
            ))),
        };
        match backend {
            Ok(backend) => tracker.backend = backend,
            Err(error) => tracker.fail(error),
        }
        tracker
    }

    /// A tracker that records nothing and never warns (tracking turned off).
    pub fn disabled() -> Self {
        Self {
            backend: Backend::Inert,
            target: "nowhere".into(),
            warnings: TrackingWarnings::default(),
            unreachable: false,
            finished: true,
        }
    }

    /// Logs params; values longer than MLflow's 6000 characters are cut, invalid keys skipped.
    pub fn log_params(&mut self, params: &[(String, String)]) {
        let mut valid = Vec::with_capacity(params.len());
        for (key, value) in params {
            match naming::validate_key("param", key) {
                Ok(()) => valid.push((key.clone(), naming::param_value(value))),
                Err(error) => self.fail(error),
            }
        }
        if valid.is_empty() {
            return;
        }
        self.with_backend(|backend| match backend {
            Backend::Rest(run) => run.log_params(&valid),
            Backend::File(run) => run.log_params(&valid),
            Backend::Memory(run) => run.log_params(&valid),
            Backend::Inert => Ok(()),
        });
    }

    /// Logs metric values at `step` (the epoch), timestamped now; invalid keys are skipped.
    pub fn log_metrics(&mut self, step: u64, metrics: &[(&str, f64)]) {
        let mut valid = Vec::with_capacity(metrics.len());
        for &(key, value) in metrics {
            match naming::validate_key("metric", key) {
                Ok(()) => valid.push((key, value)),
                Err(error) => self.fail(error),
            }
        }
        if valid.is_empty() {
            return;
        }
        let now = naming::now_ms();
        self.with_backend(|backend| match backend {
            Backend::Rest(run) => run.log_metrics(now, step, &valid),
            Backend::File(run) => run.log_metrics(now, step, &valid),
            Backend::Memory(run) => {
                run.log_metrics(now, step, &valid);
                Ok(())
            }
            Backend::Inert => Ok(()),
        });
    }

    /// Logs a file, or a directory's files, as `[<artifact_dir>/]<name>[/...]`.
    pub fn log_artifact(&mut self, local: &Path, artifact_dir: Option<&str>) {
        self.with_backend(|backend| match backend {
            Backend::Rest(run) => run.log_artifact(local, artifact_dir),
            Backend::File(run) => run.log_artifact(local, artifact_dir),
            Backend::Memory(run) => run.log_artifact(local, artifact_dir),
            Backend::Inert => Ok(()),
        });
    }

    /// Ends the run with `status` and its end time. Later calls do nothing.
    pub fn finish(&mut self, status: RunStatus) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let now = naming::now_ms();
        self.with_backend(|backend| match backend {
            Backend::Rest(run) => run.finish(status, now),
            Backend::File(run) => run.finish(status, now),
            Backend::Memory(run) => {
                run.status = status;
                Ok(())
            }
            Backend::Inert => Ok(()),
        });
    }

    /// The MLflow run id; `None` when the run could not be created or tracking is off.
    pub fn run_id(&self) -> Option<&str> {
        match &self.backend {
            Backend::Rest(run) => Some(run.run_id()),
            Backend::File(run) => Some(run.run_id()),
            Backend::Memory(run) => Some(&run.run_id),
            Backend::Inert => None,
        }
    }

    /// Where the run is tracked, in words (`mlflow server http://...`, `mlflow store /...`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The run's directory in a file store.
    pub fn run_dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::File(run) => Some(run.run_dir()),
            _ => None,
        }
    }

    /// The recorded run of the `memory` target.
    pub fn memory_run(&self) -> Option<&MemoryRun> {
        match &self.backend {
            Backend::Memory(run) => Some(run),
            _ => None,
        }
    }

    pub fn warnings(&self) -> &TrackingWarnings {
        &self.warnings
    }

    /// Runs one operation unless the server is known to be out of reach; records a failure.
    fn with_backend(&mut self, op: impl FnOnce(&mut Backend) -> Result<(), TrackingError>) {
        if matches!(self.backend, Backend::Inert) && self.warnings.first.is_none() {
            return;
        }
        if self.unreachable || matches!(self.backend, Backend::Inert) {
            self.warnings.failures += 1;
            return;
        }
        if let Err(error) = op(&mut self.backend) {
            self.unreachable = error.is_unreachable();
            self.fail(error);
        }
    }

    /// Counts a failure; prints the first.
    fn fail(&mut self, error: TrackingError) {
        self.warnings.failures += 1;
        if self.warnings.first.is_none() {
            let message = format!(
                "warning: tracking to {} failed; training goes on (later tracking failures \
                 are counted, not printed): {error}",
                self.target
            );
            eprintln!("{message}");
            self.warnings.first = Some(message);
        }
    }
}

impl Drop for Tracker {
    /// A run left open ends as MLflow's own client ends it: FAILED while unwinding from a
    /// panic, KILLED otherwise (the training was abandoned).
    fn drop(&mut self) {
        let status = if std::thread::panicking() {
            RunStatus::Failed
        } else {
            RunStatus::Killed
        };
        self.finish(status);
    }
}

#[cfg(test)]
mod tests;
