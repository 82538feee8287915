//! Workflow orchestration (seed category 3, upstream `tests/torch/test_workflows_components.py`):
//! the CONFIG-001 step, training and run orchestration, and D4.B's orchestration regression.
//!
//! Every test trains a tiny model (N = 64, n_filters_scale 1, a few groups, one or two epochs)
//! on a small simulated dataset, so the whole target stays within its time budget.

mod orchestration_regression;
mod run;
mod scaffold;
mod support;
mod training;
