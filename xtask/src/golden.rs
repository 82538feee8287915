//! Golden files for the harness's own tests: `UPDATE_GOLDEN=1 cargo test -p xtask` rewrites
//! them after an intended change; otherwise a difference fails with a diff.

use std::path::Path;

pub fn check(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading golden file {}: {e}", path.display()));
    if expected != actual {
        let diff = crate::snapshot::diff::render(&expected, actual, "golden", "actual");
        panic!(
            "{} differs from the output:\n{diff}\nrun `UPDATE_GOLDEN=1 cargo test -p xtask` if the change is intended",
            path.display()
        );
    }
}
