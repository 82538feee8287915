//! The data pipeline test target (seed category 2, `tests/torch/test_data_pipeline.py`).
//!
//! Module names follow the seed's pytest classes so the selectors of `tests/selector_map.toml`
//! (`raw_data`, `data_container`, `y_dtype`, `memmap`, and
//! `memmap_bridge_parity::deterministic_generation_validation`) select the matching tests.

mod alloc;
mod common;
mod data_container;
mod memmap_bridge_parity;
mod memmap_dataset;
mod npz_contract;
mod pipeline;
mod raw_data;
mod simulation;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;
