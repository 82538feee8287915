//! Helpers shared by the `ptycho` command-line tests: run the built binary the way a user in the
//! workspace root would, and read what it printed.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (relative fixture paths in the tests start there).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `ptycho args…` from the workspace root and waits for it.
pub fn ptycho(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptycho"))
        .args(args)
        .current_dir(workspace_root())
        .env("MLFLOW_TRACKING_URI", "memory")
        .output()
        .expect("run ptycho")
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
