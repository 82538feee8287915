//! The PtychoPINN model bundle, `wts.h5.zip` (the name upstream and Ptychodus expect).
//!
//! ```text
//! wts.h5.zip
//! ├── manifest.json                       models, format version, backend, created_at, crate versions
//! ├── diffraction_to_obj/
//! │   ├── params.json                     legacy-key params snapshot + intensity_scale + _version
//! │   └── model.safetensors               inference graph weights
//! └── autoencoder/
//!     ├── params.json                     the same snapshot
//!     └── model.safetensors               full training graph (generator, log_scale, probe, ...)
//! ```
//!
//! Unlike upstream's bundle (Python pickles, which execute code when loaded), every member is
//! data: JSON or safetensors. Weights are little-endian whatever the backend, so a bundle saved
//! under one burn backend loads under any other.
//!
//! * [`save_bundle`] validates the contents (real, finite weights in both models, a valid config,
//!   a positive trained intensity scale) and writes atomically (temporary file + rename); the
//!   same inputs and creation time give a byte-identical archive.
//! * [`load_bundle`] / [`load_bundle_with`] are strict: missing or extra members, unsafe paths,
//!   upstream pickles, unknown versions or backends, oversized members, corrupt data, params that
//!   differ or do not form a valid config, and weights that do not match the model's schema are
//!   each a [`BundleError`] naming the member; a bundle never yields a partly random model. The
//!   restored [`ptycho_config::TrainingConfig`] is the exact training config, so inference needs
//!   no model flags.
//! * [`inspect_bundle`] checks everything but the schema and describes the bundle.
//! * [`inspect_bundle_bytes`] / [`load_bundle_bytes_with`] do the same with an archive held in
//!   memory (the path APIs read the file and run the same checks).
//!
//! This crate does not depend on the neural-network crate: models exchange weights as
//! [`TensorMap`]s and describe what they expect as [`ModelSchema`]s.

mod describe;
mod error;
mod layout;
mod manifest;
mod params;
mod read;
mod strict_json;
mod tensor;
mod weights;
mod write;

pub use error::{BundleError, Malformed, Result, TensorError};
pub use layout::{
    ARCHIVE_NAME, MANIFEST_MEMBER, ModelRole, PARAMS_FILE, WEIGHTS_FILE, archive_target,
};
pub use manifest::{FORMAT_VERSION, KNOWN_BACKENDS, Manifest};
pub use params::{INTENSITY_SCALE_KEY, VERSION_KEY};
pub use read::{
    BundleSchema, BundleSummary, LoadOptions, LoadedBundle, inspect_bundle, inspect_bundle_bytes,
    load_bundle, load_bundle_bytes_with, load_bundle_with,
};
pub use tensor::{DType, ModelSchema, Tensor, TensorMap, TensorSpec};
pub use weights::{decode as decode_safetensors, encode as encode_safetensors};
pub use write::{BundleContents, SaveOptions, encode_bundle, save_bundle};
