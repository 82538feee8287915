//! One checkpoint input, as the `checkpoint` fuzz target and the stable replay test
//! (`crates/ptycho-workflows/tests/fuzz_replay.rs`, which includes this file with `#[path]`)
//! both run it.
//!
//! An input is a checkpoint's two files in one buffer: the text of `train_state.json`, a NUL
//! byte, then the bytes of `optimizer.bpk` (JSON text holds no NUL, so the split is unambiguous).
//! The state goes through `parse_train_state`, the parser `read_train_state` uses; the optimizer
//! record goes through `load_optimizer_record` into a fresh Adam, exactly as a resumed run
//! restores it, and an accepted record is then used for one optimiser step, where a moment of
//! the wrong shape or rank would panic.
//!
//! The record is loaded for a small model built from the generator's layer type (two 3 × 3
//! convolutions with biases: parameters of rank 4 and 1) rather than the whole generator, whose
//! Adam state is 2.8 MB at N = 32: the loading and checking code is the same for any module, and
//! seeds this small let libFuzzer mutate the record's header and metadata, where the parsing is.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use ptycho_model::train::{load_optimizer_record, with_stable_param_ids};
use ptycho_workflows::checkpoint::parse_train_state;

/// The model every input's optimizer record is loaded for.
pub type Model = (Conv2d, Conv2d);

/// Two small convolutions with the stable parameter ids a training run gives its model.
pub fn model() -> Model {
    let device = Device::flex().autodiff();
    let model = (
        Conv2dConfig::new([1, 2], [3, 3]).init(&device),
        Conv2dConfig::new([2, 1], [3, 3]).init(&device),
    );
    with_stable_param_ids(model)
}

/// Sum of squares of every float parameter: a loss whose gradient reaches every parameter.
#[derive(Default)]
struct SquaredNorm(Option<Tensor<1>>);

impl ModuleVisitor for SquaredNorm {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let term = param.val().powf_scalar(2.0).sum();
        self.0 = Some(match self.0.take() {
            Some(total) => total + term,
            None => term,
        });
    }
}

/// Gradients for every parameter of `model`.
fn gradients(model: &Model) -> GradientsParams {
    let mut norm = SquaredNorm::default();
    model.visit(&mut norm);
    let loss = norm.0.expect("the model has parameters");
    GradientsParams::from_grads(loss.backward(), model)
}

/// A valid `optimizer.bpk` for [`model`]: Adam's state after one step.
#[allow(
    dead_code,
    reason = "the replay test uses it, the fuzz target does not"
)]
pub fn valid_record(model: &Model) -> Vec<u8> {
    let mut optim = AdamConfig::new().init();
    let _ = optim.step(1e-3, model.clone(), gradients(model));
    optim
        .to_record()
        .into_bytes()
        .expect("an optimizer record serialises")
        .to_vec()
}

/// Runs one input; returns whether the optimizer record was accepted (and stepped with).
pub fn run(data: &[u8], model: &Model) -> bool {
    let (state, optimizer) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(text) = std::str::from_utf8(state) {
        let _ = parse_train_state(text, Path::new("checkpoints/last"));
    }
    let Ok(mut optim) = load_optimizer_record(optimizer, AdamConfig::new().init(), model) else {
        return false;
    };
    let _ = optim.step(1e-3, model.clone(), gradients(model));
    true
}
