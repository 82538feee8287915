//! `cargo xtask selectors [--markdown] [--write | --check]`: the selector map as a table.
//!
//! The markdown form is the generated part of `docs/testing.md` (between the two marker
//! comments); `--check` fails when that part is stale, and a `#[test]` runs the check so a
//! stale document fails the test suite, as rust-analyzer's codegen checks do.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::project::Project;
use crate::selector_map::{Filter, SelectorMap};

pub const DOC: &str = "docs/testing.md";
const BEGIN: &str =
    "<!-- BEGIN GENERATED: `cargo xtask selectors --markdown --write`; do not edit by hand -->";
const END: &str = "<!-- END GENERATED -->";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Render markdown (the generated part of docs/testing.md)
    #[arg(long)]
    markdown: bool,
    /// Rewrite the generated part of docs/testing.md
    #[arg(long, requires = "markdown", conflicts_with = "check")]
    write: bool,
    /// Fail when the generated part of docs/testing.md is stale
    #[arg(long, requires = "markdown")]
    check: bool,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let map = SelectorMap::load(&project.root)?;
    if args.write {
        let changed = update_doc(&project.root, &map, Mode::Write)?;
        println!(
            "{DOC} {}",
            if changed { "updated" } else { "is up to date" }
        );
    } else if args.check {
        update_doc(&project.root, &map, Mode::Check)?;
        println!("{DOC} is up to date");
    } else if args.markdown {
        print!("{}", markdown(&map));
    } else {
        print!("{}", plain(&map));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// Replaces the generated part of the testing doc; in check mode, fails if it would change.
pub fn update_doc(root: &Path, map: &SelectorMap, mode: Mode) -> Result<bool> {
    let path = root.join(DOC);
    let doc =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        bail!("{DOC} must contain the markers\n{BEGIN}\n{END}");
    };
    let fresh = format!("{}{BEGIN}\n{}{}", &doc[..begin], markdown(map), &doc[end..]);
    if fresh == doc {
        return Ok(false);
    }
    match mode {
        Mode::Check => bail!(
            "{DOC} is stale: it does not match tests/selector_map.toml; run `cargo xtask selectors --markdown --write` and commit the result"
        ),
        Mode::Write => {
            std::fs::write(&path, fresh).with_context(|| format!("writing {}", path.display()))?;
            Ok(true)
        }
    }
}

fn filter_text(filter: &Filter) -> String {
    match filter {
        Filter::All => "whole target".to_owned(),
        Filter::Contains(k) => format!("`-k {k}`"),
        Filter::Prefix(p) => format!("`{p}*`"),
        Filter::Exact(e) => format!("`{e}`"),
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

pub fn markdown(map: &SelectorMap) -> String {
    let mut md = String::new();
    md += "\n### Categories\n\n";
    md += "| seed # | category | test target | seed module | seed phase | seed status | backend-optional | features | budget |\n";
    md += "|---|---|---|---|---|---|---|---|---|\n";
    for c in &map.categories {
        let whitelisted = if map.whitelist.targets.contains(&c.target) {
            "yes"
        } else {
            "no"
        };
        let features = if c.features.is_empty() {
            "none".to_owned()
        } else {
            format!("`{}`", c.features.join(","))
        };
        let _ = writeln!(
            md,
            "| {} | {} | `tests/{}/` | `{}` | {} | {} | {whitelisted} | {features} | {} s |",
            c.seed_category, c.title, c.target, c.seed_module, c.phase, c.status, c.budget_s
        );
    }
    md += "\n### Selectors\n\n";
    md += "| command | selects | seed command | what |\n|---|---|---|---|\n";
    for c in &map.categories {
        for s in &c.selectors {
            let command = if s.name == "full" {
                format!("cargo xtask test {}", c.name)
            } else {
                format!("cargo xtask test {}::{}", c.name, s.name)
            };
            let _ = writeln!(
                md,
                "| `{command}` | {} | `{}` | {} |",
                filter_text(&s.filter()),
                cell(&s.seed),
                cell(&s.about)
            );
        }
    }
    md += "\n### Phases\n\n| command | what | runs (log file) |\n|---|---|---|\n";
    for p in &map.phases {
        let runs: Vec<String> = p
            .runs
            .iter()
            .map(|r| {
                let log = r.log.clone().unwrap_or_else(|| {
                    map.category(&r.category)
                        .map(|c| c.log.clone())
                        .unwrap_or_default()
                });
                let what = match &r.selector {
                    Some(s) => format!("{}::{s}", r.category),
                    None => r.category.clone(),
                };
                format!("{what} (`{}{log}.log`)", p.log_prefix)
            })
            .collect();
        let _ = writeln!(
            md,
            "| `cargo xtask phase {}` | {} | {} |",
            p.id,
            p.title,
            runs.join(", ")
        );
    }
    md += "\n### Environment overrides\n\n| variable | value | when |\n|---|---|---|\n";
    for (k, v) in &map.env.required {
        let _ = writeln!(md, "| `{k}` | `{v:?}` | always |");
    }
    for (k, v) in &map.env.verbose {
        let _ = writeln!(
            md,
            "| `{k}` | `{v:?}` | with `--verbose` or `{}=1` |",
            map.env.verbose_switch
        );
    }
    md += "\n";
    md
}

fn plain(map: &SelectorMap) -> String {
    let mut out = String::new();
    for c in &map.categories {
        let _ = writeln!(
            out,
            "{} ({}; target tests/{}/, seed {})",
            c.name, c.title, c.target, c.seed_module
        );
        for s in &c.selectors {
            let _ = writeln!(
                out,
                "  {:<45} {}",
                format!("{}::{}", c.name, s.name),
                s.filter().describe()
            );
        }
    }
    let phases: Vec<&str> = map.phases.iter().map(|p| p.id.as_str()).collect();
    let _ = writeln!(out, "phases: {}", phases.join(", "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    /// The checked-in testing doc matches the selector map.
    #[test]
    fn testing_doc_is_fresh() {
        let map = SelectorMap::load(root()).unwrap();
        update_doc(root(), &map, Mode::Check).unwrap();
    }

    #[test]
    fn markdown_matches_golden() {
        let data = root().join("xtask/test_data");
        let map =
            SelectorMap::parse(&std::fs::read_to_string(data.join("selector_map.toml")).unwrap())
                .unwrap();
        crate::golden::check(&data.join("selectors.md"), &markdown(&map));
    }

    #[test]
    fn every_seed_selector_is_listed() {
        let map = SelectorMap::load(root()).unwrap();
        let listing = plain(&map);
        for name in [
            "config_bridge::mvp",
            "config_bridge::params_cfg_matches_baseline",
            "data_pipeline::memmap",
            "data_pipeline::deterministic_generation_validation",
            "persistence::archive_structure",
            "persistence::malformed_archive_raises_error",
            "workflows::run_cdi_example_invokes_training",
            "integration::train_save_load_infer_cycle",
        ] {
            assert!(listing.contains(name), "{name} missing from\n{listing}");
        }
    }
}
