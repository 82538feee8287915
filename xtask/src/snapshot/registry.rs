//! The snapshot generators, registered in one place: `fixtures/snapshots.toml`.
//!
//! A generator is a command run from the workspace root whose output (stdout, a file it
//! writes, or the archive-tree dump of a zip it writes) is the snapshot. `{cargo}`, `{root}`
//! and `{tmp}` (a fresh temporary directory per run) are substituted in its arguments, and so
//! are `{bin:NAME}` and `{example:NAME}`: the workspace's binaries and examples, built once by
//! one `cargo build --workspace --bins --examples` before the generators run. Building the
//! whole workspace at once keeps cargo's feature unification the same as in the test build, so
//! the generators reuse its artifacts instead of rebuilding dependencies with other features.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use xshell::cmd;

use crate::project::Project;

pub const REGISTRY: &str = "fixtures/snapshots.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    #[serde(default, rename = "snapshot")]
    snapshots: Vec<Generator>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    /// The seed's artifact name, e.g. `baseline_params.json`.
    pub name: String,
    /// The checked-in baseline, relative to the workspace root.
    pub baseline: String,
    pub format: Format,
    pub command: Vec<String>,
    /// Read this file instead of stdout.
    pub output: Option<String>,
    /// Dump this zip with `archive tree` (JSON or text per `format`) instead of reading stdout.
    pub archive_tree: Option<String>,
    #[serde(default)]
    pub redact: Vec<String>,
    pub float_tolerance: Option<f64>,
}

impl Generator {
    pub fn baseline_path(&self, root: &Path) -> PathBuf {
        root.join(&self.baseline)
    }

    /// `<baseline>.new`, where a proposed baseline waits for `snapshot accept`.
    pub fn pending_path(&self, root: &Path) -> PathBuf {
        let mut name = self.baseline_path(root).into_os_string();
        name.push(".new");
        PathBuf::from(name)
    }

    /// Runs the generator; returns its raw output and the temporary directory it used (kept
    /// alive so the caller can redact paths under it).
    pub fn generate(
        &self,
        project: &Project,
        artifacts: &Path,
    ) -> Result<(String, tempfile::TempDir)> {
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let fill = |arg: &str| {
            expand_artifacts(arg, artifacts)
                .replace("{cargo}", &project.cargo)
                .replace("{root}", &project.root.display().to_string())
                .replace("{tmp}", &tmp.path().display().to_string())
        };
        let argv: Vec<String> = self.command.iter().map(|a| fill(a)).collect();
        let Some((program, args)) = argv.split_first() else {
            bail!(
                "snapshot `{}` in {REGISTRY} has an empty command",
                self.name
            );
        };
        let stdout = cmd!(project.sh, "{program} {args...}")
            .quiet()
            .read()
            .with_context(|| format!("snapshot `{}`: running `{}`", self.name, argv.join(" ")))?;
        let raw = if let Some(file) = &self.output {
            let path = fill(file);
            std::fs::read_to_string(&path)
                .with_context(|| format!("snapshot `{}`: reading its output {path}", self.name))?
        } else if let Some(zip) = &self.archive_tree {
            let listing = crate::archive::Listing::read(Path::new(&fill(zip)))?;
            match self.format {
                Format::Json => listing.to_json(),
                Format::Text => listing.to_text(),
            }
        } else {
            stdout
        };
        Ok((raw, tmp))
    }

    /// Whether the command runs a workspace binary or example.
    pub fn uses_artifacts(&self) -> bool {
        self.command
            .iter()
            .any(|a| a.contains("{bin:") || a.contains("{example:"))
    }
}

/// Replaces `{bin:NAME}` by `<artifacts>/NAME` and `{example:NAME}` by
/// `<artifacts>/examples/NAME`, where `artifacts` is the dev profile's output directory.
fn expand_artifacts(arg: &str, artifacts: &Path) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        let (before, tail) = rest.split_at(start);
        out += before;
        let Some(end) = tail.find('}') else {
            out += tail;
            return out;
        };
        let token = &tail[1..end];
        let path = match token.split_once(':') {
            Some(("bin", name)) => Some(artifacts.join(name)),
            Some(("example", name)) => Some(artifacts.join("examples").join(name)),
            _ => None,
        };
        match path {
            Some(path) => out += &path.display().to_string(),
            None => out += &tail[..=end],
        }
        rest = &tail[end + 1..];
    }
    out += rest;
    out
}

/// Builds every binary and example of the workspace; returns the dev profile's output directory.
pub fn build_artifacts(project: &Project) -> Result<PathBuf> {
    let cargo = &project.cargo;
    cmd!(project.sh, "{cargo} build --workspace --bins --examples")
        .run()
        .context("building the workspace's binaries and examples for the snapshot generators")?;
    Ok(project.metadata()?.target_directory.join("debug"))
}

pub fn load(root: &Path) -> Result<Vec<Generator>> {
    let path = root.join(REGISTRY);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let registry: Registry =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for (i, generator) in registry.snapshots.iter().enumerate() {
        if registry.snapshots[..i]
            .iter()
            .any(|g| g.name == generator.name)
        {
            bail!(
                "{REGISTRY}: snapshot `{}` is registered twice",
                generator.name
            );
        }
        if generator.output.is_some() && generator.archive_tree.is_some() {
            bail!(
                "{REGISTRY}: snapshot `{}` sets both `output` and `archive_tree`",
                generator.name
            );
        }
    }
    Ok(registry.snapshots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_expand_to_the_profile_directory() {
        let dir = Path::new("/t/debug");
        assert_eq!(expand_artifacts("{bin:ptycho}", dir), "/t/debug/ptycho");
        assert_eq!(
            expand_artifacts("x={example:demo}/y", dir),
            "x=/t/debug/examples/demo/y"
        );
        assert_eq!(expand_artifacts("{tmp}/a {cargo}", dir), "{tmp}/a {cargo}");
        assert_eq!(expand_artifacts("{unclosed", dir), "{unclosed");
    }
}
