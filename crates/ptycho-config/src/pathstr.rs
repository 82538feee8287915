//! Path-to-string conversion with Python `pathlib` normalisation.
//!
//! Upstream stores `str(Path(...))` in the legacy params; pathlib collapses repeated separators,
//! drops `.` components and trailing separators, but keeps `..`. Doing the same here keeps the
//! params byte-identical to upstream's for the same input.

use std::path::Path;

/// `str(pathlib.PurePosixPath(path))`.
pub fn python_path_string(path: &Path) -> String {
    let text = path.to_string_lossy();
    let absolute = text.starts_with('/');
    // POSIX pathlib keeps exactly two leading slashes, collapses three or more to one.
    let leading = if text.starts_with("//") && !text.starts_with("///") {
        "//"
    } else if absolute {
        "/"
    } else {
        ""
    };
    let parts: Vec<&str> = text
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.is_empty() {
        return if leading.is_empty() {
            ".".to_owned()
        } else {
            leading.to_owned()
        };
    }
    format!("{leading}{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_pathlib() {
        let cases = [
            ("./data//train.npz/", "data/train.npz"),
            ("a/./b", "a/b"),
            ("../x/../y", "../x/../y"),
            (
                "/canonical/baseline/model_directory",
                "/canonical/baseline/model_directory",
            ),
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("///a", "/a"),
            ("//a", "//a"),
            ("train.npz", "train.npz"),
        ];
        for (input, expected) in cases {
            assert_eq!(python_path_string(Path::new(input)), expected, "{input:?}");
        }
    }
}
