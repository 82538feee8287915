//! `cargo xtask fuzz [--seconds N] [--target NAME]...`: runs the cargo-fuzz targets of `fuzz/`
//! (its own workspace; nightly and `cargo-fuzz` required) one after the other and reports, per
//! target, the seconds fuzzed, the executions, the coverage and the findings into
//! `target/reports/fuzz-<UTC timestamp>/` as `fuzz.json`, `fuzz.md` and one `<target>.log`.
//!
//! Each target runs as
//! `cargo +nightly fuzz run <target> <work corpus> fuzz/corpus/<target> -- -max_total_time=N
//! -rss_limit_mb=M -timeout=T -dict=fuzz/dicts/<target>.dict -print_final_stats=1`.
//! New inputs go to the work corpus `target/fuzz-corpus/<target>/` (kept between runs, never
//! committed); the seed corpus in git stays small. Executions and coverage come from libFuzzer's
//! last status line and final stats; findings are the files that appeared under
//! `fuzz/artifacts/<target>/` during the run (crashes, timeouts, out-of-memory inputs). A run
//! with findings fails after the report is written: minimise each (`cargo +nightly fuzz tmin`),
//! fix its cause, and keep it under `fuzz/regressions/<target>/`, which CI replays on stable.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xshell::cmd;

use crate::project::Project;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to fuzz each target (libFuzzer's -max_total_time)
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Only these targets (default: every [[bin]] of fuzz/Cargo.toml)
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Memory limit of the fuzzed process in MiB (libFuzzer's -rss_limit_mb and
    /// -malloc_limit_mb): an input needing more is an out-of-memory finding
    #[arg(long, default_value_t = 2048)]
    rss_limit_mb: u64,
    /// Seconds one input may take (libFuzzer's -timeout): a slower one is a timeout finding
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// What one target's run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Inputs executed.
    pub execs: Option<u64>,
    /// Coverage points (libFuzzer's `cov:`, edges reached).
    pub cov: Option<u64>,
    /// Features (libFuzzer's `ft:`).
    pub features: Option<u64>,
    /// Inputs in the corpus at the end (libFuzzer's `corp:`).
    pub corpus: Option<u64>,
    /// Peak resident memory in MiB (libFuzzer's `rss:`).
    pub rss_mb: Option<u64>,
}

#[derive(Debug, Serialize)]
struct TargetReport {
    target: String,
    seconds: f64,
    exit_ok: bool,
    #[serde(flatten)]
    stats: Stats,
    /// New files under fuzz/artifacts/<target>/, relative to the workspace root.
    findings: Vec<String>,
    log: String,
}

/// The fuzz targets: the `[[bin]]` names of `fuzz/Cargo.toml`, in file order.
pub fn targets(manifest: &str) -> Result<Vec<String>> {
    let doc: toml::Table = manifest.parse().context("parsing fuzz/Cargo.toml")?;
    let Some(bins) = doc.get("bin").and_then(|b| b.as_array()) else {
        bail!("fuzz/Cargo.toml declares no [[bin]] targets");
    };
    bins.iter()
        .map(|b| {
            b.get("name")
                .and_then(|n| n.as_str())
                .map(str::to_owned)
                .context("a [[bin]] of fuzz/Cargo.toml has no name")
        })
        .collect()
}

/// The cargo features target `name` needs (its `required-features`): the checkpoint target's
/// model dependencies are optional so that the other targets build without them.
pub fn required_features(manifest: &str, name: &str) -> Result<Vec<String>> {
    let doc: toml::Table = manifest.parse().context("parsing fuzz/Cargo.toml")?;
    let bin = doc
        .get("bin")
        .and_then(|b| b.as_array())
        .and_then(|bins| {
            bins.iter()
                .find(|b| b.get("name").and_then(|n| n.as_str()) == Some(name))
        })
        .with_context(|| format!("fuzz/Cargo.toml has no [[bin]] `{name}`"))?;
    let Some(features) = bin.get("required-features") else {
        return Ok(Vec::new());
    };
    features
        .as_array()
        .and_then(|f| f.iter().map(|v| v.as_str().map(str::to_owned)).collect())
        .with_context(|| {
            format!("required-features of fuzz target `{name}` is not a list of names")
        })
}

/// The value after `key` (e.g. `cov:`) in a libFuzzer status line, `1.2Mb`-style suffixes cut.
fn field(line: &str, key: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == key)?;
    let value = words.next()?;
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Executions and coverage from a libFuzzer log: the last status line (`#N ... cov: C ft: F
/// corp: K/..`) and, when present, the final stats (`stat::number_of_executed_units: N`,
/// `stat::peak_rss_mb: M`), which also hold after a crash.
pub fn parse_stats(log: &str) -> Stats {
    let mut stats = Stats::default();
    for line in log.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('#')
            && line.contains(" cov: ")
        {
            let execs: String = rest.chars().take_while(char::is_ascii_digit).collect();
            stats.execs = execs.parse().ok().or(stats.execs);
            stats.cov = field(line, "cov:").or(stats.cov);
            stats.features = field(line, "ft:").or(stats.features);
            stats.corpus = field(line, "corp:").or(stats.corpus);
            stats.rss_mb = field(line, "rss:").or(stats.rss_mb);
        } else if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            stats.execs = n.trim().parse().ok().or(stats.execs);
        } else if let Some(n) = line.strip_prefix("stat::peak_rss_mb:") {
            stats.rss_mb = n.trim().parse().ok().or(stats.rss_mb);
        }
    }
    stats
}

/// The files of `dir` (names only; none when it does not exist).
fn listing(dir: &Path) -> Result<BTreeSet<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("listing {}", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e).with_context(|| format!("listing {}", dir.display())),
    }
}

fn cell(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

fn render_md(reports: &[TargetReport], args: &Args, started: OffsetDateTime) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# cargo xtask fuzz\n");
    let _ = writeln!(
        md,
        "Started {}; {} s per target, -rss_limit_mb={}, -timeout={}.\n",
        started
            .format(&Rfc3339)
            .unwrap_or_else(|_| started.to_string()),
        args.seconds,
        args.rss_limit_mb,
        args.timeout
    );
    let _ = writeln!(
        md,
        "| target | seconds | execs | exec/s | cov | ft | corpus | findings |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---|");
    for r in reports {
        let rate = r.stats.execs.filter(|_| r.seconds > 0.0).map_or_else(
            || "?".to_owned(),
            |e| format!("{:.0}", e as f64 / r.seconds),
        );
        let findings = if r.findings.is_empty() {
            "none".to_owned()
        } else {
            r.findings.join("<br>")
        };
        let _ = writeln!(
            md,
            "| {} | {:.0} | {} | {rate} | {} | {} | {} | {findings} |",
            r.target,
            r.seconds,
            cell(r.stats.execs),
            cell(r.stats.cov),
            cell(r.stats.features),
            cell(r.stats.corpus),
        );
    }
    md
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let fuzz = project.path("fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml"))
        .with_context(|| format!("reading {}", fuzz.join("Cargo.toml").display()))?;
    let all = targets(&manifest)?;
    let chosen = if args.targets.is_empty() {
        all.clone()
    } else {
        for t in &args.targets {
            if !all.contains(t) {
                bail!(
                    "no fuzz target `{t}`; fuzz/Cargo.toml has {}",
                    all.join(", ")
                );
            }
        }
        args.targets.clone()
    };
    let sh = &project.sh;
    // The rustup proxy, not `$CARGO` (the stable toolchain's own binary, which does not
    // understand `+nightly`).
    let cargo = "cargo";
    if cmd!(sh, "{cargo} +nightly fuzz --version")
        .quiet()
        .ignore_stderr()
        .read()
        .is_err()
    {
        bail!(
            "cargo-fuzz on the nightly toolchain is required: `rustup toolchain install nightly` and `cargo install cargo-fuzz --locked`"
        );
    }
    let started = OffsetDateTime::now_utc();
    let dir = crate::report::fresh_dir(project, "fuzz-", started)?;
    let (seconds, rss, timeout) = (
        args.seconds.to_string(),
        args.rss_limit_mb.to_string(),
        args.timeout.to_string(),
    );
    let mut reports = Vec::new();
    for target in &chosen {
        let features = required_features(&manifest, target)?;
        let flags: &[String] = &if features.is_empty() {
            Vec::new()
        } else {
            vec!["--features".to_owned(), features.join(",")]
        };
        cmd!(sh, "{cargo} +nightly fuzz build {flags...} {target}")
            .run()
            .with_context(|| format!("building fuzz target {target}"))?;
        let artifacts = fuzz.join("artifacts").join(target);
        let before = listing(&artifacts)?;
        let work = project.path("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let seeds = fuzz.join("corpus").join(target);
        let mut extra = Vec::new();
        let dict = fuzz.join("dicts").join(format!("{target}.dict"));
        if dict.is_file() {
            extra.push(format!("-dict={}", dict.display()));
        }
        eprintln!("fuzzing {target} for {seconds} s");
        let clock = Instant::now();
        let output = cmd!(
            sh,
            "{cargo} +nightly fuzz run {flags...} {target} {work} {seeds} -- -max_total_time={seconds} -rss_limit_mb={rss} -malloc_limit_mb={rss} -timeout={timeout} -print_final_stats=1 {extra...}"
        )
        .ignore_status()
        .quiet()
        .output()
        .with_context(|| format!("running fuzz target {target}"))?;
        let seconds_run = clock.elapsed().as_secs_f64();
        let log = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        let log_name = format!("{target}.log");
        ptycho_fs::write_atomically(&dir.join(&log_name), log.as_bytes())?;
        let after = listing(&artifacts)?;
        let findings: Vec<String> = after
            .difference(&before)
            .map(|f| format!("fuzz/artifacts/{target}/{f}"))
            .collect();
        let stats = parse_stats(&log);
        eprintln!(
            "{target}: {} execs, cov {}, {} findings",
            cell(stats.execs),
            cell(stats.cov),
            findings.len()
        );
        reports.push(TargetReport {
            target: target.clone(),
            seconds: seconds_run,
            exit_ok: output.status.success(),
            stats,
            findings,
            log: log_name,
        });
    }
    let json = serde_json::to_string_pretty(&reports)? + "\n";
    ptycho_fs::write_atomically(&dir.join("fuzz.json"), json.as_bytes())?;
    let md = render_md(&reports, &args, started);
    ptycho_fs::write_atomically(&dir.join("fuzz.md"), md.as_bytes())?;
    print!("{md}");
    println!("\nreport: {}", dir.display());
    let found: usize = reports.iter().map(|r| r.findings.len()).sum();
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.exit_ok && r.findings.is_empty())
        .map(|r| r.target.as_str())
        .collect();
    if found > 0 {
        bail!(
            "{found} findings under fuzz/artifacts; reproduce with `cargo +nightly fuzz run <target> <file>`, fix, and keep each under fuzz/regressions/<target>/"
        );
    }
    if !failed.is_empty() {
        bail!(
            "fuzzing failed without a finding for {} (see their logs in {})",
            failed.join(", "),
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
INFO: Seed: 1234
INFO: Loaded 1 modules   (51234 inline 8-bit counters)
#2	INITED cov: 310 ft: 311 corp: 1/1b exec/s: 0 rss: 44Mb
#1024	pulse  cov: 1200 ft: 2501 corp: 40/3121b lim: 1045 exec/s: 512 rss: 61Mb
#48213	NEW    cov: 1311 ft: 2900 corp: 57/4Kb lim: 4096 exec/s: 803 rss: 90Mb L: 310/4096 MS: 2 CopyPart-ChangeByte-
#60001	DONE   cov: 1312 ft: 2904 corp: 58/4Kb lim: 4096 exec/s: 1000 rss: 93Mb
Done 60001 runs in 61 second(s)
stat::number_of_executed_units: 60001
stat::average_exec_per_sec:     983
stat::new_units_added:          57
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              94
";

    #[test]
    fn stats_come_from_the_last_status_line_and_final_stats() {
        let stats = parse_stats(LOG);
        assert_eq!(
            stats,
            Stats {
                execs: Some(60001),
                cov: Some(1312),
                features: Some(2904),
                corpus: Some(58),
                rss_mb: Some(94),
            }
        );
    }

    #[test]
    fn a_crashed_run_keeps_its_last_status_line() {
        let log = "#77\tNEW    cov: 512 ft: 600 corp: 9/120b lim: 4 exec/s: 0 rss: 40Mb\n\
                   ==1== ERROR: libFuzzer: deadly signal\n\
                   stat::number_of_executed_units: 80\n";
        let stats = parse_stats(log);
        assert_eq!(
            (stats.execs, stats.cov, stats.corpus),
            (Some(80), Some(512), Some(9))
        );
        assert_eq!(parse_stats("error: no such target"), Stats::default());
    }

    #[test]
    fn targets_are_the_bins_of_the_fuzz_manifest() {
        let manifest = "[package]\nname = \"f\"\n[[bin]]\nname = \"npz_scan\"\npath = \"a.rs\"\n\
                        [[bin]]\nname = \"bundle\"\npath = \"b.rs\"\n";
        assert_eq!(targets(manifest).unwrap(), ["npz_scan", "bundle"]);
        let err = targets("[package]\nname = \"f\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "fuzz/Cargo.toml declares no [[bin]] targets");
    }

    #[test]
    fn only_the_checkpoint_target_needs_features() {
        let manifest = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml"),
        )
        .unwrap();
        assert_eq!(
            required_features(&manifest, "checkpoint").unwrap(),
            ["checkpoint"]
        );
        assert!(required_features(&manifest, "bundle").unwrap().is_empty());
        let err = required_features(&manifest, "nope")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "fuzz/Cargo.toml has no [[bin]] `nope`");
    }

    #[test]
    fn the_real_fuzz_manifest_lists_every_reader() {
        let manifest = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml"),
        )
        .unwrap();
        let names = targets(&manifest).unwrap();
        for t in [
            "npz_scan",
            "bundle",
            "config",
            "torch_bridge",
            "memmap_manifest",
            "checkpoint",
        ] {
            assert!(names.iter().any(|n| n == t), "{t} missing from {names:?}");
            let dict = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/dicts")
                .join(format!("{t}.dict"));
            assert!(dict.is_file(), "{} missing", dict.display());
        }
    }

    #[test]
    fn the_table_shows_rate_and_findings() {
        let args = Args {
            seconds: 60,
            targets: Vec::new(),
            rss_limit_mb: 2048,
            timeout: 10,
        };
        let reports = [TargetReport {
            target: "npz_scan".into(),
            seconds: 60.0,
            exit_ok: false,
            stats: parse_stats(LOG),
            findings: vec!["fuzz/artifacts/npz_scan/crash-1".into()],
            log: "npz_scan.log".into(),
        }];
        let md = render_md(&reports, &args, OffsetDateTime::UNIX_EPOCH);
        assert!(
            md.contains("| npz_scan | 60 | 60001 | 1000 | 1312 | 2904 | 58 | fuzz/artifacts/npz_scan/crash-1 |"),
            "{md}"
        );
    }
}
