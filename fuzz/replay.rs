//! Shared by the stable replay tests of the fuzz corpora (`crates/*/tests/fuzz_replay.rs`,
//! included with `#[path]`): every file of a target's corpus and regressions goes through a
//! check, and a panic on any of them fails the test naming the files.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>`, sorted.
pub fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(
            entries
                .map(|e| e.expect("readable fuzz directory").path())
                .filter(|p| p.is_file()),
        );
    }
    files.sort();
    files
}

/// Runs `check` on every input of `target`; returns how many there were. Panics listing every
/// input that panicked.
pub fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let files = inputs(target);
    let mut panicked = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).expect("readable fuzz input");
        if catch_unwind(AssertUnwindSafe(|| check(&bytes))).is_err() {
            panicked.push(file.display().to_string());
        }
    }
    assert!(panicked.is_empty(), "{target}: panicked on {panicked:?}");
    files.len()
}
