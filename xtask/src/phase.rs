//! `cargo xtask phase <id>`: runs every category of a phase from the selector map (d4b, d4c,
//! smoke, full), continuing past failures, and writes a report folder
//! `target/reports/<UTC %Y%m%dT%H%M%SZ>/` with one log per run named as the seed names them,
//! `junit.xml`, `summary.json`, `summary.md` and, where the phase has one, the handoff note.
//!
//! A category whose test target does not exist yet is reported as missing, which is red: it
//! never counts as passed.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;

use crate::junit::{Case, CaseStatus};
use crate::project::Project;
use crate::report;
use crate::runner::{self, Output, Selection};
use crate::selector_map::{Filter, SelectorMap};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The phase id (see `cargo xtask selectors`)
    id: String,
    /// Verbose overrides (backtraces, debug logging) in every run
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Passed,
    Failed,
    Missing,
}

#[derive(Debug, serde::Serialize)]
pub struct RunResult {
    pub category: String,
    pub title: String,
    pub seed_module: String,
    pub target: String,
    pub selector: Option<String>,
    pub required: bool,
    pub status: RunStatus,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    pub budget_s: u64,
    pub log: String,
    pub command: String,
    pub cases: Vec<Case>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl RunResult {
    pub fn over_budget(&self) -> bool {
        self.duration.as_secs_f64() > self.budget_s as f64
    }
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let map = SelectorMap::load(&project.root)?;
    let phase = map.phase(&args.id)?;
    let metadata = project.metadata()?;
    let started = OffsetDateTime::now_utc();
    let dir = report::fresh_dir(project, "", started)?;
    println!("phase {}: {}", phase.id, phase.title);

    let mut results = Vec::new();
    for run in &phase.runs {
        let category = map.category(&run.category)?;
        let selector = run
            .selector
            .as_deref()
            .map(|s| category.selector(s))
            .transpose()?;
        let log_name = format!(
            "{}{}.log",
            phase.log_prefix,
            run.log.as_deref().unwrap_or(&category.log)
        );
        let log = dir.join(&log_name);
        let label = match selector {
            Some(s) => format!("{}::{}", category.name, s.name),
            None => category.name.clone(),
        };
        let mut result = RunResult {
            category: category.name.clone(),
            title: category.title.clone(),
            seed_module: category.seed_module.clone(),
            target: category.target.clone(),
            selector: selector.map(|s| s.name.clone()),
            required: run.required,
            status: RunStatus::Missing,
            passed: 0,
            failed: 0,
            skipped: 0,
            duration: Duration::ZERO,
            budget_s: category.budget_s,
            log: log_name,
            command: String::new(),
            cases: Vec::new(),
        };
        if metadata.target(&category.target).is_none() {
            std::fs::write(
                &log,
                format!(
                    "missing: test target `{}` (category `{}`, seed module {}) does not exist yet.\n\
                     Declare it in the root Cargo.toml as [[test]] name = \"{0}\" with its tests under tests/{0}/.\n",
                    category.target, category.name, category.seed_module
                ),
            )
            .with_context(|| format!("writing {}", log.display()))?;
        } else if let Err(why) = prepare_backend(project, &category.features) {
            std::fs::write(&log, format!("{why}\n"))
                .with_context(|| format!("writing {}", log.display()))?;
            result.status = RunStatus::Failed;
        } else {
            let selection = Selection {
                targets: vec![category.target.clone()],
                features: category.features.clone(),
                // Without features, build what CI builds (every workspace test, picked by a
                // filter): one shared build, and the `ptycho` binary the integration test
                // asks for is already built with the same features.
                whole_workspace: category.features.is_empty(),
                filters: selector
                    .map(|s| s.filter())
                    .into_iter()
                    .filter(|f| *f != Filter::All)
                    .collect(),
                env: map.env(args.verbose),
                no_capture: false,
            };
            let outcome = runner::run(project, &selection, Output::Log(&log))?;
            result.passed = outcome.count(CaseStatus::Passed);
            result.failed = outcome.count(CaseStatus::Failed);
            result.skipped = outcome.count(CaseStatus::Skipped);
            result.duration = outcome.duration;
            result.command = outcome.command;
            result.status = if outcome.success && result.failed == 0 && result.passed > 0 {
                RunStatus::Passed
            } else {
                RunStatus::Failed
            };
            result.cases = outcome.cases;
        }
        println!(
            "  {:<8} {label:<45} {} passed, {} failed, {} skipped  {:.1}s  {}",
            report::status_label(result.status),
            result.passed,
            result.failed,
            result.skipped,
            result.duration.as_secs_f64(),
            result.log
        );
        results.push(result);
    }

    report::write(&dir, &map, phase, started, &results)?;
    std::fs::write(
        project.path("target/reports/latest"),
        format!("{}\n", dir.display()),
    )?;
    println!("report: {}", dir.display());
    let red: Vec<&str> = results
        .iter()
        .filter(|r| r.required && r.status != RunStatus::Passed)
        .map(|r| r.category.as_str())
        .collect();
    if !red.is_empty() {
        bail!(
            "phase {}: {} required run(s) not green: {}",
            phase.id,
            red.len(),
            red.join(", ")
        );
    }
    Ok(())
}

/// Makes the runtime of a category's optional backend available: a category built with the
/// `wgpu` feature needs a Vulkan adapter, which `.ci/setup-vulkan` finds or installs (Mesa's
/// software Vulkan where there is no GPU). The error carries the script's own explanation.
fn prepare_backend(project: &Project, features: &[String]) -> Result<(), String> {
    if !features.iter().any(|f| f == "wgpu") {
        return Ok(());
    }
    let script = project.path(".ci/setup-vulkan");
    let output = std::process::Command::new(&script)
        .current_dir(&project.root)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the wgpu backend needs a Vulkan adapter; {} failed ({}):\n{text}",
            script.display(),
            output.status
        ))
    }
}
