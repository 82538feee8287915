//! Writes NPZ files for the Rust -> numpy compatibility check.
//!
//! Usage: `cargo run -p ptycho-data --example npz_for_numpy -- OUT_DIR`, then
//! `python3 fixtures/datasets/numpy/check_rust_npz.py OUT_DIR`. It loads the numpy-made fixture
//! `numpy_canonical_compressed.npz` and saves it with our writer, compressed (`rust_compressed.npz`)
//! and stored (`rust_stored.npz`); the python script asserts numpy reads identical values.

use std::path::PathBuf;

use ptycho_data::{Compression, ScanData};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: npz_for_numpy OUT_DIR")?,
    );
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/datasets/numpy/numpy_canonical_compressed.npz");
    let data = ScanData::load(&src)?.data;
    data.save(out.join("rust_compressed.npz"), Compression::Deflated)?;
    data.save(out.join("rust_stored.npz"), Compression::Stored)?;
    println!(
        "wrote {}/rust_compressed.npz and rust_stored.npz",
        out.display()
    );
    Ok(())
}
