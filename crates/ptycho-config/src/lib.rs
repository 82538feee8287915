//! Canonical configuration, legacy params snapshot and the PtychoPINN config bridge.
//!
//! * [`ModelConfig`], [`TrainingConfig`], [`InferenceConfig`]: the canonical configuration with
//!   upstream's field names and defaults, validated on every load and build.
//! * [`ExecutionConfig`]: runtime-only settings, never part of the legacy params.
//! * [`choices`]: the closed string sets (`model_type`, `architecture`, ...).

pub mod choices;
pub mod error;
pub mod execution;
pub mod inference;
pub mod model;
pub mod training;

mod builder;
mod validate;

pub use choices::*;
pub use error::{ConfigError, Result};
pub use execution::ExecutionConfig;
pub use inference::{InferenceConfig, InferenceConfigBuilder};
pub use model::{ModelConfig, ModelConfigBuilder};
pub use training::{TrainingConfig, TrainingConfigBuilder};
