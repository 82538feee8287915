//! `cargo xtask whitelist check|update`: the backend-optional whitelist (the seed's
//! `TORCH_OPTIONAL_MODULES`).
//!
//! `check` builds and lists the whitelisted test targets with no optional feature, compares
//! the listing with the recorded one (`tests/whitelist.txt`), runs them, and checks that every
//! other test target of the root package is feature-gated. A recorded test that is no longer
//! listed (removed, renamed or gated behind a feature) fails the check, and so does a listed
//! test that was never recorded. `update` rewrites the record.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::junit::CaseStatus;
use crate::project::{Metadata, Project, ROOT_PACKAGE};
use crate::runner::{self, Output, Selection};
use crate::selector_map::SelectorMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Build, list and run the whitelisted targets without optional features; fail on drift
    Check {
        /// Only build and list, do not run the tests
        #[arg(long)]
        list_only: bool,
    },
    /// Record the current listing in tests/whitelist.txt (never in CI)
    Update,
}

/// `(target, test path)` pairs.
type Tests = BTreeSet<(String, String)>;

pub fn run(project: &Project, args: Args) -> Result<()> {
    match args.action {
        Action::Check { list_only } => check(project, list_only).map(|_| ()),
        Action::Update => update(project),
    }
}

/// Counts of a whitelist check, for `ci`'s totals.
#[derive(Debug, Default)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
}

pub fn check(project: &Project, list_only: bool) -> Result<Counts> {
    let map = SelectorMap::load(&project.root)?;
    let metadata = project.metadata()?;
    let mut problems = Vec::new();
    // Tests build with the root package's default features, so there must be none: then the
    // whitelisted targets are built without any optional backend.
    if !metadata.root_default_features.is_empty() {
        problems.push(format!(
            "the root package enables default features {:?}; the whitelist must build with no optional feature: empty its `default` feature list",
            metadata.root_default_features
        ));
    }

    let mut gated = 0;
    for target in &metadata.test_targets {
        if map.whitelist.targets.contains(&target.name) {
            continue;
        }
        if target.required_features.is_empty() {
            problems.push(format!(
                "test target `{}` is outside the whitelist but not feature-gated: add `required-features = [\"wgpu\"]` (or its backend) to its [[test]] entry, or add it to [whitelist] in tests/selector_map.toml",
                target.name
            ));
        } else {
            gated += 1;
        }
    }

    let present = present_targets(&map, &metadata);
    let missing: Vec<&String> = map
        .whitelist
        .targets
        .iter()
        .filter(|t| metadata.target(t).is_none())
        .collect();
    let recorded = read_recorded(project, &map)?;
    for target in &missing {
        if recorded.iter().any(|(t, _)| t == *target) {
            problems.push(format!(
                "whitelisted test target `{target}` disappeared (its tests are recorded in {}); restore its [[test]] entry",
                map.whitelist.recorded
            ));
        }
    }

    let listed = list(project, &map, &present)?;
    for (target, test) in recorded.difference(&listed) {
        if present.contains(target) {
            problems.push(format!(
                "recorded test `{target}::{test}` is not built without optional features (removed, renamed, or gated behind a feature); restore it, or run `cargo xtask whitelist update` if the removal is intended"
            ));
        }
    }
    let unrecorded: Vec<String> = listed
        .difference(&recorded)
        .map(|(t, n)| format!("{t}::{n}"))
        .collect();
    if !unrecorded.is_empty() {
        problems.push(format!(
            "{} whitelisted test(s) not recorded in {} (first: {}); run `cargo xtask whitelist update` and commit it",
            unrecorded.len(),
            map.whitelist.recorded,
            unrecorded[0]
        ));
    }

    let mut counts = Counts::default();
    if !list_only && !present.is_empty() {
        let selection = Selection {
            targets: present.clone(),
            features: Vec::new(),
            whole_workspace: true,
            filters: Vec::new(),
            env: map.env(false),
            no_capture: false,
        };
        let outcome = runner::run(project, &selection, Output::Terminal)?;
        counts.passed = outcome.count(CaseStatus::Passed);
        counts.failed = outcome.count(CaseStatus::Failed);
        if !outcome.success {
            problems.push(format!(
                "whitelisted targets fail without optional features: `{}`",
                outcome.command
            ));
        }
    }

    println!(
        "whitelist: {} target(s) run ({} tests listed), {gated} gated, {} missing{}",
        present.len(),
        listed.len(),
        missing.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!(
                " (not implemented yet: {})",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        bail!("whitelist check failed with {} problem(s)", problems.len());
    }
    Ok(counts)
}

fn update(project: &Project) -> Result<()> {
    if crate::snapshot::in_ci() {
        bail!("`whitelist update` never rewrites the record in CI (CI is set)");
    }
    let map = SelectorMap::load(&project.root)?;
    let metadata = project.metadata()?;
    let present = present_targets(&map, &metadata);
    let listed = list(project, &map, &present)?;
    let mut text = String::from(
        "# Tests of the backend-optional whitelist, as built with no optional feature.\n# Written by `cargo xtask whitelist update`; checked by `cargo xtask whitelist check`.\n",
    );
    for (target, test) in &listed {
        text += &format!("{target} {test}\n");
    }
    crate::snapshot::write_atomically(&project.path(&map.whitelist.recorded), &text)?;
    println!(
        "{}: {} tests of {} target(s) recorded",
        map.whitelist.recorded,
        listed.len(),
        present.len()
    );
    Ok(())
}

/// The whitelisted targets that exist in the root package.
fn present_targets(map: &SelectorMap, metadata: &Metadata) -> Vec<String> {
    map.whitelist
        .targets
        .iter()
        .filter(|t| metadata.target(t).is_some())
        .cloned()
        .collect()
}

fn read_recorded(project: &Project, map: &SelectorMap) -> Result<Tests> {
    let path = project.path(&map.whitelist.recorded);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tests::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, line)| {
            let (target, test) = line.split_once(' ').with_context(|| {
                format!(
                    "{} line {}: expected `<target> <test path>`, found `{line}`",
                    map.whitelist.recorded,
                    i + 1
                )
            })?;
            Ok((target.to_owned(), test.trim().to_owned()))
        })
        .collect()
}

/// Builds and lists the given targets with no optional feature.
fn list(project: &Project, map: &SelectorMap, targets: &[String]) -> Result<Tests> {
    let mut tests = Tests::new();
    if targets.is_empty() {
        return Ok(tests);
    }
    if project.has_nextest() {
        let cargo = &project.cargo;
        let filter = runner::targets_expr(targets);
        // An explicit profile: under nextest (the harness's own tests) an inherited
        // NEXTEST_PROFILE would otherwise name a profile this workspace may not have.
        let profile = runner::NEXTEST_PROFILE;
        let json = cmd!(
            project.sh,
            "{cargo} nextest list --workspace --profile {profile} -E {filter} --message-format json"
        )
        .envs(map.env(false))
        .read()
        .context("building and listing the whitelisted test targets (cargo nextest list)")?;
        let summary: serde_json::Value =
            serde_json::from_str(&json).context("parsing nextest's test list")?;
        let suites = summary["rust-suites"]
            .as_object()
            .context("nextest's list has no rust-suites")?;
        for suite in suites.values() {
            let target = suite["binary-name"].as_str().unwrap_or_default().to_owned();
            if suite["package-name"] != ROOT_PACKAGE || !targets.contains(&target) {
                continue;
            }
            if let Some(cases) = suite["testcases"].as_object() {
                tests.extend(cases.keys().map(|name| (target.clone(), name.clone())));
            }
        }
    } else {
        for target in targets {
            let selection = Selection {
                targets: vec![target.clone()],
                features: Vec::new(),
                whole_workspace: false,
                filters: Vec::new(),
                env: map.env(false),
                no_capture: false,
            };
            let names = runner::list_with_cargo_test(project, &selection)?;
            tests.extend(names.into_iter().map(|n| (target.clone(), n)));
        }
    }
    Ok(tests)
}
