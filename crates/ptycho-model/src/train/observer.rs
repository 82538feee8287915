//! How the training loop talks to whoever runs it: progress events, the end of each epoch with
//! everything a checkpoint or an experiment tracker needs, and cancellation.
//!
//! The loop itself draws nothing and writes nothing: a terminal bar, a per-epoch log line, a
//! Python callback, a GUI and an MLflow run are all observers, so the same loop serves the CLI
//! and a library caller. Several observers are combined with [`Observers`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::ModelError;
use crate::model::Pinn;
use crate::train::{EpochRecord, TrainState};

/// The error an observer stops training with (e.g. a checkpoint that cannot be written).
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// Sent once before the first step.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RunStart {
    /// First epoch this run trains (0-based; later than 0 when resuming).
    pub first_epoch: usize,
    /// Epochs in all (`nepochs`).
    pub epochs: usize,
    /// Optimiser steps per epoch.
    pub steps_per_epoch: usize,
    /// Groups trained on and held out for validation.
    pub train_groups: usize,
    /// Groups held out for validation.
    pub val_groups: usize,
    /// Diffraction patterns per group (gridsize²).
    pub patterns_per_group: usize,
}

/// Sent after every optimiser step.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StepProgress {
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Steps completed in this epoch (1-based).
    pub step: usize,
    /// Steps per epoch.
    pub steps: usize,
    /// Sample-weighted mean loss of this epoch so far.
    pub loss: f64,
    /// Learning rate of this epoch.
    pub learning_rate: f64,
    /// Training throughput of this epoch so far.
    pub patterns_per_second: f64,
    /// Estimated time to the last epoch's end, from this run's mean step time.
    pub eta: Option<Duration>,
}

/// Sent after every epoch, once its validation loss, schedule and early stopping are settled.
#[non_exhaustive]
pub struct EpochEnd<'a> {
    /// Epochs in all.
    pub epochs: usize,
    /// The epoch's numbers (`record.epoch` is 0-based).
    pub record: &'a EpochRecord,
    /// The weights after this epoch.
    pub model: &'a Pinn,
    /// True when training stops after this epoch (last epoch or early stopping).
    pub last: bool,
    /// Estimated time to the end of the run.
    pub eta: Option<Duration>,
    state: &'a dyn Fn() -> Result<TrainState, ModelError>,
}

impl<'a> EpochEnd<'a> {
    pub(crate) fn new(
        epochs: usize,
        record: &'a EpochRecord,
        model: &'a Pinn,
        last: bool,
        eta: Option<Duration>,
        state: &'a dyn Fn() -> Result<TrainState, ModelError>,
    ) -> Self {
        Self {
            epochs,
            record,
            model,
            last,
            eta,
            state,
        }
    }

    /// Everything a later run needs to continue from here (weights excluded: see `model`).
    /// Serialising the optimizer costs a copy of Adam's moments, so it is built on request.
    pub fn train_state(&self) -> Result<TrainState, ModelError> {
        (self.state)()
    }
}

impl std::fmt::Debug for EpochEnd<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochEnd")
            .field("epochs", &self.epochs)
            .field("record", self.record)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

/// Receives the training loop's events; every method has a do-nothing default.
pub trait TrainObserver {
    /// Before the first step.
    fn on_start(&mut self, _run: &RunStart) {}
    /// After every optimiser step.
    fn on_step(&mut self, _step: &StepProgress) {}
    /// After every epoch; an error stops training with [`ModelError::Observer`].
    fn on_epoch(&mut self, _epoch: &EpochEnd<'_>) -> Result<(), ObserverError> {
        Ok(())
    }
    /// After the last epoch, also when training failed or was cancelled.
    fn on_finish(&mut self, _outcome: &RunEnd) {}
}

/// How a run ended, for [`TrainObserver::on_finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every epoch ran, or early stopping ended it.
    Completed,
    /// The caller cancelled it.
    Cancelled,
    /// An error ended it.
    Failed,
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl TrainObserver for NoObserver {}

/// Several observers, called in order; the first epoch error stops the rest.
#[derive(Default)]
pub struct Observers<'a> {
    list: Vec<&'a mut dyn TrainObserver>,
}

impl std::fmt::Debug for Observers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observers")
            .field("len", &self.list.len())
            .finish()
    }
}

impl<'a> Observers<'a> {
    /// No observers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one; chainable.
    pub fn with(mut self, observer: &'a mut dyn TrainObserver) -> Self {
        self.list.push(observer);
        self
    }

    /// Adds one.
    pub fn push(&mut self, observer: &'a mut dyn TrainObserver) {
        self.list.push(observer);
    }
}

impl TrainObserver for Observers<'_> {
    fn on_start(&mut self, run: &RunStart) {
        self.list.iter_mut().for_each(|o| o.on_start(run));
    }

    fn on_step(&mut self, step: &StepProgress) {
        self.list.iter_mut().for_each(|o| o.on_step(step));
    }

    fn on_epoch(&mut self, epoch: &EpochEnd<'_>) -> Result<(), ObserverError> {
        self.list.iter_mut().try_for_each(|o| o.on_epoch(epoch))
    }

    fn on_finish(&mut self, outcome: &RunEnd) {
        self.list.iter_mut().for_each(|o| o.on_finish(outcome));
    }
}

/// A flag another thread (a GUI button, a Ctrl-C handler) sets to stop training; the loop checks
/// it before every step and returns [`ModelError::Cancelled`]. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop before its next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Remaining-time estimate from the mean step time of this run so far.
pub(crate) fn eta(elapsed: Duration, steps_done: usize, steps_left: usize) -> Option<Duration> {
    (steps_done > 0).then(|| elapsed.mul_f64(steps_left as f64 / steps_done as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(usize, usize);

    impl TrainObserver for Count {
        fn on_step(&mut self, _: &StepProgress) {
            self.0 += 1;
        }
        fn on_finish(&mut self, _: &RunEnd) {
            self.1 += 1;
        }
    }

    #[test]
    fn observers_forward_to_each_in_order() {
        let (mut a, mut b) = (Count::default(), Count::default());
        let mut all = Observers::new().with(&mut a).with(&mut b);
        let step = StepProgress {
            epoch: 0,
            epochs: 1,
            step: 1,
            steps: 1,
            loss: 1.0,
            learning_rate: 1e-3,
            patterns_per_second: 1.0,
            eta: None,
        };
        all.on_step(&step);
        all.on_step(&step);
        all.on_finish(&RunEnd::Completed);
        drop(all);
        assert_eq!((a.0, a.1, b.0, b.1), (2, 1, 2, 1));
    }

    #[test]
    fn cancel_is_shared_between_clones() {
        let token = CancelToken::new();
        let other = token.clone();
        assert!(!other.is_cancelled());
        token.cancel();
        assert!(other.is_cancelled());
    }

    #[test]
    fn eta_scales_the_mean_step_time() {
        assert_eq!(eta(Duration::from_secs(10), 0, 5), None);
        assert_eq!(
            eta(Duration::from_secs(10), 5, 15),
            Some(Duration::from_secs(30))
        );
    }
}
