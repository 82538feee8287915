//! Inference: the object branch of a trained model (upstream `diffraction_to_obj`), batched,
//! and whole-field stitching of its output.
//!
//! For gridsize 1 each group is one pattern and its object patch is centred on that scan
//! position. For gridsize > 1 the model merges the group's patches on its canvas and crops
//! the N×N window centred on the group centroid (upstream `trimmed_obj`), so each group yields
//! one patch at its centroid (`global_offsets`). Stitching places every patch's central M×M
//! crop at its position with overlap normalisation.

use std::path::Path;

use burn::tensor::Device;
use ndarray::Array3;
use num_complex::Complex32;
use ptycho_bundle::{LoadOptions, LoadedBundle, ModelRole, TensorMap, load_bundle_with};
use ptycho_config::TrainingConfig;
use ptycho_data::{BatchSource, PtychoDataContainer, ScanData};
use ptycho_eval::{
    CanvasAnchor, DEFAULT_STITCH_CROP, PatchWeighting, ScanPosition, StitchGeometry,
    StitchedObject, Stitcher,
};
use ptycho_model::{DeviceBatch, GroupBatch, GroupSource, HostProbe, Physics, Pinn};

use crate::container::{ContainerGroups, DataInput, ensure_container};
use crate::device::{Backend, ComputeDevice};
use crate::error::{Result, WorkflowError};
use crate::plan::InferencePlan;
use crate::weights::{
    INPUT_SCALE, apply_module_tensors, build_model, bundle_schema, model_specs, refined_probe,
    scalar, stored_probe,
};

/// Default groups per inference batch.
pub const DEFAULT_INFERENCE_BATCH: usize = 64;

/// Stitch crop for patches of side `n`: the paper's M = 20, but at most N/2 (the part of the
/// patch the generator is trained to fill when `probe.big` is off).
pub fn default_stitch_crop(n: usize) -> usize {
    DEFAULT_STITCH_CROP.min(n / 2).max(1)
}

/// How overlapping patches are averaged when stitching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StitchWeighting {
    /// Every pixel of the central M×M crop counts once (upstream TF `reassemble_position`,
    /// M = [`default_stitch_crop`]).
    #[default]
    Uniform,
    /// Pixels weighted by the scan's probe intensity `|P|²` over the whole generated support
    /// (M = N/2 by default): a patch's dimly lit edge counts little, so neighbouring patches
    /// meet without seams (Torch's barycentric route).
    Probe,
}

impl StitchWeighting {
    /// The crop M used when none is given.
    pub fn default_crop(self, n: usize) -> usize {
        match self {
            Self::Uniform => default_stitch_crop(n),
            Self::Probe => (n / 2).max(1),
        }
    }

    /// The stitcher's weighting for a scan illuminated by `probe`.
    pub fn patch_weighting(
        self,
        probe: ndarray::ArrayView2<'_, Complex32>,
    ) -> Result<PatchWeighting> {
        Ok(match self {
            Self::Uniform => PatchWeighting::Uniform,
            Self::Probe => PatchWeighting::probe_intensity(probe)?,
        })
    }
}

/// A model ready for inference on one compute device.
#[derive(Debug, Clone)]
pub struct InferenceModel {
    config: TrainingConfig,
    model: Pinn,
    physics: Physics,
    /// The training probe as saved (the data's `probeGuess`, before normalisation).
    initial_probe: HostProbe,
    device: Device,
    backend: Backend,
}

/// Object patches of every group and where they belong.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// `(groups, N, N)` complex object patches, each centred on its group centroid.
    pub patches: Array3<Complex32>,
    /// Group centroids in object pixels (`x` column, `y` row).
    pub positions: Vec<ScanPosition>,
    /// Gridsize of the model that made them.
    pub gridsize: usize,
}

impl Reconstruction {
    /// Patch side `N`.
    pub fn patch_size(&self) -> usize {
        self.patches.shape()[1]
    }

    /// Stitches the central `crop`×`crop` of every patch at its position (uniform weights).
    pub fn stitch(&self, crop: usize) -> Result<StitchedObject> {
        self.stitch_weighted(crop, PatchWeighting::Uniform)
    }

    /// Stitches the central `crop`×`crop` of every patch at its position with `weighting`.
    pub fn stitch_weighted(
        &self,
        crop: usize,
        weighting: PatchWeighting,
    ) -> Result<StitchedObject> {
        let geometry = StitchGeometry::from_positions(
            self.positions.iter().copied(),
            self.patch_size(),
            crop,
            CanvasAnchor::PixelGrid,
        )?;
        let mut stitcher = Stitcher::new(geometry, weighting)?;
        stitcher.push_batch(self.patches.view(), &self.positions)?;
        Ok(stitcher.finish())
    }
}

impl InferenceModel {
    /// Builds the model of `config` with the bundle maps' weights (both maps as saved by
    /// [`crate::TrainedModel::save`]) on the CPU.
    pub fn from_maps(
        config: TrainingConfig,
        inference: &TensorMap,
        full: &TensorMap,
    ) -> Result<Self> {
        Self::from_maps_on(config, inference, full, &ComputeDevice::cpu())
    }

    /// [`InferenceModel::from_maps`] on `compute`.
    pub fn from_maps_on(
        config: TrainingConfig,
        inference: &TensorMap,
        full: &TensorMap,
        compute: &ComputeDevice,
    ) -> Result<Self> {
        let input_scale = scalar(inference, INPUT_SCALE, ModelRole::DiffractionToObj)?;
        let (generator, physics_spec) = model_specs(&config, input_scale)?;
        let device = compute.device().clone();
        let probe = stored_probe(full, physics_spec.n)?;
        let physics = Physics::new(
            &physics_spec,
            &probe,
            generator.support_is_centre(),
            &device,
        )?;
        let mut model = build_model(&generator, &physics, 0, &device)?;
        apply_module_tensors(&mut model, inference)?;
        Ok(Self {
            config,
            model,
            physics,
            initial_probe: probe,
            device,
            backend: compute.backend(),
        })
    }

    /// Loads a bundle (a directory holding `wts.h5.zip`, the archive, or upstream's
    /// `<dir>/wts.h5`): the architecture comes from the bundle's own training config, so no
    /// model settings are needed. Returns the model (on the CPU) and the loaded bundle.
    pub fn load(path: &Path) -> Result<(Self, LoadedBundle)> {
        Self::load_on(path, &ComputeDevice::cpu())
    }

    /// [`InferenceModel::load`] onto `compute`, whatever backend the bundle was saved with.
    pub fn load_on(path: &Path, compute: &ComputeDevice) -> Result<(Self, LoadedBundle)> {
        let bundle = load_bundle_with(path, &LoadOptions::default(), bundle_schema)?;
        let model = Self::from_maps_on(
            bundle.config.clone(),
            bundle.weights(ModelRole::DiffractionToObj),
            bundle.weights(ModelRole::Autoencoder),
            compute,
        )?;
        Ok((model, bundle))
    }

    /// The backend the model runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The exact training config of the model.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The probe the model was trained with, in the data's units: the refined one when the
    /// probe was trainable, else the saved training probe.
    pub fn probe(&self) -> Result<HostProbe> {
        Ok(refined_probe(
            &self.model,
            &self.initial_probe,
            self.physics.spec().probe_scale,
        )?
        .unwrap_or_else(|| self.initial_probe.clone()))
    }

    /// Trained intensity scale `exp(log_scale)`.
    pub fn trained_intensity_scale(&self) -> f64 {
        (self.model.log_scale.val().into_scalar::<f32>() as f64).exp()
    }

    /// Reconstructs every group of `container`, `batch_size` groups at a time.
    pub fn reconstruct(
        &self,
        container: &PtychoDataContainer,
        batch_size: usize,
    ) -> Result<Reconstruction> {
        self.reconstruct_with(container, batch_size, &mut |_, _| {})
    }

    /// The container of `scan` to reconstruct: every scan position for gridsize 1, else the
    /// bundle's `n_groups` groups, unless `n_groups` asks for another count. Refuses patterns of
    /// another size than the model's, naming the crop or binning that would fit.
    pub fn prepare_scan(
        &self,
        scan: ScanData,
        n_groups: Option<usize>,
    ) -> Result<PtychoDataContainer> {
        self.group_scan(self.config.clone(), scan, n_groups)
    }

    /// [`InferenceModel::prepare_scan`] grouped as an `[inference]` section says: its
    /// `n_groups`, subsampling, seed and neighbour search replace the bundle's.
    pub fn prepare_scan_planned(
        &self,
        scan: ScanData,
        plan: &InferencePlan,
    ) -> Result<PtychoDataContainer> {
        let mut config = self.config.clone();
        config.n_subsample = plan.n_subsample;
        config.n_images = plan.n_images;
        config.subsample_seed = plan.subsample_seed.map(u64::from);
        config.neighbor_count = plan.neighbor_count;
        config.enable_oversampling = plan.enable_oversampling;
        config.neighbor_pool_size = plan.neighbor_pool_size;
        self.group_scan(config, scan, plan.n_groups)
    }

    fn group_scan(
        &self,
        mut config: TrainingConfig,
        scan: ScanData,
        n_groups: Option<usize>,
    ) -> Result<PtychoDataContainer> {
        let n = config.model.N;
        if scan.patch_size() != n {
            return Err(WorkflowError::mismatch(
                "diffraction pattern size",
                format!(
                    "{n}x{n} as the model was trained (crop or bin the data to {n}: binning by {} fits)",
                    (scan.patch_size() / n.max(1)).max(1)
                ),
                format!("{0}x{0}", scan.patch_size()),
            ));
        }
        config.n_groups = match (n_groups, config.model.gridsize) {
            (Some(groups), _) => groups,
            (None, 1) => scan.n_positions(),
            (None, _) => config.n_groups,
        };
        ensure_container(DataInput::Raw(scan), &config)
    }

    /// [`InferenceModel::reconstruct`], calling `on_batch(done, total)` after every batch.
    pub fn reconstruct_with(
        &self,
        container: &PtychoDataContainer,
        batch_size: usize,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<Reconstruction> {
        let spec = self.physics.spec();
        let (n, c) = (spec.n, spec.channels());
        if container.patch_size() != n || container.channels() != c {
            return Err(WorkflowError::mismatch(
                "inference data layout (N, channels)",
                format!("({n}, {c}) as the model was trained"),
                format!("({}, {})", container.patch_size(), container.channels()),
            ));
        }
        let groups = container.len();
        let source = ContainerGroups::new(container);
        let mut patches = Array3::<Complex32>::zeros((groups, n, n));
        let mut host = GroupBatch::empty(c, n);
        let all: Vec<usize> = (0..groups).collect();
        for chunk in all.chunks(batch_size.max(1)) {
            source.fill(chunk, &mut host)?;
            // The known object is a training-only input.
            host.object = None;
            let batch = DeviceBatch::new(&host, &self.physics, &self.device)?;
            let object = self.model.predict_object(&self.physics, &batch);
            let re = object.re.into_data().try_into_vec::<f32>().map_err(|e| {
                WorkflowError::Weights(format!("cannot read the prediction: {e:?}"))
            })?;
            let im = object.im.into_data().try_into_vec::<f32>().map_err(|e| {
                WorkflowError::Weights(format!("cannot read the prediction: {e:?}"))
            })?;
            for (k, &g) in chunk.iter().enumerate() {
                let mut dst = patches.index_axis_mut(ndarray::Axis(0), g);
                for (i, value) in dst.iter_mut().enumerate() {
                    let p = k * n * n + i;
                    *value = Complex32::new(re[p], im[p]);
                }
            }
            on_batch(chunk[chunk.len() - 1] + 1, groups);
        }
        let offsets = &container.global_offsets;
        let positions = (0..groups)
            .map(|g| ScanPosition::from([offsets[[g, 0, 0, 0]], offsets[[g, 0, 0, 1]]]))
            .collect();
        Ok(Reconstruction {
            patches,
            positions,
            gridsize: spec.gridsize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stitch_crop_is_twenty_at_most_half_the_patch() {
        assert_eq!(default_stitch_crop(64), 20);
        assert_eq!(default_stitch_crop(128), 20);
        assert_eq!(default_stitch_crop(32), 16);
    }

    #[test]
    fn stitching_places_an_asymmetric_patch_at_its_position() {
        // One 8x8 patch whose value encodes (row, col); stitched with crop 4 at (x 10, y 20).
        let n = 8;
        let mut patches = Array3::<Complex32>::zeros((1, n, n));
        for r in 0..n {
            for c in 0..n {
                patches[[0, r, c]] = Complex32::new(r as f32, c as f32);
            }
        }
        let rec = Reconstruction {
            patches,
            positions: vec![ScanPosition::new(10.0, 20.0)],
            gridsize: 1,
        };
        let stitched = rec.stitch(4).unwrap();
        // Object pixel (row 20, col 10) is the patch centre (4, 4), whatever the canvas origin.
        let (r, c) = (
            (20.0 - stitched.origin.y) as usize,
            (10.0 - stitched.origin.x) as usize,
        );
        let z = stitched.object[[r, c]];
        assert!(
            (z.re - 4.0).abs() < 1e-3 && (z.im - 4.0).abs() < 1e-3,
            "{z}"
        );
        // One pixel right in the object is one column right in the patch.
        let z = stitched.object[[r, c + 1]];
        assert!(
            (z.re - 4.0).abs() < 1e-3 && (z.im - 5.0).abs() < 1e-3,
            "{z}"
        );
    }

    #[test]
    fn probe_weighting_averages_by_illumination_over_the_whole_support() {
        assert_eq!(StitchWeighting::Probe.default_crop(64), 32);
        assert_eq!(StitchWeighting::Uniform.default_crop(64), 20);
        // Two constant 8x8 patches (values 1 and 3) one pixel apart, under a probe that is
        // bright (|P|² = 1) in the patch's left half and dim (|P|² = 1/4) in its right half.
        let n = 8;
        let mut patches = Array3::<Complex32>::zeros((2, n, n));
        patches
            .index_axis_mut(ndarray::Axis(0), 0)
            .fill(Complex32::new(1.0, 0.0));
        patches
            .index_axis_mut(ndarray::Axis(0), 1)
            .fill(Complex32::new(3.0, 0.0));
        let probe = ndarray::Array2::from_shape_fn((n, n), |(_, c)| {
            Complex32::new(if c < n / 2 { 1.0 } else { 0.5 }, 0.0)
        });
        let rec = Reconstruction {
            patches,
            positions: vec![ScanPosition::new(10.0, 20.0), ScanPosition::new(11.0, 20.0)],
            gridsize: 1,
        };
        let weighting = StitchWeighting::Probe
            .patch_weighting(probe.view())
            .unwrap();
        let stitched = rec
            .stitch_weighted(StitchWeighting::Probe.default_crop(n), weighting)
            .unwrap();
        let (r, c) = (
            (20.0 - stitched.origin.y) as usize,
            (10.0 - stitched.origin.x) as usize,
        );
        // Object column 10 is the first patch's column 4 (dim, 1/4) and the second patch's
        // column 3 (bright, 1): (1·1/4 + 3·1) / (1/4 + 1) = 2.6.
        let z = stitched.object[[r, c]];
        assert!((z.re - 2.6).abs() < 1e-5 && z.im.abs() < 1e-6, "{z}");
        // Uniform weights give the plain mean there.
        let uniform = rec.stitch(4).unwrap();
        let z = uniform.object[[r, c]];
        assert!((z.re - 2.0).abs() < 1e-5, "{z}");
        // A dark probe cannot weight anything.
        let dark = ndarray::Array2::<Complex32>::zeros((n, n));
        let err = StitchWeighting::Probe
            .patch_weighting(dark.view())
            .unwrap_err();
        assert!(err.to_string().contains("probe"), "{err}");
    }
}
