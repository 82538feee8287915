//! The `memory` target: a run that is only recorded in the process, for tests and for runs that
//! must leave no tracking files behind.

use std::path::Path;

use super::{RunStatus, TrackingError};

/// One logged metric value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub key: String,
    pub value: f64,
    pub step: u64,
    pub timestamp_ms: i64,
}

/// Everything a tracked run logged, in logging order.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRun {
    pub run_id: String,
    pub experiment: String,
    pub run_name: String,
    pub tags: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
    pub metrics: Vec<MetricPoint>,
    /// Artifact paths as they would be stored under the run's artifact root, e.g.
    /// `bundle/wts.h5.zip`.
    pub artifacts: Vec<String>,
    pub status: RunStatus,
}

impl MemoryRun {
    pub(super) fn new(experiment: &str, run_name: &str, tags: Vec<(String, String)>) -> Self {
        Self {
            run_id: uuid::Uuid::new_v4().simple().to_string(),
            experiment: experiment.to_owned(),
            run_name: run_name.to_owned(),
            tags,
            params: Vec::new(),
            metrics: Vec::new(),
            artifacts: Vec::new(),
            status: RunStatus::Running,
        }
    }

    /// The values of one metric, by step.
    pub fn metric_history(&self, key: &str) -> Vec<(u64, f64)> {
        self.metrics
            .iter()
            .filter(|m| m.key == key)
            .map(|m| (m.step, m.value))
            .collect()
    }

    /// The value logged for a param.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn log_params(&mut self, params: &[(String, String)]) -> Result<(), TrackingError> {
        // Same rule as MLflow's stores: a param is immutable once logged.
        for (key, value) in params {
            match self.param(key) {
                Some(logged) if logged != value => {
                    return Err(TrackingError::ParamChanged {
                        key: key.clone(),
                        path: "memory".into(),
                        logged: logged.to_owned(),
                        new: value.clone(),
                    });
                }
                Some(_) => {}
                None => self.params.push((key.clone(), value.clone())),
            }
        }
        Ok(())
    }

    pub(super) fn log_metrics(&mut self, timestamp_ms: i64, step: u64, metrics: &[(&str, f64)]) {
        self.metrics
            .extend(metrics.iter().map(|&(key, value)| MetricPoint {
                key: key.to_owned(),
                value,
                step,
                timestamp_ms,
            }));
    }

    pub(super) fn log_artifact(
        &mut self,
        local: &Path,
        artifact_dir: Option<&str>,
    ) -> Result<(), TrackingError> {
        for (_, relative) in super::naming::artifact_files(local, artifact_dir)? {
            self.artifacts.push(relative);
        }
        Ok(())
    }
}
