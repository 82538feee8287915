//! `train_cdi_model`: data → container → model built from the config → burn training loop,
//! returning the trained model with everything needed to save it or run inference.

use std::path::{Path, PathBuf};

use ptycho_bundle::{
    BundleContents, LoadOptions, ModelRole, SaveOptions, load_bundle_with, save_bundle,
};
use ptycho_config::TrainingConfig;
use ptycho_data::PtychoDataContainer;
use ptycho_model::train::{NoObserver, check_optimizer_record, with_stable_param_ids};
use ptycho_model::{
    CancelToken, GeneratorSpec, HostProbe, ModelError, Observers, Physics, PhysicsSpec, Pinn,
    TrainHooks, TrainObserver, TrainState, TrainingHistory, train_observed,
};

use crate::checkpoint;
use crate::checkpointing::{CheckpointWriter, complete_checkpoint, replace_dir};
use crate::config::ResolvedConfig;
use crate::container::{ContainerGroups, DataInput, ensure_container};
use crate::device::{Backend, ComputeDevice};
use crate::error::{Result, WorkflowError};
use crate::inference::InferenceModel;
use crate::plan::RunPlan;
use crate::weights::{
    apply_module_tensors, build_model, bundle_maps, bundle_schema, refined_probe,
};

/// Options of a training run that are not part of the model's config. Built with
/// [`TrainOptions::default`] and the `with_*` methods, so new options do not break callers.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TrainOptions {
    /// Seed of the weight initialisation and shuffling; `None`: `subsample_seed`, else 42.
    pub seed: Option<u64>,
    /// Continue from this checkpoint directory (see [`crate::checkpoint`]): its weights,
    /// optimizer state, learning rate, early-stopping memory and history; epochs continue
    /// from where it stopped up to `nepochs`.
    pub resume: Option<PathBuf>,
    /// Where to train (see [`crate::Accelerator`]); the default is the CPU.
    pub device: ComputeDevice,
    /// Write checkpoints under this directory while training (`last`, `best`; see
    /// [`crate::checkpointing`]) as `execution.enable_checkpointing` and its companions say;
    /// `None`: no checkpoint is written (a library caller's default: nothing touches the disk).
    pub checkpoints: Option<PathBuf>,
    /// Set from another thread to stop training before its next step.
    pub cancel: CancelToken,
}

impl TrainOptions {
    /// The same options with this seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The same options, continuing checkpoint `dir`.
    pub fn with_resume(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resume = Some(dir.into());
        self
    }

    /// The same options on `device`.
    pub fn with_device(mut self, device: ComputeDevice) -> Self {
        self.device = device;
        self
    }

    /// The same options, writing checkpoints under `dir`.
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoints = Some(dir.into());
        self
    }

    /// The same options, stopped by `cancel`.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }
}

/// What a bundle is made of besides the weights: enough to save any epoch's weights of a run.
#[derive(Debug, Clone)]
pub struct BundleParts {
    /// The exact training config.
    pub config: TrainingConfig,
    /// Physics of the run.
    pub physics: PhysicsSpec,
    /// The training probe (before normalisation).
    pub probe: HostProbe,
    /// The backend the weights were trained on.
    pub backend: Backend,
}

impl BundleParts {
    /// Saves `model` as a bundle (`wts.h5.zip`) under `target` (a directory or a `.zip` path);
    /// returns the archive path.
    pub fn save(&self, model: &Pinn, target: &Path) -> Result<PathBuf> {
        let (inference, full) = bundle_maps(model, &self.physics, &self.probe)?;
        let contents = BundleContents {
            config: &self.config,
            intensity_scale: intensity_scale_of(model),
            diffraction_to_obj: &inference,
            autoencoder: &full,
        };
        let options = SaveOptions::new(self.backend.name())
            .crate_version("ptycho-workflows", env!("CARGO_PKG_VERSION"))
            .crate_version("burn", "0.22.1");
        Ok(save_bundle(target, &contents, &options)?)
    }
}

/// `exp(log_scale)` of a model.
fn intensity_scale_of(model: &Pinn) -> f64 {
    (model.log_scale.val().into_scalar::<f32>() as f64).exp()
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
        intensity_scale_of(&self.model)
    }

    /// The refined probe in the units of the data's `probeGuess` (`probe_trainable`), or `None`
    /// when the probe was fixed.
    pub fn refined_probe(&self) -> Result<Option<HostProbe>> {
        refined_probe(&self.model, &self.probe, self.physics.probe_scale)
    }

    /// What a bundle of this run holds besides the weights.
    pub fn bundle_parts(&self) -> BundleParts {
        BundleParts {
            config: self.config.clone(),
            physics: self.physics.clone(),
            probe: self.probe.clone(),
            backend: self.device.backend(),
        }
    }

    /// Saves the bundle (`wts.h5.zip`) under `target` (a directory or a `.zip` path) with the
    /// real weights of this model; returns the archive path.
    pub fn save(&self, target: &Path) -> Result<PathBuf> {
        self.bundle_parts().save(&self.model, target)
    }

    /// Saves checkpoint directory `dir` (bundle, training state, optimizer state) that
    /// [`TrainOptions::resume`] continues from, swapped in whole (see
    /// [`crate::checkpointing::replace_dir`]); returns the bundle path.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<PathBuf> {
        let (root, name) = match (dir.parent(), dir.file_name()) {
            (Some(root), Some(name)) => (root, name.to_string_lossy()),
            _ => {
                return Err(WorkflowError::Checkpoint {
                    path: dir.to_path_buf(),
                    problem: "expected a directory path with a name".to_owned(),
                });
            }
        };
        std::fs::create_dir_all(root).map_err(|source| WorkflowError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let parts = self.bundle_parts();
        let dir = replace_dir(root, &name, |partial| {
            parts.save(&self.model, partial)?;
            checkpoint::write_train_state(partial, self.seed, &self.train_state)
        })?;
        Ok(dir.join(ptycho_bundle::ARCHIVE_NAME))
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
    train_cdi_model_observed(train_data, test_data, config, options, &mut NoObserver)
}

/// [`train_cdi_model`] reporting progress and every epoch's end to `observer` (a progress bar,
/// a tracker, a GUI); checkpoints are written when `options.checkpoints` is set.
pub fn train_cdi_model_observed(
    train_data: DataInput,
    test_data: Option<DataInput>,
    config: &ResolvedConfig,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainResults> {
    let cfg = &config.training;
    let plan = RunPlan::new(config)?;
    let train_container = ensure_container(train_data, cfg)?;
    let test_container = test_data.map(|d| ensure_container(d, cfg)).transpose()?;
    let input_scale = train_container.norm_y_i;
    let (generator, physics_spec) = (plan.generator.clone(), plan.physics(input_scale));
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
    let spec = plan.training_spec(train_container.len(), seed);
    let parts = BundleParts {
        config: cfg.clone(),
        physics: physics_spec.clone(),
        probe: probe.clone(),
        backend: options.device.backend(),
    };
    let mut writer = match (&options.checkpoints, plan.checkpoint.clone()) {
        (Some(root), Some(policy)) => Some(CheckpointWriter::new(
            root,
            policy,
            parts,
            seed,
            resume.as_ref().map(|r| &r.history),
        )),
        _ => None,
    };
    let mut observers = Observers::new().with(observer);
    if let Some(writer) = writer.as_mut() {
        observers.push(writer);
    }
    let hooks = TrainHooks::new(&mut observers).with_cancel(options.cancel.clone());
    let source = ContainerGroups::new(&train_container);
    let (model, train_state) =
        train_observed(model, &physics, &source, &spec, &device, resume, hooks)?;
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
    let dir = complete_checkpoint(&checkpoint::checkpoint_dir(checkpoint));
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
    // The training loop checks the record again; checking here names the file.
    let stable = with_stable_param_ids(model.clone());
    check_optimizer_record(&state.optimizer, &stable).map_err(|e| {
        let problem = match e {
            ModelError::Resume(problem) => problem,
            other => other.to_string(),
        };
        refuse(format!("{}: {problem}", checkpoint::OPTIMIZER_FILE))
    })?;
    Ok(state)
}
