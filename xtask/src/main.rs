//! The ptychopinn-rs regression harness, run as `cargo xtask <task>`.
//!
//! It turns the user's selector map (`tests/selector_map.toml`, after the seed document
//! `phase_d4_selector_map.md`) into commands: preflight checks, selector runs, phased runs with
//! report folders, the backend-optional whitelist, baseline snapshots and model-archive dumps.
//! Each task lives in its own module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod archive;
mod bench;
mod ci;
mod fixtures;
mod fuzz;
#[cfg(test)]
mod golden;
mod junit;
mod peer;
mod phase;
mod preflight;
mod project;
mod realdata;
mod report;
mod runner;
mod selector_map;
mod selectors;
mod snapshot;
mod test_cmd;
mod whitelist;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "the ptychopinn-rs regression harness",
    version
)]
struct Cli {
    /// Workspace root to work on (defaults to the workspace this harness was built from)
    #[arg(long, global = true, env = "XTASK_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Probe every requirement (toolchain, nextest, fixtures, backends, disk) and print one table
    Preflight(preflight::Args),
    /// Print the selector map, or render it as the markdown table of docs/testing.md
    Selectors(selectors::Args),
    /// Run one category or selector (`category[::selector]`) with the environment overrides
    Test(test_cmd::Args),
    /// Run every category of a phase (d4b, d4c, smoke, full) and write a report folder
    Phase(phase::Args),
    /// Prove the whitelisted test targets pass without any optional backend feature
    Whitelist(whitelist::Args),
    /// Compare generated snapshots with their baselines in fixtures/ (diff, update, accept)
    Snapshot(snapshot::Args),
    /// List a zip archive (a wts.h5.zip model bundle) deterministically with checksums
    Archive(archive::Args),
    /// Check or rewrite fixtures/SHA256SUMS
    Fixtures(fixtures::Args),
    /// Run the criterion benchmarks and report medians (target/reports/bench-<timestamp>/), or
    /// with --peer time our model against PyTorch (target/reports/peer-<timestamp>/)
    Bench(bench::Args),
    /// Everything CI runs: fmt, clippy, whitelist check, snapshot diff, all tests
    Ci(ci::Args),
    /// Train and reconstruct a measured scan and score it against the iterative reference
    Realdata(realdata::Args),
    /// Run the cargo-fuzz targets of fuzz/ (nightly) in turn and report executions, coverage
    /// and findings (target/reports/fuzz-<timestamp>/); CI only replays their corpora
    Fuzz(fuzz::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = project::Project::open(cli.root).and_then(|project| match cli.task {
        Task::Preflight(args) => preflight::run(&project, args),
        Task::Selectors(args) => selectors::run(&project, args),
        Task::Test(args) => test_cmd::run(&project, args),
        Task::Phase(args) => phase::run(&project, args),
        Task::Whitelist(args) => whitelist::run(&project, args),
        Task::Snapshot(args) => snapshot::run(&project, args),
        Task::Archive(args) => archive::run(args),
        Task::Fixtures(args) => fixtures::run(&project, args),
        Task::Bench(args) => bench::run(&project, args),
        Task::Realdata(args) => realdata::run(&project, args),
        Task::Ci(args) => ci::run(&project, args),
        Task::Fuzz(args) => fuzz::run(&project, args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_shape() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(
            names,
            [
                "preflight",
                "selectors",
                "test",
                "phase",
                "whitelist",
                "snapshot",
                "archive",
                "fixtures",
                "bench",
                "ci",
                "realdata",
                "fuzz"
            ]
        );
        let realdata = cli.find_subcommand("realdata").unwrap();
        let flags: Vec<&str> = realdata
            .get_arguments()
            .filter_map(|a| a.get_long())
            .collect();
        for flag in ["data", "reference", "epochs", "refine-epochs"] {
            assert!(flags.contains(&flag), "realdata lacks --{flag}: {flags:?}");
        }
        let bench = cli.find_subcommand("bench").unwrap();
        let flags: Vec<&str> = bench.get_arguments().filter_map(|a| a.get_long()).collect();
        for flag in [
            "package",
            "bench",
            "peer",
            "peer-repeats",
            "peer-cases",
            "peer-steps",
        ] {
            assert!(flags.contains(&flag), "bench lacks --{flag}: {flags:?}");
        }
        let snapshot = cli.find_subcommand("snapshot").unwrap();
        let actions: Vec<&str> = snapshot.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(actions, ["diff", "update", "accept"]);
        let archive = cli.find_subcommand("archive").unwrap();
        assert!(archive.find_subcommand("tree").is_some());
        let fuzz = cli.find_subcommand("fuzz").unwrap();
        let flags: Vec<&str> = fuzz.get_arguments().filter_map(|a| a.get_long()).collect();
        for flag in ["seconds", "target", "rss-limit-mb", "timeout"] {
            assert!(flags.contains(&flag), "fuzz lacks --{flag}: {flags:?}");
        }
        let whitelist = cli.find_subcommand("whitelist").unwrap();
        let actions: Vec<&str> = whitelist.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(actions, ["check", "update"]);
    }
}
