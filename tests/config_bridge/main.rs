//! Test target `config_bridge`: the seed's category 1 (upstream `tests/torch/test_config_bridge.py`).
//!
//! Module layout follows upstream's classes so the seed's selectors work as substring filters:
//! `mvp` (TestConfigBridgeMVP), `parity` (TestConfigBridgeParity, with `parity_direct`,
//! `parity_override`, `probe_mask`, `nphotons`, `n_subsample` groups and the exact test
//! `parity::params_cfg_matches_baseline`), `architecture` (TestConfigBridgeArchitecture).
//! Beyond upstream: `formats` (load → save → load in TOML, YAML, JSON), `legacy` (the params
//! map rules), `upstream_bugs` (one test per upstream bug, showing the intended behaviour) and
//! `user_errors` (what a new user sees for common mistakes).

mod architecture;
mod common;
mod formats;
mod legacy;
mod mvp;
mod parity;
mod upstream_bugs;
mod user_errors;
