//! Canonical configuration, legacy params snapshot and the PtychoPINN config bridge.
//!
//! * [`ModelConfig`], [`TrainingConfig`], [`InferenceConfig`]: the canonical configuration with
//!   upstream's field names and defaults, validated on every load and build.
//! * [`ExecutionConfig`]: runtime-only settings, never part of the legacy params.
//! * [`choices`]: the closed string sets (`model_type`, `architecture`, ...).
//! * [`ConfigDocument`]: loading / saving TOML, YAML and JSON files, unknown keys rejected.
//! * [`LegacyParams`]: upstream's flat params map as an explicit value.
//! * [`torch`] and [`bridge`]: the PyTorch-side configuration and its translation.
//!
//! Loading a canonical file and producing the legacy params it implies:
//!
//! ```
//! use ptycho_config::{ConfigDocument, Format};
//!
//! let text = "[model]\nN = 128\ngridsize = 2\n[training]\nn_groups = 64\n";
//! let document = ConfigDocument::parse(text, Format::Toml)?.value;
//! let training = document.training.as_ref().expect("a [training] section");
//! assert_eq!((training.model.N, training.n_groups), (128, 64));
//! let params = document.legacy_params();
//! assert_eq!(params.get("gridsize").and_then(|v| v.as_int()), Some(2));
//! assert_eq!(params.get("object.big").and_then(|v| v.as_bool()), Some(true));
//! # Ok::<(), ptycho_config::ConfigError>(())
//! ```
//!
//! Bridging a PyTorch-side configuration (the overrides supply what the bridge requires):
//!
//! ```
//! use ptycho_config::torch::TorchConfigSet;
//! use ptycho_config::{Overrides, bridge_document};
//!
//! let overrides = Overrides::new()
//!     .with("train_data_file", "train.npz")
//!     .with("n_groups", 512)
//!     .with("nphotons", 1e9);
//! let bridged = bridge_document(&TorchConfigSet::default(), &overrides)?;
//! let training = bridged.value.training.expect("training is always bridged");
//! assert_eq!(training.model.gridsize, 2); // PyTorch grid_size (2, 2)
//! assert_eq!(training.model.amp_activation.as_str(), "swish"); // PyTorch 'silu'
//! assert_eq!(bridged.warnings.len(), 1); // no test_data_file yet
//! # Ok::<(), ptycho_config::ConfigError>(())
//! ```

pub mod accelerator;
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
pub mod support;
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
