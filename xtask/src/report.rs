//! The files of a phase report folder: `junit.xml`, `summary.json`, `summary.md` (also under
//! the seed's name for the phase, e.g. `phase_d4_red_summary.md`) and the handoff note; and the
//! fresh timestamped folder every report goes into.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::junit::{self, CaseStatus};
use crate::phase::{RunResult, RunStatus};
use crate::project::Project;
use crate::selector_map::{Phase, SelectorMap};

pub fn status_label(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Passed => "green",
        RunStatus::Failed => "RED",
        RunStatus::Missing => "MISSING",
    }
}

fn run_label(r: &RunResult) -> String {
    match &r.selector {
        Some(s) => format!("{}::{s}", r.category),
        None => r.category.clone(),
    }
}

pub fn write(
    dir: &Path,
    map: &SelectorMap,
    phase: &Phase,
    started: OffsetDateTime,
    results: &[RunResult],
) -> Result<()> {
    let write = |name: &str, text: &str| -> Result<()> {
        // atomically, so a report is never half-written (the error names the file)
        Ok(ptycho_fs::write_atomically(
            &dir.join(name),
            text.as_bytes(),
        )?)
    };
    let suites: Vec<(String, Vec<junit::Case>)> = results
        .iter()
        .map(|r| (run_label(r), r.cases.clone()))
        .collect();
    write(
        "junit.xml",
        &junit::render(&format!("phase {}", phase.id), &suites),
    )?;
    write("summary.json", &summary_json(phase, started, results)?)?;
    let md = summary_md(phase, started, results);
    write("summary.md", &md)?;
    if phase.summary != "summary.md" {
        write(&phase.summary, &md)?;
    }
    if let Some(handoff) = &phase.handoff {
        write(handoff, &handoff_md(map, phase, started, results))?;
    }
    Ok(())
}

fn green(results: &[RunResult]) -> bool {
    results
        .iter()
        .all(|r| !r.required || r.status == RunStatus::Passed)
}

fn summary_json(phase: &Phase, started: OffsetDateTime, results: &[RunResult]) -> Result<String> {
    let value = serde_json::json!({
        "phase": phase.id,
        "title": phase.title,
        "started": started.format(&Rfc3339)?,
        "green": green(results),
        "totals": {
            "passed": results.iter().map(|r| r.passed).sum::<usize>(),
            "failed": results.iter().map(|r| r.failed).sum::<usize>(),
            "skipped": results.iter().map(|r| r.skipped).sum::<usize>(),
            "missing_categories": results.iter().filter(|r| r.status == RunStatus::Missing).count(),
        },
        "runs": results,
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

fn summary_md(phase: &Phase, started: OffsetDateTime, results: &[RunResult]) -> String {
    let mut md = format!("# {}\n\n", phase.title);
    let when = started.format(&Rfc3339).unwrap_or_default();
    let verdict = if green(results) { "GREEN" } else { "RED" };
    let _ = writeln!(
        md,
        "`cargo xtask phase {}` started {when}: **{verdict}**\n",
        phase.id
    );
    md +=
        "| category | selector | result | passed | failed | skipped | duration / budget | log |\n";
    md += "|---|---|---|---|---|---|---|---|\n";
    for r in results {
        let budget = if r.over_budget() {
            " (over budget)"
        } else {
            ""
        };
        let required = if r.required { "" } else { " (optional)" };
        let _ = writeln!(
            md,
            "| {}{required} | {} | {} | {} | {} | {} | {:.1} s / {} s{budget} | [{}]({}) |",
            r.category,
            r.selector.as_deref().unwrap_or("all"),
            status_label(r.status),
            r.passed,
            r.failed,
            r.skipped,
            r.duration.as_secs_f64(),
            r.budget_s,
            r.log,
            r.log
        );
    }
    let problems: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.status != RunStatus::Passed)
        .collect();
    if !problems.is_empty() {
        md += "\n## Not green\n\n";
        for r in problems {
            match r.status {
                RunStatus::Missing => {
                    let _ = writeln!(
                        md,
                        "- {}: test target `{}` does not exist yet",
                        run_label(r),
                        r.target
                    );
                }
                _ => {
                    let failed: Vec<String> = r
                        .cases
                        .iter()
                        .filter(|c| c.status == CaseStatus::Failed)
                        .map(|c| format!("`{}`", c.name))
                        .collect();
                    let what = if failed.is_empty() {
                        "the run failed before any test failed (build error or no matching test); see the log".to_owned()
                    } else {
                        format!("failed: {}", failed.join(", "))
                    };
                    let _ = writeln!(md, "- {}: {what} ({})", run_label(r), r.log);
                }
            }
        }
    }
    md
}

fn handoff_md(
    map: &SelectorMap,
    phase: &Phase,
    started: OffsetDateTime,
    results: &[RunResult],
) -> String {
    let when = started.format(&Rfc3339).unwrap_or_default();
    let passed = results
        .iter()
        .filter(|r| r.status == RunStatus::Passed)
        .count();
    let mut md = format!("# Handoff: {}\n\n", phase.title);
    let _ = writeln!(
        md,
        "Written by `cargo xtask phase {}` ({when}). {passed} of {} runs green; verdict **{}**.\n",
        phase.id,
        results.len(),
        if green(results) { "GREEN" } else { "RED" }
    );
    md += "## Categories\n\n| seed module | Rust test target | result | tests passed | reproduce |\n|---|---|---|---|---|\n";
    for r in results {
        let _ = writeln!(
            md,
            "| `{}` | `tests/{}/` | {} | {} | `cargo xtask test {}` |",
            r.seed_module,
            r.target,
            status_label(r.status),
            r.passed,
            run_label(r)
        );
    }
    md += "\n## Environment\n\nEvery run had: ";
    let env: Vec<String> = map
        .env
        .required
        .iter()
        .map(|(k, v)| format!("`{k}={v}`"))
        .collect();
    md += &env.join(", ");
    let _ = writeln!(
        md,
        "; `--verbose` or `{}=1` adds backtraces and debug logging.\n",
        map.env.verbose_switch
    );
    md += "## Open items\n\n";
    let open: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.status != RunStatus::Passed)
        .collect();
    if open.is_empty() {
        md += "None: every category is green.\n";
    }
    for r in open {
        let _ = writeln!(
            md,
            "- {} ({}): {}; log `{}`",
            run_label(r),
            r.title,
            status_label(r.status),
            r.log
        );
    }
    md += "\n## Artifacts\n\n- `summary.md`, `summary.json`, `junit.xml`\n";
    for r in results {
        let _ = writeln!(md, "- `{}`", r.log);
    }
    md
}

/// A fresh `target/reports/<prefix><UTC timestamp>/` (phase, bench and realdata reports); a
/// second run within the same second gets a suffix.
pub fn fresh_dir(project: &Project, prefix: &str, when: OffsetDateTime) -> Result<PathBuf> {
    let stamp = when.format(format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))?;
    let base = project.path("target/reports");
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    for attempt in 0..100 {
        let name = if attempt == 0 {
            format!("{prefix}{stamp}")
        } else {
            format!("{prefix}{stamp}-{attempt}")
        };
        let dir = base.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!(
        "could not create a fresh report folder under {}",
        base.display()
    )
}
