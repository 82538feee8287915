//! `cargo xtask bench [-p PACKAGE]... [--bench NAME]`: runs the criterion benchmarks and
//! collects what this run measured into `target/reports/bench-<UTC timestamp>/` as
//! `bench.json` and `bench.md`: the median time of each benchmark with its 95 % confidence
//! interval and, where the benchmark declares a throughput, elements (or bytes) per second.
//!
//! `cargo xtask bench --peer` instead times our model against PyTorch (see [`crate::peer`]).
//!
//! Speed goals live here, never in timed tests: the machines are shared and noisy, so criterion
//! repeats each measurement and the report quotes medians.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use xshell::cmd;

use crate::project::Project;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the benchmarks of these packages (default: every workspace member)
    #[arg(short = 'p', long = "package")]
    packages: Vec<String>,
    /// Only this bench target
    #[arg(long)]
    bench: Option<String>,
    /// Arguments for criterion, after `--` (e.g. a benchmark name filter)
    #[arg(last = true)]
    criterion: Vec<String>,
    /// Instead of criterion: time our generator's training and inference side by side with a
    /// PyTorch model of the same architecture (installs PyTorch into target/peer-venv; not CI)
    #[arg(long, conflicts_with_all = ["packages", "bench", "criterion"])]
    peer: bool,
    /// With --peer: runs of each side per case and mode (the table quotes their medians)
    #[arg(long, default_value_t = 5, requires = "peer")]
    peer_repeats: usize,
    /// With --peer: cases as N:batch:gridsize:nfs, comma-separated
    /// (default 64:16:1:2,64:16:2:2,64:4:2:1,128:16:1:2)
    #[arg(long, value_delimiter = ',', requires = "peer")]
    peer_cases: Vec<crate::peer::Case>,
    /// With --peer: warmup steps of each run, before the timed ones
    #[arg(long, default_value_t = 2, requires = "peer")]
    peer_warmup: usize,
    /// With --peer: timed steps of each run (a run reports its median step)
    #[arg(long, default_value_t = 5, requires = "peer")]
    peer_steps: usize,
    /// With --peer: run PyTorch with glibc's allocator set as our program sets it (keeping freed
    /// buffers instead of mapping fresh pages), to compare without that difference
    #[arg(long, requires = "peer")]
    peer_torch_keeps_freed_memory: bool,
}

#[derive(Debug, Serialize)]
pub struct Measurement {
    pub id: String,
    pub median_ns: f64,
    pub median_low_ns: f64,
    pub median_high_ns: f64,
    /// Elements or bytes per second at the median, when the benchmark declares a throughput.
    pub throughput_per_s: Option<f64>,
    pub throughput_unit: Option<String>,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    if args.peer {
        let cases = if args.peer_cases.is_empty() {
            crate::peer::DEFAULT_CASES.to_vec()
        } else {
            args.peer_cases
        };
        let options = crate::peer::Options {
            cases,
            repeats: args.peer_repeats,
            warmup: args.peer_warmup,
            steps: args.peer_steps,
            torch_keeps_freed_memory: args.peer_torch_keeps_freed_memory,
        };
        return crate::peer::run(project, &options);
    }
    let started = SystemTime::now();
    let cargo = &project.cargo;
    let mut cargo_args = Vec::new();
    if args.packages.is_empty() {
        cargo_args.push("--workspace".to_owned());
    }
    for p in &args.packages {
        cargo_args.extend(["--package".to_owned(), p.clone()]);
    }
    if let Some(bench) = &args.bench {
        cargo_args.extend(["--bench".to_owned(), bench.clone()]);
    }
    let criterion = &args.criterion;
    cmd!(
        project.sh,
        "{cargo} bench {cargo_args...} -- {criterion...}"
    )
    .run()
    .context("running the benchmarks")?;

    let criterion_dir = project.metadata()?.target_directory.join("criterion");
    let measurements = collect(&criterion_dir, started)?;
    if measurements.is_empty() {
        bail!(
            "the run produced no criterion measurements under {}",
            criterion_dir.display()
        );
    }
    let dir = crate::report::fresh_dir(project, "bench-", OffsetDateTime::now_utc())?;
    std::fs::write(
        dir.join("bench.json"),
        serde_json::to_string_pretty(&measurements)? + "\n",
    )?;
    let md = markdown(&measurements);
    std::fs::write(dir.join("bench.md"), &md)?;
    print!("\n{md}");
    println!("report: {}", dir.display());
    Ok(())
}

/// Every `new/estimates.json` under the criterion folder written since `since`.
fn collect(criterion_dir: &Path, since: SystemTime) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/estimates.json") {
                let fresh = path.metadata()?.modified()? >= since;
                if fresh {
                    found.push(read_measurement(path.parent().expect("new/ has a parent"))?);
                }
            }
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One criterion result folder (`.../new/`) with `estimates.json` and `benchmark.json`.
fn read_measurement(dir: &Path) -> Result<Measurement> {
    let estimates = read_json(&dir.join("estimates.json"))?;
    let benchmark = read_json(&dir.join("benchmark.json"))?;
    let median = &estimates["median"];
    let number = |v: &Value, what: &str| {
        v.as_f64()
            .with_context(|| format!("{}: no {what}", dir.display()))
    };
    let median_ns = number(&median["point_estimate"], "median")?;
    let (throughput_per_s, throughput_unit) = match benchmark["throughput"].as_object() {
        Some(t) => match t.iter().next() {
            Some((unit, amount)) => {
                let amount = number(amount, "throughput amount")?;
                (Some(amount / (median_ns * 1e-9)), Some(unit.to_lowercase()))
            }
            None => (None, None),
        },
        None => (None, None),
    };
    Ok(Measurement {
        id: benchmark["full_id"].as_str().unwrap_or_default().to_owned(),
        median_ns,
        median_low_ns: number(
            &median["confidence_interval"]["lower_bound"],
            "median lower bound",
        )?,
        median_high_ns: number(
            &median["confidence_interval"]["upper_bound"],
            "median upper bound",
        )?,
        throughput_per_s,
        throughput_unit,
    })
}

fn human_time(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.3} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.3} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.3} µs", ns / 1e3),
        ns => format!("{ns:.1} ns"),
    }
}

fn markdown(measurements: &[Measurement]) -> String {
    let mut md = String::from(
        "| benchmark | median | 95% CI of the median | throughput |\n|---|---|---|---|\n",
    );
    for m in measurements {
        let throughput = match (m.throughput_per_s, &m.throughput_unit) {
            (Some(rate), Some(unit)) => format!("{rate:.4e} {unit}/s"),
            _ => "-".to_owned(),
        };
        md += &format!(
            "| {} | {} | {} – {} | {throughput} |\n",
            m.id,
            human_time(m.median_ns),
            human_time(m.median_low_ns),
            human_time(m.median_high_ns)
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_results_and_derives_throughput() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("grouping/100k/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median": {"point_estimate": 2000000.0, "confidence_interval": {"lower_bound": 1900000.0, "upper_bound": 2100000.0, "confidence_level": 0.95}}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"group_id": "grouping", "function_id": "100k", "full_id": "grouping/100k", "throughput": {"Elements": 100000}}"#,
        )
        .unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        let found = collect(dir.path(), old).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "grouping/100k");
        assert!((found[0].throughput_per_s.unwrap() - 5e7).abs() < 1.0);
        assert_eq!(found[0].throughput_unit.as_deref(), Some("elements"));
        let md = markdown(&found);
        assert!(
            md.contains("| grouping/100k | 2.000 ms | 1.900 ms – 2.100 ms | 5.0000e7 elements/s |"),
            "{md}"
        );
        // Results older than the run are not this run's.
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert!(collect(dir.path(), later).unwrap().is_empty());
    }
}
