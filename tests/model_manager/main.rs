//! Test target `model_manager`: the seed's category 4, persistence (upstream
//! `tests/torch/test_model_manager.py`).
//!
//! Modules follow upstream's classes so the seed's selectors work: `save_bundle`
//! (TestSaveTorchBundle: `archive_structure`, `params_snapshot`), `load_bundle`
//! (TestLoadTorchBundle: `load_bundle_restores_params_cfg`, `malformed_archive_raises_error`,
//! which drives a corpus of broken bundles) and `persistence_regression` (D4.B's
//! TestPersistenceRegression: `archive_roundtrip`, `manifest_validation`,
//! `params_snapshot_all_fields`, `cross_backend_archive_compatibility`). Beyond upstream:
//! byte-identical archives, atomic saves, refusal of placeholder models, and the upstream bug of
//! silently random weights.

mod common;
mod load_bundle;
mod persistence_regression;
mod save_bundle;
