//! `cargo xtask ci`: everything CI runs, cheapest first, continuing past failures so one run
//! reports every problem: rustfmt, clippy with warnings denied, the fixture manifest, the
//! whitelist check (which runs the whitelisted targets without optional features), the
//! snapshot diff, then every other test of the workspace, the `hdf5` feature (clippy and the
//! product/HDF5 tests of the crates that have it), then the Python package's tests
//! (`scripts/python-test.sh`: the `ptychopinn` wheel built into `target/py-venv`, pytest).
//! `.ci/run` runs exactly this.

use std::time::Instant;

use anyhow::{Result, bail};
use xshell::cmd;

use crate::junit::{self, CaseStatus};
use crate::project::{Project, ROOT_PACKAGE};
use crate::selector_map::SelectorMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip the Python package's tests (they build the wheel and, the first time, install the
    /// pinned maturin, pytest, numpy and ptychodus into target/py-venv); CI runs them.
    #[arg(long)]
    pub no_python: bool,
}

struct Step {
    name: &'static str,
    ok: bool,
    seconds: f64,
}

fn group<T>(name: &str, body: impl FnOnce() -> Result<T>) -> (Result<T>, f64) {
    let ci = crate::snapshot::in_ci();
    if ci {
        println!("::group::{name}");
    } else {
        println!("== {name}");
    }
    let started = Instant::now();
    let result = body();
    if let Err(err) = &result {
        eprintln!("error: {name}: {err:#}");
    }
    if ci {
        println!("::endgroup::");
    }
    (result, started.elapsed().as_secs_f64())
}

/// Passed and failed cases of a JUnit report.
fn count_cases(report: &std::path::Path) -> Result<(usize, usize)> {
    let cases = junit::read_cases(report)?;
    let count = |status: CaseStatus| cases.iter().filter(|c| c.status == status).count();
    Ok((count(CaseStatus::Passed), count(CaseStatus::Failed)))
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let cargo = &project.cargo;
    let sh = &project.sh;
    // The same environment overrides as every other harness run, from the selector map.
    let map = SelectorMap::load(&project.root)?;
    let mut steps = Vec::new();
    let mut passed = 0;
    let mut failed = 0;

    let mut step = |name: &'static str, body: &mut dyn FnMut() -> Result<()>| {
        let (result, seconds) = group(name, body);
        steps.push(Step {
            name,
            ok: result.is_ok(),
            seconds,
        });
    };
    step("rustfmt", &mut || {
        Ok(cmd!(sh, "{cargo} fmt --all -- --check").run()?)
    });
    step("clippy", &mut || {
        Ok(cmd!(
            sh,
            "{cargo} clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()?)
    });
    step("fixtures", &mut || {
        let problems = crate::fixtures::check(&project.root)?;
        for p in &problems {
            eprintln!("{p}");
        }
        if !problems.is_empty() {
            bail!("{} fixture problem(s)", problems.len());
        }
        Ok(())
    });
    step("whitelist check", &mut || {
        let counts = crate::whitelist::check(project, false)?;
        passed += counts.passed;
        failed += counts.failed;
        Ok(())
    });
    step("snapshot diff", &mut || {
        let args = crate::snapshot::Args::diff();
        crate::snapshot::run(project, args)
    });
    step("tests", &mut || {
        if project.has_nextest() {
            // nextest's store is `target/nextest` under the workspace root whatever
            // CARGO_TARGET_DIR says (see runner::junit_path).
            let report = project.path("target").join("nextest/ci/junit.xml");
            if report.exists() {
                std::fs::remove_file(&report)?;
            }
            // The whitelisted targets already ran in the whitelist check; gated targets need
            // their features and are skipped by cargo without them.
            let filter = format!("not (package(={ROOT_PACKAGE}) & kind(test))");
            let result = cmd!(
                sh,
                "{cargo} nextest run --workspace --locked --profile ci -E {filter}"
            )
            .envs(map.env(false))
            .run();
            if report.exists() {
                let (p, f) = count_cases(&report)?;
                passed += p;
                failed += f;
            }
            Ok(result?)
        } else {
            Ok(cmd!(
                sh,
                "{cargo} test --workspace --locked --exclude {ROOT_PACKAGE}"
            )
            .run()?)
        }
    });
    // The `hdf5` feature (ptychodus products, HDF5 diffraction files) links the system libhdf5,
    // which `.ci/run` installs with `.ci/setup-hdf5`. Only the two crates that have the feature
    // are linted and only their product/HDF5 test targets run again with it: the rest of the
    // workspace does not change with it.
    step("hdf5", &mut || {
        cmd!(sh, "bash .ci/setup-hdf5 --check").run()?;
        let features = "ptycho-data/hdf5,ptycho-cli/hdf5";
        cmd!(
            sh,
            "{cargo} clippy -p ptycho-data -p ptycho-cli --all-targets --features {features} --locked -- -D warnings"
        )
        .run()?;
        Ok(cmd!(
            sh,
            "{cargo} test -p ptycho-data -p ptycho-cli --locked --features {features} --test product_files --test product_cli"
        )
        .envs(map.env(false))
        .run()?)
    });
    if !args.no_python {
        step("python", &mut || {
            let report = project.path("target").join("py-tests/junit.xml");
            if report.exists() {
                std::fs::remove_file(&report)?;
            }
            let result = cmd!(sh, "bash scripts/python-test.sh -q --junitxml={report}").run();
            if report.exists() {
                let (p, f) = count_cases(&report)?;
                passed += p;
                failed += f;
            }
            Ok(result?)
        });
    }

    println!("\nci summary:");
    for s in &steps {
        println!(
            "  {:<16} {:<6} {:.1}s",
            s.name,
            if s.ok { "ok" } else { "FAILED" },
            s.seconds
        );
    }
    let failed_steps: Vec<&str> = steps.iter().filter(|s| !s.ok).map(|s| s.name).collect();
    println!("{passed} passed, {failed} failed");
    if !failed_steps.is_empty() {
        bail!("ci failed: {}", failed_steps.join(", "));
    }
    Ok(())
}
