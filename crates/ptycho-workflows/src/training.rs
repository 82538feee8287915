//! `train_cdi_model`: data → container → model built from the config → burn training loop,
//! returning the trained model with everything needed to save it or run inference.

use std::path::{Path, PathBuf};

use ptycho_bundle::{
    BundleContents, LoadOptions, ModelRole, SaveOptions, load_bundle_with, save_bundle,
};
use ptycho_config::TrainingConfig;
use ptycho_data::PtychoDataContainer;
use ptycho_model::{
    GeneratorSpec, HostProbe, Physics, PhysicsSpec, Pinn, TrainState, TrainingHistory,
    TrainingSpec, train_from,
};

use crate::checkpoint;
use crate::config::ResolvedConfig;
use crate::container::{ContainerGroups, DataInput, ensure_container};
use crate::device::ComputeDevice;
use crate::error::{Result, WorkflowError};
use crate::inference::InferenceModel;
use crate::weights::{
    apply_module_tensors, build_model, bundle_maps, bundle_schema, model_specs, refined_probe,
};

/// Options of a training run that are not part of the model's config.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Draw a progress bar on stderr (also needs `execution.enable_progress_bar`).
    pub progress: bool,
    /// Seed of the weight initialisation and shuffling; `None`: `subsample_seed`, else 42.
    pub seed: Option<u64>,
    /// Continue from this checkpoint directory (see [`crate::checkpoint`]): its weights,
    /// optimizer state, learning rate, early-stopping memory and history; epochs continue
    /// from where it stopped up to `nepochs`.
    pub resume: Option<PathBuf>,
    /// Validation fraction held out at the end; `None`: the loop's default (5 %).
    pub validation_split: Option<f64>,
    /// Where to train (see [`crate::Accelerator::select`]); the default is the CPU.
    pub device: ComputeDevice,
}

/// A trained model with the state needed to save it and to reconstruct with it.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The exact training config.
    pub config: TrainingConfig,
    /// The trained module (on the autodiff training device).
    pub model: Pinn,
    /// Generator shape.
    pub generator: GeneratorSpec,
    /// Physics of the training run (its `intensity_scale` is the input photon scale).
    pub physics: PhysicsSpec,
    /// The training probe (before normalisation).
    pub probe: HostProbe,
    /// Per-epoch losses (of the resumed run too, when resuming).
    pub history: TrainingHistory,
    /// Everything needed to continue this run later (see [`TrainedModel::save_checkpoint`]).
    pub train_state: TrainState,
    /// The seed of initialisation and shuffling.
    pub seed: u64,
    /// The device it was trained on (its backend is recorded in the bundle).
    pub device: ComputeDevice,
}

impl TrainedModel {
    /// The trained intensity scale `exp(log_scale)` (what the bundle records).
    pub fn trained_intensity_scale(&self) -> f64 {
        (self.model.log_scale.val().into_scalar::<f32>() as f64).exp()
    }

    /// The refined probe in the units of the data's `probeGuess` (`probe_trainable`), or `None`
    /// when the probe was fixed.
    pub fn refined_probe(&self) -> Result<Option<HostProbe>> {
        refined_probe(&self.model, &self.probe, self.physics.probe_scale)
    }

    /// Saves the bundle (`wts.h5.zip`) under `target` (a directory or a `.zip` path) with the
    /// real weights of this model; returns the archive path.
    pub fn save(&self, target: &Path) -> Result<PathBuf> {
        let (inference, full) = bundle_maps(&self.model, &self.physics, &self.probe)?;
        let contents = BundleContents {
            config: &self.config,
            intensity_scale: self.trained_intensity_scale(),
            diffraction_to_obj: &inference,
            autoencoder: &full,
        };
        let options = SaveOptions::new(self.device.backend().name())
            .crate_version("ptycho-workflows", env!("CARGO_PKG_VERSION"))
            .crate_version("burn", "0.22.1");
        Ok(save_bundle(target, &contents, &options)?)
    }

    /// Saves a checkpoint directory `dir` (bundle, training state, optimizer state) that
    /// [`TrainOptions::resume`] continues from; returns the bundle path.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(|source| WorkflowError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let bundle = self.save(dir)?;
        checkpoint::write_train_state(dir, self.seed, &self.train_state)?;
        Ok(bundle)
    }

    /// The inference model of these weights (object branch only, on the training device
    /// without autodiff).
    pub fn inference_model(&self) -> Result<InferenceModel> {
        let (inference, full) = bundle_maps(&self.model, &self.physics, &self.probe)?;
        InferenceModel::from_maps_on(self.config.clone(), &inference, &full, &self.device)
    }
}

/// What [`train_cdi_model`] returns.
#[derive(Debug, Clone)]
pub struct TrainResults {
    /// The trained model.
    pub trained: TrainedModel,
    /// The training container.
    pub train_container: PtychoDataContainer,
    /// The test container, when test data was given.
    pub test_container: Option<PtychoDataContainer>,
}

/// Host probe of a container's complex probe.
pub fn host_probe(container: &PtychoDataContainer) -> Result<HostProbe> {
    let n = container.probe.nrows();
    Ok(HostProbe::new(
        n,
        container.probe.iter().map(|z| z.re).collect(),
        container.probe.iter().map(|z| z.im).collect(),
    )?)
}

/// Trains a PtychoPINN model on `train` (and groups `test` with the same config, for later
/// inference) as `config` says.
pub fn train_cdi_model(
    train_data: DataInput,
    test_data: Option<DataInput>,
    config: &ResolvedConfig,
    options: &TrainOptions,
) -> Result<TrainResults> {
    let cfg = &config.training;
    let train_container = ensure_container(train_data, cfg)?;
    let test_container = test_data.map(|d| ensure_container(d, cfg)).transpose()?;
    let input_scale = train_container.norm_y_i;
    let (generator, physics_spec) = model_specs(cfg, input_scale)?;
    let probe = host_probe(&train_container)?;
    let device = options.device.device().clone().autodiff();
    let physics = Physics::new(
        &physics_spec,
        &probe,
        generator.support_is_centre(),
        &device,
    )?;
    let seed = options.seed.or(cfg.subsample_seed).unwrap_or(42);
    let mut model = build_model(&generator, &physics, seed, &device)?;
    let resume = match &options.resume {
        Some(checkpoint) => Some(resume_from(&mut model, checkpoint, cfg, seed)?),
        None => None,
    };
    let mut spec = TrainingSpec::from_config(cfg, config.execution.learning_rate)?;
    spec.seed = seed;
    spec.progress = options.progress && config.execution.enable_progress_bar;
    spec.early_stop_patience = Some(config.execution.early_stop_patience.max(1));
    if let Some(split) = options.validation_split {
        spec.validation_split = split;
    }
    let source = ContainerGroups::new(&train_container);
    let (model, train_state) = train_from(model, &physics, &source, &spec, &device, resume)?;
    let history = train_state.history.clone();
    Ok(TrainResults {
        trained: TrainedModel {
            config: cfg.clone(),
            model,
            generator,
            physics: physics_spec,
            probe,
            history,
            train_state,
            seed,
            device: options.device.clone(),
        },
        train_container,
        test_container,
    })
}

/// Loads checkpoint directory `checkpoint` (see [`crate::checkpoint`]): its module weights go
/// into `model`, its training state is returned. The checkpoint's model config, seed and
/// training settings that shape the run must equal this run's.
fn resume_from(
    model: &mut Pinn,
    checkpoint: &Path,
    cfg: &TrainingConfig,
    seed: u64,
) -> Result<TrainState> {
    let dir = checkpoint::checkpoint_dir(checkpoint);
    let (saved_seed, state) = checkpoint::read_train_state(&dir)?;
    let loaded = load_bundle_with(&dir, &LoadOptions::default(), bundle_schema)?;
    let refuse = |problem: String| WorkflowError::Checkpoint {
        path: dir.clone(),
        problem,
    };
    if loaded.config.model != cfg.model {
        let (a, b) = (&loaded.config.model, &cfg.model);
        return Err(refuse(format!(
            "it was trained with a different model config (N {} gridsize {} n_filters_scale {}, this run N {} gridsize {} n_filters_scale {}; full configs: {a:?} vs {b:?})",
            a.N, a.gridsize, a.n_filters_scale, b.N, b.gridsize, b.n_filters_scale
        )));
    }
    let shaping = |c: &TrainingConfig| {
        (
            c.n_groups,
            c.batch_size,
            c.mae_weight.to_bits(),
            c.nll_weight.to_bits(),
            c.nphotons.to_bits(),
        )
    };
    if shaping(&loaded.config) != shaping(cfg) {
        let c = &loaded.config;
        return Err(refuse(format!(
            "it was trained with n_groups {} batch_size {} mae_weight {} nll_weight {} nphotons {}, this run asks for {} {} {} {} {}",
            c.n_groups,
            c.batch_size,
            c.mae_weight,
            c.nll_weight,
            c.nphotons,
            cfg.n_groups,
            cfg.batch_size,
            cfg.mae_weight,
            cfg.nll_weight,
            cfg.nphotons
        )));
    }
    if saved_seed != seed {
        return Err(refuse(format!(
            "it was trained with seed {saved_seed}, this run has seed {seed}; pass --seed {saved_seed}"
        )));
    }
    apply_module_tensors(model, loaded.weights(ModelRole::Autoencoder))?;
    Ok(state)
}
