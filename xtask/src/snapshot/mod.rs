//! `cargo xtask snapshot diff|update|accept [NAME]`: generated snapshots against their
//! checked-in baselines, reviewed the way insta reviews snapshots.
//!
//! `diff` compares and fails with a truncated unified diff. `update` writes each changed
//! snapshot as `<baseline>.new` beside its baseline, and `accept` promotes the pending files.
//! Neither writes anything when `CI` is set: CI never changes a baseline.

pub mod canon;
pub mod diff;
mod registry;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::project::Project;
use canon::Redactions;
use registry::{Format, Generator};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

impl Args {
    /// `snapshot diff` of every registered snapshot, for `ci`.
    pub fn diff() -> Args {
        Args {
            action: Action::Diff { name: None },
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Compare every snapshot (or NAME) with its baseline; fail with a diff when one changed
    Diff { name: Option<String> },
    /// Write each changed snapshot as `<baseline>.new` beside its baseline (never in CI)
    Update { name: Option<String> },
    /// Promote pending `<baseline>.new` files over their baselines (never in CI)
    Accept { name: Option<String> },
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let generators = registry::load(&project.root)?;
    match args.action {
        Action::Diff { name } => diff_all(project, &select(&generators, name.as_deref())?),
        Action::Update { name } => {
            refuse_in_ci("update")?;
            update_all(project, &select(&generators, name.as_deref())?)
        }
        Action::Accept { name } => {
            refuse_in_ci("accept")?;
            accept_all(&project.root, &select(&generators, name.as_deref())?)
        }
    }
}

fn select<'a>(generators: &'a [Generator], name: Option<&str>) -> Result<Vec<&'a Generator>> {
    match name {
        None => Ok(generators.iter().collect()),
        Some(name) => match generators.iter().find(|g| g.name == name) {
            Some(g) => Ok(vec![g]),
            None => {
                let known: Vec<&str> = generators.iter().map(|g| g.name.as_str()).collect();
                bail!(
                    "no snapshot `{name}` in {}; registered: {}",
                    registry::REGISTRY,
                    known.join(", ")
                )
            }
        },
    }
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn refuse_in_ci(action: &str) -> Result<()> {
    if in_ci() {
        bail!(
            "`snapshot {action}` never writes baselines in CI (CI is set); run it locally and commit"
        );
    }
    Ok(())
}

/// The outcome of comparing one generator's output with its baseline.
struct Comparison {
    /// Canonical text of the fresh output.
    fresh: String,
    /// The diff to show, empty when the snapshot matches.
    diff: String,
}

fn compare(project: &Project, generator: &Generator, artifacts: &Path) -> Result<Comparison> {
    let (raw, tmp) = generator.generate(project, artifacts)?;
    let redactions = Redactions::new(&generator.redact, &project.root, Some(tmp.path()));
    let baseline_path = generator.baseline_path(&project.root);
    let baseline = match std::fs::read_to_string(&baseline_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", baseline_path.display())),
    };
    let (fresh, old, same) = match generator.format {
        Format::Json => {
            let new = canon::canonical_json(&raw, &redactions)
                .with_context(|| format!("snapshot `{}`: its output", generator.name))?;
            let tolerance = generator
                .float_tolerance
                .unwrap_or(canon::DEFAULT_FLOAT_TOLERANCE);
            match &baseline {
                Some(text) => {
                    let old = canon::canonical_json(text, &redactions)
                        .with_context(|| format!("baseline {}", baseline_path.display()))?;
                    let same = canon::json_equal(&old, &new, tolerance);
                    (canon::render_json(&new), canon::render_json(&old), same)
                }
                None => (canon::render_json(&new), String::new(), false),
            }
        }
        Format::Text => {
            let new = canon::canonical_text(&raw, &redactions);
            let old = baseline
                .as_deref()
                .map(|t| canon::canonical_text(t, &redactions));
            let same = old.as_deref() == Some(new.as_str());
            (new, old.unwrap_or_default(), same)
        }
    };
    let diff = if same {
        String::new()
    } else {
        let mut old = old;
        let mut new = fresh.clone();
        // Both sides end in a newline so a missing final newline is not shown as a change.
        for text in [&mut old, &mut new] {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
        }
        let mut diff = diff::render(
            &old,
            &new,
            &format!("a/{}", generator.baseline),
            &format!("b/{} (generated)", generator.name),
        );
        if baseline.is_none() {
            diff = format!("baseline {} does not exist yet\n{diff}", generator.baseline);
        }
        diff
    };
    Ok(Comparison { fresh, diff })
}

/// Where `{bin:..}` and `{example:..}` point, built first when a generator needs them.
fn artifacts(project: &Project, generators: &[&Generator]) -> Result<PathBuf> {
    if generators.iter().any(|g| g.uses_artifacts()) {
        registry::build_artifacts(project)
    } else {
        Ok(project.metadata()?.target_directory.join("debug"))
    }
}

fn diff_all(project: &Project, generators: &[&Generator]) -> Result<()> {
    if generators.is_empty() {
        println!(
            "no snapshot generators registered in {}",
            registry::REGISTRY
        );
        return Ok(());
    }
    let artifacts = artifacts(project, generators)?;
    let mut changed = Vec::new();
    for generator in generators {
        let comparison = compare(project, generator, &artifacts)?;
        if comparison.diff.is_empty() {
            println!("ok       {} ({})", generator.name, generator.baseline);
        } else {
            println!("CHANGED  {} ({})", generator.name, generator.baseline);
            print!("{}", comparison.diff);
            println!(
                "to accept: cargo xtask snapshot update {0} && cargo xtask snapshot accept {0}",
                generator.name
            );
            changed.push(generator.name.as_str());
        }
        if generator.pending_path(&project.root).exists() {
            println!(
                "note: {}.new is pending review (cargo xtask snapshot accept {})",
                generator.baseline, generator.name
            );
        }
    }
    if !changed.is_empty() {
        bail!(
            "{} snapshot(s) differ from their baselines: {}",
            changed.len(),
            changed.join(", ")
        );
    }
    Ok(())
}

fn update_all(project: &Project, generators: &[&Generator]) -> Result<()> {
    let artifacts = artifacts(project, generators)?;
    for generator in generators {
        let comparison = compare(project, generator, &artifacts)?;
        let pending = generator.pending_path(&project.root);
        if comparison.diff.is_empty() {
            if pending.exists() {
                std::fs::remove_file(&pending)?;
            }
            println!("ok       {} matches its baseline", generator.name);
        } else {
            write_atomically(&pending, &comparison.fresh)?;
            println!(
                "pending  {} (review, then `cargo xtask snapshot accept {}`)",
                pending.display(),
                generator.name
            );
        }
    }
    Ok(())
}

fn accept_all(root: &Path, generators: &[&Generator]) -> Result<()> {
    let mut accepted = 0;
    for generator in generators {
        let pending = generator.pending_path(root);
        if pending.exists() {
            let baseline = generator.baseline_path(root);
            std::fs::rename(&pending, &baseline).with_context(|| {
                format!("moving {} over {}", pending.display(), baseline.display())
            })?;
            println!("accepted {}", generator.baseline);
            accepted += 1;
        }
    }
    if accepted == 0 {
        println!(
            "nothing to accept: no pending .new files (run `cargo xtask snapshot update` first)"
        );
    }
    Ok(())
}

/// Writes through a temporary file in the same directory ([`ptycho_fs`]), so a baseline is
/// never half-written; creates the directory if needed.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .context("a file path has a parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    ptycho_fs::write_atomically(path, text.as_bytes())?;
    Ok(())
}
