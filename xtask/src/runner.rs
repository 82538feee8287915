//! Runs a selection of the root package's tests through cargo-nextest, or through `cargo test`
//! where nextest is not installed, and reports each test case.
//!
//! With nextest the per-test results come from its JUnit report (profile `xtask` in
//! `.config/nextest.toml`); with `cargo test` the tests are listed first, the filters applied
//! here, and the libtest result lines parsed afterwards.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use xshell::cmd;

use crate::junit::{self, Case, CaseStatus};
use crate::project::{Project, ROOT_PACKAGE, display_command};
use crate::selector_map::Filter;

/// The nextest profile the harness runs under; it writes `junit.xml`.
pub const NEXTEST_PROFILE: &str = "xtask";

#[derive(Debug, Clone)]
pub struct Selection {
    pub targets: Vec<String>,
    pub features: Vec<String>,
    /// Build every test of the workspace and pick the targets by filter, so that the build is
    /// shared with a later workspace-wide run (CI) instead of done twice with other features.
    pub whole_workspace: bool,
    /// Every filter must match (pytest's selector and `-k` together).
    pub filters: Vec<Filter>,
    pub env: Vec<(String, String)>,
    /// Extra arguments for the test binaries' runner (e.g. `--no-capture`).
    pub no_capture: bool,
}

/// Where a run's output goes.
#[derive(Debug)]
pub enum Output<'a> {
    /// Straight to the terminal.
    Terminal,
    /// Into a log file (created or truncated).
    Log(&'a Path),
}

#[derive(Debug)]
pub struct Outcome {
    pub command: String,
    pub success: bool,
    pub cases: Vec<Case>,
    pub duration: Duration,
}

impl Outcome {
    pub fn count(&self, status: CaseStatus) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
    }
}

pub fn run(project: &Project, selection: &Selection, output: Output<'_>) -> Result<Outcome> {
    if let Output::Log(path) = &output {
        File::create(path).with_context(|| format!("creating {}", path.display()))?;
    }
    if project.has_nextest() {
        run_nextest(project, selection, output)
    } else {
        run_cargo_test(project, selection, output)
    }
}

fn common_args(selection: &Selection) -> Vec<String> {
    if selection.whole_workspace {
        return vec!["--workspace".to_owned()];
    }
    let mut args = vec!["--package".to_owned(), ROOT_PACKAGE.to_owned()];
    for target in &selection.targets {
        args.extend(["--test".to_owned(), target.clone()]);
    }
    if !selection.features.is_empty() {
        args.extend(["--features".to_owned(), selection.features.join(",")]);
    }
    args
}

fn run_nextest(project: &Project, selection: &Selection, output: Output<'_>) -> Result<Outcome> {
    let mut args = vec!["nextest".to_owned(), "run".to_owned()];
    args.extend(common_args(selection));
    args.extend(["--profile".to_owned(), NEXTEST_PROFILE.to_owned()]);
    let mut exprs: Vec<String> = selection
        .filters
        .iter()
        .filter_map(Filter::nextest_expr)
        .collect();
    if selection.whole_workspace {
        exprs.insert(0, targets_expr(&selection.targets));
    }
    if !exprs.is_empty() {
        args.extend(["-E".to_owned(), exprs.join(" & ")]);
    }
    if selection.no_capture {
        args.push("--no-capture".to_owned());
    }
    let report = junit_path(project)?;
    // A stale report from an earlier run must never be read as this run's result.
    if report.exists() {
        std::fs::remove_file(&report).with_context(|| format!("removing {}", report.display()))?;
    }
    let (command, success, duration) = execute(project, selection, &args, output)?;
    let cases = if report.exists() {
        junit::read_cases(&report)?
    } else {
        Vec::new()
    };
    Ok(Outcome {
        command,
        success,
        cases,
        duration,
    })
}

/// A filterset picking the root package's given test targets.
pub fn targets_expr(targets: &[String]) -> String {
    let binaries: Vec<String> = targets.iter().map(|t| format!("binary(={t})")).collect();
    format!(
        "package(={ROOT_PACKAGE}) & kind(test) & ({})",
        binaries.join(" | ")
    )
}

/// `<workspace root>/target/nextest/xtask/junit.xml`: nextest keeps its store (`store.dir`,
/// default `target/nextest`) relative to the workspace root, not in cargo's target directory,
/// so a `CARGO_TARGET_DIR` elsewhere does not move the report.
pub fn junit_path(project: &Project) -> Result<PathBuf> {
    Ok(project
        .path("target")
        .join("nextest")
        .join(NEXTEST_PROFILE)
        .join("junit.xml"))
}

fn run_cargo_test(project: &Project, selection: &Selection, output: Output<'_>) -> Result<Outcome> {
    let started = Instant::now();
    let mut cases = Vec::new();
    let mut commands = Vec::new();
    let mut success = true;
    let log = match &output {
        Output::Log(path) => Some(*path),
        Output::Terminal => None,
    };
    for target in &selection.targets {
        let one = Selection {
            targets: vec![target.clone()],
            whole_workspace: false,
            ..selection.clone()
        };
        let names = list_with_cargo_test(project, &one)?;
        let chosen: Vec<String> = names
            .into_iter()
            .filter(|name| selection.filters.iter().all(|f| f.matches(name)))
            .collect();
        if chosen.is_empty() {
            success = false;
            let note = format!("error: no test of target `{target}` matches the selection\n");
            append(log, &note)?;
            eprint!("{note}");
            continue;
        }
        let mut args = vec!["test".to_owned()];
        args.extend(common_args(&one));
        args.extend(["--".to_owned(), "--exact".to_owned()]);
        if selection.no_capture {
            args.push("--nocapture".to_owned());
        }
        args.extend(chosen);
        let already = match log {
            Some(path) => std::fs::read_to_string(path)?.len(),
            None => 0,
        };
        let (command, ok, _) = execute(project, selection, &args, append_output(log))?;
        success &= ok;
        commands.push(command);
        if let Some(path) = log {
            let text = std::fs::read_to_string(path)?;
            cases.extend(junit::parse_libtest(target, &text[already..]));
        }
    }
    Ok(Outcome {
        command: commands.join(" && "),
        success,
        cases,
        duration: started.elapsed(),
    })
}

fn append_output(log: Option<&Path>) -> Output<'_> {
    match log {
        Some(path) => Output::Log(path),
        None => Output::Terminal,
    }
}

fn append(log: Option<&Path>, text: &str) -> Result<()> {
    if let Some(path) = log {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?;
        file.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// Test names of one target as `cargo test -- --list` prints them.
pub fn list_with_cargo_test(project: &Project, selection: &Selection) -> Result<Vec<String>> {
    let cargo = &project.cargo;
    let args = common_args(selection);
    let listing = cmd!(
        project.sh,
        "{cargo} test --quiet {args...} -- --list --format terse"
    )
    .envs(selection.env.iter().map(|(k, v)| (k, v)))
    .quiet()
    .read()
    .with_context(|| format!("listing the tests of {}", selection.targets.join(", ")))?;
    Ok(listing
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// Runs `cargo <args>` with the selection's environment; output to the terminal or appended to
/// the log. Returns the printed command, whether it succeeded, and how long it took.
fn execute(
    project: &Project,
    selection: &Selection,
    args: &[String],
    output: Output<'_>,
) -> Result<(String, bool, Duration)> {
    let command = display_command(&selection.env, &project.cargo, args);
    let cargo = &project.cargo;
    let cmd = cmd!(project.sh, "{cargo} {args...}").envs(selection.env.iter().map(|(k, v)| (k, v)));
    // xshell cannot redirect to a file or report an ignored exit status, so the command is handed
    // to std::process; in a log, stdout and stderr share one descriptor so their lines stay in
    // order.
    let mut process: std::process::Command = cmd.into();
    process.current_dir(&project.root);
    match output {
        Output::Terminal => eprintln!("$ {command}"),
        Output::Log(path) => {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            use std::io::Write;
            writeln!(file, "$ {command}")?;
            process.stdout(file.try_clone()?).stderr(file);
        }
    }
    let started = Instant::now();
    let success = process
        .status()
        .with_context(|| format!("running {command}"))?
        .success();
    Ok((command, success, started.elapsed()))
}
