//! `ptycho`: the command-line program of ptychopinn-rs.
//!
//! This file only declares the subcommands and dispatches; each subcommand group lives in its
//! own module (`config_cmd`, ...). Errors are printed as one line, `error: <what>: <why>`.

mod config_cmd;
mod inspect;
mod simulate;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(command) => config_cmd::run(command),
        Command::Simulate(args) => simulate::run(args),
        Command::Inspect(args) => inspect::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
