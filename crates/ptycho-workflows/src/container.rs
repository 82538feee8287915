//! `ensure_container`: every kind of training input (an NPZ path, a loaded scan, grouped data
//! or a ready container) normalised to the one container the model trains on, and the adapter
//! that lets the training loop read that container batch by batch.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use num_complex::Complex32;
use ptycho_config::TrainingConfig;
use ptycho_data::pipeline::numpy_seed;
use ptycho_data::{
    BatchSource, GroupedData, GroupingParams, LoadOptions, PtychoDataContainer, ScanData,
    generate_grouped_data, prepare_training_data, subsample_indices,
};
use ptycho_model::DataGroups;

use crate::error::{Result, WorkflowError};

/// What a workflow accepts as data (upstream `_ensure_container`'s input types).
#[derive(Debug, Clone)]
pub enum DataInput {
    /// A canonical NPZ file: loaded, subsampled and grouped as the config says.
    Npz(PathBuf),
    /// A loaded scan (upstream `RawData`): grouped as the config says.
    Raw(ScanData),
    /// Already grouped data and the probe of its scan.
    Grouped {
        /// The grouped set.
        grouped: GroupedData,
        /// The probe, `(N, N)`.
        probe: Array2<Complex32>,
    },
    /// A ready container, used as it is.
    Container(PtychoDataContainer),
}

impl DataInput {
    /// Short name of the input kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            DataInput::Npz(_) => "npz path",
            DataInput::Raw(_) => "raw data",
            DataInput::Grouped { .. } => "grouped data",
            DataInput::Container(_) => "container",
        }
    }
}

impl From<PathBuf> for DataInput {
    fn from(path: PathBuf) -> Self {
        DataInput::Npz(path)
    }
}

impl From<&Path> for DataInput {
    fn from(path: &Path) -> Self {
        DataInput::Npz(path.to_path_buf())
    }
}

impl From<ScanData> for DataInput {
    fn from(scan: ScanData) -> Self {
        DataInput::Raw(scan)
    }
}

impl From<PtychoDataContainer> for DataInput {
    fn from(container: PtychoDataContainer) -> Self {
        DataInput::Container(container)
    }
}

/// How a training config turns a scan into groups: image-level subsampling (upstream's
/// `load_data`), the grouping, and the photon scale of the container. An NPZ path and a
/// loaded scan go through the same steps.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataPlan {
    /// Positions sampled before grouping (`n_subsample`, else the deprecated `n_images`).
    pub n_subsample: Option<usize>,
    /// The deprecated `n_images` (see `n_subsample`).
    pub n_images: Option<usize>,
    /// Seed of the subsampling (`subsample_seed`).
    pub subsample_seed: Option<u32>,
    /// The grouping.
    pub grouping: GroupingParams,
    /// Mean photons per pattern of the container's intensity scale.
    pub nphotons: f64,
}

impl DataPlan {
    /// The data steps `config` asks for.
    pub fn new(config: &TrainingConfig) -> Result<Self> {
        Ok(DataPlan {
            n_subsample: config.n_subsample,
            n_images: config.n_images,
            subsample_seed: numpy_seed("subsample_seed", config.subsample_seed)?,
            grouping: GroupingParams::from_training_config(config)?,
            nphotons: config.nphotons,
        })
    }

    /// The scan's subsampled positions (all of them without `n_subsample` / `n_images`).
    pub fn subsample(&self, scan: ScanData) -> Result<ScanData> {
        let n = scan.n_positions();
        let idx = subsample_indices(n, self.n_subsample, self.n_images, self.subsample_seed)?;
        Ok(if idx.len() < n {
            scan.select(&idx)
        } else {
            scan
        })
    }
}

/// Turns any [`DataInput`] into the container for `config` (its `N`, `gridsize`, subsampling,
/// grouping, `nphotons` and seeds; see [`DataPlan`]). A container or grouped set whose layout differs from the config is
/// refused rather than silently trained with the wrong model.
pub fn ensure_container(input: DataInput, config: &TrainingConfig) -> Result<PtychoDataContainer> {
    let container = match input {
        DataInput::Npz(path) => {
            prepare_training_data(&path, config, &LoadOptions::default())?.container
        }
        DataInput::Raw(scan) => {
            check_layout("raw data patterns", scan.patch_size(), 1, config, false)?;
            let plan = DataPlan::new(config)?;
            let scan = plan.subsample(scan)?;
            let grouped = generate_grouped_data(&scan, &plan.grouping)?;
            PtychoDataContainer::from_grouped(&grouped, &scan.probe, plan.nphotons)?
        }
        DataInput::Grouped { grouped, probe } => {
            let n = grouped.x_full.shape()[2];
            check_layout("grouped data", n, grouped.channels(), config, true)?;
            PtychoDataContainer::from_grouped(&grouped, &probe, config.nphotons)?
        }
        DataInput::Container(container) => container,
    };
    check_layout(
        "container",
        container.patch_size(),
        container.channels(),
        config,
        true,
    )?;
    if container.is_empty() {
        return Err(WorkflowError::mismatch(
            "container",
            "at least one group",
            "none",
        ));
    }
    Ok(container)
}

fn check_layout(
    what: &str,
    n: usize,
    channels: usize,
    config: &TrainingConfig,
    check_channels: bool,
) -> Result<()> {
    let gs = config.model.gridsize;
    if n != config.model.N {
        return Err(WorkflowError::mismatch(
            format!("{what} pattern size"),
            format!("N = {} (model.N)", config.model.N),
            format!("N = {n}"),
        ));
    }
    if check_channels && channels != gs * gs {
        return Err(WorkflowError::mismatch(
            format!("{what} channels"),
            format!("{} (gridsize {gs} squared)", gs * gs),
            channels,
        ));
    }
    Ok(())
}

/// The container seen by the training loop: normalised amplitudes, `coords_relative` offsets
/// and, for gridsize 1 with ground truth, the known object for the real-space loss term (the
/// model crate's adapter over any `BatchSource`; the container withholds `Y` without ground truth).
pub type ContainerGroups<'a> = DataGroups<'a, PtychoDataContainer>;
