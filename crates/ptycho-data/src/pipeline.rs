//! From a canonical NPZ and the training configuration to the training container: upstream's
//! `load_data` (image-level subsampling) → `generate_grouped_data` → `loader.load`.
//!
//! Unlike upstream's TF workflow, grouping is seeded explicitly with `subsample_seed` (as the
//! torch bridge does), so one configuration always gives the same groups (pitfall 9).

use std::path::Path;

use ptycho_config::TrainingConfig;

use crate::container::PtychoDataContainer;
use crate::contract::{DataWarning, LoadOptions, ScanData};
use crate::error::{DataError, Result};
use crate::grouped::{GroupedData, generate_grouped_data};
use crate::grouping::{GroupingParams, subsample_indices};

/// A numpy seed (`np.random.seed` accepts 0..2^32).
pub fn numpy_seed(name: &'static str, seed: Option<u64>) -> Result<Option<u32>> {
    seed.map(|s| {
        u32::try_from(s)
            .map_err(|_| DataError::parameter(name, "a seed below 2^32 (numpy's seed range)", s))
    })
    .transpose()
}

impl GroupingParams {
    /// The grouping a training configuration asks for, seeded by `subsample_seed`.
    pub fn from_training_config(cfg: &TrainingConfig) -> Result<Self> {
        Ok(GroupingParams {
            n_groups: cfg.n_groups,
            gridsize: cfg.model.gridsize,
            neighbor_count: cfg.neighbor_count,
            seed: numpy_seed("subsample_seed", cfg.subsample_seed)?,
            sequential_sampling: cfg.sequential_sampling,
            enable_oversampling: cfg.enable_oversampling,
            neighbor_pool_size: cfg.neighbor_pool_size,
        })
    }
}

/// Everything prepared from one file for training.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub scan: ScanData,
    pub grouped: GroupedData,
    pub container: PtychoDataContainer,
    pub warnings: Vec<DataWarning>,
}

/// Loads `path`, subsamples, groups and builds the container as `cfg` says.
pub fn prepare_training_data(
    path: impl AsRef<Path>,
    cfg: &TrainingConfig,
    options: &LoadOptions,
) -> Result<Prepared> {
    let path = path.as_ref();
    let loaded = ScanData::load_with(path, options)?;
    let n_model = cfg.model.N;
    if loaded.data.patch_size() != n_model {
        return Err(DataError::invalid(
            path,
            crate::contract::keys::DIFFRACTION,
            crate::error::Problem::Shape,
            format!("patterns of N = {n_model} pixels (model.N)"),
            format!("N = {}", loaded.data.patch_size()),
        ));
    }
    let n = loaded.data.n_positions();
    let seed = numpy_seed("subsample_seed", cfg.subsample_seed)?;
    let idx = subsample_indices(n, cfg.n_subsample, cfg.n_images, seed)?;
    let subsampled = idx.len() < n;
    let scan = if subsampled {
        loaded.data.select(&idx)
    } else {
        loaded.data
    };
    let mut grouped = generate_grouped_data(&scan, &GroupingParams::from_training_config(cfg)?)?;
    if subsampled {
        grouped.sample_indices = Some(idx);
    }
    let container = PtychoDataContainer::from_grouped(&grouped, &scan.probe, cfg.nphotons)?;
    Ok(Prepared {
        scan,
        grouped,
        container,
        warnings: loaded.warnings,
    })
}
