//! The convolution as a burn backend extension: [`SameConvBackend`] runs [`super::kernels`] on
//! the CPU `flex` backend, and its autodiff implementation records a backward step that calls
//! the matching gradient kernels. Nothing here is generic over backends on purpose: other
//! backends keep burn's own convolution (see [`super::conv2d`]).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;

use super::kernels::{self, Activation, ConvShape, Epilogue};

/// A square-kernel, stride-1, "same"-padded convolution with bias, `x[B, C_in, H, W]`,
/// `weight[C_out, C_in, k, k]`, `bias[C_out]` → `[B, C_out, H, W]`, optionally followed by a
/// ReLU in the same pass (burn's ReLU is a separate pass over the output and another over its
/// gradient).
#[backend_extension(Flex, Autodiff)]
pub trait SameConvBackend: Backend {
    /// The convolution, then a ReLU if `relu` (callers check the shapes, dtype and device
    /// first).
    fn same_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;
}

fn activation(relu: bool) -> Activation {
    if relu {
        Activation::Relu
    } else {
        Activation::Identity
    }
}

/// The extents of `conv(x, weight)` read from the two tensors.
fn conv_shape(x: &FlexTensor, weight: &FlexTensor) -> ConvShape {
    ConvShape::of(dims4(x), dims4(weight))
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// The `f32` values of `t` in row-major order (a view unless `t` is strided).
fn values(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the convolution kernels take contiguous f32 tensors")
}

fn tensor(values: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

impl SameConvBackend for Flex {
    fn same_conv(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, relu: bool) -> FlexTensor {
        let s = conv_shape(&x, &weight);
        let (x, weight, bias) = (values(&x), values(&weight), values(&bias));
        let epilogue = Epilogue {
            bias: Some(slice(&bias)),
            act: activation(relu),
        };
        let y = kernels::forward(slice(&x), slice(&weight), epilogue, &s);
        tensor(y, [s.batch, s.c_out, s.height, s.width])
    }
}

/// The backward step of [`SameConvBackend::same_conv`]: keeps the layer input, the kernel and,
/// after a ReLU, the output (whose sign is the ReLU's mask).
#[derive(Debug)]
struct SameConvBackward;

impl Backward<Flex, 3> for SameConvBackward {
    type State = (FlexTensor, FlexTensor, Option<FlexTensor>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = values(&grads.consume::<Flex>(&ops.node));
        let (x, weight, relu_output) = ops.state;
        let s = conv_shape(&x, &weight);
        let dy = match relu_output {
            Some(y) => {
                let dy = Activation::Relu.backward(slice(&values(&y)), slice(&dy));
                tensor(dy, [s.batch, s.c_out, s.height, s.width])
            }
            None => dy,
        };
        if let Some(node) = node_x {
            let dx = kernels::input_grad(slice(&dy), slice(&weight), &s);
            grads.register::<Flex>(node.id, tensor(dx, [s.batch, s.c_in, s.height, s.width]));
        }
        if let Some(node) = node_weight {
            let dw = kernels::weight_grad(slice(&x), slice(&dy), &s);
            grads.register::<Flex>(node.id, tensor(dw, [s.c_out, s.c_in, s.kernel, s.kernel]));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(
                node.id,
                tensor(kernels::bias_grad(slice(&dy), &s), [s.c_out]),
            );
        }
    }
}

impl<C: CheckpointStrategy> SameConvBackend for Autodiff<Flex, C> {
    fn same_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight, bias) = (
            values(x.primitive()),
            values(weight.primitive()),
            values(bias.primitive()),
        );
        let y = || Flex::same_conv(x.clone(), weight.clone(), bias, relu);
        match SameConvBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = y();
                let mask = relu.then(|| out.clone());
                prep.finish((x, weight, mask), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(y()),
        }
    }
}
