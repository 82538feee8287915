//! PtychoPINN workflows: everything a program (the `ptycho` CLI, a test, later a Python
//! binding) needs to go from a scan to a saved model and a reconstruction.
//!
//! * [`resolve_config`]: canonical or PyTorch-side config in, canonical config out; PyTorch-side
//!   configs are bridged automatically and the explicit [`ptycho_config::LegacyParams`] value is
//!   updated (the CONFIG-001 analog without global state).
//! * [`ensure_container`]: an NPZ path, a loaded scan (RawData), grouped data or a container,
//!   normalised to the training container.
//! * [`train_cdi_model`]: container → burn model → training loop → [`TrainedModel`].
//! * [`TrainedModel::save`] / [`InferenceModel::load`]: the `wts.h5.zip` bundle with real weights;
//!   loading restores the exact training config, so inference needs no model settings.
//! * [`InferenceModel::reconstruct`]: the object branch, batched, gridsize 1 and > 1;
//!   [`Reconstruction::stitch`]: whole-field stitching.
//! * [`run_cdi_example`]: train, save, optionally stitch, write images and metrics.
//!
//! Computing is separate from writing files: [`train_cdi_model_observed`] and
//! [`reconstruct_and_stitch`] write nothing (except checkpoints when
//! [`TrainOptions::checkpoints`] asks for them); a [`TrainObserver`] receives progress and every
//! epoch's end, and a [`CancelToken`] stops training between steps, so a GUI or a Python caller
//! can drive a run. Options structs are `#[non_exhaustive]`: build them from `Default` (or
//! `new`) and the `with_*` methods.
//!
//! ```no_run
//! use ptycho_config::{LegacyParams, TrainingConfig, ModelConfig};
//! use ptycho_workflows::{DataInput, RunOptions, run_cdi_example};
//!
//! let config = TrainingConfig {
//!     model: ModelConfig { N: 32, ..ModelConfig::default() },
//!     nepochs: 2,
//!     n_groups: 64,
//!     ..TrainingConfig::default()
//! };
//! let mut params = LegacyParams::new();
//! let data = DataInput::from(std::path::PathBuf::from("fixtures/datasets/sim_lines_n32.npz"));
//! let outcome = run_cdi_example(data, None, config.into(), &mut params, &RunOptions::new("out"))?;
//! println!("bundle: {}", outcome.bundle_path.display());
//! # Ok::<(), ptycho_workflows::WorkflowError>(())
//! ```

pub mod checkpoint;
pub mod checkpointing;
pub mod config;
pub mod container;
pub mod device;
pub mod error;
pub mod inference;
pub mod lines;
pub mod lines_run;
pub mod outputs;
pub mod plan;
pub mod refine;
pub mod run;
pub mod tracking;
pub mod training;
pub mod weights;

pub use checkpointing::{CheckpointPolicy, CheckpointWriter, Monitor};
pub use config::{ConfigInput, ResolvedConfig, resolve_config};
pub use container::{ContainerGroups, DataInput, DataPlan, ensure_container};
pub use device::{Accelerator, Backend, ComputeDevice, DeviceError};
pub use error::{Result, WorkflowError};
pub use inference::{
    DEFAULT_INFERENCE_BATCH, InferenceModel, Reconstruction, StitchWeighting, default_stitch_crop,
};
pub use plan::{InferencePlan, RunPlan};
pub use ptycho_model::RefineSpec;
pub use ptycho_model::host_memory::keep_freed_memory;
pub use ptycho_model::{
    CancelToken, EpochEnd, ObserverError, Observers, RunEnd, RunStart, StepProgress, TrainObserver,
};
pub use refine::{REFINED_DIR, RefinedObject, refine_scan, write_refined};
pub use run::{
    ReconstructOptions, RunOptions, RunOutcome, StitchResult, reconstruct_and_stitch,
    reconstruct_and_write, run_cdi_example, run_cdi_example_observed, write_stitch_result,
};
pub use training::{
    BundleParts, TrainOptions, TrainResults, TrainedModel, host_probe, train_cdi_model,
    train_cdi_model_observed,
};
