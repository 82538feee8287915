//! Regenerates the canonical fixture dataset `fixtures/datasets/sim_lines_n32.npz` and its
//! manifest with our simulator: `cargo run -p ptycho-data --example make_fixture`.
//! After regenerating, update its line in `fixtures/SHA256SUMS`.

use std::path::PathBuf;

use ptycho_data::simulate::fixture::write_simulated_dataset;
use ptycho_data::{ObjectKind, ProbeSource, ScanKind, SimulationConfig};

/// The fixture's configuration (also recorded in its manifest).
fn fixture_config() -> SimulationConfig {
    SimulationConfig {
        n: 32,
        object_size: 128,
        object: ObjectKind::Lines,
        probe: ProbeSource::Default,
        scan: ScanKind::Random,
        n_images: 64,
        nphotons: 1e6,
        poisson: true,
        seed: 7,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datasets/sim_lines_n32.npz");
    let m = write_simulated_dataset(&fixture_config(), &out)?;
    println!("wrote {} (sha256 {})", out.display(), m.sha256);
    Ok(())
}
