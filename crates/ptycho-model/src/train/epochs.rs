//! The epoch loop behind [`super::train_observed`]: the run's state in one struct, one method
//! per stage (set-up, an epoch of steps, validation, the end-of-epoch bookkeeping).

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::observer::{EpochEnd, RunStart, StepProgress, TrainObserver, eta};
use super::{
    CancelToken, EarlyStopping, EpochRecord, LrSchedule, TrainState, TrainingHistory, TrainingSpec,
    check_resumable, clip_gradients, with_stable_param_ids,
};
use crate::batch::{DeviceBatch, GroupBatch, GroupSource};
use crate::error::ModelError;
use crate::loss::weighted_loss;
use crate::model::Pinn;
use crate::physics::{Physics, center_square_mask};

/// Everything one training run carries from epoch to epoch (the weights travel separately,
/// because every optimiser step consumes and returns them).
pub(super) struct EpochLoop<'a> {
    physics: &'a Physics,
    source: &'a dyn GroupSource,
    spec: &'a TrainingSpec,
    device: &'a Device,
    train_idx: Vec<usize>,
    val_idx: Vec<usize>,
    centre_mask: Option<Tensor<4>>,
    optim: ModuleOptimizer,
    first_epoch: usize,
    schedule: LrSchedule,
    early: Option<EarlyStopping>,
    history: TrainingHistory,
    host: GroupBatch,
    started: Instant,
    steps_done: usize,
}

/// What one epoch of optimiser steps produced.
struct EpochSteps {
    loss: f64,
    seen: usize,
    learning_rate: f64,
    started: Instant,
}

impl<'a> EpochLoop<'a> {
    /// Splits the groups, builds the optimizer and restores `resume` when given.
    pub(super) fn new(
        model: Pinn,
        physics: &'a Physics,
        source: &'a dyn GroupSource,
        spec: &'a TrainingSpec,
        device: &'a Device,
        resume: Option<TrainState>,
    ) -> Result<(Self, Pinn), ModelError> {
        let split = spec.split_point(source.len());
        if split == 0 {
            return Err(ModelError::setting(
                "n_groups",
                "enough groups to leave at least one for training after the validation split",
                source.len(),
            ));
        }
        let (train_idx, val_idx): (Vec<usize>, Vec<usize>) =
            ((0..split).collect(), (split..source.len()).collect());
        let pspec = physics.spec();
        let centre_mask = (!pspec.probe_big).then(|| {
            Tensor::<4>::from_data(
                TensorData::new(center_square_mask(pspec.n), [1, 1, pspec.n, pspec.n]),
                device,
            )
        });
        let model = with_stable_param_ids(model);
        let mut optim = AdamConfig::new()
            .with_beta_1(spec.adam_beta1)
            .with_beta_2(spec.adam_beta2)
            .with_epsilon(spec.adam_epsilon)
            .init();
        let (first_epoch, schedule, early, mut history) = match resume {
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
                optim = state.restore_optimizer(optim, &model)?;
                let schedule = state
                    .schedule
                    .with_total_epochs(spec.nepochs, state.next_epoch);
                (state.next_epoch, schedule, state.early, state.history)
            }
        };
        history.stopped_early = false;
        let run = Self {
            physics,
            source,
            spec,
            device,
            train_idx,
            val_idx,
            centre_mask,
            optim,
            first_epoch,
            schedule,
            early,
            history,
            host: GroupBatch::empty(source.channels(), source.n()),
            started: Instant::now(),
            steps_done: 0,
        };
        Ok((run, model))
    }

    fn steps_per_epoch(&self) -> usize {
        self.train_idx.len().div_ceil(self.spec.batch_size)
    }

    /// Runs the remaining epochs; returns the weights and the state after the last one.
    pub(super) fn run(
        mut self,
        mut model: Pinn,
        observer: &mut dyn TrainObserver,
        cancel: &CancelToken,
    ) -> Result<(Pinn, TrainState), ModelError> {
        observer.on_start(&RunStart {
            first_epoch: self.first_epoch,
            epochs: self.spec.nepochs,
            steps_per_epoch: self.steps_per_epoch(),
            train_groups: self.train_idx.len(),
            val_groups: self.val_idx.len(),
            patterns_per_group: self.source.channels(),
        });
        let mut next_epoch = self.first_epoch;
        for epoch in self.first_epoch..self.spec.nepochs {
            let steps;
            (model, steps) = self.train_epoch(model, epoch, observer, cancel)?;
            let stop = self.finish_epoch(&model, epoch, steps)?;
            next_epoch = epoch + 1;
            let last = stop || next_epoch == self.spec.nepochs;
            self.notify_epoch(&model, next_epoch, last, observer)?;
            if stop {
                break;
            }
        }
        let state = self.state(next_epoch)?;
        Ok((model, state))
    }

    /// One pass over the shuffled training groups.
    fn train_epoch(
        &mut self,
        mut model: Pinn,
        epoch: usize,
        observer: &mut dyn TrainObserver,
        cancel: &CancelToken,
    ) -> Result<(Pinn, EpochSteps), ModelError> {
        let started = Instant::now();
        let (spec, source) = (self.spec, self.source);
        let learning_rate = self.schedule.lr();
        let mut order = self.train_idx.clone();
        if spec.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(
                spec.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            order.shuffle(&mut rng);
        }
        let steps = self.steps_per_epoch();
        let remaining_epochs = spec.nepochs - epoch - 1;
        let (mut weighted_sum, mut seen) = (0.0f64, 0usize);
        for (step, chunk) in order.chunks(spec.batch_size).enumerate() {
            if cancel.is_cancelled() {
                return Err(ModelError::Cancelled { epoch, step });
            }
            let total = self.batch_loss(&model, chunk)?;
            let value = total.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(ModelError::Diverged {
                    loss: value,
                    epoch,
                    step,
                });
            }
            let mut grads = GradientsParams::from_grads(total.backward(), &model);
            if let Some(clip) = spec.gradient_clip {
                clip_gradients(&model, &mut grads, clip);
            }
            model = self.optim.step(learning_rate, model, grads);
            weighted_sum += value * chunk.len() as f64;
            seen += chunk.len();
            self.steps_done += 1;
            let steps_left = (steps - step - 1) + remaining_epochs * steps;
            observer.on_step(&StepProgress {
                epoch,
                epochs: spec.nepochs,
                step: step + 1,
                steps,
                loss: weighted_sum / seen as f64,
                learning_rate,
                patterns_per_second: (seen * source.channels()) as f64
                    / started.elapsed().as_secs_f64(),
                eta: eta(self.started.elapsed(), self.steps_done, steps_left),
            });
        }
        let steps = EpochSteps {
            loss: weighted_sum / seen as f64,
            seen,
            learning_rate,
            started,
        };
        Ok((model, steps))
    }

    /// Validation, the history record, the schedule and early stopping; true when the run stops
    /// early after this epoch.
    fn finish_epoch(
        &mut self,
        model: &Pinn,
        epoch: usize,
        steps: EpochSteps,
    ) -> Result<bool, ModelError> {
        let seconds = steps.started.elapsed().as_secs_f64();
        let val_loss = if self.val_idx.is_empty() {
            None
        } else {
            Some(self.validation_loss(model)?)
        };
        let log_scale = model.log_scale.val().into_scalar::<f32>() as f64;
        self.history.epochs.push(EpochRecord {
            epoch,
            loss: steps.loss,
            val_loss,
            learning_rate: steps.learning_rate,
            log_scale,
            patterns_per_second: (steps.seen * self.source.channels()) as f64 / seconds,
            seconds,
        });
        self.schedule
            .end_epoch(epoch, val_loss.unwrap_or(steps.loss));
        let stop = self
            .early
            .as_mut()
            .is_some_and(|early| early.should_stop(steps.loss));
        self.history.stopped_early = stop;
        Ok(stop)
    }

    /// Tells the observer about the epoch that just ended.
    fn notify_epoch(
        &self,
        model: &Pinn,
        next_epoch: usize,
        last: bool,
        observer: &mut dyn TrainObserver,
    ) -> Result<(), ModelError> {
        let record = self
            .history
            .epochs
            .last()
            .expect("finish_epoch pushed this epoch's record");
        let steps_left = (self.spec.nepochs - next_epoch) * self.steps_per_epoch();
        let state = || self.state(next_epoch);
        let end = EpochEnd::new(
            self.spec.nepochs,
            record,
            model,
            last,
            eta(self.started.elapsed(), self.steps_done, steps_left),
            &state,
        );
        observer
            .on_epoch(&end)
            .map_err(|source| ModelError::Observer {
                epoch: record.epoch,
                source,
            })
    }

    /// The state a later run continues from, `next_epoch` being the first it would train.
    fn state(&self, next_epoch: usize) -> Result<TrainState, ModelError> {
        Ok(TrainState {
            next_epoch,
            history: self.history.clone(),
            schedule: self.schedule.clone(),
            early: self.early.clone(),
            optimizer: TrainState::optimizer_bytes(&self.optim)?,
        })
    }

    /// Sample-weighted mean loss over the validation groups, without updating the model.
    fn validation_loss(&mut self, model: &Pinn) -> Result<f64, ModelError> {
        let (mut sum, mut seen) = (0.0f64, 0usize);
        for chunk in self.val_idx.clone().chunks(self.spec.batch_size) {
            let total = self.batch_loss(model, chunk)?;
            sum += total.into_scalar::<f32>() as f64 * chunk.len() as f64;
            seen += chunk.len();
        }
        Ok(sum / seen as f64)
    }

    /// The weighted loss of groups `chunk` under `model` (with the autodiff graph).
    fn batch_loss(&mut self, model: &Pinn, chunk: &[usize]) -> Result<Tensor<1>, ModelError> {
        self.source.fill(chunk, &mut self.host)?;
        let batch = DeviceBatch::new(&self.host, self.physics, self.device)?;
        let out = model.forward(self.physics, &batch);
        let terms = weighted_loss(
            &out,
            &batch,
            self.physics.spec().intensity_scale,
            &self.spec.loss_weights,
            self.centre_mask.clone(),
        )?;
        Ok(terms.total)
    }
}
