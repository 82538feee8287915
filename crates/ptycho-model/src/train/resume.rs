//! Resumable training: everything a checkpoint needs to continue a run exactly where it stopped
//! (the next epoch, the history so far, the learning-rate schedule, early stopping and Adam's
//! moments), and the stable parameter ids that let Adam's moments find their parameters again
//! in a new process.
//!
//! burn keys optimizer state by [`ParamId`], which it draws at random when a module is built, so
//! a model rebuilt in another process would not match a saved optimizer record. The training
//! loop therefore renumbers the parameters in module traversal order (fixed for a given
//! architecture) before it builds the optimizer; a checkpoint's optimizer record and a
//! rebuilt model of the same config then agree.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::optim::record::OptimizerRecord;
use burn::tensor::{Bytes, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::model::Pinn;
use crate::train::optimizer_record::check_optimizer_record;
use crate::train::{EarlyStopping, LrSchedule, TrainingHistory};

/// Base of the renumbered parameter ids ("PTYC" in the high bytes), so they do not look like
/// small counters from elsewhere.
const PARAM_ID_BASE: u64 = 0x5054_5943_0000_0000;

/// Renumbers float parameters in traversal order.
struct StableIds {
    next: u64,
}

impl ModuleMapper for StableIds {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.id = ParamId::from(PARAM_ID_BASE + self.next);
        self.next += 1;
        param
    }
}

/// The model with its parameters renumbered in traversal order (weights unchanged).
pub fn with_stable_param_ids<M: Module>(model: M) -> M {
    model.map(&mut StableIds { next: 0 })
}

/// The state of a training run after its last completed epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed epochs; the next epoch's 0-based number.
    pub next_epoch: usize,
    /// Every epoch so far (a resumed run appends to it).
    pub history: TrainingHistory,
    /// The learning-rate schedule, ready for `next_epoch`.
    pub schedule: LrSchedule,
    /// Early stopping's memory, when enabled.
    pub early: Option<EarlyStopping>,
    /// Adam's moments and step counts (burn's burnpack optimizer record), keyed by the stable
    /// parameter ids of [`with_stable_param_ids`]. Stored beside the JSON, not in it.
    #[serde(skip)]
    pub optimizer: Vec<u8>,
}

impl TrainState {
    /// Captures the optimizer's record.
    pub(crate) fn optimizer_bytes(optim: &ModuleOptimizer) -> Result<Vec<u8>, ModelError> {
        let bytes = optim
            .to_record()
            .into_bytes()
            .map_err(|e| ModelError::Resume(format!("cannot serialise the optimizer: {e}")))?;
        Ok(bytes.to_vec())
    }

    /// Restores the optimizer's record into `optim`, after checking it against `model` (whose
    /// parameters carry the ids of [`with_stable_param_ids`]).
    pub(crate) fn restore_optimizer(
        &self,
        optim: ModuleOptimizer,
        model: &Pinn,
    ) -> Result<ModuleOptimizer, ModelError> {
        load_optimizer_record(&self.optimizer, optim, model)
    }
}

/// Loads a checkpoint's optimizer record (`optimizer.bpk`) into `optim` once
/// [`check_optimizer_record`] accepts it for `model`; anything that does not fit is refused
/// instead of reaching burn, which would panic on it.
pub fn load_optimizer_record<M: Module>(
    bytes: &[u8],
    optim: ModuleOptimizer,
    model: &M,
) -> Result<ModuleOptimizer, ModelError> {
    if bytes.is_empty() {
        return Err(ModelError::Resume(
            "the checkpoint holds no optimizer state".to_owned(),
        ));
    }
    check_optimizer_record(bytes, model)?;
    let record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| ModelError::Resume(format!("the optimizer state is not readable: {e}")))?;
    Ok(optim.load_record(record))
}
