//! The training loop: Adam, shuffled mini-batches, the 5 % tail validation split, learning-rate
//! schedules, early stopping on the training loss, gradient clipping, progress events for an
//! observer and cancellation between steps (see [`observer`]).
//!
//! Reproducibility: weights are drawn from a seeded ChaCha generator (see the generator) and
//! the shuffling uses a ChaCha generator seeded from `seed` and the epoch, so the same seed on
//! the same machine gives bit-identical weights. [`train_from`] continues a run from a saved
//! [`TrainState`]; continuing a run of k epochs to N gives the same weights as N epochs at once.

pub mod clip;
mod epochs;
pub mod history;
pub mod observer;
pub mod optimizer_record;
pub mod resume;
pub mod schedule;

pub use clip::{GradientClip, clip_gradients, global_norm};
pub use history::{EpochRecord, TrainingHistory};
pub use observer::{
    CancelToken, EpochEnd, NoObserver, ObserverError, Observers, RunEnd, RunStart, StepProgress,
    TrainObserver,
};
pub use optimizer_record::check_optimizer_record;
pub use resume::{TrainState, load_optimizer_record, with_stable_param_ids};
pub use schedule::{EarlyStopping, LrSchedule, Scheduler};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::batch::GroupSource;
use crate::error::ModelError;
use crate::model::Pinn;
use crate::physics::Physics;
use crate::spec::LossWeights;

/// Options of a training run (upstream `TrainingConfig` names where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpec {
    /// Groups per step.
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub nepochs: usize,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Adam β1.
    pub adam_beta1: f32,
    /// Adam β2.
    pub adam_beta2: f32,
    /// Adam ε (Keras default 1e-7).
    pub adam_epsilon: f32,
    /// Fraction of groups held out at the end, in file order (Keras `validation_split`).
    pub validation_split: f64,
    /// Reshuffle the training groups every epoch.
    pub shuffle: bool,
    /// Learning-rate schedule.
    pub scheduler: Scheduler,
    /// Stop after this many epochs without a lower training loss; `None` disables it.
    pub early_stop_patience: Option<usize>,
    /// Optional gradient clipping.
    pub gradient_clip: Option<GradientClip>,
    /// Loss weights.
    pub loss_weights: LossWeights,
    /// Seed of the shuffling (the weights take theirs at model construction).
    pub seed: u64,
}

impl Default for TrainingSpec {
    fn default() -> Self {
        Self {
            batch_size: 16,
            nepochs: 50,
            learning_rate: 1e-3,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-7,
            validation_split: 0.05,
            shuffle: true,
            scheduler: Scheduler::tf_default(),
            early_stop_patience: Some(3),
            gradient_clip: None,
            loss_weights: LossWeights::default(),
            seed: 42,
        }
    }
}

impl TrainingSpec {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.batch_size == 0 {
            return Err(ModelError::setting("batch_size", "a positive integer", 0));
        }
        if self.nepochs == 0 {
            return Err(ModelError::setting("nepochs", "a positive integer", 0));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ModelError::setting(
                "learning_rate",
                "a positive number",
                self.learning_rate,
            ));
        }
        for (field, v) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(ModelError::setting(field, "a number in [0, 1)", v));
            }
        }
        if !(self.adam_epsilon.is_finite() && self.adam_epsilon > 0.0) {
            return Err(ModelError::setting(
                "adam_epsilon",
                "a positive number",
                self.adam_epsilon,
            ));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(ModelError::setting(
                "validation_split",
                "a fraction in [0, 1)",
                self.validation_split,
            ));
        }
        match self.gradient_clip {
            Some(GradientClip::Norm(v)) | Some(GradientClip::Value(v))
                if v.is_nan() || v <= 0.0 =>
            {
                return Err(ModelError::setting(
                    "gradient_clip_val",
                    "a positive number",
                    v,
                ));
            }
            _ => {}
        }
        self.loss_weights.validate()
    }

    /// Keras split point: groups `[0, split)` train, `[split, len)` validate.
    pub fn split_point(&self, len: usize) -> usize {
        ((len as f64) * (1.0 - self.validation_split)).floor() as usize
    }
}

/// Trains `model` on `source` through `physics` (both on `device`, which must be an autodiff
/// device). Returns the trained model and the per-epoch history.
pub fn train(
    model: Pinn,
    physics: &Physics,
    source: &dyn GroupSource,
    spec: &TrainingSpec,
    device: &Device,
) -> Result<(Pinn, TrainingHistory), ModelError> {
    let (model, state) = train_from(model, physics, source, spec, device, None)?;
    Ok((model, state.history))
}

/// [`train`], optionally continuing from `resume` (the state a previous run returned, with the
/// weights of that run already in `model`): epochs continue from `resume.next_epoch` up to
/// `spec.nepochs`, with its history, learning rate, early-stopping memory and Adam moments.
/// Returns the model and the state after the last epoch (for a later resume).
pub fn train_from(
    model: Pinn,
    physics: &Physics,
    source: &dyn GroupSource,
    spec: &TrainingSpec,
    device: &Device,
    resume: Option<TrainState>,
) -> Result<(Pinn, TrainState), ModelError> {
    let mut quiet = NoObserver;
    let hooks = TrainHooks::new(&mut quiet);
    train_observed(model, physics, source, spec, device, resume, hooks)
}

/// Who listens to a training run and how it is stopped.
pub struct TrainHooks<'a> {
    /// Receives progress and end-of-epoch events.
    pub observer: &'a mut dyn TrainObserver,
    /// Checked before every step.
    pub cancel: CancelToken,
}

impl<'a> TrainHooks<'a> {
    /// `observer`, with a cancel flag nobody sets.
    pub fn new(observer: &'a mut dyn TrainObserver) -> Self {
        Self {
            observer,
            cancel: CancelToken::new(),
        }
    }

    /// The same hooks, stopped by `cancel`.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }
}

impl std::fmt::Debug for TrainHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainHooks")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

/// [`train_from`] reporting to `hooks.observer` and stopping with [`ModelError::Cancelled`] once
/// `hooks.cancel` is set. The observer's `on_finish` runs however the run ends.
pub fn train_observed(
    model: Pinn,
    physics: &Physics,
    source: &dyn GroupSource,
    spec: &TrainingSpec,
    device: &Device,
    resume: Option<TrainState>,
    hooks: TrainHooks<'_>,
) -> Result<(Pinn, TrainState), ModelError> {
    spec.validate()?;
    if !device.is_autodiff() {
        return Err(ModelError::setting(
            "device",
            "an autodiff device (e.g. Device::flex().autodiff())",
            "a device without autodiff",
        ));
    }
    let pspec = physics.spec();
    if source.n() != pspec.n || source.channels() != pspec.channels() {
        return Err(ModelError::Shape {
            what: "data source layout (channels, N)",
            expected: format!("({}, {})", pspec.channels(), pspec.n),
            found: format!("({}, {})", source.channels(), source.n()),
        });
    }
    let TrainHooks { observer, cancel } = hooks;
    let result = epochs::EpochLoop::new(model, physics, source, spec, device, resume)
        .and_then(|(run, model)| run.run(model, observer, &cancel));
    observer.on_finish(&match &result {
        Ok(_) => RunEnd::Completed,
        Err(ModelError::Cancelled { .. }) => RunEnd::Cancelled,
        Err(_) => RunEnd::Failed,
    });
    result
}

/// A saved state fits this run: same split, and epochs left to train.
fn check_resumable(
    state: &TrainState,
    spec: &TrainingSpec,
    train_groups: usize,
    val_groups: usize,
) -> Result<(), ModelError> {
    let saved = (state.history.train_groups, state.history.val_groups);
    if saved != (train_groups, val_groups) {
        return Err(ModelError::Resume(format!(
            "the checkpoint trained on {} groups with {} held out, this run has {train_groups} and {val_groups}; use the same data, n_groups and validation split",
            saved.0, saved.1
        )));
    }
    if state.history.epochs.len() != state.next_epoch {
        return Err(ModelError::Resume(format!(
            "the checkpoint's history has {} epochs but says {} were completed",
            state.history.epochs.len(),
            state.next_epoch
        )));
    }
    if state.next_epoch >= spec.nepochs {
        return Err(ModelError::Resume(format!(
            "the checkpoint already completed {} epoch(s); ask for more than that (nepochs is {})",
            state.next_epoch, spec.nepochs
        )));
    }
    Ok(())
}
