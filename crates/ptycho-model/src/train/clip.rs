//! Gradient clipping over the whole model (Lightning semantics): by global L2 norm or by value.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How gradients are clipped (`gradient_clip_algorithm` with `gradient_clip_val`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum GradientClip {
    /// Scale all gradients together so that their global L2 norm is at most this value.
    Norm(f32),
    /// Clamp every gradient element to `[−v, v]`.
    Value(f32),
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.total += grad.powi_scalar(2).sum().into_scalar::<f32>() as f64;
        }
    }
}

struct Rescale<'a> {
    grads: &'a mut GradientsParams,
    clip: GradientClip,
    factor: f32,
}

impl ModuleVisitor for Rescale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let clipped = match self.clip {
                GradientClip::Norm(_) => grad.mul_scalar(self.factor),
                GradientClip::Value(v) => grad.clamp(-v, v),
            };
            self.grads.register::<D>(param.id, clipped);
        }
    }
}

/// Global L2 norm of the gradients of `module`'s parameters.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut visitor = SquaredNorm { grads, total: 0.0 };
    module.visit(&mut visitor);
    visitor.total.sqrt()
}

/// Clips `grads` in place; returns the global norm before clipping.
pub fn clip_gradients<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    clip: GradientClip,
) -> f64 {
    let norm = global_norm(module, grads);
    let factor = match clip {
        GradientClip::Norm(max) if norm > max as f64 => (max as f64 / (norm + 1e-6)) as f32,
        GradientClip::Norm(_) => return norm,
        GradientClip::Value(_) => 1.0,
    };
    let mut visitor = Rescale {
        grads,
        clip,
        factor,
    };
    module.visit(&mut visitor);
    norm
}
