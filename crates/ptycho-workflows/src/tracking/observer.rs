//! The training observer behind `execution.logger_backend = "mlflow"`: the resolved config as
//! params when the run starts, every epoch's figures as metrics, and the run's end status. The
//! files (bundle, history, images) are logged by the caller once they exist.

use std::path::Path;

use ptycho_model::{EpochEnd, ObserverError, RunEnd, TrainObserver};

use super::{
    RunStatus, Tracker, TrackingTarget, TrackingWarnings, experiment_name_from_env, flatten_params,
};
use crate::config::ResolvedConfig;
use crate::error::Result;

/// Experiment runs go to when `MLFLOW_EXPERIMENT_NAME` is unset.
pub const DEFAULT_EXPERIMENT: &str = "ptychopinn";

/// Where a finished run was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedRun {
    /// The store or server, as [`Tracker::target`] describes it.
    pub target: String,
    /// MLflow's run id; `None` when the run could not be created.
    pub run_id: Option<String>,
    /// Failures along the way (training went on regardless).
    pub warnings: TrackingWarnings,
}

/// An MLflow run fed by the training loop.
#[derive(Debug)]
pub struct TrackingObserver {
    tracker: Tracker,
}

impl TrackingObserver {
    /// Starts a run at `target`, else where `MLFLOW_TRACKING_URI` says (a local store under
    /// `output_dir` when unset), and logs `config` as params. An unsupported URI is an error
    /// before training; an unreachable server is only a warning.
    pub fn start(
        config: &ResolvedConfig,
        output_dir: &Path,
        target: Option<TrackingTarget>,
    ) -> Result<Self> {
        let target = match target {
            Some(target) => target,
            None => TrackingTarget::from_env(output_dir)?,
        };
        let run_name = output_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ptycho-train".to_owned());
        let mut tracker = Tracker::start(
            target,
            &experiment_name_from_env(DEFAULT_EXPERIMENT),
            &run_name,
            &[("ptychopinn.version", env!("CARGO_PKG_VERSION"))],
        );
        let mut params = Vec::new();
        for (section, value) in [
            ("training", serde_json::to_value(&config.training)),
            ("execution", serde_json::to_value(&config.execution)),
        ] {
            let value = value.map_err(|e| {
                crate::WorkflowError::Weights(format!("cannot serialise the {section} config: {e}"))
            })?;
            params.extend(
                flatten_params(&value)
                    .into_iter()
                    .map(|(k, v)| (format!("{section}.{k}"), v)),
            );
        }
        tracker.log_params(&params);
        Ok(Self { tracker })
    }

    /// Logs a file (or directory) of the finished run under `artifact_dir`.
    pub fn log_artifact(&mut self, path: &Path, artifact_dir: Option<&str>) {
        self.tracker.log_artifact(path, artifact_dir);
    }

    /// Ends the run as finished; returns where it went.
    pub fn finish(mut self) -> TrackedRun {
        self.tracker.finish(RunStatus::Finished);
        TrackedRun {
            target: self.tracker.target().to_owned(),
            run_id: self.tracker.run_id().map(str::to_owned),
            warnings: self.tracker.warnings().clone(),
        }
    }

    /// The underlying tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }
}

impl TrainObserver for TrackingObserver {
    fn on_epoch(&mut self, end: &EpochEnd<'_>) -> std::result::Result<(), ObserverError> {
        let r = end.record;
        let mut metrics = vec![
            ("loss", r.loss),
            ("learning_rate", r.learning_rate),
            ("log_scale", r.log_scale),
            ("patterns_per_second", r.patterns_per_second),
            ("epoch_seconds", r.seconds),
        ];
        if let Some(v) = r.val_loss {
            metrics.push(("val_loss", v));
        }
        self.tracker.log_metrics(r.epoch as u64, &metrics);
        Ok(())
    }

    fn on_finish(&mut self, outcome: &RunEnd) {
        // A completed run stays open until its files are logged (see `finish`).
        match outcome {
            RunEnd::Completed => {}
            RunEnd::Cancelled => self.tracker.finish(RunStatus::Killed),
            RunEnd::Failed => self.tracker.finish(RunStatus::Failed),
        }
    }
}
