//! The archive's fixed layout: file name, member names, model folders, path safety.
//!
//! ```text
//! wts.h5.zip
//! ├── manifest.json
//! ├── diffraction_to_obj/{params.json, model.safetensors}   inference graph
//! └── autoencoder/{params.json, model.safetensors}          full training graph (+ physics state)
//! ```

use std::path::{Path, PathBuf};

/// The bundle's file name (kept from upstream for compatibility with Ptychodus and scripts).
pub const ARCHIVE_NAME: &str = "wts.h5.zip";
/// Root member holding the manifest.
pub const MANIFEST_MEMBER: &str = "manifest.json";
/// Per-model member holding the params snapshot.
pub const PARAMS_FILE: &str = "params.json";
/// Per-model member holding the weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// The two models of a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelRole {
    /// The inference graph: diffraction amplitudes (and positions) to the complex object.
    DiffractionToObj,
    /// The full training graph: generator plus physics state (`log_scale`, probe, ...).
    Autoencoder,
}

impl ModelRole {
    /// Both roles, in the order they are written and listed in the manifest.
    pub const ALL: [ModelRole; 2] = [ModelRole::DiffractionToObj, ModelRole::Autoencoder];

    /// The folder / manifest name.
    pub fn name(self) -> &'static str {
        match self {
            ModelRole::DiffractionToObj => "diffraction_to_obj",
            ModelRole::Autoencoder => "autoencoder",
        }
    }

    /// The role of a manifest name.
    pub fn from_name(name: &str) -> Option<ModelRole> {
        ModelRole::ALL.into_iter().find(|role| role.name() == name)
    }

    /// `<role>/params.json`.
    pub fn params_member(self) -> String {
        format!("{}/{PARAMS_FILE}", self.name())
    }

    /// `<role>/model.safetensors`.
    pub fn weights_member(self) -> String {
        format!("{}/{WEIGHTS_FILE}", self.name())
    }
}

impl std::fmt::Display for ModelRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every member of a complete bundle, in writing order.
pub fn expected_members() -> Vec<String> {
    let mut members = vec![MANIFEST_MEMBER.to_owned()];
    for role in ModelRole::ALL {
        members.push(role.params_member());
        members.push(role.weights_member());
    }
    members
}

/// Directory entries tolerated in an archive re-packed by another tool (`zip -r` adds them).
pub fn is_tolerated_directory(member: &str) -> bool {
    ModelRole::ALL
        .iter()
        .any(|role| member.strip_suffix('/') == Some(role.name()))
}

/// Why a member name could escape the extraction folder (zip-slip), if it could.
pub fn unsafe_path_reason(member: &str) -> Option<&'static str> {
    let body = member.strip_suffix('/').unwrap_or(member);
    if body.is_empty() {
        Some("empty name")
    } else if member.starts_with('/') {
        Some("absolute path")
    } else if member.contains('\\') {
        Some("backslash separator")
    } else if member.chars().any(char::is_control) {
        Some("control character in the name")
    } else if member.as_bytes().get(1) == Some(&b':') {
        Some("drive-letter path")
    } else if body.split('/').any(|part| part == "..") {
        Some("`..` component")
    } else if body.split('/').any(|part| part.is_empty() || part == ".") {
        Some("empty or `.` component")
    } else {
        None
    }
}

/// True for members of upstream's python bundles, which are pickles (never loaded here).
pub fn is_upstream_pickle(member: &str) -> bool {
    [".dill", ".pth", ".pt", ".pkl", ".pickle", ".ckpt", ".keras"]
        .iter()
        .any(|ext| member.ends_with(ext))
}

/// The archive a user means: a `.zip` file, upstream's base path `<dir>/wts.h5` (gains `.zip`),
/// or a directory holding `wts.h5.zip`.
pub fn resolve_archive(path: &Path) -> PathBuf {
    archive_target(path)
}

/// Where a bundle lives: a `.zip` path as given, upstream's base path `<dir>/wts.h5` with
/// `.zip` appended, any other path taken as a directory holding `wts.h5.zip`.
pub fn archive_target(path: &Path) -> PathBuf {
    if path.extension().is_some_and(|ext| ext == "zip") && !path.is_dir() {
        return path.to_path_buf();
    }
    if path.file_name().is_some_and(|name| name == "wts.h5") && !path.is_dir() {
        return path.with_file_name(ARCHIVE_NAME);
    }
    path.join(ARCHIVE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_in_writing_order() {
        assert_eq!(
            expected_members(),
            [
                "manifest.json",
                "diffraction_to_obj/params.json",
                "diffraction_to_obj/model.safetensors",
                "autoencoder/params.json",
                "autoencoder/model.safetensors",
            ]
        );
        assert_eq!(
            ModelRole::from_name("autoencoder"),
            Some(ModelRole::Autoencoder)
        );
        assert_eq!(ModelRole::from_name("lightning_module"), None);
    }

    #[test]
    fn zip_slip_names_are_caught() {
        for (name, reason) in [
            ("../evil.sh", "`..` component"),
            ("autoencoder/../../x", "`..` component"),
            ("/etc/passwd", "absolute path"),
            ("..\\x", "backslash separator"),
            ("C:/x", "drive-letter path"),
            ("a//b", "empty or `.` component"),
            ("./manifest.json", "empty or `.` component"),
            ("a\u{0}b", "control character in the name"),
            ("", "empty name"),
        ] {
            assert_eq!(unsafe_path_reason(name), Some(reason), "{name:?}");
        }
        for name in [
            "manifest.json",
            "autoencoder/",
            "diffraction_to_obj/model.safetensors",
        ] {
            assert_eq!(unsafe_path_reason(name), None, "{name:?}");
        }
    }

    #[test]
    fn paths_resolve_like_upstream() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_archive(dir.path()), dir.path().join("wts.h5.zip"));
        assert_eq!(archive_target(dir.path()), dir.path().join("wts.h5.zip"));
        let base = dir.path().join("wts.h5");
        assert_eq!(archive_target(&base), dir.path().join("wts.h5.zip"));
        assert_eq!(resolve_archive(&base), dir.path().join("wts.h5.zip"));
        let other = dir.path().join("model.zip");
        assert_eq!(archive_target(&other), other);
        let missing = dir.path().join("new_output");
        assert_eq!(archive_target(&missing), missing.join("wts.h5.zip"));
    }
}
