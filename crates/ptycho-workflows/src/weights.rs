//! Glue between the burn model and the bundle's named tensors.
//!
//! The trainable module ([`Pinn`]: generator convolutions and `log_scale`) is exported through
//! burn's safetensors store, so tensor names are the module paths (`generator.encoder...`,
//! `log_scale`). The physics state that is not a module parameter but is needed to rebuild
//! the same forward model travels beside it under `physics.*`:
//!
//! | tensor | shape | in | meaning |
//! |---|---|---|---|
//! | `physics.input_scale` | `[1]` | both | photon scale `s` the input was multiplied by in training |
//! | `physics.probe_re`, `physics.probe_im` | `[N, N]` | autoencoder | the training probe (before normalisation) |
//!
//! Loading is strict: every tensor of the model must be present with its exact shape and no
//! extra tensor may remain, so a bundle never yields a partly random model.

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use ptycho_bundle::{
    BundleSchema, DType, ModelRole, Tensor as NamedTensor, TensorMap, decode_safetensors,
    encode_safetensors,
};
use ptycho_config::TrainingConfig;
use ptycho_model::{GeneratorSpec, HostProbe, Physics, PhysicsSpec, Pinn};

use crate::error::{Result, WorkflowError};

/// Photon scale the network input was multiplied by during training.
pub const INPUT_SCALE: &str = "physics.input_scale";
/// Real part of the training probe.
pub const PROBE_RE: &str = "physics.probe_re";
/// Imaginary part of the training probe.
pub const PROBE_IM: &str = "physics.probe_im";

fn weights_error(what: &str, e: impl std::fmt::Display) -> WorkflowError {
    WorkflowError::Weights(format!("{what}: {e}"))
}

/// The generator and physics specifications of a training config, with the input photon
/// scale `input_scale`.
pub fn model_specs(
    config: &TrainingConfig,
    input_scale: f32,
) -> Result<(GeneratorSpec, PhysicsSpec)> {
    let generator = GeneratorSpec::try_from(&config.model)?;
    let mut physics =
        PhysicsSpec::from_config(&config.model, input_scale, config.intensity_scale_trainable)?;
    physics.probe_trainable = config.probe_trainable;
    Ok((generator, physics))
}

/// A fresh model of these specs on `device`, with the trainable probe (initialised from
/// `physics`) when the specs ask for one.
pub fn build_model(
    generator: &GeneratorSpec,
    physics: &Physics,
    seed: u64,
    device: &Device,
) -> Result<Pinn> {
    let model = Pinn::new(generator, physics.spec(), seed, device)?;
    Ok(if physics.spec().probe_trainable {
        model.with_trainable_probe(physics)
    } else {
        model
    })
}

/// The refined probe of `model` in the units of the probe it started from (`initial`, the
/// data's `probeGuess`), or `None` when the probe was not trainable.
pub fn refined_probe(
    model: &Pinn,
    initial: &HostProbe,
    probe_scale: f32,
) -> Result<Option<HostProbe>> {
    let Some(probe) = &model.probe else {
        return Ok(None);
    };
    let factor = initial.normalisation_factor(probe_scale)?;
    let (re, im) = probe.to_host();
    Ok(Some(
        HostProbe::new(initial.n, re, im)?.scaled(1.0 / factor),
    ))
}

/// The module's tensors (`generator.*`, `log_scale`), named by their module paths.
pub fn module_tensors(model: &Pinn) -> Result<TensorMap> {
    let mut store = SafetensorsStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| weights_error("cannot export the model", e))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| weights_error("cannot export the model", e))?;
    decode_safetensors(&bytes, "model").map_err(|e| weights_error("cannot read the export", e))
}

/// Writes `map`'s module tensors into `model`; every module tensor must be present and the
/// map must hold nothing else besides `physics.*` entries.
pub fn apply_module_tensors(model: &mut Pinn, map: &TensorMap) -> Result<()> {
    let mut module_only = TensorMap::new();
    for (name, tensor) in map.iter().filter(|(name, _)| !name.starts_with("physics.")) {
        module_only
            .insert(name, tensor.clone())
            .map_err(|e| weights_error("bad tensor", e))?;
    }
    let bytes = encode_safetensors(&module_only).map_err(|e| weights_error("cannot encode", e))?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).allow_partial(false);
    let result = model
        .load_from(&mut store)
        .map_err(|e| weights_error("cannot load the weights", e))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        return Err(weights_error(
            "the weights do not fit the model",
            format!(
                "missing {:?}, unused {:?}, errors {}",
                result.missing.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                result.unused,
                result.errors.len()
            ),
        ));
    }
    Ok(())
}

/// Both bundle maps of a model: the inference graph (module + input scale) and the full
/// training graph (module + input scale + probe).
pub fn bundle_maps(
    model: &Pinn,
    physics: &PhysicsSpec,
    probe: &HostProbe,
) -> Result<(TensorMap, TensorMap)> {
    let mut inference = module_tensors(model)?;
    let scale = NamedTensor::from_f32(&[1], &[physics.intensity_scale])
        .map_err(|e| weights_error(INPUT_SCALE, e))?;
    inference
        .insert(INPUT_SCALE, scale)
        .map_err(|e| weights_error(INPUT_SCALE, e))?;
    let mut full = inference.clone();
    let n = probe.n;
    for (name, values) in [(PROBE_RE, &probe.re), (PROBE_IM, &probe.im)] {
        let t = NamedTensor::from_f32(&[n, n], values).map_err(|e| weights_error(name, e))?;
        full.insert(name, t).map_err(|e| weights_error(name, e))?;
    }
    Ok((inference, full))
}

/// The tensors a bundle of `config` must hold (built from a fresh model of that config), so
/// the bundle loader can refuse any other set.
pub fn bundle_schema(config: &TrainingConfig) -> Result<BundleSchema> {
    let (generator, physics) = model_specs(config, 1.0)?;
    let device = Device::flex();
    let probe = HostProbe::default_disk(physics.n);
    let built = Physics::new(&physics, &probe, generator.support_is_centre(), &device)?;
    let model = build_model(&generator, &built, 0, &device)?;
    let (inference, full) = bundle_maps(&model, &physics, &probe)?;
    Ok(BundleSchema {
        diffraction_to_obj: inference.schema(),
        autoencoder: full.schema(),
    })
}

/// The `[1]` f32 value `name` of `map`.
pub fn scalar(map: &TensorMap, name: &str, role: ModelRole) -> Result<f32> {
    map.get(name)
        .filter(|t| t.dtype() == DType::F32 && t.len() == 1)
        .and_then(|t| t.to_f32_vec())
        .map(|v| v[0])
        .ok_or_else(|| weights_error(&format!("{role} tensor `{name}`"), "expected one f32 value"))
}

/// The training probe stored in the autoencoder map.
pub fn stored_probe(map: &TensorMap, n: usize) -> Result<HostProbe> {
    let part = |name: &str| {
        map.get(name)
            .and_then(|t| t.to_f32_vec())
            .filter(|v| v.len() == n * n)
            .ok_or_else(|| {
                weights_error(
                    &format!("autoencoder tensor `{name}`"),
                    format!("expected {n}x{n} f32 values"),
                )
            })
    };
    Ok(HostProbe::new(n, part(PROBE_RE)?, part(PROBE_IM)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptycho_config::{ModelConfig, TrainingConfig};

    fn config() -> TrainingConfig {
        TrainingConfig {
            model: ModelConfig {
                n_filters_scale: 1,
                ..ModelConfig::default()
            },
            ..TrainingConfig::default()
        }
    }

    #[test]
    fn module_tensors_round_trip_exactly_into_a_fresh_model() {
        let cfg = config();
        let (g, p) = model_specs(&cfg, 7.5).unwrap();
        let device = Device::flex();
        let source = Pinn::new(&g, &p, 1, &device).unwrap();
        let mut target = Pinn::new(&g, &p, 2, &device).unwrap();
        let map = module_tensors(&source).unwrap();
        assert!(map.get("log_scale").is_some());
        assert_ne!(module_tensors(&target).unwrap(), map);
        apply_module_tensors(&mut target, &map).unwrap();
        assert_eq!(module_tensors(&target).unwrap(), map);
    }

    #[test]
    fn bundle_maps_carry_the_physics_state_and_match_the_schema() {
        let cfg = config();
        let (g, p) = model_specs(&cfg, 7.5).unwrap();
        let model = Pinn::new(&g, &p, 1, &Device::flex()).unwrap();
        let mut probe = HostProbe::default_disk(64);
        probe.im[5] = 0.25;
        let (inference, full) = bundle_maps(&model, &p, &probe).unwrap();
        assert_eq!(
            scalar(&inference, INPUT_SCALE, ModelRole::DiffractionToObj).unwrap(),
            7.5
        );
        assert!(inference.get(PROBE_RE).is_none());
        assert_eq!(stored_probe(&full, 64).unwrap(), probe);
        let schema = bundle_schema(&cfg).unwrap();
        assert!(schema.diffraction_to_obj.mismatches(&inference).is_empty());
        assert!(schema.autoencoder.mismatches(&full).is_empty());
    }

    #[test]
    fn a_trainable_probe_travels_in_the_bundle_and_returns_in_data_units() {
        let mut cfg = config();
        cfg.probe_trainable = true;
        let (g, p) = model_specs(&cfg, 2.0).unwrap();
        assert!(p.probe_trainable);
        let device = Device::flex();
        let mut probe = HostProbe::default_disk(64);
        probe.im[64 * 30 + 20] = 0.3;
        let physics = Physics::new(&p, &probe, g.support_is_centre(), &device).unwrap();
        let model = build_model(&g, &physics, 1, &device).unwrap();
        let map = module_tensors(&model).unwrap();
        assert!(map.get("probe.re").is_some() && map.get("probe.im").is_some());
        let schema = bundle_schema(&cfg).unwrap();
        let (inference, full) = bundle_maps(&model, &p, &probe).unwrap();
        assert!(schema.diffraction_to_obj.mismatches(&inference).is_empty());
        assert!(schema.autoencoder.mismatches(&full).is_empty());
        // Untrained, the refined probe is the data's probe again (normalisation undone).
        let back = refined_probe(&model, &probe, p.probe_scale)
            .unwrap()
            .unwrap();
        let worst = back
            .re
            .iter()
            .zip(&probe.re)
            .chain(back.im.iter().zip(&probe.im))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
        // A fixed-probe config has neither the parameter nor a refined probe.
        let (g, p) = model_specs(&config(), 2.0).unwrap();
        let physics = Physics::new(&p, &probe, g.support_is_centre(), &device).unwrap();
        let fixed = build_model(&g, &physics, 1, &device).unwrap();
        assert!(module_tensors(&fixed).unwrap().get("probe.re").is_none());
        assert!(
            refined_probe(&fixed, &probe, p.probe_scale)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_map_missing_a_tensor_is_refused_by_name() {
        let cfg = config();
        let (g, p) = model_specs(&cfg, 1.0).unwrap();
        let mut model = Pinn::new(&g, &p, 1, &Device::flex()).unwrap();
        let mut map = module_tensors(&model).unwrap();
        map.remove("log_scale").unwrap();
        let err = apply_module_tensors(&mut model, &map)
            .unwrap_err()
            .to_string();
        assert!(err.contains("log_scale"), "{err}");
    }
}
