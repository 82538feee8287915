//! The training loop: Adam, shuffled mini-batches, the 5 % tail validation split, learning-rate
//! schedules, early stopping on the training loss, gradient clipping and a progress bar.
//!
//! Reproducibility: weights are drawn from a seeded ChaCha generator (see the generator) and
//! the shuffling uses a ChaCha generator seeded from `seed` and the epoch, so the same seed on
//! the same machine gives bit-identical weights. [`train_from`] continues a run from a saved
//! [`TrainState`]; continuing a run of k epochs to N gives the same weights as N epochs at once.

pub mod clip;
pub mod history;
pub mod resume;
pub mod schedule;

pub use clip::{GradientClip, clip_gradients, global_norm};
pub use history::{EpochRecord, TrainingHistory};
pub use resume::{TrainState, with_stable_param_ids};
pub use schedule::{EarlyStopping, LrSchedule, Scheduler};

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, TensorData};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::batch::{DeviceBatch, GroupBatch, GroupSource};
use crate::error::ModelError;
use crate::loss::weighted_loss;
use crate::model::Pinn;
use crate::physics::{Physics, center_square_mask};
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
    /// Draw a progress bar on stderr.
    pub progress: bool,
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
            progress: true,
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
    let split = spec.split_point(source.len());
    if split == 0 {
        return Err(ModelError::setting(
            "n_groups",
            "enough groups to leave at least one for training after the validation split",
            source.len(),
        ));
    }
    let train_idx: Vec<usize> = (0..split).collect();
    let val_idx: Vec<usize> = (split..source.len()).collect();
    let centre_mask = (!pspec.probe_big).then(|| {
        burn::tensor::Tensor::<4>::from_data(
            TensorData::new(center_square_mask(pspec.n), [1, 1, pspec.n, pspec.n]),
            device,
        )
    });
    let mut model = with_stable_param_ids(model);
    let mut optim = AdamConfig::new()
        .with_beta_1(spec.adam_beta1)
        .with_beta_2(spec.adam_beta2)
        .with_epsilon(spec.adam_epsilon)
        .init();
    let (first_epoch, mut schedule, mut early, mut history) = match resume {
        None => (
            0,
            LrSchedule::new(spec.scheduler.clone(), spec.learning_rate, spec.nepochs),
            spec.early_stop_patience.map(EarlyStopping::new),
            TrainingHistory {
                train_groups: train_idx.len(),
                val_groups: val_idx.len(),
                ..TrainingHistory::default()
            },
        ),
        Some(state) => {
            check_resumable(&state, spec, train_idx.len(), val_idx.len())?;
            optim = state.restore_optimizer(optim)?;
            (
                state.next_epoch,
                state
                    .schedule
                    .with_total_epochs(spec.nepochs, state.next_epoch),
                state.early,
                state.history,
            )
        }
    };
    history.stopped_early = false;
    let steps = train_idx.len().div_ceil(spec.batch_size);
    let bar = progress_bar(spec.progress, steps as u64);
    let mut host = GroupBatch::empty(source.channels(), source.n());
    let scale = pspec.intensity_scale;
    let mut next_epoch = first_epoch;
    for epoch in first_epoch..spec.nepochs {
        let started = Instant::now();
        let lr = schedule.lr();
        let mut order = train_idx.clone();
        if spec.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(
                spec.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            order.shuffle(&mut rng);
        }
        bar.reset();
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, spec.nepochs));
        let (mut weighted_sum, mut seen) = (0.0f64, 0usize);
        for (step, chunk) in order.chunks(spec.batch_size).enumerate() {
            source.fill(chunk, &mut host)?;
            let batch = DeviceBatch::new(&host, physics, device)?;
            let out = model.forward(physics, &batch);
            let terms =
                weighted_loss(&out, &batch, scale, &spec.loss_weights, centre_mask.clone())?;
            let value = terms.total.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                bar.abandon();
                return Err(ModelError::Diverged {
                    loss: value,
                    epoch,
                    step,
                });
            }
            let mut grads = GradientsParams::from_grads(terms.total.backward(), &model);
            if let Some(clip) = spec.gradient_clip {
                clip_gradients(&model, &mut grads, clip);
            }
            model = optim.step(lr, model, grads);
            weighted_sum += value * chunk.len() as f64;
            seen += chunk.len();
            let rate = (seen * source.channels()) as f64 / started.elapsed().as_secs_f64();
            bar.set_message(format!(
                "loss {:.6e}  lr {lr:.2e}  {rate:.1} patterns/s",
                weighted_sum / seen as f64
            ));
            bar.inc(1);
        }
        let loss = weighted_sum / seen as f64;
        let seconds = started.elapsed().as_secs_f64();
        let val_loss = if val_idx.is_empty() {
            None
        } else {
            Some(evaluate(
                &model,
                physics,
                source,
                &val_idx,
                spec,
                device,
                centre_mask.clone(),
            )?)
        };
        let log_scale = model.log_scale.val().into_scalar::<f32>() as f64;
        history.epochs.push(EpochRecord {
            epoch,
            loss,
            val_loss,
            learning_rate: lr,
            log_scale,
            patterns_per_second: (seen * source.channels()) as f64 / seconds,
            seconds,
        });
        bar.println(format!(
            "epoch {}/{}: loss {loss:.6e}{} lr {lr:.2e}",
            epoch + 1,
            spec.nepochs,
            val_loss
                .map(|v| format!(" val_loss {v:.6e}"))
                .unwrap_or_default()
        ));
        schedule.end_epoch(epoch, val_loss.unwrap_or(loss));
        next_epoch = epoch + 1;
        if let Some(stop) = early.as_mut()
            && stop.should_stop(loss)
        {
            history.stopped_early = true;
            break;
        }
    }
    bar.finish_and_clear();
    let optimizer = TrainState::optimizer_bytes(&optim)?;
    Ok((
        model,
        TrainState {
            next_epoch,
            history,
            schedule,
            early,
            optimizer,
        },
    ))
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

/// Sample-weighted mean loss over `indices` without updating the model.
fn evaluate(
    model: &Pinn,
    physics: &Physics,
    source: &dyn GroupSource,
    indices: &[usize],
    spec: &TrainingSpec,
    device: &Device,
    centre_mask: Option<burn::tensor::Tensor<4>>,
) -> Result<f64, ModelError> {
    let mut host = GroupBatch::empty(source.channels(), source.n());
    let (mut sum, mut seen) = (0.0f64, 0usize);
    for chunk in indices.chunks(spec.batch_size) {
        source.fill(chunk, &mut host)?;
        let batch = DeviceBatch::new(&host, physics, device)?;
        let out = model.forward(physics, &batch);
        let terms = weighted_loss(
            &out,
            &batch,
            physics.spec().intensity_scale,
            &spec.loss_weights,
            centre_mask.clone(),
        )?;
        sum += terms.total.into_scalar::<f32>() as f64 * chunk.len() as f64;
        seen += chunk.len();
    }
    Ok(sum / seen as f64)
}

fn progress_bar(visible: bool, steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    if !visible {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
