//! Canonical `InferenceConfig`: which trained model to apply to which data.
//!
//! `model_path` and `test_data_file` are required (no defaults), as upstream. `n_groups` stays
//! optional (None = use every group); the deprecated `n_images` is copied into it when it alone
//! is given.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::choices::Backend;
use crate::error::{ConfigError, Result};
use crate::model::ModelConfig;
use crate::training::{check_path, n_images_deprecation};
use crate::validate::{positive_count, positive_count_opt};

/// File name of the model archive inside a model directory.
pub const MODEL_ARCHIVE_NAME: &str = "wts.h5.zip";

/// Inference configuration (13 fields, upstream order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceConfig {
    #[serde(default)]
    pub model: ModelConfig,
    pub model_path: PathBuf,
    pub test_data_file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_groups: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_images: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_subsample: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsample_seed: Option<u64>,
    #[serde(default = "default_neighbor_count")]
    pub neighbor_count: usize,
    #[serde(default)]
    pub enable_oversampling: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbor_pool_size: Option<usize>,
    #[serde(default)]
    pub debug: bool,
    #[serde(default = "default_output_dir")]
    pub output_dir: PathBuf,
    #[serde(default)]
    pub backend: Backend,
}

fn default_neighbor_count() -> usize {
    4
}

fn default_output_dir() -> PathBuf {
    PathBuf::from("inference_outputs")
}

/// Field names in declaration order (without `model`).
pub const INFERENCE_FIELDS: &[&str] = &[
    "model_path",
    "test_data_file",
    "n_groups",
    "n_images",
    "n_subsample",
    "subsample_seed",
    "neighbor_count",
    "enable_oversampling",
    "neighbor_pool_size",
    "debug",
    "output_dir",
    "backend",
];

impl InferenceConfig {
    /// A config with the two required paths and every other field at its default.
    pub fn new(model_path: impl Into<PathBuf>, test_data_file: impl Into<PathBuf>) -> Self {
        InferenceConfig {
            model: ModelConfig::default(),
            model_path: model_path.into(),
            test_data_file: test_data_file.into(),
            n_groups: None,
            n_images: None,
            n_subsample: None,
            subsample_seed: None,
            neighbor_count: default_neighbor_count(),
            enable_oversampling: false,
            neighbor_pool_size: None,
            debug: false,
            output_dir: default_output_dir(),
            backend: Backend::Tensorflow,
        }
    }

    /// A builder with the two required paths; `build()` validates.
    pub fn builder(
        model_path: impl Into<PathBuf>,
        test_data_file: impl Into<PathBuf>,
    ) -> InferenceConfigBuilder {
        InferenceConfigBuilder(InferenceConfig::new(model_path, test_data_file))
    }

    /// Applies upstream's `__post_init__`: a lone deprecated `n_images` becomes `n_groups`.
    /// Returns the deprecation warning when one applies.
    pub fn resolve_n_images(&mut self) -> Option<String> {
        match (self.n_images, self.n_groups) {
            (Some(n_images), None) => {
                self.n_groups = Some(n_images);
                Some(n_images_deprecation("inference"))
            }
            _ => None,
        }
    }

    /// Checks every structural rule (the model's too); field names are prefixed `inference.`.
    /// Whether `model_path` exists is checked separately by [`InferenceConfig::model_archive`].
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        check_path("inference.model_path", Some(&self.model_path))?;
        check_path("inference.test_data_file", Some(&self.test_data_file))?;
        check_path("inference.output_dir", Some(&self.output_dir))?;
        positive_count_opt("inference.n_groups", self.n_groups)?;
        positive_count_opt("inference.n_images", self.n_images)?;
        positive_count_opt("inference.n_subsample", self.n_subsample)?;
        positive_count("inference.neighbor_count", self.neighbor_count)?;
        positive_count_opt("inference.neighbor_pool_size", self.neighbor_pool_size)?;
        Ok(())
    }

    /// Locates the model archive the way upstream's `validate_inference_config` does: a
    /// directory must contain `wts.h5.zip`; a missing file is retried with the suffix `.zip`
    /// and, for a file named exactly `wts.h5`, as `wts.h5.zip`.
    pub fn model_archive(&self) -> Result<PathBuf> {
        locate_model_archive(&self.model_path)
    }
}

/// See [`InferenceConfig::model_archive`].
pub fn locate_model_archive(model_path: &Path) -> Result<PathBuf> {
    if model_path.is_dir() {
        let archive = model_path.join(MODEL_ARCHIVE_NAME);
        if archive.is_file() {
            return Ok(archive);
        }
        return Err(ConfigError::invalid(
            "inference.model_path",
            model_path.display(),
            format!(
                "model archive not found: {} (point model_path at a training output directory that contains {MODEL_ARCHIVE_NAME})",
                archive.display()
            ),
        ));
    }
    if model_path.is_file() {
        return Ok(model_path.to_path_buf());
    }
    let mut tried = vec![model_path.with_extension("zip")];
    if model_path.file_name().is_some_and(|name| name == "wts.h5") {
        tried.push(model_path.with_extension("h5.zip"));
    }
    if let Some(found) = tried.iter().find(|candidate| candidate.is_file()) {
        return Ok(found.clone());
    }
    let also: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(ConfigError::invalid(
        "inference.model_path",
        model_path.display(),
        format!("does not exist (also checked {})", also.join(" and ")),
    ))
}

/// Builds an [`InferenceConfig`]; [`InferenceConfigBuilder::build`] validates.
#[derive(Debug, Clone)]
pub struct InferenceConfigBuilder(InferenceConfig);

crate::builder::setters!(InferenceConfigBuilder {
    model: ModelConfig,
    n_groups: Option<usize>,
    n_images: Option<usize>,
    n_subsample: Option<usize>,
    subsample_seed: Option<u64>,
    neighbor_count: usize,
    enable_oversampling: bool,
    neighbor_pool_size: Option<usize>,
    debug: bool,
    output_dir: PathBuf,
    backend: Backend,
});

impl InferenceConfigBuilder {
    /// Resolves the `n_images` alias, validates, and returns the config with its warnings.
    pub fn build_with_warnings(mut self) -> Result<(InferenceConfig, Vec<String>)> {
        let warnings = self.0.resolve_n_images().into_iter().collect();
        self.0.validate()?;
        Ok((self.0, warnings))
    }

    /// Like [`InferenceConfigBuilder::build_with_warnings`], dropping the warnings.
    pub fn build(self) -> Result<InferenceConfig> {
        self.build_with_warnings().map(|(config, _)| config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_alias() {
        let i = InferenceConfig::builder("model_dir", "test.npz")
            .build()
            .unwrap();
        assert_eq!(i.n_groups, None);
        assert_eq!(i.neighbor_count, 4);
        assert_eq!(i.output_dir, PathBuf::from("inference_outputs"));
        assert!(!i.debug);
        let (i, warnings) = InferenceConfig::builder("m", "t.npz")
            .n_images(Some(7))
            .build_with_warnings()
            .unwrap();
        assert_eq!(i.n_groups, Some(7));
        assert_eq!(warnings.len(), 1);
        assert_eq!(INFERENCE_FIELDS.len(), 12);
    }

    #[test]
    fn model_archive_rules() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate_model_archive(dir.path()).unwrap_err();
        assert!(err.to_string().contains("model archive not found"));
        std::fs::write(dir.path().join(MODEL_ARCHIVE_NAME), b"zip").unwrap();
        assert_eq!(
            locate_model_archive(dir.path()).unwrap(),
            dir.path().join(MODEL_ARCHIVE_NAME)
        );
        let alt = locate_model_archive(&dir.path().join("wts.h5")).unwrap();
        assert_eq!(alt, dir.path().join("wts.h5.zip"));
        let missing = dir.path().join("nothing/model");
        let err = locate_model_archive(&missing).unwrap_err().to_string();
        assert!(err.contains("does not exist (also checked"), "{err}");
    }
}
