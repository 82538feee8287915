//! Canonical configuration, legacy params snapshot and the PtychoPINN config bridge.
//!
//! * [`ModelConfig`], [`TrainingConfig`], [`InferenceConfig`]: the canonical configuration with
//!   upstream's field names and defaults, validated on every load and build.
//! * [`ExecutionConfig`]: runtime-only settings, never part of the legacy params.
//! * [`choices`]: the closed string sets (`model_type`, `architecture`, ...).
//! * [`ConfigDocument`]: loading / saving TOML, YAML and JSON files, unknown keys rejected.
//! * [`LegacyParams`]: upstream's flat params map as an explicit value.
//! * [`torch`] and [`bridge`]: the PyTorch-side configuration and its translation.

pub mod bridge;
pub mod bridge_document;
pub mod choices;
pub mod document;
pub mod error;
pub mod execution;
pub mod format;
pub mod inference;
pub mod legacy;
pub mod model;
pub mod overrides;
pub mod torch;
pub mod training;

mod builder;
mod pathstr;
mod validate;

pub use bridge_document::bridge_document;
pub use choices::*;
pub use document::{ConfigDocument, Loaded};
pub use error::{ConfigError, Result};
pub use execution::ExecutionConfig;
pub use format::Format;
pub use inference::{InferenceConfig, InferenceConfigBuilder};
pub use legacy::{KEY_MAPPINGS, LegacyParams, LegacySource, LegacyValue};
pub use model::{ModelConfig, ModelConfigBuilder};
pub use overrides::Overrides;
pub use pathstr::python_path_string;
pub use training::{TrainingConfig, TrainingConfigBuilder};
