//! Per-epoch training record, returned by the loop and written as JSON.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Sample-weighted mean training loss.
    pub loss: f64,
    /// Mean validation loss, if there is a validation split.
    pub val_loss: Option<f64>,
    /// Learning rate used in this epoch.
    pub learning_rate: f64,
    /// `log_scale` at the end of the epoch.
    pub log_scale: f64,
    /// Diffraction patterns per second of training (groups × gridsize²).
    pub patterns_per_second: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingHistory {
    /// Epochs in order.
    pub epochs: Vec<EpochRecord>,
    /// True when early stopping ended the run before `nepochs`.
    pub stopped_early: bool,
    /// Groups used for training and for validation.
    pub train_groups: usize,
    /// Groups held out (the last 5 % in file order).
    pub val_groups: usize,
}

impl TrainingHistory {
    /// Training losses in epoch order.
    pub fn losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// Writes the history as pretty JSON, atomically (temp file in the same folder, then rename;
    /// see [`ptycho_fs`]).
    pub fn write_json(&self, path: &Path) -> Result<(), ModelError> {
        ptycho_fs::write_atomically_with(path, |file| {
            serde_json::to_writer_pretty(&mut *file, self)?;
            file.write_all(b"\n")
        })
        .map_err(|e| ModelError::Io {
            path: e.path,
            source: e.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_history_reads_back_bit_for_bit() {
        // 9.982398004324317 came back as ...315 from serde_json's default fast float parser (a
        // flaky history round-trip test and a resumed run's history depend on exact parsing).
        let record = EpochRecord {
            epoch: 0,
            loss: -3367366.75,
            val_loss: Some(-5005705.5),
            learning_rate: 1e-3,
            log_scale: 6.8978729248046875,
            patterns_per_second: 9.982398004324317,
            seconds: 0.601057982,
        };
        let history = TrainingHistory {
            epochs: vec![
                record.clone(),
                EpochRecord {
                    patterns_per_second: 9.732288064184209,
                    ..record
                },
            ],
            stopped_early: false,
            train_groups: 6,
            val_groups: 3,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        history.write_json(&path).unwrap();
        let back: TrainingHistory =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (a, b) in back.epochs.iter().zip(&history.epochs) {
            assert_eq!(
                a.patterns_per_second.to_bits(),
                b.patterns_per_second.to_bits()
            );
        }
        assert_eq!(back, history);
    }
}
