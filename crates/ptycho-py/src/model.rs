//! `Model`: a trained or loaded PtychoPINN model. It reconstructs scans (NPZ paths or arrays)
//! into a stitched complex object, saves its bundle (`wts.h5.zip`), and tells its configuration
//! and, when it was trained in this process, its loss history. Computing releases the GIL.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use numpy::IntoPyArray;
use ptycho_workflows::{
    InferenceModel, ReconstructOptions, StitchWeighting, TrainedModel, reconstruct_and_stitch,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::ScanSource;
use crate::config::training_effective;
use crate::errors::{bad_argument, to_py};

/// What a [`Model`] holds.
#[derive(Debug)]
struct Inner {
    inference: InferenceModel,
    /// The trained model, when this process trained it (its bundle can be written).
    trained: Option<TrainedModel>,
    /// The bundle it was loaded from or last saved to.
    bundle: Option<PathBuf>,
}

/// A PtychoPINN model that reconstructs scans (see the Python `ptychopinn.Model`).
#[pyclass(module = "ptychopinn._native", name = "Model")]
#[derive(Debug)]
pub struct Model {
    inner: Mutex<Inner>,
}

impl Model {
    /// A model trained in this process.
    pub fn trained(trained: TrainedModel) -> PyResult<Self> {
        let inference = trained.inference_model().map_err(to_py)?;
        Ok(Self::new(Inner {
            inference,
            trained: Some(trained),
            bundle: None,
        }))
    }

    fn new(inner: Inner) -> Self {
        Model {
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("model: a previous call panicked while using it"))
    }
}

/// Loads a model bundle: a directory holding `wts.h5.zip`, or the archive itself.
#[pyfunction]
pub fn load_bundle(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
    let (inference, _bundle) = py.detach(|| InferenceModel::load(&path)).map_err(to_py)?;
    Ok(Model::new(Inner {
        inference,
        trained: None,
        bundle: Some(path),
    }))
}

#[pymethods]
impl Model {
    /// The model's training configuration as JSON (sections `model`, `training`, `execution`).
    #[getter]
    fn config_json(&self) -> PyResult<String> {
        Ok(training_effective(self.lock()?.inference.config()).to_string())
    }

    /// The loss history as JSON when this process trained the model, else `None`.
    #[getter]
    fn history_json(&self) -> PyResult<Option<String>> {
        let inner = self.lock()?;
        inner
            .trained
            .as_ref()
            .map(|t| {
                serde_json::to_string(&t.history)
                    .map_err(|e| PyRuntimeError::new_err(format!("history: {e}")))
            })
            .transpose()
    }

    /// The bundle the model was loaded from or last saved to.
    #[getter]
    fn bundle_path(&self) -> PyResult<Option<PathBuf>> {
        Ok(self.lock()?.bundle.clone())
    }

    /// Writes the bundle to `path` (a directory, which gets `wts.h5.zip`, or a `.zip` path);
    /// returns the archive's path. A loaded model copies the archive it came from.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<PathBuf> {
        py.detach(|| {
            let mut inner = self.lock()?;
            let written = match (&inner.trained, &inner.bundle) {
                (Some(trained), _) => trained.save(&path).map_err(to_py)?,
                (None, Some(source)) => copy_bundle(source, &path)?,
                (None, None) => {
                    return Err(PyRuntimeError::new_err(
                        "model: neither trained here nor loaded from a bundle, nothing to save",
                    ));
                }
            };
            inner.bundle = Some(written.clone());
            Ok(written)
        })
    }

    /// Reconstructs `data` (an NPZ path or a scan mapping) and stitches the object; returns a
    /// dict with `object` (complex64, 2-D), `origin` (x, y of the object's first pixel in scan
    /// coordinates), `crop`, `groups` and `metrics_json` (when the data has a ground truth).
    #[pyo3(signature = (data, *, n_groups=None, stitch_weighting="uniform", stitch_crop=None, batch_size=None))]
    fn reconstruct<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        n_groups: Option<usize>,
        stitch_weighting: &str,
        stitch_crop: Option<usize>,
        batch_size: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let source = ScanSource::from_py("data", data)?;
        let weighting = match stitch_weighting {
            "uniform" => StitchWeighting::Uniform,
            "probe" => StitchWeighting::Probe,
            other => {
                return Err(bad_argument(
                    "stitch_weighting",
                    "\"uniform\" or \"probe\"",
                    format!("{other:?}"),
                ));
            }
        };
        if batch_size == Some(0) {
            return Err(bad_argument("batch_size", "at least 1", 0));
        }
        let mut options = ReconstructOptions::default()
            .with_weighting(weighting)
            .with_stitch_crop(stitch_crop);
        if let Some(batch) = batch_size {
            options = options.with_batch_size(batch);
        }
        let result = py.detach(|| -> PyResult<_> {
            let inner = self.lock()?;
            let scan = source.load().map_err(|e| to_py(e.into()))?;
            let container = inner
                .inference
                .prepare_scan(scan, n_groups)
                .map_err(to_py)?;
            reconstruct_and_stitch(&inner.inference, &container, &options, &mut |_, _| {})
                .map_err(to_py)
        })?;
        let out = PyDict::new(py);
        out.set_item("object", result.object.object.into_pyarray(py))?;
        out.set_item("origin", (result.object.origin.x, result.object.origin.y))?;
        out.set_item("crop", result.crop)?;
        out.set_item("groups", result.reconstruction.positions.len())?;
        let metrics = result
            .metrics
            .map(|m| serde_json::to_string(&m))
            .transpose()
            .map_err(|e| PyRuntimeError::new_err(format!("metrics: {e}")))?;
        out.set_item("metrics_json", metrics)?;
        Ok(out)
    }
}

/// Copies bundle archive `source` (or `source/wts.h5.zip`) to `target` (a `.zip` path, or a
/// directory that gets `wts.h5.zip`).
fn copy_bundle(source: &Path, target: &Path) -> PyResult<PathBuf> {
    let from = if source.is_dir() {
        source.join("wts.h5.zip")
    } else {
        source.to_path_buf()
    };
    let to = if target.extension().is_some_and(|e| e == "zip") {
        target.to_path_buf()
    } else {
        std::fs::create_dir_all(target)
            .map_err(|e| PyOSError::new_err(format!("cannot create {}: {e}", target.display())))?;
        target.join("wts.h5.zip")
    };
    if from != to {
        std::fs::copy(&from, &to).map_err(|e| {
            PyOSError::new_err(format!(
                "cannot copy {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
    }
    Ok(to)
}
