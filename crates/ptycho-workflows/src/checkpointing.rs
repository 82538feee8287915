//! Crash-safe checkpoints while training runs: `checkpoints/last` every
//! `execution.checkpoint_every_n_epochs` epochs and after the last epoch, and `checkpoints/best`
//! whenever the monitored loss improves (`checkpoint_save_top_k = 1`).
//!
//! A checkpoint directory (see [`crate::checkpoint`] for its files) is written whole into a
//! sibling `.NAME.partial` and then swapped in with two renames (`NAME` → `.NAME.previous`,
//! `.NAME.partial` → `NAME`). At every instant either `NAME` or `.NAME.previous` is complete, so
//! a process killed at any point leaves a checkpoint to resume from;
//! [`crate::checkpoint::checkpoint_dir`] falls back to `.NAME.previous` when the kill fell between
//! the two renames.

use std::path::{Path, PathBuf};

use ptycho_config::{CheckpointMode, ConfigError, ExecutionConfig};
use ptycho_model::{EpochEnd, ObserverError, TrainObserver, TrainingHistory};

use crate::checkpoint;
use crate::error::{Result, WorkflowError};
use crate::training::BundleParts;

/// Name of the most recent checkpoint under the checkpoints directory.
pub const LAST: &str = "last";
/// Name of the best checkpoint under the checkpoints directory.
pub const BEST: &str = "best";

/// Which loss decides the best checkpoint (`execution.checkpoint_monitor_metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// The validation loss (`val_loss`); the training loss when no group is held out.
    ValLoss,
    /// The training loss (`train_loss`).
    TrainLoss,
}

impl Monitor {
    /// The monitor of a config value; `None` for names this program does not compute.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "val_loss" => Some(Self::ValLoss),
            "train_loss" | "loss" => Some(Self::TrainLoss),
            _ => None,
        }
    }

    fn value(self, loss: f64, val_loss: Option<f64>) -> f64 {
        match self {
            Self::ValLoss => val_loss.unwrap_or(loss),
            Self::TrainLoss => loss,
        }
    }
}

/// When checkpoints are written (from the execution config).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckpointPolicy {
    /// `last` is written every this many epochs, and after the final epoch.
    pub every: usize,
    /// The best checkpoint's monitor and mode, or `None` (`checkpoint_save_top_k = 0`).
    pub best: Option<(Monitor, CheckpointMode)>,
}

impl CheckpointPolicy {
    /// The policy of `execution`, or `None` when `enable_checkpointing` is false.
    pub fn from_config(execution: &ExecutionConfig) -> Result<Option<Self>> {
        if !execution.enable_checkpointing {
            return Ok(None);
        }
        let metric = &execution.checkpoint_monitor_metric;
        let monitor = Monitor::parse(metric).ok_or_else(|| {
            ConfigError::invalid(
                "execution.checkpoint_monitor_metric",
                format!("{metric:?}"),
                "expected \"val_loss\" or \"train_loss\"",
            )
        })?;
        let best = match execution.checkpoint_save_top_k {
            0 => None,
            1 => Some((monitor, execution.checkpoint_mode)),
            k => {
                return Err(ConfigError::invalid(
                    "execution.checkpoint_save_top_k",
                    k,
                    "expected 0 (no best checkpoint) or 1 (checkpoints/best)",
                )
                .into());
            }
        };
        Ok(Some(Self {
            every: execution.checkpoint_every_n_epochs.max(1),
            best,
        }))
    }
}

/// A training observer that writes the checkpoints of `policy` under `root`.
#[derive(Debug)]
pub struct CheckpointWriter {
    root: PathBuf,
    policy: CheckpointPolicy,
    parts: BundleParts,
    seed: u64,
    best_so_far: Option<f64>,
}

impl CheckpointWriter {
    /// Writes under `root` (e.g. `OUTPUT/checkpoints`); `resumed` is the history of the run being
    /// continued, whose best monitored loss a new best must beat.
    pub fn new(
        root: &Path,
        policy: CheckpointPolicy,
        parts: BundleParts,
        seed: u64,
        resumed: Option<&TrainingHistory>,
    ) -> Self {
        let best_so_far = policy.best.and_then(|(monitor, mode)| {
            resumed?
                .epochs
                .iter()
                .map(|e| monitor.value(e.loss, e.val_loss))
                .reduce(|a, b| if improves(mode, b, a) { b } else { a })
        });
        Self {
            root: root.to_path_buf(),
            policy,
            parts,
            seed,
            best_so_far,
        }
    }

    fn write(&self, name: &str, end: &EpochEnd<'_>) -> Result<PathBuf> {
        let state = end.train_state()?;
        replace_dir(&self.root, name, |dir| {
            self.parts.save(end.model, dir)?;
            checkpoint::write_train_state(dir, self.seed, &state)
        })
    }
}

fn improves(mode: CheckpointMode, value: f64, best: f64) -> bool {
    match mode {
        CheckpointMode::Min => value < best,
        CheckpointMode::Max => value > best,
    }
}

impl TrainObserver for CheckpointWriter {
    fn on_epoch(&mut self, end: &EpochEnd<'_>) -> std::result::Result<(), ObserverError> {
        let done = end.record.epoch + 1;
        if end.last || done.is_multiple_of(self.policy.every) {
            self.write(LAST, end)?;
        }
        if let Some((monitor, mode)) = self.policy.best {
            let value = monitor.value(end.record.loss, end.record.val_loss);
            if self
                .best_so_far
                .is_none_or(|best| improves(mode, value, best))
            {
                self.write(BEST, end)?;
                self.best_so_far = Some(value);
            }
        }
        Ok(())
    }
}

fn io_error(path: &Path, source: std::io::Error) -> WorkflowError {
    WorkflowError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes directory `root/name` through `write` (which fills the directory it is given) so that a
/// crash at any point leaves either the old or the new directory complete (see the module doc).
pub fn replace_dir(
    root: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let target = root.join(name);
    let partial = root.join(format!(".{name}.partial"));
    let previous = root.join(format!(".{name}.previous"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io_error(&partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| io_error(&partial, e))?;
    write(&partial)?;
    if target.exists() {
        if previous.exists() {
            std::fs::remove_dir_all(&previous).map_err(|e| io_error(&previous, e))?;
        }
        std::fs::rename(&target, &previous).map_err(|e| io_error(&target, e))?;
    }
    std::fs::rename(&partial, &target).map_err(|e| io_error(&target, e))?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(|e| io_error(&previous, e))?;
    }
    Ok(target)
}

/// The complete copy of checkpoint `dir`: itself, or its `.NAME.previous` sibling when a crash
/// fell between the two renames of [`replace_dir`].
pub fn complete_checkpoint(dir: &Path) -> PathBuf {
    if dir.exists() {
        return dir.to_path_buf();
    }
    let previous = match (dir.parent(), dir.file_name()) {
        (Some(root), Some(name)) => root.join(format!(".{}.previous", name.to_string_lossy())),
        _ => return dir.to_path_buf(),
    };
    if previous.is_dir() {
        previous
    } else {
        dir.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_dir_swaps_whole_directories_and_recovers_an_interrupted_swap() {
        let root = tempfile::tempdir().unwrap();
        let write = |text: &'static str| {
            move |dir: &Path| {
                std::fs::write(dir.join("a"), text).unwrap();
                Ok(())
            }
        };
        let dir = replace_dir(root.path(), "last", write("one")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "one");
        replace_dir(root.path(), "last", write("two")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["last"]);
        // A crash between the renames: only `.last.previous` is left, and it is found.
        std::fs::rename(&dir, root.path().join(".last.previous")).unwrap();
        let found = complete_checkpoint(&dir);
        assert_eq!(found, root.path().join(".last.previous"));
        // A failed write leaves the complete copy alone.
        let failed = replace_dir(root.path(), "last", |_| {
            Err(WorkflowError::Weights("disk full".into()))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read_to_string(complete_checkpoint(&dir).join("a")).unwrap(),
            "two"
        );
    }

    #[test]
    fn policy_follows_the_execution_config() {
        let mut e = ExecutionConfig::default();
        let p = CheckpointPolicy::from_config(&e).unwrap().unwrap();
        assert_eq!(p.every, e.checkpoint_every_n_epochs);
        assert_eq!(p.best, Some((Monitor::ValLoss, CheckpointMode::Min)));
        e.checkpoint_save_top_k = 0;
        e.checkpoint_every_n_epochs = 5;
        let p = CheckpointPolicy::from_config(&e).unwrap().unwrap();
        assert_eq!((p.every, p.best), (5, None));
        e.checkpoint_save_top_k = 3;
        let err = CheckpointPolicy::from_config(&e).unwrap_err().to_string();
        assert!(err.contains("checkpoint_save_top_k` = 3"), "{err}");
        e.enable_checkpointing = false;
        assert_eq!(CheckpointPolicy::from_config(&e).unwrap(), None);
    }

    #[test]
    fn best_tracks_the_mode() {
        assert!(improves(CheckpointMode::Min, 1.0, 2.0));
        assert!(!improves(CheckpointMode::Min, 2.0, 2.0));
        assert!(improves(CheckpointMode::Max, 3.0, 2.0));
        assert_eq!(Monitor::ValLoss.value(1.0, None), 1.0);
        assert_eq!(Monitor::ValLoss.value(1.0, Some(2.0)), 2.0);
        assert_eq!(Monitor::TrainLoss.value(1.0, Some(2.0)), 1.0);
    }
}
