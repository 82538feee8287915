//! `ptycho`: the command-line program of ptychopinn-rs.
//!
//! This file only declares the subcommands and dispatches; each subcommand group lives in its
//! own module (`config_cmd`, ...). Errors are printed as one line, `error: <what>: <why>`.

mod config_cmd;
mod demo;
mod detector;
mod infer;
mod infer_config;
mod input;
mod inspect;
mod lines_bench;
mod product_out;
mod progress;
mod score;
mod simulate;
mod train;
mod train_config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Physics-informed neural ptychographic reconstruction.
#[derive(Debug, Parser)]
#[command(name = "ptycho", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check, show and convert configuration files
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Simulate a canonical dataset (lines or GRF object, Poisson noise) with ground truth
    Simulate(simulate::SimulateArgs),
    /// Describe an NPZ dataset and say exactly what is wrong with it (non-zero exit if invalid)
    Inspect(inspect::InspectArgs),
    /// Train a model on a canonical NPZ and save the bundle (wts.h5.zip)
    Train(Box<train::TrainArgs>),
    /// Reconstruct a scan with a saved bundle (no model flags: the bundle carries them)
    Infer(Box<infer::InferArgs>),
    /// Simulate the built-in dataset, train, save, reload, reconstruct, write images and metrics
    Demo(demo::DemoArgs),
    /// Score a reconstruction against an iterative reference reconstruction (FRC, NRMSE)
    Score(score::ScoreArgs),
    /// Run the 2023 paper's lines benchmark (gridsize 1 or 2) and compare with its numbers
    LinesBenchmark(lines_bench::LinesBenchArgs),
}

fn main() -> ExitCode {
    // Every step frees and reallocates the same large buffers; where the allocator is not
    // glibc's, nothing changes and nothing needs to.
    let _ = ptycho_workflows::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(command) => config_cmd::run(command),
        Command::Simulate(args) => simulate::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Train(args) => train::run(*args),
        Command::Infer(args) => infer::run(*args),
        Command::Demo(args) => demo::run(args),
        Command::LinesBenchmark(args) => lines_bench::run(args),
        Command::Score(args) => score::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
