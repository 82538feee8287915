//! Checks a checkpoint's optimizer record (`optimizer.bpk`, burn's burnpack format) against the
//! model it is about to be loaded into, before burn sees it.
//!
//! burn's `ModuleOptimizer::load_record` trusts the record: a tensor without a parameter id
//! panics (`expect`), a rank other than the parameter's panics while the state is rebuilt, and a
//! moment of the wrong shape or type panics at the next optimiser step. A checkpoint is a file
//! from disk, possibly edited, truncated or written by a model of another architecture, so every
//! entry burn will act on is checked here first and refused with the entry's name.
//!
//! What `load_record` acts on: tensors (each filed under `"{param_id}.{field}"` and carrying its
//! `param_id`) and the `"{param_id}.__rank"` scalars; other scalars (Adam's step count) are
//! only read for parameters that pass these checks, and paths only label them.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn_pack::{Bytes, DType, Reader, Shape};

use crate::error::ModelError;

/// Suffix of the scalar that records a parameter's rank.
const RANK_SUFFIX: &str = ".__rank";

/// The shape of every float parameter, by parameter id.
#[derive(Default)]
struct ParamShapes(BTreeMap<u64, Shape>);

impl ModuleVisitor for ParamShapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.insert(param.id.val(), param.lazy_shape());
    }
}

fn refuse(problem: String) -> ModelError {
    ModelError::Resume(format!(
        "the optimizer state does not fit this model: {problem}"
    ))
}

/// Checks that `bytes` is a burnpack record of optimizer state for `model`'s parameters (keyed
/// by the ids [`with_stable_param_ids`](super::with_stable_param_ids) gives): every tensor names a parameter of the model, is
/// filed under that parameter, is f32 and has the parameter's shape, and every recorded rank is
/// the parameter's rank.
pub fn check_optimizer_record<M: Module>(bytes: &[u8], model: &M) -> Result<(), ModelError> {
    let mut shapes = ParamShapes::default();
    model.visit(&mut shapes);
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        ModelError::Resume(format!("the optimizer state is not a burnpack record: {e}"))
    })?;
    for (name, value) in reader.scalars() {
        let Some(id) = name.strip_suffix(RANK_SUFFIX) else {
            continue;
        };
        let shape = param_shape(&shapes, id.parse().ok(), name)?;
        let rank = usize::try_from(*value).ok();
        if rank != Some(shape.num_dims()) {
            return Err(refuse(format!(
                "`{name}` is {value:?}, the parameter has rank {}",
                shape.num_dims()
            )));
        }
    }
    let tensors = reader.into_tensors().map_err(|e| {
        ModelError::Resume(format!("the optimizer state is not a burnpack record: {e}"))
    })?;
    for tensor in &tensors {
        let name = &tensor.name;
        let Some(id) = tensor.param_id else {
            return Err(refuse(format!("tensor `{name}` carries no parameter id")));
        };
        let shape = param_shape(&shapes, Some(id), name)?;
        if name.split_once('.').map(|(prefix, _)| prefix) != Some(id.to_string().as_str()) {
            return Err(refuse(format!(
                "tensor `{name}` belongs to parameter {id} but is not named `{id}.<field>`"
            )));
        }
        if tensor.dtype != DType::F32 || tensor.shape != *shape {
            return Err(refuse(format!(
                "tensor `{name}` is {:?} of shape {:?}, expected F32 of shape {:?}",
                tensor.dtype, tensor.shape, shape
            )));
        }
    }
    Ok(())
}

/// The shape of parameter `id`, or the refusal naming `entry`.
fn param_shape<'a>(
    shapes: &'a ParamShapes,
    id: Option<u64>,
    entry: &str,
) -> Result<&'a Shape, ModelError> {
    id.and_then(|id| shapes.0.get(&id)).ok_or_else(|| {
        refuse(format!(
            "`{entry}` is state for a parameter this model does not have (was the checkpoint written by another architecture or n_filters_scale?)"
        ))
    })
}
