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
//! `param_id`), the `"{param_id}.__rank"` scalars and Adam's `"{param_id}.momentum.time"` step
//! counts; paths only label parameters.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn_pack::{Bytes, DType, Reader, Scalar, Shape};

use crate::error::ModelError;

/// Suffix of the scalar that records a parameter's rank.
const RANK_SUFFIX: &str = ".__rank";
/// Suffix of the scalar that records Adam's step count for a parameter.
const STEP_SUFFIX: &str = ".time";
/// The largest step count Adam can continue from: it increments the count and raises β to it
/// as an `i32`.
const STEP_LIMIT: u64 = (i32::MAX - 1) as u64;

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
/// by the ids [`with_stable_param_ids`](super::with_stable_param_ids) gives): every entry names a
/// parameter of the model; every tensor is filed under that parameter, is f32 and has the
/// parameter's shape; every recorded rank is the parameter's rank; every step count is one Adam
/// can continue from.
pub fn check_optimizer_record<M: Module>(bytes: &[u8], model: &M) -> Result<(), ModelError> {
    let mut shapes = ParamShapes::default();
    model.visit(&mut shapes);
    let unreadable = |e: burn_pack::Error| {
        ModelError::Resume(format!("the optimizer state is not a burnpack record: {e}"))
    };
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(unreadable)?;
    for (name, value) in reader.scalars() {
        check_scalar(&shapes, name, *value)?;
    }
    for tensor in &reader.into_tensors().map_err(unreadable)? {
        check_tensor(&shapes, tensor)?;
    }
    Ok(())
}

/// A scalar `"{param_id}.{field}"`: the parameter exists; `__rank` is its rank; Adam's `time` is
/// an unsigned integer up to [`STEP_LIMIT`] (a larger one overflows into NaN weights).
fn check_scalar(shapes: &ParamShapes, name: &str, value: Scalar) -> Result<(), ModelError> {
    let id = name.split_once('.').and_then(|(id, _)| id.parse().ok());
    let shape = param_shape(shapes, id, name)?;
    if name.ends_with(RANK_SUFFIX) && usize::try_from(value).ok() != Some(shape.num_dims()) {
        return Err(refuse(format!(
            "`{name}` is {value:?}, the parameter has rank {}",
            shape.num_dims()
        )));
    }
    if name.ends_with(STEP_SUFFIX) && !matches!(value, Scalar::UInt(t) if t <= STEP_LIMIT) {
        return Err(refuse(format!(
            "`{name}` is {value:?}, expected a step count from 0 to {STEP_LIMIT}"
        )));
    }
    Ok(())
}

/// A tensor: it carries the id of a parameter of the model, is named `"{param_id}.{field}"`, and
/// is f32 of the parameter's shape.
fn check_tensor(shapes: &ParamShapes, tensor: &burn_pack::Tensor) -> Result<(), ModelError> {
    let name = &tensor.name;
    let Some(id) = tensor.param_id else {
        return Err(refuse(format!("tensor `{name}` carries no parameter id")));
    };
    let shape = param_shape(shapes, Some(id), name)?;
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
