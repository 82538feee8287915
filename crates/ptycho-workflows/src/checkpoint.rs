//! Training checkpoints that a later run continues exactly (`ptycho train --resume`).
//!
//! A checkpoint is a directory (`OUTPUT/checkpoints/last`) holding
//!
//! | file | content |
//! |---|---|
//! | `wts.h5.zip` | the model bundle (weights, restored config), as a finished run saves it |
//! | `train_state.json` | completed epochs, loss history, learning-rate schedule, early stopping |
//! | `optimizer.bpk` | Adam's moments and step counts (burn's burnpack optimizer record) |
//!
//! Each file is written atomically; the state is written after the bundle, so a checkpoint
//! interrupted while being written is either the old one or refused as incomplete.

use std::path::{Path, PathBuf};

use ptycho_model::TrainState;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// Name of the training-state member of a checkpoint directory.
pub const TRAIN_STATE_FILE: &str = "train_state.json";
/// Name of the optimizer-state member of a checkpoint directory.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// Version of `train_state.json`.
pub const CHECKPOINT_VERSION: u32 = 1;

/// `train_state.json`.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// The seed of the run (shuffling and initialisation), which a resumed run must reuse.
    seed: u64,
    state: TrainState,
}

fn io_error(path: &Path, source: std::io::Error) -> WorkflowError {
    WorkflowError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    ptycho_fs::write_atomically(path, bytes).map_err(|e| io_error(path, e.source))
}

/// Writes the training state of a checkpoint into `dir` (which must exist and already hold the
/// bundle).
pub fn write_train_state(dir: &Path, seed: u64, state: &TrainState) -> Result<()> {
    write_atomically(&dir.join(OPTIMIZER_FILE), &state.optimizer)?;
    let file = StateFile {
        version: CHECKPOINT_VERSION,
        seed,
        state: state.clone(),
    };
    let text = serde_json::to_string_pretty(&file)
        .map_err(|e| WorkflowError::Weights(format!("cannot serialise the training state: {e}")))?;
    write_atomically(&dir.join(TRAIN_STATE_FILE), format!("{text}\n").as_bytes())
}

/// The checkpoint directory of `path`: the directory itself, or the folder of a bundle file.
pub fn checkpoint_dir(path: &Path) -> PathBuf {
    if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    }
}

/// Reads the training state saved in checkpoint directory `dir`; returns the run's seed and the
/// state. Every problem names the file and what is wrong.
pub fn read_train_state(dir: &Path) -> Result<(u64, TrainState)> {
    let refuse = |what: String| WorkflowError::Checkpoint {
        path: dir.to_path_buf(),
        problem: what,
    };
    if !dir.is_dir() {
        return Err(refuse(
            "no such checkpoint directory; `ptycho train` writes OUTPUT/checkpoints/last".into(),
        ));
    }
    let state_path = dir.join(TRAIN_STATE_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|_| {
        refuse(format!(
            "{TRAIN_STATE_FILE} is missing, so the run cannot be continued (a bundle alone holds no optimizer state)"
        ))
    })?;
    let (seed, mut state) = parse_train_state(&text, dir)?;
    let optimizer_path = dir.join(OPTIMIZER_FILE);
    state.optimizer = std::fs::read(&optimizer_path)
        .map_err(|e| refuse(format!("{OPTIMIZER_FILE} cannot be read: {e}")))?;
    if state.optimizer.is_empty() {
        return Err(refuse(format!("{OPTIMIZER_FILE} is empty")));
    }
    Ok((seed, state))
}

/// Parses the text of a checkpoint's `train_state.json` (version checked first); returns the
/// run's seed and the state without its optimizer record, which lives in its own file. `dir`
/// names the checkpoint in errors. [`read_train_state`] is this plus the files.
pub fn parse_train_state(text: &str, dir: &Path) -> Result<(u64, TrainState)> {
    let refuse = |what: String| WorkflowError::Checkpoint {
        path: dir.to_path_buf(),
        problem: what,
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| refuse(format!("{TRAIN_STATE_FILE} is not valid JSON: {e}")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(CHECKPOINT_VERSION) => {}
        other => {
            return Err(refuse(format!(
                "{TRAIN_STATE_FILE}: expected version {CHECKPOINT_VERSION}, found {}",
                other.map_or("none".to_owned(), |v| v.to_string())
            )));
        }
    }
    let file: StateFile = serde_json::from_value(value)
        .map_err(|e| refuse(format!("{TRAIN_STATE_FILE} is not a training state: {e}")))?;
    Ok((file.seed, file.state))
}
