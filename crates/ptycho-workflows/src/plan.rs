//! The run plan: everything a training run is built from, derived from the resolved config in
//! one place, so that what the configuration asks for is what runs.
//!
//! [`train_cdi_model`](crate::train_cdi_model) builds its generator, physics and training
//! options and its checkpoint policy from [`RunPlan::new`]; the device, logger, progress and
//! inference-batch entries are the execution settings the run's caller (the CLI,
//! `run_cdi_example`) reads. Comparing two plans therefore shows whether a setting changes a
//! run (the settings test walks every config field this way).
//! [`InferencePlan`] is the same for an `[inference]` section: `ptycho infer --config` runs
//! from it, and [`InferenceModel::prepare_scan_planned`](crate::InferenceModel::prepare_scan_planned)
//! groups the scan as it says.

use std::path::PathBuf;

use ptycho_config::{
    Accelerator, ExecutionConfig, InferenceConfig, LoggerBackend, TrainingConfig, support,
};
use ptycho_data::pipeline::numpy_seed;
use ptycho_model::config::closed_form_intensity_scale;
use ptycho_model::{GeneratorSpec, PhysicsSpec, TrainingSpec};
use serde::Serialize;

use crate::checkpointing::CheckpointPolicy;
use crate::config::ResolvedConfig;
use crate::container::DataPlan;
use crate::error::Result;
use crate::inference::DEFAULT_INFERENCE_BATCH;
use crate::weights::model_specs;

/// Files a run reads and writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPaths {
    /// `training.train_data_file`.
    pub train_data_file: Option<PathBuf>,
    /// `training.test_data_file`.
    pub test_data_file: Option<PathBuf>,
    /// `training.output_dir`.
    pub output_dir: PathBuf,
}

/// Everything a training run is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// Generator shape.
    pub generator: GeneratorSpec,
    /// Physics, with the closed-form photon scale of `nphotons` (see [`RunPlan::physics`]).
    pub physics: PhysicsSpec,
    /// Training options, with the validation split for `n_groups` groups (see
    /// [`RunPlan::training_spec`]).
    pub training: TrainingSpec,
    /// `execution.validation_split` (`None`: automatic).
    pub validation_split: Option<f64>,
    /// Subsampling, grouping and photon scale of the data.
    pub data: DataPlan,
    /// The compute device asked for.
    pub accelerator: Accelerator,
    /// Where metrics go.
    pub logger: LoggerBackend,
    /// Checkpoints written (`None`: `enable_checkpointing = false`).
    pub checkpoint: Option<CheckpointPolicy>,
    /// Groups per reconstruction batch after training.
    pub inference_batch: usize,
    /// `execution.enable_progress_bar` (`None`: a bar on a terminal, lines otherwise;
    /// `Some(false)`: lines), read by the caller's progress display.
    pub enable_progress_bar: Option<bool>,
    /// Files.
    pub paths: RunPaths,
}

impl RunPlan {
    /// The plan of `config`; refuses settings this implementation does not run with
    /// ([`support::check_run`]).
    pub fn new(config: &ResolvedConfig) -> Result<Self> {
        let (training, execution) = (&config.training, &config.execution);
        support::check_run(training, execution)?;
        let scale = closed_form_intensity_scale(training.nphotons, training.model.N);
        let (generator, physics) = model_specs(training, scale)?;
        Ok(RunPlan {
            generator,
            physics,
            training: TrainingSpec::from_run_config(training, execution)?,
            validation_split: execution.validation_split,
            data: DataPlan::new(training)?,
            accelerator: execution.accelerator,
            logger: execution.logger_backend,
            checkpoint: CheckpointPolicy::from_config(execution)?,
            inference_batch: execution
                .inference_batch_size
                .unwrap_or(DEFAULT_INFERENCE_BATCH),
            enable_progress_bar: execution.enable_progress_bar,
            paths: paths(training),
        })
    }

    /// The physics of a run whose network input was multiplied by `input_scale` (the
    /// container's photon scale).
    pub fn physics(&self, input_scale: f32) -> PhysicsSpec {
        PhysicsSpec {
            intensity_scale: input_scale,
            ..self.physics.clone()
        }
    }

    /// The training options of a run on `groups` groups with `seed`: the validation split is
    /// resolved for the groups actually built.
    pub fn training_spec(&self, groups: usize, seed: u64) -> TrainingSpec {
        let execution = ExecutionConfig {
            validation_split: self.validation_split,
            ..ExecutionConfig::default()
        };
        TrainingSpec {
            validation_split: execution.validation_fraction(groups),
            seed,
            ..self.training.clone()
        }
    }
}

fn paths(training: &TrainingConfig) -> RunPaths {
    RunPaths {
        train_data_file: training.train_data_file.clone(),
        test_data_file: training.test_data_file.clone(),
        output_dir: training.output_dir.clone(),
    }
}

/// Everything a reconstruction configured by an `[inference]` section is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferencePlan {
    /// The bundle.
    pub model_path: PathBuf,
    /// The scan to reconstruct.
    pub test_data_file: PathBuf,
    /// Where images and the object go.
    pub output_dir: PathBuf,
    /// Groups to reconstruct (`None`: every group).
    pub n_groups: Option<usize>,
    /// Positions sampled before grouping (`n_subsample`, else `n_images`).
    pub n_subsample: Option<usize>,
    /// The deprecated `n_images`.
    pub n_images: Option<usize>,
    /// Seed of subsampling and grouping.
    pub subsample_seed: Option<u32>,
    /// Neighbours searched per group (`neighbor_count`).
    pub neighbor_count: usize,
    /// K-choose-C oversampling (`enable_oversampling`).
    pub enable_oversampling: bool,
    /// Neighbour pool of oversampling (`neighbor_pool_size`).
    pub neighbor_pool_size: Option<usize>,
    /// Groups per reconstruction batch.
    pub batch: usize,
    /// The compute device asked for.
    pub accelerator: Accelerator,
}

impl InferencePlan {
    /// The plan of an inference section with its execution settings.
    pub fn new(inference: &InferenceConfig, execution: &ExecutionConfig) -> Result<Self> {
        Ok(InferencePlan {
            model_path: inference.model_path.clone(),
            test_data_file: inference.test_data_file.clone(),
            output_dir: inference.output_dir.clone(),
            n_groups: inference.n_groups,
            n_subsample: inference.n_subsample,
            n_images: inference.n_images,
            subsample_seed: numpy_seed("subsample_seed", inference.subsample_seed)?,
            neighbor_count: inference.neighbor_count,
            enable_oversampling: inference.enable_oversampling,
            neighbor_pool_size: inference.neighbor_pool_size,
            batch: execution
                .inference_batch_size
                .unwrap_or(DEFAULT_INFERENCE_BATCH),
            accelerator: execution.accelerator,
        })
    }
}
