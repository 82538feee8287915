//! `run_cdi_example`: the whole job in one call: resolve the config (bridging and updating the
//! legacy params), train, save the bundle and the loss history, and optionally reconstruct,
//! stitch, write the images and evaluate against the ground truth.

use std::path::{Path, PathBuf};

use ptycho_config::LegacyParams;
use ptycho_data::PtychoDataContainer;
use ptycho_eval::{PipelineReport, StitchedObject};

use crate::config::{ConfigInput, ResolvedConfig, resolve_config};
use crate::container::DataInput;
use crate::error::Result;
use ptycho_config::LoggerBackend;
use ptycho_model::train::NoObserver;
use ptycho_model::{Observers, TrainObserver};

use crate::inference::{
    DEFAULT_INFERENCE_BATCH, InferenceModel, Reconstruction, StitchWeighting, default_stitch_crop,
};
use crate::outputs::{
    ReconstructionMetadata, evaluate, probe_array, write_history, write_metrics, write_probe,
    write_reconstruction,
};
use crate::tracking::{TrackedRun, TrackingObserver, TrackingTarget};
use crate::training::{TrainOptions, TrainedModel, train_cdi_model_observed};

/// Options of [`run_cdi_example`]; built with [`RunOptions::new`] and the `with_*` methods, so
/// new options do not break callers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// Where the bundle, history, images and metrics go.
    pub output_dir: PathBuf,
    /// Reconstruct and stitch after training (on the test data, else the training data).
    pub stitch: bool,
    /// How the reconstruction is stitched (crop, weighting; the batch size comes from
    /// `execution.inference_batch_size` unless set here).
    pub reconstruct: ReconstructOptions,
    /// Training options.
    pub train: TrainOptions,
    /// Where `execution.logger_backend = "mlflow"` logs; `None`: `MLFLOW_TRACKING_URI`.
    pub tracking: Option<TrackingTarget>,
}

impl RunOptions {
    /// Train, save and stitch into `output_dir`; no checkpoints (see
    /// [`TrainOptions::with_checkpoints`]).
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        Self {
            output_dir: output_dir.into(),
            stitch: true,
            reconstruct: ReconstructOptions::default(),
            train: TrainOptions::default(),
            tracking: None,
        }
    }

    /// The same options, logging MLflow runs to `target` instead of `MLFLOW_TRACKING_URI`.
    pub fn with_tracking(mut self, target: TrackingTarget) -> Self {
        self.tracking = Some(target);
        self
    }

    /// The same options, stitching after training or not.
    pub fn with_stitch(mut self, stitch: bool) -> Self {
        self.stitch = stitch;
        self
    }

    /// The same options with these reconstruction settings.
    pub fn with_reconstruct(mut self, reconstruct: ReconstructOptions) -> Self {
        self.reconstruct = reconstruct;
        self
    }

    /// The same options with these training options.
    pub fn with_train(mut self, train: TrainOptions) -> Self {
        self.train = train;
        self
    }
}

/// How a reconstruction is computed and stitched.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReconstructOptions {
    /// Stitch crop M; `None`: [`StitchWeighting::default_crop`].
    pub stitch_crop: Option<usize>,
    /// How overlapping patches are averaged.
    pub weighting: StitchWeighting,
    /// Groups per inference batch; `None`: `execution.inference_batch_size` where a config
    /// is at hand, else [`DEFAULT_INFERENCE_BATCH`].
    pub batch_size: Option<usize>,
}

impl Default for ReconstructOptions {
    fn default() -> Self {
        Self {
            stitch_crop: None,
            weighting: StitchWeighting::Uniform,
            batch_size: None,
        }
    }
}

impl ReconstructOptions {
    /// The same options with stitch crop `crop` (`None`: the weighting's default).
    pub fn with_stitch_crop(mut self, crop: Option<usize>) -> Self {
        self.stitch_crop = crop;
        self
    }

    /// The same options with this weighting.
    pub fn with_weighting(mut self, weighting: StitchWeighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// The same options with `batch` groups per inference batch.
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch_size = Some(batch);
        self
    }
}

/// What [`run_cdi_example`] produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The config the run used.
    pub config: ResolvedConfig,
    /// The trained model.
    pub trained: TrainedModel,
    /// The saved bundle.
    pub bundle_path: PathBuf,
    /// History CSV and JSON (`None` with `execution.logger_backend = "none"`).
    pub history_files: Option<(PathBuf, PathBuf)>,
    /// Reconstruction and stitched object, when stitching ran.
    pub stitched: Option<StitchResult>,
    /// The finished MLflow run (run id, warnings), with `execution.logger_backend = "mlflow"`.
    pub tracking: Option<TrackedRun>,
}

/// A reconstruction, stitched and (when the data has a ground truth) scored.
#[derive(Debug, Clone)]
pub struct StitchResult {
    /// Per-group object patches.
    pub reconstruction: Reconstruction,
    /// The stitched object.
    pub object: StitchedObject,
    /// Stitch crop used.
    pub crop: usize,
    /// How the patches were weighted.
    pub weighting: StitchWeighting,
    /// The crop the metrics were computed with.
    pub eval_crop: usize,
    /// Metrics, when the data has a ground-truth object.
    pub metrics: Option<PipelineReport>,
    /// Image, NPZ and metrics files written ([`write_stitch_result`]); empty until then.
    pub files: Vec<PathBuf>,
}

/// Trains on `train_data`, saves the bundle into `options.output_dir`, and (if
/// `options.stitch`) reconstructs `test_data` (or the training data) and stitches it.
///
/// `params` is updated from the resolved training config before anything is built (the
/// CONFIG-001 step happens here, not at the caller's memory).
pub fn run_cdi_example(
    train_data: DataInput,
    test_data: Option<DataInput>,
    config: ConfigInput,
    params: &mut LegacyParams,
    options: &RunOptions,
) -> Result<RunOutcome> {
    run_cdi_example_observed(
        train_data,
        test_data,
        config,
        params,
        options,
        &mut NoObserver,
    )
}

/// [`run_cdi_example`] reporting training progress to `observer`.
pub fn run_cdi_example_observed(
    train_data: DataInput,
    test_data: Option<DataInput>,
    config: ConfigInput,
    params: &mut LegacyParams,
    options: &RunOptions,
    observer: &mut dyn TrainObserver,
) -> Result<RunOutcome> {
    let resolved = resolve_config(config, params)?;
    let dir = &options.output_dir;
    let logger = resolved.execution.logger_backend;
    let mut tracking = match logger {
        LoggerBackend::Mlflow => Some(TrackingObserver::start(
            &resolved,
            dir,
            options.tracking.clone(),
        )?),
        _ => None,
    };
    let mut observers = Observers::new().with(observer);
    if let Some(t) = tracking.as_mut() {
        observers.push(t);
    }
    let results = train_cdi_model_observed(
        train_data,
        test_data,
        &resolved,
        &options.train,
        &mut observers,
    )?;
    let bundle_path = results.trained.save(dir)?;
    // `none` turns every log off, the loss history files included.
    let history_files = match logger {
        LoggerBackend::None => None,
        _ => Some(write_history(dir, &results.trained.history)?),
    };
    if let Some(refined) = results.trained.refined_probe()? {
        write_probe(dir, std::slice::from_ref(&refined), &results.trained.probe)?;
    }
    let stitched = if options.stitch {
        let container = results
            .test_container
            .as_ref()
            .unwrap_or(&results.train_container);
        let model = results.trained.inference_model()?;
        let mut reconstruct = options.reconstruct.clone();
        reconstruct.batch_size = reconstruct
            .batch_size
            .or(resolved.execution.inference_batch_size);
        let mut result = reconstruct_and_stitch(&model, container, &reconstruct, &mut |_, _| {})?;
        write_stitch_result(dir, &mut result, &model, Some(&bundle_path), None)?;
        Some(result)
    } else {
        None
    };
    let tracking_run = tracking.map(|mut t| {
        t.log_artifact(&bundle_path, Some("bundle"));
        let history = history_files.iter().flat_map(|(csv, json)| [csv, json]);
        let images = stitched.iter().flat_map(|s| s.files.iter());
        for file in history.chain(images) {
            t.log_artifact(file, None);
        }
        t.finish()
    });
    Ok(RunOutcome {
        config: resolved,
        trained: results.trained,
        bundle_path,
        history_files,
        stitched,
        tracking: tracking_run,
    })
}

/// Reconstructs `container` with `model`, stitches it as `options` say and scores it against
/// the container's ground-truth object when it has one; `on_batch(done, total)` follows the
/// inference batches. Writes nothing.
pub fn reconstruct_and_stitch(
    model: &InferenceModel,
    container: &PtychoDataContainer,
    options: &ReconstructOptions,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<StitchResult> {
    let batch = options.batch_size.unwrap_or(DEFAULT_INFERENCE_BATCH);
    let reconstruction = model.reconstruct_with(container, batch, on_batch)?;
    let weighting = options.weighting;
    let crop = options
        .stitch_crop
        .unwrap_or_else(|| weighting.default_crop(reconstruction.patch_size()));
    // A refined probe illuminated the training data, so it weights the stitch too.
    let probe = if model.config().probe_trainable {
        probe_array(&model.probe()?)
    } else {
        container.probe.clone()
    };
    let object = reconstruction.stitch_weighted(crop, weighting.patch_weighting(probe.view())?)?;
    // The scored region is the scan's bounding box grown by half the crop. Probe weighting
    // stitches the whole support, whose outer ring only a dim probe edge reaches; it is scored
    // over the upstream M = 20 box like uniform stitching.
    let eval_crop = match weighting {
        StitchWeighting::Uniform => crop,
        StitchWeighting::Probe => crop.min(default_stitch_crop(reconstruction.patch_size())),
    };
    let metrics = match (&container.yy_full, container.has_ground_truth) {
        (Some(truth), _) => Some(evaluate(
            &object,
            truth,
            &reconstruction.positions,
            eval_crop,
        )?),
        _ => None,
    };
    Ok(StitchResult {
        reconstruction,
        object,
        crop,
        weighting,
        eval_crop,
        metrics,
        files: Vec::new(),
    })
}

/// Writes the PNGs, the object NPZ and the metrics of `result` into `dir` and records them in
/// `result.files`.
pub fn write_stitch_result(
    dir: &Path,
    result: &mut StitchResult,
    model: &InferenceModel,
    model_path: Option<&Path>,
    data_file: Option<&Path>,
) -> Result<()> {
    let metadata = ReconstructionMetadata {
        n: result.reconstruction.patch_size(),
        gridsize: result.reconstruction.gridsize,
        stitch_crop: result.crop,
        stitch_weighting: result.weighting,
        patches: result.object.patches,
        intensity_scale: model.trained_intensity_scale(),
        model_path: model_path.map(Path::to_path_buf),
        data_file: data_file.map(Path::to_path_buf),
    };
    let mut files = write_reconstruction(dir, &result.object, &metadata)?;
    if let Some(report) = &result.metrics {
        files.push(write_metrics(dir, report)?);
    }
    result.files = files;
    Ok(())
}

/// [`reconstruct_and_stitch`], then [`write_stitch_result`] into `dir`.
pub fn reconstruct_and_write(
    model: &InferenceModel,
    container: &PtychoDataContainer,
    dir: &Path,
    options: &ReconstructOptions,
    model_path: Option<&Path>,
    data_file: Option<&Path>,
) -> Result<StitchResult> {
    let mut result = reconstruct_and_stitch(model, container, options, &mut |_, _| {})?;
    write_stitch_result(dir, &mut result, model, model_path, data_file)?;
    Ok(result)
}
