//! `cargo xtask bench --peer [--peer-repeats R] [--peer-cases N:B:GS:NFS,...]`: our training
//! step and inference pass side by side with a PyTorch model of the same architecture.
//!
//! Never part of CI: it installs PyTorch from the package registry into `target/peer-venv`
//! (once; `xtask/peer/requirements.txt` pins the versions and a marker file records what was
//! installed), builds `crates/ptycho-model/examples/peer_step.rs` in release and, for every case
//! and mode, runs ours and `xtask/peer/torch_pinn.py` alternately, R times each, each run a
//! fresh process timing a few warmup steps and then the timed steps. A run reports patterns/s
//! at its median step; the table quotes the median over the R runs and the ratio ours /
//! PyTorch. The machines are shared, so each run waits for the CPUs to be quiet and is redone
//! when other processes took more than a tenth of them meanwhile (`/proc` CPU counters); the
//! report says how busy the machine was. It writes `peer.json` and `peer.md` into `target/reports/peer-<UTC timestamp>/` and
//! prints the table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use xshell::cmd;

use crate::project::Project;

/// One setting: patch side, groups per batch, gridsize and `n_filters_scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Case {
    pub n: usize,
    pub batch: usize,
    pub gridsize: usize,
    pub nfs: usize,
}

/// The README's rows: upstream's size at gridsize 1 and 2, the demo setting, and N = 128.
pub const DEFAULT_CASES: [Case; 4] = [
    Case::new(64, 16, 1, 2),
    Case::new(64, 16, 2, 2),
    Case::new(64, 4, 2, 1),
    Case::new(128, 16, 1, 2),
];

impl Case {
    const fn new(n: usize, batch: usize, gridsize: usize, nfs: usize) -> Self {
        Self {
            n,
            batch,
            gridsize,
            nfs,
        }
    }

    /// The flags both sides take for this case.
    fn flags(&self) -> Vec<String> {
        let pairs = [
            ("--n", self.n),
            ("--batch", self.batch),
            ("--gridsize", self.gridsize),
            ("--nfs", self.nfs),
        ];
        pairs
            .iter()
            .flat_map(|(flag, value)| [(*flag).to_owned(), value.to_string()])
            .collect()
    }
}

impl FromStr for Case {
    type Err = anyhow::Error;

    /// `N:batch:gridsize:nfs`, e.g. `64:16:2:2`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<usize> = s
            .split(':')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("expected N:batch:gridsize:nfs integers, found {s:?}"))?;
        let &[n, batch, gridsize, nfs] = parts.as_slice() else {
            bail!("expected four values N:batch:gridsize:nfs, found {s:?}");
        };
        if !matches!(n, 32 | 64 | 128 | 256) || batch == 0 || gridsize == 0 || nfs == 0 {
            bail!("expected N in 32, 64, 128, 256 and positive batch, gridsize, nfs, found {s:?}");
        }
        Ok(Self::new(n, batch, gridsize, nfs))
    }
}

/// What `bench --peer` measures and how often.
#[derive(Debug, Clone)]
pub struct Options {
    pub cases: Vec<Case>,
    pub repeats: usize,
    pub warmup: usize,
    pub steps: usize,
    /// Run PyTorch with glibc's allocator set as our program sets it.
    pub torch_keeps_freed_memory: bool,
}

/// glibc's settings that `ptycho_model::host_memory::keep_freed_memory` makes in our processes
/// (mmap threshold 1 GiB, no trimming), as the environment variable that gives them to another
/// process from its start.
const KEEP_FREED_MEMORY: &str =
    "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=2147483647";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    PyTorch,
}

const MODES: [&str; 2] = ["train", "infer"];

/// Share of the CPUs other processes may use during a run before it is redone. PyTorch's
/// OpenMP threads slow down several times over when another process holds one of two cores.
const BUSY: f64 = 0.1;
/// Tries of one run before its result is kept however busy the machine was.
const ATTEMPTS: usize = 3;
/// Longest wait for a quiet machine before a run starts anyway.
const QUIET_WAIT: Duration = Duration::from_secs(60);

/// One process's result.
#[derive(Debug, Clone, Copy, Serialize)]
struct RunResult {
    patterns_per_s: f64,
    /// Share of all CPUs that other processes used during the run.
    foreign_cpu_share: f64,
}

/// Every run of one side and the medians of their patterns/s, per mode.
#[derive(Debug, Default, Serialize)]
struct SideResult {
    train_runs: Vec<RunResult>,
    infer_runs: Vec<RunResult>,
    train: f64,
    infer: f64,
    parameters: u64,
}

impl SideResult {
    fn runs(&self) -> impl Iterator<Item = &RunResult> {
        self.train_runs.iter().chain(&self.infer_runs)
    }
}

/// One table row.
#[derive(Debug, Serialize)]
struct Row {
    case: Case,
    ours: SideResult,
    pytorch: SideResult,
}

pub fn run(project: &Project, options: &Options) -> Result<()> {
    if options.repeats == 0 || options.steps == 0 {
        bail!("--peer-repeats and --peer-steps: expected positive counts");
    }
    let python = ensure_venv(project)?;
    let cargo = &project.cargo;
    cmd!(
        project.sh,
        "{cargo} build --release -p ptycho-model --example peer_step"
    )
    .run()
    .context("building the peer_step example")?;
    let ours = project
        .metadata()?
        .target_directory
        .join("release/examples/peer_step");
    let runner = Runner {
        project,
        ours: &ours,
        python: &python,
        script: &project.path("xtask/peer/torch_pinn.py"),
        options,
    };
    let torch_version = runner.torch_version()?;
    let load = load_average();
    let mut rows = Vec::new();
    for case in &options.cases {
        rows.push(runner.case(*case)?);
    }
    let now = OffsetDateTime::now_utc();
    let md = format!(
        "{}\n\n{}\n{}\n",
        header(options, &torch_version, &load, now),
        markdown(&rows),
        contention_note(&rows)
    );
    let dir = crate::report::fresh_dir(project, "peer-", now)?;
    let json = serde_json::json!({
        "machine": machine(),
        "load_average_at_start": load,
        "command": command_line(options),
        "torch": torch_version,
        "repeats": options.repeats,
        "warmup_steps": options.warmup,
        "timed_steps": options.steps,
        "rows": rows,
    });
    std::fs::write(
        dir.join("peer.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    std::fs::write(dir.join("peer.md"), &md)?;
    print!("\n{md}");
    println!("report: {}", dir.display());
    Ok(())
}

/// `target/peer-venv` with the pinned requirements; returns its python. Skips the install when
/// the marker holds the current requirements file.
fn ensure_venv(project: &Project) -> Result<PathBuf> {
    let venv = project.path("target/peer-venv");
    let python = venv.join("bin/python");
    let requirements = project.path("xtask/peer/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let marker = venv.join("peer-requirements.installed");
    if python.is_file() && std::fs::read_to_string(&marker).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    let sh = &project.sh;
    if !python.is_file() {
        println!("creating {}", venv.display());
        cmd!(sh, "python3 -m venv {venv}")
            .run()
            .context("creating the python virtual environment (is python3 with venv installed?)")?;
    }
    println!(
        "installing PyTorch into {} (a few GB, once)",
        venv.display()
    );
    cmd!(
        sh,
        "{python} -m pip install --quiet --requirement {requirements}"
    )
    .run()
    .with_context(|| format!("installing {} into the venv", requirements.display()))?;
    std::fs::write(&marker, wanted).with_context(|| format!("writing {}", marker.display()))?;
    Ok(python)
}

struct Runner<'a> {
    project: &'a Project,
    ours: &'a Path,
    python: &'a Path,
    script: &'a Path,
    options: &'a Options,
}

impl Runner<'_> {
    fn torch_version(&self) -> Result<String> {
        let python = self.python;
        let out = cmd!(
            self.project.sh,
            "{python} -c 'import torch; print(torch.__version__)'"
        )
        .quiet()
        .read()
        .context("importing torch in the peer venv")?;
        Ok(out.trim().to_owned())
    }

    /// One process of one side: its patterns/s, parameter count and the share of the CPUs
    /// other processes used meanwhile. Waits for a quiet machine first, and redoes a run that
    /// others disturbed (more than [`BUSY`] of the CPUs), up to [`ATTEMPTS`] times.
    fn once(&self, side: Side, case: Case, mode: &str) -> Result<(f64, u64, f64)> {
        let mut flags = case.flags();
        let (warmup, steps) = (self.options.warmup, self.options.steps);
        flags.extend(["--mode".into(), mode.into()]);
        flags.extend(["--warmup".into(), warmup.to_string()]);
        flags.extend(["--steps".into(), steps.to_string()]);
        let (ours, python, script) = (self.ours, self.python, self.script);
        let (sh, flags) = (&self.project.sh, &flags);
        for attempt in 1..=ATTEMPTS {
            wait_until_quiet();
            let before = ticks();
            let out = match side {
                Side::Ours => cmd!(sh, "{ours} {flags...}").quiet().read(),
                Side::PyTorch => {
                    let torch = cmd!(sh, "{python} {script} {flags...}").quiet();
                    if self.options.torch_keeps_freed_memory {
                        torch.env("GLIBC_TUNABLES", KEEP_FREED_MEMORY).read()
                    } else {
                        torch.read()
                    }
                }
            }
            .with_context(|| format!("timing {side:?} {mode} at {case:?}"))?;
            let foreign = before
                .zip(ticks())
                .map_or(0.0, |(b, a)| foreign_share(b, a));
            let (rate, parameters) = parse_run(&out)
                .with_context(|| format!("reading the {side:?} {mode} run's output"))?;
            if foreign <= BUSY || attempt == ATTEMPTS {
                return Ok((rate, parameters, foreign));
            }
            println!(
                "redoing {side:?} {mode}: others used {:.0} % of the CPUs",
                foreign * 100.0
            );
        }
        unreachable!("the last attempt returns")
    }

    /// Every repeat of one case, the two sides alternating (and swapping who goes first).
    fn case(&self, case: Case) -> Result<Row> {
        let (mut ours, mut pytorch) = (SideResult::default(), SideResult::default());
        for repeat in 0..self.options.repeats {
            for mode in MODES {
                let order = match repeat % 2 {
                    0 => [Side::Ours, Side::PyTorch],
                    _ => [Side::PyTorch, Side::Ours],
                };
                for side in order {
                    let (rate, parameters, foreign) = self.once(side, case, mode)?;
                    let result = if side == Side::Ours {
                        &mut ours
                    } else {
                        &mut pytorch
                    };
                    result.parameters = parameters;
                    let run = RunResult {
                        patterns_per_s: rate,
                        foreign_cpu_share: foreign,
                    };
                    match mode {
                        "train" => result.train_runs.push(run),
                        _ => result.infer_runs.push(run),
                    }
                    println!(
                        "{} repeat {}/{}: {side:?} {mode} {rate:.1} patterns/s (others used {:.0} % of the CPUs)",
                        case_label(case),
                        repeat + 1,
                        self.options.repeats,
                        foreign * 100.0
                    );
                }
            }
        }
        let rates = |runs: &[RunResult]| runs.iter().map(|r| r.patterns_per_s).collect::<Vec<_>>();
        for side in [&mut ours, &mut pytorch] {
            side.train = median(&rates(&side.train_runs)).context("no training runs")?;
            side.infer = median(&rates(&side.infer_runs)).context("no inference runs")?;
        }
        if ours.parameters != pytorch.parameters {
            bail!(
                "{}: ours has {} parameters, the PyTorch model {}: the architectures differ",
                case_label(case),
                ours.parameters,
                pytorch.parameters
            );
        }
        Ok(Row {
            case,
            ours,
            pytorch,
        })
    }
}

/// `patterns_per_s` and `parameters` of the last JSON line a run printed.
fn parse_run(stdout: &str) -> Result<(f64, u64)> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line in the output")?;
    let value: Value = serde_json::from_str(line).context("parsing the JSON line")?;
    let rate = value["patterns_per_s"]
        .as_f64()
        .context("no patterns_per_s")?;
    let parameters = value["parameters"].as_u64().context("no parameters")?;
    Ok((rate, parameters))
}

/// CPU time counters in clock ticks: the whole machine's busy and total time (`/proc/stat`) and
/// that of this process's finished children (`/proc/self/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ticks {
    busy: u64,
    total: u64,
    children: u64,
}

fn ticks() -> Option<Ticks> {
    let machine = std::fs::read_to_string("/proc/stat").ok()?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_ticks(&machine, &own)
}

fn parse_ticks(machine: &str, own: &str) -> Option<Ticks> {
    let cpu: Vec<u64> = machine
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let at = |i: usize| cpu.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    // After the parenthesised command name: field 3 (state) is index 0; cutime, cstime are
    // fields 16 and 17.
    let fields: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
    let child = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Ticks {
        busy,
        total: busy + at(3) + at(4),
        children: child(13)? + child(14)?,
    })
}

/// Waits until other processes use at most [`BUSY`] of the CPUs over one second, or
/// [`QUIET_WAIT`] has passed (or `/proc` is unreadable).
fn wait_until_quiet() {
    let started = Instant::now();
    let mut told = false;
    while started.elapsed() < QUIET_WAIT {
        let before = ticks();
        std::thread::sleep(Duration::from_secs(1));
        let Some((before, after)) = before.zip(ticks()) else {
            return;
        };
        if foreign_share(before, after) <= BUSY {
            return;
        }
        if !told {
            println!("waiting for the other processes to leave the CPUs idle");
            told = true;
        }
    }
}

/// The share of all CPUs that processes other than our finished children kept busy between
/// two readings.
fn foreign_share(before: Ticks, after: Ticks) -> f64 {
    let total = after.total.saturating_sub(before.total);
    let busy = after.busy.saturating_sub(before.busy);
    let own = after.children.saturating_sub(before.children);
    match total {
        0 => 0.0,
        total => busy.saturating_sub(own) as f64 / total as f64,
    }
}

/// Median of `values` (mean of the middle two for an even count); `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let half = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        len if len % 2 == 1 => Some(sorted[half]),
        _ => Some((sorted[half - 1] + sorted[half]) / 2.0),
    }
}

/// `ours / theirs` as a number followed by `×`, e.g. `1.62×`.
fn ratio(ours: f64, theirs: f64) -> String {
    format!("{:.2}×", ours / theirs)
}

fn case_label(c: Case) -> String {
    format!(
        "N {}, batch {}, gridsize {}, nfs {}",
        c.n, c.batch, c.gridsize, c.nfs
    )
}

/// A sentence on how busy the machine was with other work during the runs.
fn contention_note(rows: &[Row]) -> String {
    let shares: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.ours.runs().chain(r.pytorch.runs()))
        .map(|r| r.foreign_cpu_share)
        .collect();
    let disturbed = shares.iter().filter(|&&s| s > BUSY).count();
    let max = shares.iter().copied().fold(0.0, f64::max);
    let mut note = format!(
        "Other processes used {:.0} % of the CPUs during the median run.",
        median(&shares).unwrap_or(0.0) * 100.0
    );
    if disturbed > 0 {
        let _ = write!(
            note,
            " {disturbed} of {} runs were kept although others took more than {:.0} % of the \
             CPUs on all three tries (at most {:.0} %): see `peer.json`; PyTorch's OpenMP threads \
             slow down far more than ours when a core is taken.",
            shares.len(),
            BUSY * 100.0,
            max * 100.0
        );
    }
    note
}

fn markdown(rows: &[Row]) -> String {
    let mut md = String::from(
        "| case | ours training patterns/s | PyTorch training patterns/s | training ours / PyTorch | ours inference patterns/s | PyTorch inference patterns/s | inference ours / PyTorch |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (o, p) = (&r.ours, &r.pytorch);
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {} | {:.1} | {:.1} | {} |",
            case_label(r.case),
            o.train,
            p.train,
            ratio(o.train, p.train),
            o.infer,
            p.infer,
            ratio(o.infer, p.infer)
        );
    }
    md
}

fn header(options: &Options, torch: &str, load: &str, when: OffsetDateTime) -> String {
    let allocator = if options.torch_keeps_freed_memory {
        "both sides keep freed buffers in glibc's heap (PyTorch through \
         `GLIBC_TUNABLES`, as our program does itself)"
    } else {
        "ours keeps freed buffers in glibc's heap, PyTorch runs with glibc's defaults"
    };
    format!(
        "`{}` on {}, {} UTC (load average {load} at the start); PyTorch {torch}, float32, all \
         cores on both sides; {allocator}. Each cell is the median over {} runs (separate \
         processes, the two sides alternating) of patterns/s at a run's median step ({} warmup \
         + {} timed steps).",
        command_line(options),
        machine(),
        when.date(),
        options.repeats,
        options.warmup,
        options.steps
    )
}

/// The command that reproduces a run with these options.
fn command_line(options: &Options) -> String {
    let mut line = format!(
        "cargo xtask bench --peer --peer-repeats {} --peer-warmup {} --peer-steps {}",
        options.repeats, options.warmup, options.steps
    );
    if options.cases != DEFAULT_CASES {
        let cases: Vec<String> = options
            .cases
            .iter()
            .map(|c| format!("{}:{}:{}:{}", c.n, c.batch, c.gridsize, c.nfs))
            .collect();
        let _ = write!(line, " --peer-cases {}", cases.join(","));
    }
    if options.torch_keeps_freed_memory {
        line.push_str(" --peer-torch-keeps-freed-memory");
    }
    line
}

/// The 1-minute load average, from `/proc/loadavg` where there is one.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// CPU model and core count, from `/proc/cpuinfo` where there is one.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "an unknown CPU".to_owned());
    format!("{model} ({cores} cores)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_parse_and_reject_nonsense() {
        assert_eq!(
            "64:16:2:2".parse::<Case>().unwrap(),
            Case::new(64, 16, 2, 2)
        );
        assert_eq!(
            " 128:4:1:1".parse::<Case>().unwrap(),
            Case::new(128, 4, 1, 1)
        );
        for bad in [
            "64:16:2",
            "64:16:2:2:1",
            "65:16:1:2",
            "64:0:1:2",
            "64:x:1:2",
        ] {
            assert!(bad.parse::<Case>().is_err(), "{bad} parsed");
        }
        assert_eq!(
            Case::new(64, 4, 2, 1).flags(),
            ["--n", "64", "--batch", "4", "--gridsize", "2", "--nfs", "1"]
        );
    }

    #[test]
    fn the_command_line_names_cases_only_when_they_are_not_the_default() {
        let mut options = Options {
            cases: DEFAULT_CASES.to_vec(),
            repeats: 3,
            warmup: 1,
            steps: 4,
            torch_keeps_freed_memory: false,
        };
        assert_eq!(
            command_line(&options),
            "cargo xtask bench --peer --peer-repeats 3 --peer-warmup 1 --peer-steps 4"
        );
        options.cases = vec![Case::new(64, 4, 2, 1), Case::new(128, 16, 1, 2)];
        assert!(
            command_line(&options).ends_with("--peer-steps 4 --peer-cases 64:4:2:1,128:16:1:2"),
            "{}",
            command_line(&options)
        );
        options.torch_keeps_freed_memory = true;
        assert!(
            command_line(&options).ends_with("128:16:1:2 --peer-torch-keeps-freed-memory"),
            "{}",
            command_line(&options)
        );
    }

    #[test]
    fn foreign_cpu_share_subtracts_our_children() {
        let machine = "cpu  1000 0 200 700 100 0 0 0 0 0\ncpu0 1 2 3\n";
        let own = "42 (xtask (x)) S 1 2 3 4 5 6 7 8 9 10 11 12 30 20 0 0";
        let before = parse_ticks(machine, own).unwrap();
        assert_eq!(
            before,
            Ticks {
                busy: 1200,
                total: 2000,
                children: 50
            }
        );
        // 1000 ticks of 2 CPUs pass, 600 busy, 400 of them by our children: others used 20 %.
        let after = Ticks {
            busy: 1800,
            total: 3000,
            children: 450,
        };
        assert!((foreign_share(before, after) - 0.2).abs() < 1e-12);
        assert_eq!(foreign_share(before, before), 0.0);
        assert!(parse_ticks("intr 1 2", own).is_none());
    }

    #[test]
    fn median_takes_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn run_output_is_read_from_its_last_json_line() {
        let out = "warming up\n{\"patterns_per_s\": 1.0, \"parameters\": 1}\n{\"impl\": \"x\", \"patterns_per_s\": 19.5, \"parameters\": 2252027}\n";
        assert_eq!(parse_run(out).unwrap(), (19.5, 2_252_027));
        assert!(parse_run("no json here").is_err());
        assert!(parse_run("{\"parameters\": 3}").is_err());
    }

    #[test]
    fn the_table_has_one_row_per_case_with_ratios() {
        let side = |train: f64, infer: f64| SideResult {
            train,
            infer,
            ..SideResult::default()
        };
        let rows = [Row {
            case: Case::new(64, 16, 1, 2),
            ours: side(32.4, 90.0),
            pytorch: side(20.0, 100.0),
        }];
        assert_eq!(ratio(32.4, 20.0), "1.62×");
        let md = markdown(&rows);
        assert!(
            md.contains(
                "| N 64, batch 16, gridsize 1, nfs 2 | 32.4 | 20.0 | 1.62× | 90.0 | 100.0 | 0.90× |"
            ),
            "{md}"
        );
        assert_eq!(md.lines().count(), 3, "{md}");
    }

    #[test]
    fn the_contention_note_counts_disturbed_runs() {
        let run = |foreign_cpu_share: f64| RunResult {
            patterns_per_s: 1.0,
            foreign_cpu_share,
        };
        let mut ours = SideResult {
            train_runs: vec![run(0.0), run(0.02)],
            infer_runs: vec![run(0.01)],
            ..SideResult::default()
        };
        let row = |ours: SideResult| Row {
            case: Case::new(64, 16, 1, 2),
            ours,
            pytorch: SideResult::default(),
        };
        let quiet = contention_note(&[row(ours)]);
        assert_eq!(
            quiet,
            "Other processes used 1 % of the CPUs during the median run."
        );
        ours = SideResult {
            train_runs: vec![run(0.0), run(0.55)],
            infer_runs: vec![run(0.01)],
            ..SideResult::default()
        };
        let busy = contention_note(&[row(ours)]);
        assert!(
            busy.contains("1 of 3 runs were kept although others took more than 10 %"),
            "{busy}"
        );
        assert!(busy.contains("(at most 55 %)"), "{busy}");
    }
}
