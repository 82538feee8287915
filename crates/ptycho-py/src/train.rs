//! `train`: a scan (NPZ path or arrays) and a configuration in, a trained [`Model`] out. The
//! GIL is released while training; progress reaches the Python callback through
//! [`PyProgress`], which also turns Ctrl-C into a clean cancellation: training stops before
//! its next step and `KeyboardInterrupt` is raised once it has returned.

use std::path::PathBuf;

use ptycho_workflows::{CancelToken, DataInput, TrainOptions, train_cdi_model_observed};
use pyo3::prelude::*;

use crate::arrays::ScanSource;
use crate::config::ConfigArg;
use crate::errors::to_py;
use crate::model::Model;
use crate::progress::PyProgress;

/// Trains a model on `train_data` (an NPZ path or a scan mapping) with the configuration
/// `config_json` (see `check_config`); `test_data` is grouped with the same configuration;
/// `checkpoint_dir` receives `last` / `best` checkpoints as `execution` says; `progress` is
/// called with a dict per event (`start`, `step`, `epoch`, `finish`).
#[pyfunction]
#[pyo3(signature = (train_data, config_json=None, *, test_data=None, seed=None, progress=None, checkpoint_dir=None))]
pub fn train(
    py: Python<'_>,
    train_data: &Bound<'_, PyAny>,
    config_json: Option<&str>,
    test_data: Option<&Bound<'_, PyAny>>,
    seed: Option<u64>,
    progress: Option<Py<PyAny>>,
    checkpoint_dir: Option<PathBuf>,
) -> PyResult<Model> {
    let config = ConfigArg::parse(config_json)?;
    let train_source = ScanSource::from_py("train_data", train_data)?;
    let test_source = test_data
        .map(|t| ScanSource::from_py("test_data", t))
        .transpose()?;
    if let Some(callback) = &progress
        && !callback.bind(py).is_callable()
    {
        return Err(crate::errors::bad_argument(
            "progress",
            "a callable taking one dict",
            crate::arrays::type_name(callback.bind(py)),
        ));
    }
    let cancel = CancelToken::new();
    let mut observer = PyProgress::new(progress, cancel.clone());
    let mut options = TrainOptions::default().with_cancel(cancel);
    if let Some(seed) = seed {
        options = options.with_seed(seed);
    }
    if let Some(dir) = checkpoint_dir {
        options = options.with_checkpoints(dir);
    }
    let outcome = py.detach(|| -> PyResult<_> {
        let scan = train_source.load().map_err(|e| to_py(e.into()))?;
        let resolved = config.resolve_for(&scan)?;
        let test = test_source
            .map(|t| t.load().map(DataInput::Raw))
            .transpose()
            .map_err(|e| to_py(e.into()))?;
        train_cdi_model_observed(
            DataInput::Raw(scan),
            test,
            &resolved,
            &options,
            &mut observer,
        )
        .map_err(to_py)
    });
    // An interrupt or a failing callback cancelled the run: raise that, not "cancelled".
    if let Some(err) = observer.take_error() {
        return Err(err);
    }
    Model::trained(outcome?.trained)
}
