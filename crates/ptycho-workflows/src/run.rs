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
use crate::inference::{
    DEFAULT_INFERENCE_BATCH, InferenceModel, Reconstruction, StitchWeighting, default_stitch_crop,
};
use crate::outputs::{
    ReconstructionMetadata, evaluate, probe_array, write_history, write_metrics, write_probe,
    write_reconstruction,
};
use crate::training::{TrainOptions, TrainedModel, train_cdi_model};

/// Options of [`run_cdi_example`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the bundle, history, images and metrics go.
    pub output_dir: PathBuf,
    /// Reconstruct and stitch after training (on the test data, else the training data).
    pub stitch: bool,
    /// Stitch crop M; `None`: [`StitchWeighting::default_crop`].
    pub stitch_crop: Option<usize>,
    /// How overlapping patches are averaged.
    pub stitch_weighting: StitchWeighting,
    /// Training options.
    pub train: TrainOptions,
}

impl RunOptions {
    /// Train, save and stitch into `output_dir` without a progress bar.
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        Self {
            output_dir: output_dir.into(),
            stitch: true,
            stitch_crop: None,
            stitch_weighting: StitchWeighting::Uniform,
            train: TrainOptions::default(),
        }
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
    /// History CSV and JSON.
    pub history_files: (PathBuf, PathBuf),
    /// Reconstruction and stitched object, when stitching ran.
    pub stitched: Option<StitchResult>,
}

/// Output of the optional stitching stage.
#[derive(Debug, Clone)]
pub struct StitchResult {
    /// Per-group object patches.
    pub reconstruction: Reconstruction,
    /// The stitched object.
    pub object: StitchedObject,
    /// Stitch crop used.
    pub crop: usize,
    /// Metrics, when the data has a ground-truth object.
    pub metrics: Option<PipelineReport>,
    /// Image, NPZ and metrics files written.
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
    let resolved = resolve_config(config, params)?;
    let results = train_cdi_model(train_data, test_data, &resolved, &options.train)?;
    let dir = &options.output_dir;
    let bundle_path = results.trained.save(dir)?;
    let history_files = write_history(dir, &results.trained.history)?;
    if let Some(refined) = results.trained.refined_probe()? {
        write_probe(dir, std::slice::from_ref(&refined), &results.trained.probe)?;
    }
    let stitched = if options.stitch {
        let container = results
            .test_container
            .as_ref()
            .unwrap_or(&results.train_container);
        let model = results.trained.inference_model()?;
        Some(reconstruct_and_write(
            &model,
            container,
            dir,
            options.stitch_crop,
            options.stitch_weighting,
            Some(&bundle_path),
            None,
        )?)
    } else {
        None
    };
    Ok(RunOutcome {
        config: resolved,
        trained: results.trained,
        bundle_path,
        history_files,
        stitched,
    })
}

/// Reconstructs `container` with `model`, stitches (`weighting`; crop `stitch_crop`, else the
/// weighting's default), writes PNGs and the object NPZ into `dir`,
/// and evaluates against the container's ground-truth object when it has one.
pub fn reconstruct_and_write(
    model: &InferenceModel,
    container: &PtychoDataContainer,
    dir: &Path,
    stitch_crop: Option<usize>,
    weighting: StitchWeighting,
    model_path: Option<&Path>,
    data_file: Option<&Path>,
) -> Result<StitchResult> {
    let reconstruction = model.reconstruct(container, DEFAULT_INFERENCE_BATCH)?;
    let crop = stitch_crop.unwrap_or_else(|| weighting.default_crop(reconstruction.patch_size()));
    // A refined probe illuminated the training data, so it weights the stitch too.
    let probe = if model.config().probe_trainable {
        probe_array(&model.probe()?)
    } else {
        container.probe.clone()
    };
    let object = reconstruction.stitch_weighted(crop, weighting.patch_weighting(probe.view())?)?;
    let metadata = ReconstructionMetadata {
        n: reconstruction.patch_size(),
        gridsize: reconstruction.gridsize,
        stitch_crop: crop,
        stitch_weighting: weighting,
        patches: object.patches,
        intensity_scale: model.trained_intensity_scale(),
        model_path: model_path.map(Path::to_path_buf),
        data_file: data_file.map(Path::to_path_buf),
    };
    let mut files = write_reconstruction(dir, &object, &metadata)?;
    let metrics = match (&container.yy_full, container.has_ground_truth) {
        (Some(truth), _) => {
            // The scored region is the scan's bounding box grown by half the crop. Probe
            // weighting stitches the whole support, whose outer ring only a dim probe edge
            // reaches; it is scored over the upstream M = 20 box like uniform stitching.
            let eval_crop = match weighting {
                StitchWeighting::Uniform => crop,
                StitchWeighting::Probe => {
                    crop.min(default_stitch_crop(reconstruction.patch_size()))
                }
            };
            let report = evaluate(&object, truth, &reconstruction.positions, eval_crop)?;
            files.push(write_metrics(dir, &report)?);
            Some(report)
        }
        _ => None,
    };
    Ok(StitchResult {
        reconstruction,
        object,
        crop,
        metrics,
        files,
    })
}
