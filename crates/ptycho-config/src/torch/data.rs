//! PyTorch-side `DataConfig` (upstream `ptycho_torch/config_params.py`, 21 fields).
//!
//! Note the semantic collisions with the canonical config: `n_subsample` here is a per-centre
//! group multiplier (not the number of raw images sampled), `K` is the canonical
//! `neighbor_count`, `grid_size` is a (rows, cols) pair whose side becomes `gridsize`.

use serde::{Deserialize, Serialize};

use super::one_of;
use crate::error::Result;

/// Data loading and grouping settings of the PyTorch configuration.
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// PyTorch default 1e5 (canonical 1e9): the bridge refuses it unless overridden.
    pub nphotons: f64,
    pub scale_contract_version: String,
    pub measurement_domain: String,
    pub N: usize,
    pub C: usize,
    pub K: usize,
    pub K_quadrant: usize,
    pub n_subsample: usize,
    pub subsample_seed: Option<u64>,
    pub grid_size: (usize, usize),
    pub neighbor_function: String,
    pub min_neighbor_distance: f64,
    pub max_neighbor_distance: f64,
    pub scan_pattern: String,
    pub normalize: String,
    pub probe_scale: f64,
    pub probe_normalize: bool,
    pub data_scaling: String,
    pub phase_subtraction: bool,
    pub x_bounds: (f64, f64),
    pub y_bounds: (f64, f64),
}

/// The PyTorch default photon count (the value the bridge's divergence guard looks for).
pub const TORCH_DEFAULT_NPHOTONS: f64 = 1e5;

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            nphotons: TORCH_DEFAULT_NPHOTONS,
            scale_contract_version: "ci_intensity_v2".into(),
            measurement_domain: "count_intensity".into(),
            N: 64,
            C: 4,
            K: 6,
            K_quadrant: 30,
            n_subsample: 7,
            subsample_seed: None,
            grid_size: (2, 2),
            neighbor_function: "Nearest".into(),
            min_neighbor_distance: 0.0,
            max_neighbor_distance: 3.0,
            scan_pattern: "Isotropic".into(),
            normalize: "Batch".into(),
            probe_scale: 4.0,
            probe_normalize: true,
            data_scaling: "Parseval".into(),
            phase_subtraction: true,
            x_bounds: (0.1, 0.9),
            y_bounds: (0.1, 0.9),
        }
    }
}

/// Field names in declaration order.
pub const DATA_FIELDS: &[&str] = &[
    "nphotons",
    "scale_contract_version",
    "measurement_domain",
    "N",
    "C",
    "K",
    "K_quadrant",
    "n_subsample",
    "subsample_seed",
    "grid_size",
    "neighbor_function",
    "min_neighbor_distance",
    "max_neighbor_distance",
    "scan_pattern",
    "normalize",
    "probe_scale",
    "probe_normalize",
    "data_scaling",
    "phase_subtraction",
    "x_bounds",
    "y_bounds",
];

impl DataConfig {
    /// Checks the `Literal` sets upstream declares (upstream itself never checks them).
    pub fn validate(&self) -> Result<()> {
        let s = "data_config";
        one_of(
            s,
            "scale_contract_version",
            &self.scale_contract_version,
            &["ci_intensity_v2", "legacy_v1"],
        )?;
        one_of(
            s,
            "measurement_domain",
            &self.measurement_domain,
            &["count_intensity", "normalized_amplitude"],
        )?;
        one_of(
            s,
            "neighbor_function",
            &self.neighbor_function,
            &["Nearest", "Min_dist", "4_quadrant"],
        )?;
        one_of(
            s,
            "scan_pattern",
            &self.scan_pattern,
            &["Isotropic", "Rectangular"],
        )?;
        one_of(s, "normalize", &self.normalize, &["Group", "Batch", "None"])?;
        one_of(s, "data_scaling", &self.data_scaling, &["Parseval", "Max"])?;
        Ok(())
    }
}
