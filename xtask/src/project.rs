//! Where the workspace is and how to run cargo in it.
//!
//! Every task works on one [`Project`]: the workspace root (the directory holding the root
//! `Cargo.toml`), a shell rooted there, and the cargo binary to call. Tests point the harness at
//! a temporary workspace with `--root` (or `XTASK_ROOT`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use xshell::{Shell, cmd};

/// The package that holds the seed's test modules as test targets.
pub const ROOT_PACKAGE: &str = "ptychopinn";

#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub sh: Shell,
    /// The cargo binary: `$CARGO` when run through cargo, else `cargo`.
    pub cargo: String,
}

impl Project {
    pub fn open(root: Option<PathBuf>) -> Result<Project> {
        let root = match root {
            Some(root) => root
                .canonicalize()
                .with_context(|| format!("workspace root {} does not exist", root.display()))?,
            None => default_root(),
        };
        if !root.join("Cargo.toml").is_file() {
            bail!(
                "{} has no Cargo.toml: pass the workspace root with --root",
                root.display()
            );
        }
        let sh = Shell::new().context("creating a shell")?;
        sh.change_dir(&root);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        Ok(Project { root, sh, cargo })
    }

    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.root.join(relative)
    }

    /// Whether `cargo nextest` is installed; without it the harness falls back to `cargo test`.
    /// `XTASK_NO_NEXTEST=1` forces the fallback, so it can be tested where nextest exists.
    pub fn has_nextest(&self) -> bool {
        if std::env::var_os("XTASK_NO_NEXTEST").is_some() {
            return false;
        }
        let cargo = &self.cargo;
        cmd!(self.sh, "{cargo} nextest --version")
            .quiet()
            .ignore_stderr()
            .read()
            .is_ok()
    }

    /// The root package's test targets and the directory cargo builds into.
    pub fn metadata(&self) -> Result<Metadata> {
        let cargo = &self.cargo;
        let json = cmd!(self.sh, "{cargo} metadata --no-deps --format-version 1")
            .quiet()
            .read()
            .context("running cargo metadata")?;
        let raw: RawMetadata = serde_json::from_str(&json).context("parsing cargo metadata")?;
        let root_manifest = self.root.join("Cargo.toml").canonicalize()?;
        let package = raw
            .packages
            .into_iter()
            .find(|p| Path::new(&p.manifest_path) == root_manifest)
            .with_context(|| format!("{} declares no root package", root_manifest.display()))?;
        let root_default_features = package.features.get("default").cloned().unwrap_or_default();
        let test_targets = package
            .targets
            .into_iter()
            .filter(|t| t.kind.iter().any(|k| k == "test"))
            .map(|t| TestTarget {
                name: t.name,
                required_features: t.required_features,
            })
            .collect();
        Ok(Metadata {
            root_default_features,
            test_targets,
            target_directory: PathBuf::from(raw.target_directory),
        })
    }
}

/// The workspace this xtask binary was built from.
fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

#[derive(Debug)]
pub struct Metadata {
    /// The root package's `default` feature list.
    pub root_default_features: Vec<String>,
    pub test_targets: Vec<TestTarget>,
    pub target_directory: PathBuf,
}

impl Metadata {
    pub fn target(&self, name: &str) -> Option<&TestTarget> {
        self.test_targets.iter().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct TestTarget {
    pub name: String,
    pub required_features: Vec<String>,
}

#[derive(Deserialize)]
struct RawMetadata {
    packages: Vec<RawPackage>,
    target_directory: String,
}

#[derive(Deserialize)]
struct RawPackage {
    manifest_path: String,
    #[serde(default)]
    features: std::collections::BTreeMap<String, Vec<String>>,
    targets: Vec<RawTarget>,
}

#[derive(Deserialize)]
struct RawTarget {
    name: String,
    kind: Vec<String>,
    #[serde(default, rename = "required-features")]
    required_features: Vec<String>,
}

/// Renders a command line the way a user would type it, environment first.
pub fn display_command(env: &[(String, String)], program: &str, args: &[String]) -> String {
    let mut parts: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    parts.push(program.to_owned());
    parts.extend(args.iter().map(|a| quote(a)));
    parts.join(" ")
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_command_quotes_what_a_shell_would_split() {
        let env = vec![("CUDA_VISIBLE_DEVICES".to_owned(), String::new())];
        let args = vec!["-E".to_owned(), "test(~mvp)".to_owned(), "it's".to_owned()];
        assert_eq!(
            display_command(&env, "cargo", &args),
            r"CUDA_VISIBLE_DEVICES='' cargo -E 'test(~mvp)' 'it'\''s'"
        );
    }
}
