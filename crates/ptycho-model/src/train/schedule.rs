//! Epoch-level learning-rate schedules and early stopping (Keras / Lightning semantics).

use serde::{Deserialize, Serialize};

/// Learning-rate schedule, stepped once per epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scheduler {
    /// Constant learning rate.
    Constant,
    /// `lr = base · gamma^epoch`.
    Exponential {
        /// Decay per epoch (upstream 0.95).
        gamma: f64,
    },
    /// Linear warm-up over `warmup_epochs`, then cosine decay to `base · min_ratio` at the
    /// last epoch.
    WarmupCosine {
        /// Epochs of linear warm-up (`lr_warmup_epochs`).
        warmup_epochs: usize,
        /// Final learning rate as a fraction of the base (`lr_min_ratio`).
        min_ratio: f64,
    },
    /// Keras `ReduceLROnPlateau`, monitoring the validation loss (the training loss when there
    /// is no validation split).
    ReduceOnPlateau {
        /// Multiplier applied on a plateau (`plateau_factor`).
        factor: f64,
        /// Epochs without improvement before reducing (`plateau_patience`).
        patience: usize,
        /// Floor of the learning rate (`plateau_min_lr`).
        min_lr: f64,
        /// Relative improvement that counts (`plateau_threshold`): better means
        /// `loss < best · (1 − threshold)`.
        threshold: f64,
    },
}

impl Scheduler {
    /// TF reference default: `ReduceLROnPlateau(factor=0.5, patience=2, min_lr=1e-4)`.
    pub fn tf_default() -> Self {
        Self::ReduceOnPlateau {
            factor: 0.5,
            patience: 2,
            min_lr: 1e-4,
            threshold: 0.0,
        }
    }
}

/// `f64::INFINITY` ("no loss seen yet") travels as JSON `null`, which JSON numbers cannot hold.
mod infinity_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            s.serialize_some(value)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// Running state of a [`Scheduler`] (serialisable, so a checkpoint can continue it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    scheduler: Scheduler,
    base: f64,
    epochs: usize,
    current: f64,
    #[serde(with = "infinity_as_null")]
    best: f64,
    wait: usize,
}

impl LrSchedule {
    /// Starts a schedule at `base` for a run of `epochs` epochs.
    pub fn new(scheduler: Scheduler, base: f64, epochs: usize) -> Self {
        let mut s = Self {
            scheduler,
            base,
            epochs,
            current: base,
            best: f64::INFINITY,
            wait: 0,
        };
        s.current = s.epoch_lr(0);
        s
    }

    /// Learning rate to use in the current epoch.
    pub fn lr(&self) -> f64 {
        self.current
    }

    /// The same schedule for a run of `epochs` epochs in all, about to start epoch
    /// `next_epoch` (a resumed run may be longer than the one that saved it; of the schedules
    /// only the cosine one depends on the total, and its next rate is recomputed).
    pub fn with_total_epochs(mut self, epochs: usize, next_epoch: usize) -> Self {
        self.epochs = epochs;
        if matches!(self.scheduler, Scheduler::WarmupCosine { .. }) {
            self.current = self.epoch_lr(next_epoch);
        }
        self
    }

    fn epoch_lr(&self, epoch: usize) -> f64 {
        match self.scheduler {
            Scheduler::Constant | Scheduler::ReduceOnPlateau { .. } => self.current,
            Scheduler::Exponential { gamma } => self.base * gamma.powi(epoch as i32),
            Scheduler::WarmupCosine {
                warmup_epochs,
                min_ratio,
            } => {
                if epoch < warmup_epochs {
                    return self.base * (epoch + 1) as f64 / warmup_epochs as f64;
                }
                let span = self
                    .epochs
                    .saturating_sub(warmup_epochs)
                    .saturating_sub(1)
                    .max(1);
                let t = ((epoch - warmup_epochs) as f64 / span as f64).min(1.0);
                let eta_min = self.base * min_ratio;
                eta_min + (self.base - eta_min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

    /// Reports the monitored loss of `epoch` (0-based) and moves to the next epoch's rate.
    pub fn end_epoch(&mut self, epoch: usize, monitored_loss: f64) {
        if let Scheduler::ReduceOnPlateau {
            factor,
            patience,
            min_lr,
            threshold,
        } = self.scheduler
        {
            if monitored_loss < self.best * (1.0 - threshold) || self.best.is_infinite() {
                self.best = monitored_loss;
                self.wait = 0;
            } else {
                self.wait += 1;
                if self.wait >= patience {
                    self.current = (self.current * factor).max(min_lr);
                    self.wait = 0;
                }
            }
        } else {
            self.current = self.epoch_lr(epoch + 1);
        }
    }
}

/// Keras `EarlyStopping(monitor='loss')`: stop after `patience` epochs without a lower
/// training loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    patience: usize,
    #[serde(with = "infinity_as_null")]
    best: f64,
    wait: usize,
}

impl EarlyStopping {
    /// Watches for `patience` epochs without improvement.
    pub fn new(patience: usize) -> Self {
        Self {
            patience,
            best: f64::INFINITY,
            wait: 0,
        }
    }

    /// Records an epoch's training loss; true when training should stop.
    pub fn should_stop(&mut self, loss: f64) -> bool {
        if loss < self.best {
            self.best = loss;
            self.wait = 0;
            false
        } else {
            self.wait += 1;
            self.wait >= self.patience
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_halves_after_patience_and_respects_the_floor() {
        let mut s = LrSchedule::new(Scheduler::tf_default(), 1e-3, 50);
        let losses = [
            10.0, 9.0, 9.5, 9.2, 9.1, 9.3, 8.0, 8.5, 8.6, 8.7, 8.8, 8.9, 9.0, 9.1,
        ];
        let mut lrs = Vec::new();
        for (e, l) in losses.iter().enumerate() {
            lrs.push(s.lr());
            s.end_epoch(e, *l);
        }
        lrs.push(s.lr());
        // epochs 2,3 do not improve on 9.0 → reduce after epoch 3; 4,5 → reduce after epoch 5;
        // 6 improves; 7,8 → 1.25e-4; 9,10 → floor 1e-4; 11,12 → stays at 1e-4.
        let expected = [
            1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1.25e-4, 1e-4,
            1e-4, 1e-4, 1e-4,
        ];
        for (a, b) in lrs.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{lrs:?}");
        }
    }

    #[test]
    fn exponential_and_warmup_cosine_follow_their_formulas() {
        let mut s = LrSchedule::new(Scheduler::Exponential { gamma: 0.95 }, 1e-3, 10);
        for e in 0..5 {
            assert!((s.lr() - 1e-3 * 0.95f64.powi(e as i32)).abs() < 1e-15);
            s.end_epoch(e, 1.0);
        }
        let scheduler = Scheduler::WarmupCosine {
            warmup_epochs: 2,
            min_ratio: 0.1,
        };
        let mut s = LrSchedule::new(scheduler, 1e-3, 7);
        let mut lrs = Vec::new();
        for e in 0..7 {
            lrs.push(s.lr());
            s.end_epoch(e, 1.0);
        }
        assert!((lrs[0] - 5e-4).abs() < 1e-15 && (lrs[1] - 1e-3).abs() < 1e-15);
        assert!(
            (lrs[2] - 1e-3).abs() < 1e-15,
            "cosine starts at the base rate"
        );
        assert!(
            (lrs[6] - 1e-4).abs() < 1e-12,
            "ends at base · min_ratio: {lrs:?}"
        );
        assert!(lrs[2..].windows(2).all(|w| w[1] < w[0]));
    }

    #[test]
    fn early_stopping_waits_patience_epochs() {
        let mut stop = EarlyStopping::new(3);
        let decisions: Vec<bool> = [5.0, 4.0, 4.5, 4.2, 4.0]
            .iter()
            .map(|l| stop.should_stop(*l))
            .collect();
        assert_eq!(decisions, [false, false, false, false, true]);
    }
}
