//! The PINN: generator + tied trainable `log_scale`, wired through the physics
//! (reference/model.md §1.2 steps 1–11).

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

use crate::batch::DeviceBatch;
use crate::error::ModelError;
use crate::generator::Generator;
use crate::physics::{Complex, Physics};
use crate::spec::{GeneratorSpec, PhysicsSpec};

/// Trainable part of PtychoPINN.
#[derive(Module, Debug)]
pub struct Pinn {
    /// The `cnn` generator.
    pub generator: Generator,
    /// `ln` of the photon scale, shared by the input divider and the output multiplier.
    pub log_scale: Param<Tensor<1>>,
    /// The refined probe (`probe.trainable`), in the normalised units of [`Physics::probe`];
    /// `None` keeps the physics' fixed probe.
    pub probe: Option<TrainableProbe>,
}

/// A complex probe `[N, N]` as two trainable real parameters (bundle names `probe.re`,
/// `probe.im`).
#[derive(Module, Debug)]
pub struct TrainableProbe {
    /// Real part.
    pub re: Param<Tensor<2>>,
    /// Imaginary part.
    pub im: Param<Tensor<2>>,
}

impl TrainableProbe {
    /// The probe as `[1, N, N]`.
    pub fn value(&self) -> Complex<3> {
        Complex::new(self.re.val().unsqueeze(), self.im.val().unsqueeze())
    }

    /// Row-major real and imaginary parts on the host.
    pub fn to_host(&self) -> (Vec<f32>, Vec<f32>) {
        let host = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
        (host(self.re.val()), host(self.im.val()))
    }
}

/// Everything one training forward pass produces.
#[derive(Debug, Clone)]
pub struct PinnOutput {
    /// Merged object at the group centre, `[B, 1, N, N]` (upstream `trimmed_obj`).
    pub object: Complex<4>,
    /// Unscaled far-field intensity `|FFT(P·O)|²/N²`, `[B, C, N, N]`.
    pub intensity: Tensor<4>,
    /// Current `log_scale`, `[1]`.
    pub log_scale: Tensor<1>,
}

impl Pinn {
    /// Builds the generator (Glorot from `seed`) and `log_scale = ln(intensity_scale)`.
    pub fn new(
        generator: &GeneratorSpec,
        physics: &PhysicsSpec,
        seed: u64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        check_consistent(generator, physics)?;
        let generator_net = Generator::new(generator, seed, device)?;
        let log_scale = Tensor::<1>::from_data(
            TensorData::new(vec![physics.intensity_scale.ln()], [1]),
            device,
        );
        let log_scale =
            Param::from_tensor(log_scale).set_require_grad(physics.intensity_scale_trainable);
        Ok(Self {
            generator: generator_net,
            log_scale,
            probe: None,
        })
    }

    /// Makes the probe a trainable parameter initialised from `physics`' normalised probe
    /// (`probe.trainable`); a model that will load saved weights only needs the shape.
    pub fn with_trainable_probe(mut self, physics: &Physics) -> Self {
        let probe = physics.probe();
        let [_, n, _] = probe.dims();
        let param = |t: Tensor<3>| Param::from_tensor(t.reshape([n, n]));
        self.probe = Some(TrainableProbe {
            re: param(probe.re.clone()),
            im: param(probe.im.clone()),
        });
        self
    }

    /// The probe the forward model uses, `[1, N, N]`: the refined one when trainable.
    pub fn probe(&self, physics: &Physics) -> Complex<3> {
        match &self.probe {
            Some(p) => p.value(),
            None => physics.probe().clone(),
        }
    }

    /// Object patches per group `[B, C_out, N, N]` from normalised amplitudes `X`: the network
    /// sees `s·X / exp(log_scale)` (upstream `IntensityScaler`).
    pub fn object_patches(&self, amplitude: Tensor<4>, intensity_scale: f32) -> Complex<4> {
        let divisor = self.log_scale.val().exp().reshape([1, 1, 1, 1]);
        let input = amplitude.mul_scalar(intensity_scale) / divisor;
        let out = self.generator.forward(input);
        Complex::from_polar(out.amplitude, out.phase)
    }

    /// Group canvas `[B, 1, M, M]`: merged patches (`object.big`) or the single padded patch.
    fn canvas(&self, physics: &Physics, batch: &DeviceBatch) -> Complex<4> {
        let patches = self.object_patches(batch.amplitude.clone(), physics.spec().intensity_scale);
        if physics.spec().object_big {
            batch.geometry.reassemble(patches)
        } else {
            batch.geometry.pad_single(patches)
        }
    }

    /// Reconstruction only (no far field): the merged object at each group centre,
    /// `[B, 1, N, N]` (the `diffraction_to_obj` model).
    pub fn predict_object(&self, physics: &Physics, batch: &DeviceBatch) -> Complex<4> {
        batch.geometry.trim(self.canvas(physics, batch))
    }

    /// Full training forward pass.
    pub fn forward(&self, physics: &Physics, batch: &DeviceBatch) -> PinnOutput {
        let canvas = self.canvas(physics, batch);
        let object = batch.geometry.trim(canvas.clone());
        let patches = batch.geometry.extract(canvas);
        let psi = physics.illuminate_with(patches, self.probe(physics));
        let [k, n, _] = psi.dims();
        let intensity = physics.far_field(psi);
        let groups = batch.geometry.groups;
        PinnOutput {
            object,
            intensity: intensity.reshape([groups, k / groups, n, n]),
            log_scale: self.log_scale.val(),
        }
    }
}

fn check_consistent(g: &GeneratorSpec, p: &PhysicsSpec) -> Result<(), ModelError> {
    let pairs = [
        ("N", g.n, p.n),
        ("gridsize", g.gridsize, p.gridsize),
        ("object.big", g.object_big as usize, p.object_big as usize),
        ("probe.big", g.probe_big as usize, p.probe_big as usize),
    ];
    for (field, gen_value, phys_value) in pairs {
        if gen_value != phys_value {
            return Err(ModelError::setting(
                field,
                format!("the generator's value {gen_value} in the physics too"),
                phys_value,
            ));
        }
    }
    Ok(())
}
