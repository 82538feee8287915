//! PtychoPINN model on burn 0.22: the `cnn` generator, the differentiable ptychography physics
//! in (re, im) f32 pairs, the losses and the training loop.
//!
//! Reference semantics: TensorFlow PtychoPINN (2023 paper) with upstream bugs fixed (per-group
//! canvas merge, co-masked overlap normalisation, consistent translation signs).

pub mod batch;
pub mod config;
pub mod conv;
pub mod data_source;
pub mod error;
pub mod flops;
pub mod generator;
pub mod host_memory;
pub mod loss;
pub mod model;
pub mod physics;
pub mod refine;
pub mod resample;
pub mod spec;
pub mod train;

pub use batch::{DeviceBatch, GroupBatch, GroupSource, InMemoryGroups};
pub use data_source::DataGroups;
pub use error::ModelError;
pub use generator::Generator;
pub use model::{Pinn, PinnOutput, TrainableProbe};
pub use physics::{Complex, HostProbe, Physics};
pub use refine::{
    EpochReport, FieldScan, HostField, RefineResult, RefineSpec, modelled_amplitudes, refine,
    refine_observed,
};
pub use spec::{AmpActivation, FarFieldMethod, GeneratorSpec, LossWeights, PhysicsSpec};
pub use train::{
    CancelToken, EpochEnd, ObserverError, Observers, RunEnd, RunStart, StepProgress, TrainHooks,
    TrainObserver, TrainState, TrainingHistory, TrainingSpec, train, train_from, train_observed,
};
