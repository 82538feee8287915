//! ptycho-data: the PtychoPINN data pipeline in Rust.
//!
//! - [`npz`]: numpy-compatible `.npz` reading and writing.
//! - [`contract`]: the canonical scan dataset ([`ScanData`]) and its validation.
//! - [`crop`]: detector crop (`N → n`) with the coarser real-space pixel it implies.
//! - [`rng`]: numpy's legacy `RandomState`, so a seed groups like upstream.
//! - [`grouping`]: which scan positions form a training sample (kd-tree neighbours).
//! - [`grouped`]: the grouped set, normalisation and intensity scale.
//! - [`patches`]: ground-truth patches from the object.
//! - [`container`]: the training container; [`batch`]: the batch API every dataset serves.
//! - [`memmap`]: the memory-mapped grouped dataset (streams data larger than RAM).
//! - [`simulate`]: synthetic datasets (lines/GRF objects, disk probe, Poisson noise).
//! - [`pipeline`]: file + training configuration → container.
//! - [`product`]: ptychodus product files (NPZ; HDF5 with the `hdf5` feature) and their
//!   conversion to and from the canonical scan; `diffraction_h5` (feature `hdf5`): diffraction
//!   stacks from HDF5 files.

pub mod batch;
pub mod container;
pub mod contract;
pub mod crop;
#[cfg(feature = "hdf5")]
pub mod diffraction_h5;
pub mod error;
pub mod grouped;
pub mod grouping;
pub mod memmap;
pub mod npz;
pub mod patches;
pub mod pipeline;
pub mod product;
mod reader;
pub mod rng;
pub mod simulate;

pub use batch::{BatchIter, BatchSource, TrainingBatch};
pub use container::PtychoDataContainer;
pub use contract::{DataWarning, IntensityPolicy, LoadOptions, Loaded, ScanData};
pub use crop::{
    Binned, bin_detector, crop_detector, probe_power_in_window, tilt_to_block_centres,
    upsample_object,
};
pub use error::{DataError, Problem, Result};
pub use grouped::{GroupCoords, GroupedData, generate_grouped_data, intensity_scale};
pub use grouping::{GroupingParams, group_positions, subsample_indices};
pub use memmap::{MemmapConfig, MemmapDataset};
pub use npz::{Compression, NpzReader, NpzWriter};
pub use pipeline::{Prepared, prepare_training_data};
pub use product::{PixelGeometry, Product, ProductMetadata};
pub use rng::NumpyRandomState;
pub use simulate::{ObjectKind, ProbeSource, ScanKind, SimulationConfig, simulate, simulate_with};
